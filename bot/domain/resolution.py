"""How a case ends and comes back: resolve (root cause, prevention actions, recurrence), close, reopen.

Resolving records how it ended and what will stop it happening again: ``PreventionAction`` rows, each
reminded to its owner on the business morning of its due date (the tick claims them like nudges).
A case of the same customer and root-cause category that was resolved in the 90 days before, and
opened before this one, makes this case its recurrence; both timelines say so.

Reopening clears ``resolved_at`` and ``closed_at`` on the case (a reopened case is not resolved: not for
time-to-resolution, nor as the earlier case of a recurrence); the ``reopened`` event keeps both. The
resolution, root cause and prevention actions stay until the next resolve overwrites the first two.
An archived channel is unarchived if Slack lets the bot, else the case moves to a new linked channel,
set up by the same chain as a new case with fresh keys. Authorization is the caller's. No Slack here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from bot.config import TeamConfig
from bot.domain.business_hours import local_instant
from bot.domain.cadence import record_customer_update, refresh_summary, schedule, start_period
from bot.domain.cases import SETUP_STEPS
from bot.domain.checkins import follow_up_after_resolution
from bot.domain.records import add_event, enqueue
from storage.models import Case, CaseEvent, OutboxItem, PreventionAction

RECURRENCE_WINDOW = timedelta(days=90)
PREVENTION_BATCH = 500
ENDED = ("resolved", "closed")

# Outbox kinds whose effects live in jobs/prevention.py
NOTICE = "resolution.notice"  # resolved / closed / reopened, rendered from the event
PREVENTION_DM = "prevention.dm"  # an action's owner: assigned, due today, overdue
ARCHIVE = "case.archive_channel"
UNARCHIVE = "case.unarchive_channel"


class WrongStatus(Exception):
    """The case is not in a state that allows this; the message says what to do instead."""


@dataclass(frozen=True)
class PreventionInput:
    what: str
    owner: str
    due_on: date


@dataclass(frozen=True)
class Resolution:
    """What the resolve modal asks for, validated."""

    resolution: str
    category: str
    root_cause: str
    final_update: str
    via: str
    actions: tuple[PreventionInput, ...]
    losses: Decimal | None = None
    credits: Decimal | None = None


# ---------------------------------------------------------------- time


def team_today(now: datetime, config: TeamConfig) -> date:
    return now.astimezone(config.zone).date()


def remind_at(due_on: date, config: TeamConfig) -> datetime:
    """The business morning of the due date in the team's zone; on a day off, the working day before it
    (the owner hears of it while it is still due)."""
    hours = config.business_hours
    day = due_on
    for _ in range(7):  # days is never empty: a working day is within a week
        if day.weekday() in hours.days:
            break
        day -= timedelta(days=1)
    return local_instant(day, hours.start, config.zone)


def is_overdue(action: PreventionAction, today: date) -> bool:
    """Overdue = not done and the due date (in the team's zone) has passed."""
    return action.status != "done" and action.due_on < today


# ---------------------------------------------------------------- resolve


def find_recurrence(session: Session, case: Case, now: datetime) -> Case | None:
    """The most recent earlier case of the customer with the same root-cause category resolved in the
    last 90 days. "Earlier" means opened before this one: two cases open side by side are one incident
    seen twice, not a recurrence (and links never form a cycle)."""
    if not case.root_cause_category:
        return None
    return session.scalar(
        select(Case).where(Case.customer_id == case.customer_id, Case.id != case.id,
                           Case.root_cause_category == case.root_cause_category,
                           Case.created_at < case.created_at,
                           Case.resolved_at.is_not(None), Case.resolved_at >= now - RECURRENCE_WINDOW,
                           Case.resolved_at <= now)
        .order_by(Case.resolved_at.desc(), Case.id.desc()).limit(1))


def _shows_summary(case: Case) -> bool:
    return bool(case.summary_ts and case.channel_id and case.channel_archived_at is None)


def resolve(session: Session, case: Case, form: Resolution, *, by: str, now: datetime,
            config: TeamConfig) -> CaseEvent:
    """Resolve an open case: the final customer update, the fields, prevention actions, the recurrence link.

    Update reminders stop; the channel gets a notice, the summary and topic are refreshed, and each
    prevention action's owner a DM with a Mark done button.
    """
    if not case.is_open:
        raise WrongStatus(f"Case #{case.number} is already {case.status}.")
    if form.category not in config.root_causes:
        raise ValueError(f"unknown root-cause category {form.category!r}")
    if not form.actions:
        raise ValueError("a resolution needs at least one prevention action")
    # The final update first, while the period is still open: it is measured against its due time.
    update = record_customer_update(session, case, by=by, text=form.final_update, via=form.via, source="resolve",
                                    at=now, config=config, announce=False)
    case.status, case.resolved_at, case.closed_at = "resolved", now, None
    case.resolution, case.root_cause_category, case.root_cause = form.resolution, form.category, form.root_cause
    case.losses, case.credits = form.losses, form.credits
    case.next_update_due, case.updated_at = None, now
    schedule(session, case, config, now)  # the case no longer reminds: its steps are cancelled
    actions = [PreventionAction(case_id=case.id, what=a.what, owner_id=a.owner, due_on=a.due_on,
                                remind_at=remind_at(a.due_on, config), status="open", created_by=by, created_at=now)
               for a in form.actions]
    session.add_all(actions)
    earlier = find_recurrence(session, case, now)
    linked_before = case.recurrence_of_id
    case.recurrence_of_id = earlier.id if earlier is not None else None
    session.flush()
    event = add_event(session, case, at=now, actor=by, kind="resolved", text=form.resolution, data={
        "category": form.category, "root_cause": form.root_cause, "update_id": update.id, "via": form.via,
        "losses": str(form.losses) if form.losses is not None else None,
        "credits": str(form.credits) if form.credits is not None else None,
        "actions": [a.id for a in actions],
        "recurrence_of": earlier.number if earlier is not None else None,
    })
    if earlier is not None and earlier.id != linked_before:
        add_event(session, case, at=now, actor="bot", kind="recurrence",
                  data={"of": earlier.number, "case_id": earlier.id, "category": form.category})
        recurred = add_event(session, earlier, at=now, actor="bot", kind="recurred",
                             data={"in": case.number, "case_id": case.id, "category": form.category})
        session.flush()
        if _shows_summary(earlier):
            refresh_summary(session, earlier, now, f"recurred:{recurred.id}")
    session.flush()
    enqueue(session, key=f"notice:{event.id}", kind=NOTICE, case_id=case.id, now=now, payload={"event_id": event.id})
    refresh_summary(session, case, now, f"resolved:{event.id}")
    if case.channel_id:
        enqueue(session, key=f"topic:{event.id}", kind="case.set_topic", case_id=case.id, now=now)
    for action in actions:
        enqueue(session, key=f"prevention:{action.id}:assigned", kind=PREVENTION_DM, case_id=case.id, now=now,
                payload={"action_id": action.id, "why": "assigned"})
    follow_up_after_resolution(session, case, now=now, config=config)  # "did the fix hold?" (check-ins)
    return event


# ---------------------------------------------------------------- close


def close(session: Session, case: Case, *, by: str, now: datetime, config: TeamConfig) -> CaseEvent:
    """Close a resolved case. With ``archive_on_close`` the channel is archived once everything in it is
    said: summary, then topic, then the notice, then the archive (one chain, so nothing meets an
    archived channel)."""
    if case.status != "resolved":
        if case.status == "closed":
            raise WrongStatus(f"Case #{case.number} is already closed.")
        raise WrongStatus(f"Case #{case.number} is {case.status}: resolve it first with `/case resolve` "
                          "(resolution, root cause and prevention actions), then close it.")
    archive = config.archive_on_close and bool(case.channel_id) and case.channel_archived_at is None
    case.status, case.closed_at, case.updated_at = "closed", now, now
    event = add_event(session, case, at=now, actor=by, kind="closed", data={"archive": archive})
    session.flush()
    if not case.channel_id or case.channel_archived_at is not None:
        return event
    summary = None
    if case.summary_ts:
        summary = enqueue(session, key=f"summary:{case.id}:closed:{event.id}", kind="case.refresh_summary",
                          case_id=case.id, now=now)
    topic = enqueue(session, key=f"topic:{event.id}", kind="case.set_topic", case_id=case.id, now=now, after=summary)
    notice = enqueue(session, key=f"notice:{event.id}", kind=NOTICE, case_id=case.id, now=now,
                     payload={"event_id": event.id}, after=topic)
    if archive:
        enqueue(session, key=f"archive:{event.id}", kind=ARCHIVE, case_id=case.id, now=now,
                payload={"event_id": event.id}, after=notice)
    return event


def channel_archived(session: Session, case: Case, *, now: datetime) -> None:
    if case.channel_archived_at is None:
        case.channel_archived_at = now
        add_event(session, case, at=now, actor="bot", kind="channel_archived", channel_id=case.channel_id,
                  text=f"#{case.channel_name}" if case.channel_name else None)


# ---------------------------------------------------------------- reopen


def reopen_count(session: Session, case: Case) -> int:
    return session.scalar(select(func.count()).select_from(CaseEvent)
                          .where(CaseEvent.case_id == case.id, CaseEvent.kind == "reopened")) or 0


def reopen(session: Session, case: Case, *, by: str, reason: str | None, now: datetime,
           config: TeamConfig) -> CaseEvent:
    """Back to investigating: the update cadence restarts from now, and the channel is made usable again."""
    if case.status not in ENDED:
        raise WrongStatus(f"Case #{case.number} is still open ({case.status}); only a resolved or closed case "
                          "can be reopened.")
    n = reopen_count(session, case) + 1
    data: dict[str, object] = {
        "from": case.status, "reopen": n, "channel_id": case.channel_id,
        "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
    }
    case.status, case.reopened_at, case.updated_at = "investigating", now, now
    case.resolved_at = case.closed_at = None
    start_period(session, case, now, config, now)
    event = add_event(session, case, at=now, actor=by, kind="reopened", text=reason or None, data=data)
    session.flush()
    if not case.channel_id:
        replace_channel(session, case, event_id=event.id, n=n, now=now, error=None)
    elif case.channel_archived_at is not None:
        enqueue(session, key=f"case:{case.id}:reopen{n}:unarchive", kind=UNARCHIVE, case_id=case.id, now=now,
                payload={"event_id": event.id, "reopen": n})
    else:
        announce_reopen(session, case, event_id=event.id, n=n, now=now, prefix=None)
    return event


def announce_reopen(session: Session, case: Case, *, event_id: int, n: int, now: datetime,
                    prefix: str | None, unarchived: bool = False) -> None:
    """The notice, summary and topic in the case's (usable) channel. ``prefix``: keys of a second try."""
    keys = {what: f"{prefix}:{what}" if prefix else f"{what}:{event_id}" for what in ("notice", "topic")}
    enqueue(session, key=keys["notice"], kind=NOTICE, case_id=case.id, now=now,
            payload={"event_id": event_id, "reopen": n, "unarchived": unarchived, "retry": prefix is not None})
    refresh_summary(session, case, now, f"reopened{n}:{event_id}" + (":again" if prefix else ""))
    enqueue(session, key=keys["topic"], kind="case.set_topic", case_id=case.id, now=now)


def unarchived(session: Session, case: Case, *, event_id: int, n: int, now: datetime) -> None:
    """Slack unarchived the channel: it is the case's again."""
    case.channel_archived_at = None
    add_event(session, case, at=now, actor="bot", kind="channel_unarchived", channel_id=case.channel_id,
              text=f"#{case.channel_name}" if case.channel_name else None, data={"reopen": n})
    announce_reopen(session, case, event_id=event_id, n=n, now=now, prefix=f"case:{case.id}:reopen{n}",
                    unarchived=True)


def replace_channel(session: Session, case: Case, *, event_id: int, n: int, now: datetime,
                    error: str | None) -> None:
    """The channel cannot be used again (Slack refused to unarchive it): set up a new, linked one.

    The chain is the new-case set-up (create, invite, summary, pin, topic, bookmark) with keys
    ``case:<id>:reopen<n>:<step>``; whoever reopened is invited too, and the notice comes after the summary.
    The old channel stays on the timeline (``channel_replaced``) and is linked from the new summary.
    """
    old_id, old_name = case.channel_id, case.channel_name
    if old_id:
        add_event(session, case, at=now, actor="bot", kind="channel_replaced", channel_id=old_id,
                  text=f"#{old_name}" if old_name else None,
                  data={"old_channel_id": old_id, "old_channel_name": old_name, "error": error, "reopen": n})
    case.channel_id = case.channel_name = case.summary_ts = None
    case.channel_archived_at = None
    for department in case.departments:
        department.ask_ts = None  # asked again by the new summary
    session.flush()
    reopener = session.get_one(CaseEvent, event_id).actor
    prefix = f"case:{case.id}:reopen{n}"
    steps: dict[str, OutboxItem] = {}

    def step(kind: str, needs: str | None, payload: dict[str, object] | None = None, name: str | None = None
             ) -> OutboxItem:
        steps[name or kind] = enqueue(session, key=f"{prefix}:{name or kind}", kind=kind, case_id=case.id, now=now,
                                      payload=payload, after=steps[needs] if needs else None)
        return steps[name or kind]

    for kind, needs in SETUP_STEPS:
        if kind == "case.notify_requester" or (kind == "case.bookmark_source" and not case.source_ts):
            continue
        if kind == "case.post_summary" and reopener not in (case.owner_id, case.reporter_id):
            step("case.invite_users", "case.invite", {"users": [reopener]}, name="invite_reopener")
            needs = "invite_reopener"
        step(kind, needs)
    step(NOTICE, "case.post_summary", {"event_id": event_id, "reopen": n, "earlier_channel": old_id, "retry": True},
         name="notice")


# ---------------------------------------------------------------- prevention actions


def _claim(session: Session, condition: Any, status: Any, now: datetime, limit: int) -> list[Any]:
    due = (select(PreventionAction.id).where(condition).order_by(PreventionAction.remind_at).limit(limit)
           .with_for_update(skip_locked=True))
    return list(session.execute(
        update(PreventionAction).where(PreventionAction.id.in_(due.scalar_subquery()))
        .values(status=status, reminded_at=func.coalesce(PreventionAction.reminded_at, now))
        .returning(PreventionAction.id, PreventionAction.case_id, PreventionAction.status, PreventionAction.owner_id)
        .execution_options(synchronize_session=False)).all())


def claim_prevention(session: Session, now: datetime, config: TeamConfig, limit: int = PREVENTION_BATCH) -> int:
    """Prevention actions whose time has come: the owner's DM on the due morning; overdue the day after.

    Claimed like nudges (``UPDATE … RETURNING`` over ``FOR UPDATE SKIP LOCKED``), so ticks on several
    replicas remind each action once: ``open`` at ``remind_at`` → ``reminded`` and a DM (``overdue``
    and a DM saying so, if the bot was down through the due date); ``reminded`` once the team's date
    is past ``due_on`` → ``overdue``, and the case summary shows it. The stored ``overdue`` is the
    job's marker; what counts is ``is_overdue``: not done and the due date passed.
    """
    today = team_today(now, config)
    late = PreventionAction.due_on < today
    reminded = _claim(session, and_(PreventionAction.status == "open", PreventionAction.remind_at <= now),
                      sql_case((late, "overdue"), else_="reminded"), now, limit)
    turned = _claim(session, and_(PreventionAction.status == "reminded", late), "overdue", now,
                    limit - len(reminded)) if len(reminded) < limit else []
    overdue_cases: dict[int, int] = {}
    for action_id, case_id, status, owner in reminded:
        why = "overdue" if status == "overdue" else "due"
        session.add(CaseEvent(case_id=case_id, at=now, actor="bot", kind="prevention_reminded",
                              data={"action_id": action_id, "owner": owner, "overdue": why == "overdue"}))
        enqueue(session, key=f"prevention:{action_id}:remind", kind=PREVENTION_DM, case_id=case_id, now=now,
                payload={"action_id": action_id, "why": why})
        if why == "overdue":
            overdue_cases.setdefault(case_id, action_id)
    for action_id, case_id, _, _ in turned:
        overdue_cases.setdefault(case_id, action_id)
    if overdue_cases:
        for case in session.scalars(select(Case).where(Case.id.in_(list(overdue_cases)))):
            if _shows_summary(case):
                refresh_summary(session, case, now, f"prevention-overdue:{overdue_cases[case.id]}")
    session.flush()
    return len(reminded) + len(turned)


def mark_done(session: Session, action: PreventionAction, case: Case, *, by: str, now: datetime,
              config: TeamConfig) -> CaseEvent | None:
    """Mark an action done, once (None if it already was): on the timeline, and in the summary."""
    done = session.execute(
        update(PreventionAction).where(PreventionAction.id == action.id, PreventionAction.status != "done")
        .values(status="done", done_at=now, done_by=by).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(action)
    if not done:
        return None
    event = add_event(session, case, at=now, actor=by, kind="prevention_done", text=action.what,
                      data={"action_id": action.id, "owner": action.owner_id, "due_on": action.due_on.isoformat(),
                            "late": action.due_on < team_today(now, config)})
    session.flush()
    if _shows_summary(case):
        refresh_summary(session, case, now, f"prevention_done:{event.id}")
    return event


# ---------------------------------------------------------------- what the summary shows


@dataclass(frozen=True)
class CaseLink:
    number: int
    channel_id: str | None


@dataclass(frozen=True)
class SummaryContext:
    """What the pinned summary shows beyond the case row: prevention actions, recurrence links, old channels."""

    today: date
    actions: tuple[PreventionAction, ...] = ()
    recurrence_of: CaseLink | None = None
    recurred_in: tuple[CaseLink, ...] = ()
    earlier_channels: tuple[tuple[str, str | None], ...] = ()  # (channel id, name), oldest first


def summary_context(session: Session, case: Case, now: datetime, config: TeamConfig) -> SummaryContext | None:
    """None for a case never resolved (nothing to add): no queries on the common path."""
    if not (case.resolved_at or case.reopened_at or case.recurrence_of_id):
        return None
    actions = tuple(session.scalars(select(PreventionAction).where(PreventionAction.case_id == case.id)
                                    .order_by(PreventionAction.id)))
    recurrence_of = None
    if case.recurrence_of_id:
        row = session.execute(select(Case.number, Case.channel_id).where(Case.id == case.recurrence_of_id)).first()
        recurrence_of = CaseLink(row[0], row[1]) if row else None
    recurred_in = tuple(CaseLink(number, channel) for number, channel in session.execute(
        select(Case.number, Case.channel_id).where(Case.recurrence_of_id == case.id).order_by(Case.number)))
    earlier = tuple((str(e.channel_id), (e.data or {}).get("old_channel_name")) for e in session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "channel_replaced")
        .order_by(CaseEvent.id)) if e.channel_id)
    return SummaryContext(today=team_today(now, config), actions=actions, recurrence_of=recurrence_of,
                          recurred_in=recurred_in, earlier_channels=earlier)
