"""From an escalation request to a case: the flow shared by the command, the modal and the buttons.

Before the ack, the request is written as one outbox row (``escalation.open``): a single small insert,
so the ack stays fast and the escalation survives a crash right after it. After the ack, the drive
runs that row — it records the case and its set-up steps in one transaction — and then the set-up
itself. Whatever is not finished then, the tick resumes.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.cases import Origin, add_report_to_case, open_case
from bot.domain.customers import open_cases_of
from bot.domain.escalation import EscalationRequest
from bot.services import Services
from storage.models import Case, EscalationDraft, OutboxItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Choice:
    """The customer already has an open case; the requester chooses what happens to their report."""

    existing: Case
    draft_id: str


def advocates(svc: Services) -> list[str]:
    """Advocates with user groups expanded; if Slack cannot say now, the plain user IDs still serve."""
    try:
        return svc.directory.expand(svc.config.advocates) or list(svc.config.advocates)
    except SlackApiError as exc:
        log.warning("could not expand advocate user groups: %s", exc.response.get("error"))
        return [a for a in svc.config.advocates if not a.startswith("S")] or list(svc.config.advocates)


def origin_from_json(data: dict[str, str | None]) -> Origin:
    return Origin(**{k: v for k, v in data.items() if k in Origin.__dataclass_fields__})  # type: ignore[arg-type]


def _stored(request: EscalationRequest, origin: Origin) -> dict[str, object]:
    """A request and its origin as stored in an outbox row or a draft (and read back by ``origin_from_json``)."""
    return {"request": request.to_json(), "origin": dict(origin.__dict__)}


def draft_if_open_case(session: Session, request: EscalationRequest, origin: Origin, now: datetime) -> Choice | None:
    """If the customer already has an open case, save the request as a draft awaiting the requester's choice."""
    existing = open_cases_of(session, request.customer or "")
    if not existing:
        return None
    draft = EscalationDraft(
        id=uuid.uuid4().hex,
        user_id=origin.requester,
        payload=_stored(request, origin),
        created_at=now,
    )
    session.add(draft)
    return Choice(existing=existing[-1], draft_id=draft.id)


def request_case(svc: Services, request: EscalationRequest, origin: Origin, *, key: str | None = None) -> bool:
    """Write the escalation as an outbox row, before the ack. False if ``key`` was already written.

    ``key`` is ``view:<view id>`` for modal submissions, so a view submitted twice opens one case.
    """
    key = key or f"escalation:{uuid.uuid4().hex}"
    now = svc.clock()
    row = {
        "key": key,
        "kind": "escalation.open",
        "payload": _stored(request, origin),
        "status": "pending",
        "due_at": now,
        "attempts": 0,
        "created_at": now,
    }
    try:
        # Committed together with other requests' rows: concurrent acks wait for one commit.
        svc.db.insert_now(OutboxItem.__table__, row)  # type: ignore[arg-type]
    except IntegrityError:
        return False
    return True


def offer_choice(svc: Services, request: EscalationRequest, origin: Origin) -> Choice | None:
    """If the customer already has an open case, save a draft and return it for the requester's choice.

    The modal needs this before its ack (the choice replaces the modal); it is one quick query.
    """
    with svc.db.transaction(urgent=True) as session:
        return draft_if_open_case(session, request, origin, svc.clock())


class DraftError(Exception):
    """The choice cannot be made (someone else's draft, or already chosen); message for the person."""


def choose(svc: Services, draft_id: str, user: str, *, add_to_case_id: int | None) -> Case:
    """Carry out the requester's choice on a draft: add the report to the open case, or open a new one.

    Returns the case the report went to (the existing one, or the new one).
    """
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
        origin = origin_from_json(draft.payload["origin"])
        if add_to_case_id is None:
            return open_case(session, request, origin=origin, config=svc.config, advocates=team, now=now)
        case = session.get(Case, add_to_case_id)
        if case is None or not case.is_open:
            raise DraftError("That case is no longer open; choose “Open a new case”.")
        add_report_to_case(session, case, request, origin=origin, now=now, draft_id=draft_id)
        return case
