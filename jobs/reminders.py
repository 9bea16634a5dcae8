"""Customer-update reminders: the tick job that fires due steps, and the Slack effects they lead to.

``fire_reminders`` runs in every tick: it claims the steps whose time has come and writes one outbox
row per post (key ``reminder:<case>:<due>:<step>``, carried in the message metadata). The effects
re-check that the reminder is still wanted when they run, so an update made in between cancels it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.blocks.case_summary import case_summary, summary_text
from bot.blocks.reminders import reminder_blocks, reminder_text, update_posted
from bot.domain.cadence import CLAIM_BATCH, current, fire_due
from bot.domain.records import add_event, enqueue
from bot.domain.resolution import summary_context
from bot.escalation_flow import advocates
from bot.services import Services
from jobs.outbox import Done, Item, Skip, effect
from jobs.posting import post_once
from storage.models import Case, CustomerUpdate, Reminder


def fire_reminders(svc: Services, now: datetime) -> int:
    """Claim every due step (in batches) and queue its post; the tick's outbox run then sends them."""
    total = 0
    while True:
        with svc.db.transaction() as session:
            fired = fire_due(session, now, CLAIM_BATCH)
        total += fired.posted
        if fired.claimed < CLAIM_BATCH:  # a full batch may have left more behind
            return total


def _load(ctx: Services, reminder_id: int) -> tuple[Reminder, Case, CustomerUpdate | None]:
    with ctx.db.transaction() as session:
        reminder = session.get(Reminder, reminder_id)
        if reminder is None:
            raise Skip("reminder no longer exists")
        case = session.get_one(Case, reminder.case_id)
        _ = case.customer
        update = None
        if reminder.answer == "updated":
            update = session.scalar(select(CustomerUpdate).where(
                CustomerUpdate.case_id == case.id, CustomerUpdate.at == reminder.answered_at).limit(1))
        return reminder, case, update


def report_reminder_failure(session: Session, item: Item, error: str, now: datetime) -> None:
    """A reminder could not be posted for good (archived channel, bot removed): tell the owner."""
    case = session.get(Case, item.case_id) if item.case_id is not None else None
    if case is None:
        return
    add_event(session, case, at=now, actor="bot", kind="reminder_failed", text=f"{item.key}: {error}")
    enqueue(session, key=f"failed:{item.key}:{case.owner_id}", kind="notify.dm", case_id=case.id, now=now,
            payload={"user": case.owner_id, "text": f":warning: I could not post a customer-update reminder for "
                     f"case #{case.number} ({error}). The update is still due; please check the channel."})


@effect("reminder.post", on_failure=report_reminder_failure)
def post_reminder(ctx: Services, item: Item) -> Done:
    reminder, case, _ = _load(ctx, int(item.payload["reminder_id"]))
    if reminder.status != "fired" or not current(reminder, case):
        raise Skip("the customer was updated, or the case stopped reminding, before the post")
    channel = ctx.config.leadership_channel if reminder.step == "leadership" else case.channel_id
    if not channel:
        raise Skip("no channel to post in")
    team = advocates(ctx)
    ts = post_once(ctx.client, item, channel=channel, text=reminder_text(reminder, case, team),
                   blocks=reminder_blocks(reminder, case, team))

    def apply(session: Session) -> None:
        session.execute(update(Reminder).where(Reminder.id == reminder.id).values(channel_id=channel, message_ts=ts))
        add_event(session, case, at=item.now, actor="bot", kind="reminder_posted",
                  slack_ts=ts, data={"step": reminder.step, "due_at": reminder.due_at.isoformat()})

    return Done({"channel": channel, "ts": ts}, apply)


@effect("reminder.refresh")
def refresh_reminder(ctx: Services, item: Item) -> Done:
    """Show on the reminder who answered it and how (chat.update: notifies nobody, which is right here)."""
    reminder, case, update = _load(ctx, int(item.payload["reminder_id"]))
    if not (reminder.channel_id and reminder.message_ts):
        raise Skip("the reminder was never posted")
    team = advocates(ctx)
    ctx.client.chat_update(channel=reminder.channel_id, ts=reminder.message_ts,
                           text=reminder_text(reminder, case, team),
                           blocks=reminder_blocks(reminder, case, team, update))
    return Done()


@effect("case.refresh_summary")
def refresh_summary(ctx: Services, item: Item) -> Done:
    with ctx.db.transaction() as session:
        case = session.get(Case, item.case_id)
        if case is None or not case.summary_ts or not case.channel_id:
            raise Skip("no summary to refresh")
        _ = case.customer, list(case.departments)
        more = summary_context(session, case, item.now, ctx.config)  # resolution, prevention, links
    ctx.client.chat_update(channel=case.channel_id, ts=case.summary_ts, text=summary_text(case),
                           blocks=case_summary(case, more))
    return Done()


@effect("case.post_update")
def post_update(ctx: Services, item: Item) -> Done:
    """The channel's record of a customer update logged by command or modal."""
    with ctx.db.transaction() as session:
        update = session.get(CustomerUpdate, item.payload["update_id"])
        case = session.get(Case, item.case_id)
        if update is None or case is None or not case.channel_id:
            raise Skip("no channel to post in")
        _ = case.customer
    ts = post_once(ctx.client, item, channel=case.channel_id, text=update_posted(update, case))
    return Done({"ts": ts})
