"""The customer-update cadence: when the next update is due, and the reminders of each due period.

A period is (case, due time). When the due time is set, its steps are scheduled as ``Reminder`` rows:
a heads-up ``remind_before`` the due time, the overdue reminder at it, a mention of the advocates
``escalate_after`` it and one line to leadership ``leadership_after`` it. The tick claims steps whose
time has come and writes their posts to the outbox. A customer update ends the period (its steps are
cancelled) and starts the next one; a snooze moves the owner's next reminder, never the due time.
No Slack here: callers pass the session, the config and ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.config import TeamConfig
from bot.domain.business_hours import BusinessHours, due_after, next_business_morning
from bot.domain.records import add_event, enqueue
from storage.models import Case, CustomerUpdate, Reminder

OWNER_STEPS = ("heads_up", "overdue", "repeat")  # reminders to the owner, which a snooze moves
# When the tick finds several steps of one case due at once (after downtime), only the highest is
# posted in the case channel: one reminder per overdue case, not one per missed step.
RANK = {"heads_up": 0, "repeat": 1, "overdue": 2, "escalate": 3}
VIA = ("email", "call", "chat", "meeting", "other")
CLAIM_BATCH = 500


def cadence_of(case: Case, config: TeamConfig) -> timedelta:
    if case.cadence_seconds:
        return timedelta(seconds=case.cadence_seconds)
    return config.update_every(case.severity)


def zone_of(case: Case, config: TeamConfig) -> ZoneInfo:
    """The customer's timezone when known, else the team's."""
    return ZoneInfo(case.customer.timezone) if case.customer.timezone else config.zone


def hours_of(case: Case, config: TeamConfig) -> BusinessHours | None:
    severity = config.severities.get(case.severity)
    return config.business_hours if severity is not None and severity.business_hours else None


def business_cadence(cadence: timedelta, hours: BusinessHours) -> timedelta:
    """Business time for a cadence: each whole day is a business day (09:00-17:00 → 8h), the rest counts as is.

    "Update every 1d, business hours" is a promise of one update per working day, not every three days.
    """
    start = timedelta(hours=hours.start.hour, minutes=hours.start.minute)
    end = timedelta(hours=hours.end.hour, minutes=hours.end.minute) or timedelta(days=1)  # 00:00 stands for 24:00
    return cadence.days * (end - start) + (cadence - timedelta(days=cadence.days))


def due_from(case: Case, start: datetime, config: TeamConfig) -> datetime:
    cadence, hours = cadence_of(case, config), hours_of(case, config)
    if hours is not None:
        cadence = business_cadence(cadence, hours)
    return due_after(start, cadence, zone_of(case, config), hours)


def tomorrow_morning(case: Case, now: datetime, config: TeamConfig) -> datetime:
    """"Snooze until tomorrow": the customer's next business morning."""
    return next_business_morning(now, zone_of(case, config), config.business_hours)


def reminds(case: Case) -> bool:
    """Open cases remind; waiting on the customer pauses the cadence."""
    return case.is_open and case.status != "waiting-on-customer"


def _stamp(at: datetime) -> str:
    """An instant as a key part. Microseconds are kept when there are any: an update a fraction of a second
    after the case opened moves the due time within the same second, and that is a new period."""
    fraction = f".{at.microsecond:06d}" if at.microsecond else ""
    return f"{at.strftime('%Y%m%dT%H%M%S')}{fraction}Z"


def _key(case: Case, due: datetime, step: str) -> str:
    return f"reminder:{case.id}:{_stamp(due)}:{step}"


def _add(session: Session, case: Case, due: datetime, step: str, fire_at: datetime, now: datetime,
         *, key: str | None = None) -> Reminder:
    reminder = Reminder(key=key or _key(case, due, step), case_id=case.id, due_at=due, step=step, fire_at=fire_at,
                        status="scheduled", created_at=now)
    session.add(reminder)
    return reminder


def schedule(session: Session, case: Case, config: TeamConfig, now: datetime) -> None:
    """Make the scheduled steps match the case: those of its current due period, or none.

    Steps of an earlier period, or of a case that no longer reminds, are cancelled. Called after every
    change to the due time, the cadence or the status.
    """
    due = case.next_update_due if reminds(case) else None
    stale = update(Reminder).where(Reminder.case_id == case.id, Reminder.status == "scheduled")
    if due is not None:
        stale = stale.where(Reminder.due_at != due)
    session.execute(stale.values(status="cancelled"))
    if due is None:
        return
    existing = set(session.scalars(select(Reminder.step).where(Reminder.case_id == case.id, Reminder.due_at == due)))
    rules = config.reminders
    steps = {
        "heads_up": due - rules.remind_before,
        "overdue": due,
        "escalate": due + rules.escalate_after_for(cadence_of(case, config)),
    }
    if config.leadership_channel:
        steps["leadership"] = due + rules.leadership_after
    for step, fire_at in steps.items():
        if step in existing or (step == "heads_up" and (not rules.remind_before or fire_at <= now)):
            continue
        _add(session, case, due, step, fire_at, now)
    session.flush()


def start_period(session: Session, case: Case, start: datetime, config: TeamConfig, now: datetime) -> None:
    """The cadence (re)starts at ``start``: a new due time and its reminders."""
    case.next_update_due = due_from(case, start, config) if reminds(case) else None
    schedule(session, case, config, now)


def refresh_summary(session: Session, case: Case, now: datetime, reason: str) -> None:
    """Re-render the pinned summary from the case (a headline kept current, never a stale copy)."""
    refresh_summary_of(session, case.id, case.summary_ts, now, reason)


def refresh_summary_of(session: Session, case_id: int, summary_ts: str | None, now: datetime, reason: str) -> None:
    """:func:`refresh_summary` by the case's id and summary message (callers that did not load the case)."""
    if summary_ts:
        enqueue(session, key=f"summary:{case_id}:{reason}", kind="case.refresh_summary", case_id=case_id, now=now)


def _refresh_reminder(session: Session, reminder: Reminder, now: datetime) -> None:
    if reminder.message_ts:
        enqueue(session, key=f"reminder-refresh:{reminder.id}:{now.timestamp():.6f}", kind="reminder.refresh",
                case_id=reminder.case_id, payload={"reminder_id": reminder.id}, now=now)


def record_customer_update(
    session: Session,
    case: Case,
    *,
    by: str,
    text: str | None,
    via: str,
    source: str,
    at: datetime,
    config: TeamConfig,
    announce: bool = True,
    message_ts: str | None = None,
) -> CustomerUpdate:
    """The customer was told something: record it, close the due period and start the next one."""
    due = case.next_update_due
    entry = CustomerUpdate(case_id=case.id, at=at, by=by, text=text, via=via, source=source, due_at=due,
                           on_time=None if due is None else at <= due, message_ts=message_ts)
    session.add(entry)
    event = add_event(session, case, at=at, actor=by, kind="customer_update", text=text,
                      data={"via": via, "source": source, "due_at": due.isoformat() if due else None})
    session.flush()
    if due is not None:
        # Every reminder of the period already posted now says the customer was updated.
        posted = session.scalars(select(Reminder).where(
            Reminder.case_id == case.id, Reminder.due_at == due, Reminder.message_ts.is_not(None),
            Reminder.answered_at.is_(None)))
        for reminder in posted:
            reminder.answer, reminder.answered_by, reminder.answered_at = "updated", by, at
            _refresh_reminder(session, reminder, at)
    case.last_customer_update_at = at
    case.updated_at = at
    start_period(session, case, at, config, at)
    if announce:
        enqueue(session, key=f"update:{entry.id}:post", kind="case.post_update", case_id=case.id,
                payload={"update_id": entry.id}, now=at)
    refresh_summary(session, case, at, f"update:{event.id}")
    return entry


def set_cadence(session: Session, case: Case, cadence: timedelta, *, by: str, now: datetime,
                config: TeamConfig) -> None:
    """The cadence agreed with the customer: the current period is re-timed from its start."""
    case.cadence_seconds = int(cadence.total_seconds())
    case.updated_at = now
    event = add_event(session, case, at=now, actor=by, kind="cadence_changed", data={"seconds": case.cadence_seconds})
    session.flush()
    start_period(session, case, case.last_customer_update_at or case.created_at, config, now)
    refresh_summary(session, case, now, f"cadence:{event.id}")


class NotAllowed(Exception):
    """The person may not do this; the message says who may."""


def may_answer(user: str, case: Case, advocates: Sequence[str]) -> bool:
    """Reminders are answered by the case owner or an advocate (a head's ✅ is not a customer update)."""
    return user == case.owner_id or user in advocates


def current(reminder: Reminder, case: Case) -> bool:
    """Still about the open period: not answered, and the case still waits for that update."""
    return reminder.answered_at is None and reminds(case) and case.next_update_due == reminder.due_at


def snooze(session: Session, reminder: Reminder, case: Case, *, by: str, until: datetime, now: datetime) -> bool:
    """Move the owner's next reminder of this period to ``until``. False if it was already answered.

    The due time stays (compliance stays honest), and so do the escalation steps.
    """
    answered = session.execute(
        update(Reminder).where(Reminder.id == reminder.id, Reminder.answered_at.is_(None))
        .values(answer="snoozed", answered_by=by, answered_at=now, snoozed_until=until)
    ).rowcount  # type: ignore[attr-defined]
    if not answered:
        return False
    session.refresh(reminder)
    session.execute(
        update(Reminder).where(Reminder.case_id == case.id, Reminder.due_at == reminder.due_at,
                               Reminder.status == "scheduled", Reminder.step.in_(OWNER_STEPS),
                               Reminder.fire_at < until).values(status="cancelled"))
    _add(session, case, reminder.due_at, "repeat", until, now,
         key=_key(case, reminder.due_at, f"repeat@{_stamp(until)}"))
    add_event(session, case, at=now, actor=by, kind="reminder_snoozed", data={"until": until.isoformat()})
    session.flush()
    _refresh_reminder(session, reminder, now)
    return True


def claim_due(session: Session, now: datetime, limit: int = CLAIM_BATCH) -> list[Reminder]:
    """Claim scheduled steps whose time has come (``FOR UPDATE SKIP LOCKED`` lets ticks run side by side)."""
    due = (select(Reminder.id).where(Reminder.status == "scheduled", Reminder.fire_at <= now)
           .order_by(Reminder.fire_at).limit(limit).with_for_update(skip_locked=True))
    ids = list(session.scalars(
        update(Reminder).where(Reminder.id.in_(due.scalar_subquery())).values(status="fired").returning(Reminder.id)))
    if not ids:
        return []
    return list(session.scalars(select(Reminder).where(Reminder.id.in_(ids)).order_by(Reminder.case_id, Reminder.id)))


@dataclass
class Fired:
    claimed: int = 0  # steps claimed in this batch (a full batch means more may be due)
    posted: int = 0  # posts written to the outbox


def fire_due(session: Session, now: datetime, limit: int = CLAIM_BATCH) -> Fired:
    """Claim due steps and write their posts to the outbox."""
    claimed = claim_due(session, now, limit)
    by_case: dict[int, list[Reminder]] = {}
    for reminder in claimed:
        by_case.setdefault(reminder.case_id, []).append(reminder)
    # A case's other due steps may lie beyond this batch's limit: take them too, so that the highest
    # one is chosen among all of them (one reminder per overdue case after downtime).
    if by_case:
        rest = session.scalars(
            select(Reminder).where(Reminder.case_id.in_(list(by_case)), Reminder.status == "scheduled",
                                   Reminder.fire_at <= now).with_for_update(skip_locked=True))
        for reminder in rest:
            reminder.status = "fired"
            by_case[reminder.case_id].append(reminder)
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(list(by_case))))}
    fired = Fired(claimed=len(claimed))
    for case_id, reminders in by_case.items():
        case = cases.get(case_id)
        live = []
        for reminder in reminders:
            if case is None or not reminds(case) or case.next_update_due != reminder.due_at:
                reminder.status = "cancelled"
            elif reminder.step == "heads_up" and now >= reminder.due_at:
                reminder.status = "skipped"  # too late for a heads-up: the overdue reminder says it
            else:
                live.append(reminder)
        in_channel = sorted((r for r in live if r.step != "leadership"), key=lambda r: (RANK[r.step], r.fire_at))
        for stale in in_channel[:-1]:
            stale.status = "skipped"
        for reminder in in_channel[-1:] + [r for r in live if r.step == "leadership"]:
            enqueue(session, key=reminder.key, kind="reminder.post", case_id=case_id,
                    payload={"reminder_id": reminder.id}, now=now)
            fired.posted += 1
    session.flush()
    return fired
