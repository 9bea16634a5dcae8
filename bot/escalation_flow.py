"""From an escalation request to a case: the flow shared by the command, the modal and the buttons.

It runs after the ack. One transaction records everything (case, timeline, set-up chain, delivery
key), then, after the ack, the set-up chain is driven at once; whatever Slack does not finish now, the tick resumes.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from sqlalchemy import update

from bot.domain.cases import Origin, add_report_to_case, open_case
from bot.domain.customers import open_cases_of
from bot.domain.escalation import EscalationRequest
from bot.services import Services
from jobs.outbox import RunReport, send_due
from storage.models import Case, EscalationDraft
from storage.queries import claim_delivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submitted:
    """What came of a submission: a new case, or an existing open case and a draft awaiting a choice."""

    case: Case | None = None
    existing: Case | None = None
    draft_id: str | None = None
    duplicate: bool = False


def advocates(svc: Services) -> list[str]:
    """Advocates with user groups expanded; if Slack cannot say now, the plain user IDs still serve."""
    try:
        return svc.directory.expand(svc.config.advocates) or list(svc.config.advocates)
    except SlackApiError as exc:
        log.warning("could not expand advocate user groups: %s", exc.response.get("error"))
        return [a for a in svc.config.advocates if not a.startswith("S")] or list(svc.config.advocates)


def _origin_json(origin: Origin) -> dict[str, str | None]:
    return dict(origin.__dict__)


def offer_choice(svc: Services, request: EscalationRequest, origin: Origin) -> Submitted | None:
    """If the customer already has an open case, save a draft and return it for the requester's choice."""
    now = svc.clock()
    with svc.db.transaction() as session:
        existing = open_cases_of(session, request.customer or "")
        if not existing:
            return None
        draft = EscalationDraft(
            id=uuid.uuid4().hex,
            user_id=origin.requester,
            payload={"request": request.to_json(), "origin": _origin_json(origin)},
            created_at=now,
        )
        session.add(draft)
    return Submitted(existing=existing[-1], draft_id=draft.id)


def record(
    svc: Services, request: EscalationRequest, origin: Origin, *, delivery_key: str | None = None
) -> Submitted:
    """Record a new case and its set-up; the caller drives the set-up after the ack.

    ``delivery_key`` (``view:<id>``) is claimed in the same transaction: a view submitted twice
    records one case.
    """
    team = advocates(svc)  # before the transaction: never hold the database while Slack answers
    now = svc.clock()
    with svc.db.transaction() as session:
        if delivery_key and not claim_delivery(session, delivery_key, now):
            return Submitted(duplicate=True)
        case = open_case(session, request, origin=origin, config=svc.config, advocates=team, now=now)
    return Submitted(case=case)


def submit(svc: Services, request: EscalationRequest, origin: Origin) -> Submitted:
    """A new case for ``request``, or the add-or-open choice when the customer has an open case."""
    return offer_choice(svc, request, origin) or record(svc, request, origin)


class DraftError(Exception):
    """The choice cannot be made (someone else's draft, or already chosen); message for the person."""


def choose(svc: Services, draft_id: str, user: str, *, add_to_case_id: int | None) -> Submitted:
    """Carry out the requester's choice on a draft: add the report to the open case, or open a new one."""
    team = advocates(svc)  # before the transaction: never hold the database while Slack answers
    now = svc.clock()
    with svc.db.transaction() as session:
        draft = session.get(EscalationDraft, draft_id)
        if draft is None:
            raise DraftError("That escalation is no longer waiting for a choice.")
        if draft.user_id != user:
            raise DraftError(f"Only <@{draft.user_id}>, who reported it, can choose what happens to it.")
        # Mark it used in the same statement that checks it: a double click has one effect.
        claimed = session.execute(
            update(EscalationDraft)
            .where(EscalationDraft.id == draft_id, EscalationDraft.used_at.is_(None))
            .values(used_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not claimed:
            raise DraftError("You already chose what to do with that escalation.")
        request = EscalationRequest.from_json(draft.payload["request"])
        origin = Origin(**draft.payload["origin"])
        if add_to_case_id is not None:
            case = session.get(Case, add_to_case_id)
            if case is None or not case.is_open:
                raise DraftError("That case is no longer open; choose “Open a new case”.")
            add_report_to_case(session, case, request, origin=origin, now=now, draft_id=draft_id)
            result = Submitted(existing=case, draft_id=draft_id)
        else:
            case = open_case(session, request, origin=origin, config=svc.config, advocates=team, now=now)
            result = Submitted(case=case, draft_id=draft_id)
    return result


def drive(svc: Services, case_id: int) -> RunReport:
    """Run this case's due outbox rows now, in the listener thread, after the ack."""
    return send_due(svc, now=svc.clock(), worker=svc.worker, case_id=case_id)
