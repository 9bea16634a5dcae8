"""The case channel as a record: people's messages, department responses, key moments and nudges.

Every message by a person in a case channel (top level or in a thread) becomes a ``message`` event on
the case timeline; a unique index on (kind, channel, ts) makes a re-delivered event a no-op. The first
message by a head or deputy of an asked department is that department's response. No Slack here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.domain.cadence import refresh_summary
from bot.domain.records import add_event, enqueue
from storage.models import Case, CaseDepartment, CaseEvent

NUDGE_BATCH = 500


def case_in_channel(session: Session, channel_id: str | None) -> Case | None:
    if not channel_id:
        return None
    return session.scalar(select(Case).where(Case.channel_id == channel_id))


def message_event(session: Session, channel_id: str, ts: str, kind: str = "message") -> CaseEvent | None:
    return session.scalar(select(CaseEvent).where(CaseEvent.kind == kind, CaseEvent.channel_id == channel_id,
                                                  CaseEvent.slack_ts == ts))


def responders(department: CaseDepartment, expanded: Mapping[str, Iterable[str]]) -> set[str]:
    """Who answers for a department: its heads and deputies as asked, with user groups expanded."""
    people = set(department.heads) | set(department.deputies or [])
    return people | set(expanded.get(department.department, ()))


def record_message(
    session: Session,
    case: Case,
    *,
    user: str,
    channel_id: str,
    ts: str,
    thread_ts: str | None,
    text: str,
    permalink: str | None,
    now: datetime,
    expanded: Mapping[str, Iterable[str]],
) -> list[str] | None:
    """Record a person's message; returns the departments it answered, or None if already recorded."""
    if message_event(session, channel_id, ts) is not None:
        return None
    add_event(session, case, at=now, actor=user, kind="message", text=text, permalink=permalink, slack_ts=ts,
              channel_id=channel_id, thread_ts=thread_ts if thread_ts != ts else None)
    answered = []
    for department in case.departments:
        if department.answered_at is None and user in responders(department, expanded):
            department.answered_by, department.answered_at, department.nudge_at = user, now, None
            answered.append(department.department)
    if answered:
        event = add_event(session, case, at=now, actor=user, kind="department_responded",
                          data={"departments": answered, "ts": ts})
        session.flush()
        refresh_summary(session, case, now, f"responded:{event.id}")
    case.updated_at = now
    session.flush()
    return answered


def edit_message(session: Session, channel_id: str, ts: str, text: str, now: datetime) -> CaseEvent | None:
    """``message_changed``: the record shows the text as it now reads; the first version is kept in data."""
    event = message_event(session, channel_id, ts)
    if event is None or event.text == text:
        return None
    data = dict(event.data or {})
    data.setdefault("original_text", event.text)
    event.text, event.edited_at, event.data = text, now, data
    return event


def delete_message(session: Session, channel_id: str, ts: str, now: datetime) -> CaseEvent | None:
    """``message_deleted``: the event stays on the timeline, marked deleted."""
    event = message_event(session, channel_id, ts)
    if event is None or event.deleted:
        return None
    event.deleted = True
    event.data = {**(event.data or {}), "deleted_at": now.isoformat()}
    return event


def mark_key_moment(session: Session, case: Case, *, channel_id: str, ts: str, by: str, how: str,
                    now: datetime) -> CaseEvent | None:
    """A :pushpin: or a pin marks a message a key moment, once (whichever comes first)."""
    if message_event(session, channel_id, ts, "key_moment") is not None:
        return None
    message = message_event(session, channel_id, ts)
    if message is not None:
        text, permalink, author = message.text, message.permalink, message.actor
    elif ts == case.summary_ts:
        text, permalink, author = "The case summary", None, "bot"
    else:
        text, permalink, author = None, None, None
    return add_event(session, case, at=now, actor=by, kind="key_moment", text=text, permalink=permalink,
                     slack_ts=ts, channel_id=channel_id, data={"how": how, "author": author})


def claim_nudges(session: Session, now: datetime, limit: int = NUDGE_BATCH) -> int:
    """Departments asked longer than ``respond_within`` ago with no answer get one nudge each.

    Claimed like reminders (``UPDATE … RETURNING`` over ``FOR UPDATE SKIP LOCKED``): ticks on several
    replicas nudge each department once.
    """
    due = (select(CaseDepartment.id).join(Case, Case.id == CaseDepartment.case_id)
           .where(CaseDepartment.nudge_at <= now, CaseDepartment.answered_at.is_(None),
                  Case.status.in_(Case.OPEN_STATUSES))
           .order_by(CaseDepartment.nudge_at).limit(limit).with_for_update(skip_locked=True))
    claimed = session.execute(
        update(CaseDepartment).where(CaseDepartment.id.in_(due.scalar_subquery()))
        .values(nudge_at=None, nudged_at=now).returning(CaseDepartment.id, CaseDepartment.case_id,
                                                         CaseDepartment.department)).all()
    for department_id, case_id, name in claimed:
        session.add(CaseEvent(case_id=case_id, at=now, actor="bot", kind="department_nudged",
                              data={"department": name}))
        enqueue(session, key=f"nudge:{department_id}", kind="department.nudge", case_id=case_id,
                payload={"department_id": department_id}, now=now)
    session.flush()
    return len(claimed)
