"""Changes to an open case from its channel: status, owner, severity, impact, departments, notes.

Each change is one timeline event, a refreshed pinned summary (and topic, where it shows), and a
short notice in the case channel rendered from that event — all outbox rows keyed by the event.
Authorization is the caller's (``bot/case_flow.py``); these functions only change state. No Slack here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import TeamConfig
from bot.domain.cadence import refresh_summary, schedule, start_period
from bot.domain.cases import ask_department
from bot.domain.records import add_event, enqueue
from storage.models import Case, CaseEvent

SETTABLE_STATUSES = ("new", "investigating", "waiting-on-customer")
TIMELINE_LIMIT = 20


class NoChange(Exception):
    """The case already is that way; nothing was recorded."""


def _changed(session: Session, case: Case, *, by: str, now: datetime, kind: str, data: dict[str, object],
             text: str | None = None, topic: bool = False, notice: bool = True) -> CaseEvent:
    """Record a change: the event, then the channel's notice, the summary and (if it shows) the topic."""
    case.updated_at = now
    event = add_event(session, case, at=now, actor=by, kind=kind, text=text, data=data)
    session.flush()
    if notice:
        enqueue(session, key=f"notice:{event.id}", kind="case.notice", case_id=case.id, now=now,
                payload={"event_id": event.id})
    refresh_summary(session, case, now, f"{kind}:{event.id}")
    if topic and case.channel_id:
        enqueue(session, key=f"topic:{event.id}", kind="case.set_topic", case_id=case.id, now=now)
    return event


def set_status(session: Session, case: Case, status: str, *, by: str, now: datetime, config: TeamConfig) -> CaseEvent:
    """Waiting on the customer pauses the update cadence; any other status resumes it from now."""
    if status not in SETTABLE_STATUSES:
        raise ValueError(status)
    if case.status == status:
        raise NoChange(f"Case #{case.number} is already {status}.")
    before = case.status
    case.status = status
    if status == "waiting-on-customer":
        case.next_update_due = None
        schedule(session, case, config, now)  # cancels the period's reminders
    elif before == "waiting-on-customer":
        start_period(session, case, now, config, now)
    return _changed(session, case, by=by, now=now, kind="status_changed", data={"from": before, "to": status},
                    topic=True)


def set_owner(session: Session, case: Case, owner: str, *, by: str, now: datetime) -> CaseEvent:
    """The new owner is invited first, then the notice mentions them (a mention before the invite notifies nobody)."""
    if case.owner_id == owner:
        raise NoChange("They already own this case.")
    before = case.owner_id
    case.owner_id = owner
    event = add_event(session, case, at=now, actor=by, kind="owner_changed", data={"from": before, "to": owner})
    session.flush()
    invite = enqueue(session, key=f"invite:{event.id}", kind="case.invite_users", case_id=case.id, now=now,
                     payload={"users": [owner]})
    enqueue(session, key=f"notice:{event.id}", kind="case.notice", case_id=case.id, now=now,
            payload={"event_id": event.id}, after=invite)
    refresh_summary(session, case, now, f"owner:{event.id}")
    case.updated_at = now
    return event


def set_severity(session: Session, case: Case, severity: str, *, by: str, now: datetime,
                 config: TeamConfig) -> CaseEvent:
    """A new severity brings its cadence (unless one was agreed with the customer), timed from the last update."""
    if severity not in config.severities:
        raise ValueError(severity)
    if case.severity == severity:
        raise NoChange(f"Case #{case.number} is already {severity.upper()}.")
    before = case.severity
    case.severity = severity
    if not case.cadence_seconds:
        start_period(session, case, case.last_customer_update_at or case.created_at, config, now)
    return _changed(session, case, by=by, now=now, kind="severity_changed", data={"from": before, "to": severity},
                    topic=True)


def set_impact(session: Session, case: Case, impact: Decimal, *, by: str, now: datetime) -> CaseEvent:
    if case.impact == impact:
        raise NoChange("The revenue at risk is already that.")
    before = case.impact
    case.impact = impact
    return _changed(session, case, by=by, now=now, kind="impact_changed",
                    data={"from": str(before) if before is not None else None, "to": str(impact)})


def add_department(session: Session, case: Case, name: str, *, by: str, now: datetime,
                   config: TeamConfig) -> CaseEvent:
    """Ask one more department: invite its heads and deputies, then a new message mentions them."""
    if any(d.department == name for d in case.departments):
        raise NoChange(f"{name} is already asked on this case.")
    department = ask_department(config, name, now)
    case.departments.append(department)
    event = add_event(session, case, at=now, actor=by, kind="department_added", data={"department": name})
    session.flush()
    invite = enqueue(session, key=f"invite:{event.id}", kind="case.invite_users", case_id=case.id, now=now,
                     payload={"users": [*department.heads, *(department.deputies or [])]})
    enqueue(session, key=f"ask:{department.id}", kind="department.ask", case_id=case.id, now=now,
            payload={"department_id": department.id, "event_id": event.id}, after=invite)
    refresh_summary(session, case, now, f"department:{event.id}")
    case.updated_at = now
    return event


def add_note(session: Session, case: Case, text: str, *, by: str, now: datetime) -> CaseEvent:
    return _changed(session, case, by=by, now=now, kind="note", text=text, data={})


def timeline(session: Session, case: Case, limit: int = TIMELINE_LIMIT) -> list[CaseEvent]:
    """The last ``limit`` events, oldest first."""
    latest = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                             .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(limit))
    return list(reversed(list(latest)))
