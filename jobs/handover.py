"""The handover note as an outbox effect: posted in the case channel after the new owner's invite."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.blocks.common import channel_link
from bot.blocks.handover import handover_note, handover_text
from bot.domain.handover import NOTE_KIND
from bot.domain.records import add_event, enqueue
from bot.services import Services
from jobs.outbox import Done, Item, Skip, effect
from jobs.posting import post_once
from storage.models import Case, CaseEvent


def _tell_who_handed_over(session: Session, item: Item, error: str, now: datetime) -> None:
    """The note could not be posted for good: on the timeline, and a DM to the advocate who handed over."""
    case = session.get(Case, item.case_id) if item.case_id is not None else None
    event = session.get(CaseEvent, item.payload.get("event_id"))
    if case is None or event is None:
        return
    add_event(session, case, at=now, actor="bot", kind="handover_note_failed", text=error)
    enqueue(session, key=f"failed:{item.key}", kind="notify.dm", case_id=case.id, now=now,
            payload={"user": event.actor,
                     "text": f":warning: I could not post the handover note of case #{case.number} in "
                             f"{channel_link(case.channel_id)} ({error}). The owner did change."})


@effect(NOTE_KIND, on_failure=_tell_who_handed_over)
def post_handover_note(ctx: Services, item: Item) -> Done:
    """Rendered from the database now: the state as the new owner finds it, not as it was when queued."""
    with ctx.db.transaction() as session:
        case = session.get(Case, item.case_id)
        event = session.get(CaseEvent, item.payload["event_id"])
        if case is None or event is None or not case.channel_id:
            raise Skip("no case channel to post the handover note in")
        _ = case.customer, list(case.departments)
    ts = post_once(ctx.client, item, channel=case.channel_id, text=handover_text(case, event),
                   blocks=handover_note(case, event))

    def apply(session: Session) -> None:
        row = session.get(CaseEvent, event.id)
        if row is not None:
            row.slack_ts = ts

    return Done({"ts": ts}, apply)
