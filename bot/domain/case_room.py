"""The case channel as a record: people's messages, department responses, key moments and nudges.

Every message by a person in a case channel (top level or in a thread) becomes a ``message`` event on
the case timeline; a unique index on (kind, channel, ts) makes a re-delivered event a no-op. The first
message by a head or deputy of an asked department is that department's response. No Slack here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Table, and_, bindparam, insert, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from bot.domain.cadence import refresh_summary_of
from bot.domain.records import add_event, enqueue
from storage.models import ONCE_PER_MESSAGE, Case, CaseDepartment, CaseEvent
from storage.queries import CLAIM_CTE, CLAIMED, AlreadyDelivered, claim_first, dialect_of

# The statements of the hot path (every message in a case channel), built once on the Core tables and run with
# parameters: building them with values through the ORM on every message cost more CPU than running them.
CASES: Table = Case.__table__  # type: ignore[assignment]
DEPARTMENTS: Table = CaseDepartment.__table__  # type: ignore[assignment]
EVENTS: Table = CaseEvent.__table__  # type: ignore[assignment]
ROOM = (select(CASES.c.id, CASES.c.summary_ts, CASES.c.number, DEPARTMENTS.c.id, DEPARTMENTS.c.department,
               DEPARTMENTS.c.heads, DEPARTMENTS.c.deputies)
        .outerjoin(DEPARTMENTS, and_(DEPARTMENTS.c.case_id == CASES.c.id, DEPARTMENTS.c.answered_at.is_(None)))
        .where(CASES.c.channel_id == bindparam("channel_id")).order_by(DEPARTMENTS.c.id))
ANSWER = (update(DEPARTMENTS)
          .where(DEPARTMENTS.c.id.in_(bindparam("ids", expanding=True)), DEPARTMENTS.c.answered_at.is_(None))
          .values(answered_by=bindparam("user"), answered_at=bindparam("now"), nudge_at=None)
          .returning(DEPARTMENTS.c.id, DEPARTMENTS.c.department))
RESPONDED = insert(EVENTS).returning(EVENTS.c.id)
TOUCH = update(CASES).where(CASES.c.id == bindparam("case")).values(updated_at=bindparam("now"))


# SQLite's form of the message insert (PostgreSQL's is inside _POSTED_SQL).
INSERT_ONCE = (sqlite.insert(EVENTS)
               .on_conflict_do_nothing(index_elements=["kind", "channel_id", "slack_ts"],
                                       index_where=sql_text(ONCE_PER_MESSAGE))
               .returning(EVENTS.c.id))


# PostgreSQL: a person's message recorded in one statement, run on its own (it commits itself): a round trip
# instead of six (BEGIN, claim, case, insert, touch, COMMIT). Data-modifying CTEs: claim the event id (NULL
# claims nothing); find the channel's case unless the claim was taken; insert the message unless (kind, channel,
# ts) is recorded; if it was inserted, touch the case and mark answered the departments still waiting that this
# person answers for (a head or deputy as asked, or a member of a department's expanded user groups: :groups),
# in one UPDATE that skips a department another head answered meanwhile; then the department_responded event
# and the pinned summary's refresh, as ``add_event`` and ``refresh_summary_of`` write them.
_POSTED_SQL = f"""
WITH {CLAIM_CTE}, room AS (
    SELECT id, number, summary_ts FROM cases WHERE channel_id = :channel_id AND {CLAIMED}
), recorded AS (
    INSERT INTO case_events (case_id, at, actor, kind, text, permalink, slack_ts, channel_id, thread_ts, deleted, data)
    SELECT id, :now, :user, 'message', CAST(:text AS text), CAST(:permalink AS text), CAST(:ts AS varchar),
           :channel_id, CAST(:thread_ts AS varchar), false, 'null'::json
    FROM room
    ON CONFLICT (kind, channel_id, slack_ts) WHERE {ONCE_PER_MESSAGE} DO NOTHING
    RETURNING id, case_id
), touched AS (
    UPDATE cases SET updated_at = :now WHERE id IN (SELECT case_id FROM recorded)
), answered AS (
    UPDATE case_departments SET answered_by = :user, answered_at = :now, nudge_at = NULL
    WHERE case_id IN (SELECT case_id FROM recorded) AND answered_at IS NULL
      AND (heads::jsonb @> jsonb_build_array(CAST(:user AS text))
           OR COALESCE(deputies::jsonb, '[]'::jsonb) @> jsonb_build_array(CAST(:user AS text))
           OR department = ANY(CAST(:groups AS varchar[])))
    RETURNING id, case_id, department
), responded AS (
    INSERT INTO case_events (case_id, at, actor, kind, deleted, data)
    SELECT min(case_id), :now, :user, 'department_responded', false,
           json_build_object('departments', json_agg(department ORDER BY id), 'ts', CAST(:ts AS text))
    FROM answered HAVING count(*) > 0
    RETURNING id, case_id
), refreshed AS (
    INSERT INTO outbox (key, kind, case_id, payload, status, due_at, attempts, created_at)
    SELECT 'summary:' || responded.case_id || ':responded:' || responded.id, 'case.refresh_summary',
           responded.case_id, '{{}}'::json, 'pending', :now, 0, :now
    FROM responded JOIN room ON room.id = responded.case_id WHERE room.summary_ts IS NOT NULL
)
SELECT {CLAIMED}, (SELECT number FROM room),
       (SELECT id FROM recorded), (SELECT array_agg(department ORDER BY id) FROM answered)
"""


@cache
def _posted_statement() -> Any:
    return sql_text(_POSTED_SQL).bindparams(bindparam("now", type_=EVENTS.c.at.type))


NUDGE_BATCH = 500


def case_in_channel(session: Session, channel_id: str | None) -> Case | None:
    if not channel_id:
        return None
    return session.scalar(select(Case).where(Case.channel_id == channel_id))


def message_event(session: Session, channel_id: str, ts: str, kind: str = "message") -> CaseEvent | None:
    return session.scalar(select(CaseEvent).where(CaseEvent.kind == kind, CaseEvent.channel_id == channel_id,
                                                  CaseEvent.slack_ts == ts))


class Asked(Protocol):
    """A department asked on a case, as far as who answers for it goes (a CaseDepartment, or a Waiting)."""

    department: str
    heads: list[Any]
    deputies: list[Any] | None


def responders(department: Asked, expanded: Mapping[str, Iterable[str]]) -> set[str]:
    """Who answers for a department: its heads and deputies as asked, with user groups expanded."""
    people = set(department.heads) | set(department.deputies or [])
    return people | set(expanded.get(department.department, ()))


class Waiting(NamedTuple):
    """A department asked on the case that has not answered yet."""

    id: int
    department: str
    heads: list[Any]
    deputies: list[Any] | None


@dataclass(frozen=True)
class Room:
    """A case channel's case as a message needs it: its id, its pinned summary, the departments still to answer."""

    case_id: int
    summary_ts: str | None
    number: int
    waiting: tuple[Waiting, ...]


class Posted(NamedTuple):
    """A message recorded on a case's timeline: the case's number, and the departments it answered."""

    case_number: int
    answered: list[str]


def room_in_channel(session: Session, channel_id: str | None) -> Room | None:
    """The case of a channel and its unanswered departments, in one query without the ORM (the hot path of
    every message in a case channel: loading the case, its customer and its departments cost more)."""
    if not channel_id:
        return None
    rows = session.execute(ROOM, {"channel_id": channel_id}).all()
    if not rows:
        return None
    return Room(rows[0][0], rows[0][1], rows[0][2], tuple(Waiting(*row[3:]) for row in rows if row[3] is not None))


def _insert_once(session: Session, values: dict[str, Any]) -> int | None:
    """SQLite: INSERT a message event unless (kind, channel, ts) is recorded: its id, or None.

    ON CONFLICT DO NOTHING on the partial unique index: no "already recorded?" query first.
    """
    return session.execute(INSERT_ONCE, values).scalar_one_or_none()


def record_message(
    session: Session,
    *,
    delivery: str | None,
    user: str,
    channel_id: str,
    ts: str,
    thread_ts: str | None,
    text: str,
    permalink: str | None,
    now: datetime,
    expanded: Mapping[str, Iterable[str]],
) -> Posted | None:
    """Record a person's message; returns its case's number and the departments it answered, or None when the
    channel is no case's or the message was recorded before. ``delivery`` (an event id) is claimed first:
    AlreadyDelivered if it was taken.

    Without the ORM's unit of work. On PostgreSQL all of it is one statement (``_POSTED_SQL``: each statement is
    a round trip to the server, and this is every message in a case channel), which the caller runs on its own
    (``Database.one_statement``); on SQLite, where a statement is a function call, Core statements run one after
    the other in a transaction. Most messages are neither first answers nor repeats; a first answer marks its
    departments answered in one UPDATE, which checks that they still were not (two heads answering at once: one
    of them answered).
    """
    in_thread = thread_ts if thread_ts != ts else None  # a thread's parent is not in a thread
    if dialect_of(session) == "postgresql":
        groups = [name for name, members in expanded.items() if user in members]
        claimed, number, event_id, answered = session.execute(_posted_statement(), {
            "key": delivery, "now": now, "user": user, "text": text, "permalink": permalink, "ts": ts,
            "channel_id": channel_id, "thread_ts": in_thread, "groups": groups}).one()
        if not claimed:
            raise AlreadyDelivered(str(delivery))
        return None if number is None or event_id is None else Posted(number, list(answered or []))
    claim_first(session, delivery, now)
    room = room_in_channel(session, channel_id)
    if room is None or _insert_once(session, {
            "case_id": room.case_id, "at": now, "actor": user, "kind": "message", "text": text,
            "permalink": permalink, "slack_ts": ts, "channel_id": channel_id,
            "thread_ts": in_thread, "deleted": False,
            "data": None}) is None:  # data as add_event writes it (JSON null)
        return None
    session.execute(TOUCH, {"case": room.case_id, "now": now})
    return Posted(room.number, _answer(session, room, user=user, ts=ts, now=now, expanded=expanded))


def _answer(session: Session, room: Room, *, user: str, ts: str, now: datetime,
            expanded: Mapping[str, Iterable[str]]) -> list[str]:
    """The departments this new message answers, marked answered, with their event and the summary's refresh."""
    answering = [d.id for d in room.waiting if user in responders(d, expanded)]
    if not answering:
        return []
    rows = session.execute(ANSWER, {"ids": answering, "user": user, "now": now}).all()
    answered = [name for _, name in sorted(rows)]  # in the order they were asked, as the case lists them
    if answered:
        event_id = session.execute(RESPONDED, {
            "case_id": room.case_id, "at": now, "actor": user, "kind": "department_responded", "deleted": False,
            "data": {"departments": answered, "ts": ts}}).scalar_one()
        refresh_summary_of(session, room.case_id, room.summary_ts, now, f"responded:{event_id}")
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
