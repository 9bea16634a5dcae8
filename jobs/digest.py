"""The weekly digest: the tick queues it once per ISO week (key ``digest:<week>``, unique across replicas),
the outbox posts it to ``leadership_channel`` and then uploads the chart in its thread (its own key,
``digest:<week>:chart``: files carry no metadata, so a retry looks for the file by name in the thread).
Missed while the bot was down: posted on start, marked late."""

from __future__ import annotations

from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.blocks.digest import digest_blocks, digest_text
from bot.digest_chart import ChartWeek, render_chart
from bot.domain.digest import digest, week_figures
from bot.domain.records import enqueue
from bot.domain.weeks import Week, last_weeks, latest_run
from bot.services import Services
from jobs.outbox import Done, Item, Skip, effect
from jobs.posting import post_once
from storage.models import OutboxItem

ON_TIME = timedelta(minutes=15)  # later than this after the scheduled time is "late"
CHART_WEEKS = 8


def chart_name(week: str) -> str:
    return f"advocacy-digest-{week}.png"


def queue_digest(svc: Services, now: datetime) -> int:
    """1 if the digest of the week just ended was queued now, else 0 (off, already queued)."""
    settings = svc.config.digest
    if settings is None or not svc.config.leadership_channel:
        return 0
    week, run = latest_run(now, settings.weekday, settings.time, svc.config.zone)
    return queue_week(svc, week, now, late=now - run > ON_TIME)


def queue_week(svc: Services, week: Week, now: datetime, *, late: bool = False) -> int:
    """Queue the digest of ``week`` and its chart, once (the key is the week's): 1 if queued now."""
    key = f"digest:{week}"
    try:
        with svc.db.transaction() as session:
            if session.scalar(select(OutboxItem.id).where(OutboxItem.key == key)) is not None:
                return 0
            post = enqueue(session, key=key, kind="digest.post", now=now,
                           payload={"week": str(week), "late": late})
            enqueue(session, key=f"{key}:chart", kind="digest.chart", now=now, payload={"week": str(week)},
                    after=post)
    except IntegrityError:  # another replica queued it first
        return 0
    return 1


@effect("digest.post")
def post_digest(ctx: Services, item: Item) -> Done:
    channel = ctx.config.leadership_channel
    if not channel:
        raise Skip("no leadership channel")
    with ctx.db.transaction() as session:
        data = digest(session, Week.parse(str(item.payload["week"])), ctx.config, now=ctx.clock())
    ts = post_once(ctx.client, item, channel=channel, text=digest_text(data),
                   blocks=digest_blocks(data, late=bool(item.payload.get("late"))))
    return Done({"ts": ts, "channel": channel})


def chart_weeks(ctx: Services, week: Week) -> list[ChartWeek]:
    out = []
    with ctx.db.transaction() as session:
        for each in last_weeks(week, CHART_WEEKS):
            figures = week_figures(session, each, ctx.config)
            out.append(ChartWeek(str(each), figures["cases_opened"], figures["cases_resolved"],
                                 figures["nps"]["score"], figures["update_compliance"]["ratio"]))
    return out


def _uploaded(ctx: Services, channel: str, ts: str, name: str) -> bool:
    """A retry after a lost answer: is our chart already in the digest's thread? (one call, retries only)"""
    try:
        replies = ctx.client.conversations_replies(channel=channel, ts=ts, limit=200)
    except SlackApiError:
        return False
    return any(f.get("name") == name for m in replies.get("messages") or [] for f in m.get("files") or [])


@effect("digest.chart")
def upload_chart(ctx: Services, item: Item) -> Done:
    week = Week.parse(str(item.payload["week"]))
    with ctx.db.transaction() as session:
        post = session.scalar(select(OutboxItem).where(OutboxItem.key == f"digest:{week}"))
        posted = dict(post.result or {}) if post is not None and post.status == "done" else {}
    if not posted.get("ts"):
        raise Skip("the digest was not posted")
    channel, ts, name = str(posted["channel"]), str(posted["ts"]), chart_name(str(week))
    if item.attempts > 1 and _uploaded(ctx, channel, ts, name):
        return Done({"file": name, "reconciled": True})
    png = render_chart(chart_weeks(ctx, week))
    answer = ctx.client.files_upload_v2(
        content=png, filename=name, title=f"Customer advocacy, {CHART_WEEKS} weeks to {week}", channel=channel,
        thread_ts=ts, alt_txt=f"Cases opened vs resolved, NPS and customer updates on time, {CHART_WEEKS} weeks "
                              f"to {week}")
    return Done({"file": name, "file_id": (answer.get("file") or {}).get("id")})
