"""Answers to a reminder queued before the ack (``bot.domain.reminder_answers``), done right after it.

Run by the drive right after the ack (and by the tick, if the process stopped in between): an acknowledged
answer is never lost, and its cadence change is applied with marking the row done, so it happens once. Each
counts at the time it was made (the row's ``created_at``), not when the row ran.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.domain.records import enqueue
from bot.domain.reminder_answers import KIND, SNOOZE_KIND, answer_reaction
from bot.escalation_flow import advocates
from bot.services import Services
from bot.update_flow import snooze_clicked
from jobs.outbox import Done, Item, effect
from jobs.replies import REPLY


@effect(KIND)
def answer(ctx: Services, item: Item) -> Done:
    """A ✅ or 💤 reaction: nobody is told (the reminder's message shows the answer)."""
    team = advocates(ctx)  # may ask Slack: outside the transaction
    result: dict[str, object] = {}

    def apply(session: Session) -> None:
        payload = item.payload
        reacted = answer_reaction(session, ctx.config, team, reminder_id=int(payload["reminder_id"]),
                                  user=str(payload["user"]), reaction=str(payload["reaction"]), at=item.created_at)
        # Nothing when it was answered meanwhile (another ✅, a button, a logged update), or is not theirs to answer.
        result["outcome"] = reacted.outcome if reacted is not None else "nothing to answer"

    return Done(result, apply)


@effect(SNOOZE_KIND)
def snooze(ctx: Services, item: Item) -> Done:
    """A Snooze click: snoozed, and the person answered (ephemeral, through the click's response URL) by a
    ``reply`` row written with the snooze, so the answer says what was done."""
    team = advocates(ctx)  # may ask Slack: outside the transaction
    result: dict[str, object] = {}

    def apply(session: Session) -> None:
        payload = item.payload
        user = str(payload["user"])
        text = snooze_clicked(session, ctx.config, team, user=user, reminder_id=int(payload["reminder_id"]),
                              tomorrow=bool(payload["tomorrow"]), at=item.created_at)
        result["snoozed"] = text.startswith(":zzz:")
        enqueue(session, key=f"{item.key}:answer", kind=REPLY,
                payload={"user": user, "response_url": payload.get("response_url"), "text": text}, now=item.now)

    return Done(result, apply)
