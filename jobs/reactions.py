"""The ``reminder.react`` outbox row: a ✅ or 💤 on a reminder, answered.

Queued before the ack by ``bot.domain.reactions.queue_reaction``, run by the drive right after it (and by the
tick, if the process stopped in between): an acknowledged reaction is never lost, and its cadence change is
applied with marking the row done, so it happens once. It counts at the time it was made (the row's
``created_at``), not when the row ran.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.domain.reactions import KIND, answer_reaction
from bot.escalation_flow import advocates
from bot.services import Services
from jobs.outbox import Done, Item, effect


@effect(KIND)
def answer(ctx: Services, item: Item) -> Done:
    team = advocates(ctx)  # may ask Slack: outside the transaction
    result: dict[str, object] = {}

    def apply(session: Session) -> None:
        payload = item.payload
        reacted = answer_reaction(session, ctx.config, team, reminder_id=int(payload["reminder_id"]),
                                  user=str(payload["user"]), reaction=str(payload["reaction"]), at=item.created_at)
        # Nothing when it was answered meanwhile (another ✅, a button, a logged update), or is not theirs to answer.
        result["outcome"] = reacted.outcome if reacted is not None else "nothing to answer"

    return Done(result, apply)
