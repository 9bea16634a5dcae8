"""The monthly stakeholder review: the tick queues it once per month (key ``review:<month>``), the
outbox posts it in ``review.channel``. Missed while the bot was down: posted on start, marked late,
unless more than a week late (then the next month's comes instead)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.blocks.review import review_blocks, review_text
from bot.domain.records import enqueue
from bot.domain.review import LATE_LIMIT, agenda, latest_review
from bot.services import Services
from jobs.outbox import Done, Item, Skip, effect
from jobs.posting import post_once
from storage.models import OutboxItem

ON_TIME = timedelta(minutes=15)  # later than this after the scheduled time is "late"


def queue_review(svc: Services, now: datetime) -> int:
    """1 if this month's review was queued now, else 0 (not configured, already queued, or too late)."""
    review = svc.config.review
    if review is None:
        return 0
    month, run = latest_review(now, review.day_of_month, review.time, svc.config.zone)
    if now - run > LATE_LIMIT:
        return 0
    key = f"review:{month}"
    try:
        with svc.db.transaction() as session:
            if session.scalar(select(OutboxItem.id).where(OutboxItem.key == key)) is not None:
                return 0
            enqueue(session, key=key, kind="review.post", now=now,
                    payload={"month": month, "channel": review.channel, "late": now - run > ON_TIME})
    except IntegrityError:  # another replica queued it first
        return 0
    return 1


@effect("review.post")
def post_review(ctx: Services, item: Item) -> Done:
    month, channel = str(item.payload["month"]), str(item.payload["channel"])
    if not channel:
        raise Skip("no review channel")
    with ctx.db.transaction() as session:
        departments = agenda(session, ctx.config, item.now)
    ts = post_once(ctx.client, item, channel=channel, text=review_text(month, departments),
                   blocks=review_blocks(month, departments, late=bool(item.payload.get("late"))))
    return Done({"ts": ts})
