"""The ``escalation.open`` outbox row: record the case (or offer the add-or-open choice).

Written before the ack, run by the drive right after it, and by the tick if the process died in
between: an acknowledged escalation is never lost.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.blocks.replies import open_case_choice, record_failed_reply
from bot.domain.cases import enqueue, open_case
from bot.domain.escalation import EscalationRequest
from bot.escalation_flow import advocates, draft_if_open_case, origin_from_json
from bot.services import Services
from bot.text import escape_mrkdwn
from jobs.outbox import Done, Item, effect
from jobs.replies import REPLY


def _record_failed(session: Session, item: Item, error: str, now: datetime) -> None:
    origin = origin_from_json(item.payload["origin"])
    enqueue(
        session,
        key=f"{item.key}:failed",
        kind=REPLY,
        payload={"user": origin.requester, "response_url": origin.response_url,
                 "text": record_failed_reply(error)},
        now=now,
    )


@effect("escalation.open", on_failure=_record_failed)
def open_escalation(ctx: Services, item: Item) -> Done:
    request = EscalationRequest.from_json(item.payload["request"])
    origin = origin_from_json(item.payload["origin"])
    team = advocates(ctx)  # may ask Slack: outside the transaction
    result: dict[str, object] = {}

    def apply(session: Session) -> None:
        now = item.now
        choice = draft_if_open_case(session, request, origin, now)
        if choice is not None:
            enqueue(
                session,
                key=f"{item.key}:choice",
                kind=REPLY,
                payload={"user": origin.requester, "response_url": origin.response_url,
                         "text": f"{escape_mrkdwn(request.customer or '')} already has an open case.",
                         "blocks": open_case_choice(choice.existing, choice.draft_id, request.summary),
                         "replace_original": True},
                now=now,
            )
            result["choice"] = choice.existing.number
            return
        case = open_case(session, request, origin=origin, config=ctx.config, advocates=team, now=now)
        result["case"] = case.number

    return Done(result, apply)
