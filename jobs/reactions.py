"""The ``reminder.react`` outbox row: a ✅ or 💤 on a reminder, answered.

Written before the ack by ``bot.update_flow.queue_reaction``, run by the drive right after it (and by the
tick, if the process died in between): an acknowledged reaction is never lost, and its cadence change is
applied with marking the row done, so it happens once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.escalation_flow import advocates
from bot.services import Services
from bot.update_flow import answer_reaction
from jobs.outbox import Done, Item, effect


@effect("reminder.react")
def answer(ctx: Services, item: Item) -> Done:
    team = advocates(ctx)  # may ask Slack: outside the transaction
    result: dict[str, object] = {}

    def apply(session: Session) -> None:
        payload = item.payload
        reacted = answer_reaction(session, ctx.config, team, reminder_id=int(payload["reminder_id"]),
                                  user=str(payload["user"]), reaction=str(payload["reaction"]),
                                  at=datetime.fromisoformat(str(payload["at"])))
        # Nothing when the reminder was answered meanwhile (another ✅, a button, a logged update).
        result["outcome"] = reacted.outcome if reacted is not None else "nothing to answer"

    return Done(result, apply)
