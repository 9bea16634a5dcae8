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

from sqlalchemy import Table, and_, bindparam, exists, false, insert, literal_column, select, true, update
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from bot.domain.cadence import refresh_summary_of
from bot.domain.records import add_event, enqueue
from storage.models import ONCE_PER_MESSAGE, Case, CaseDepartment, CaseEvent, Delivery
from storage.queries import AlreadyDelivered, claim_first, dialect_of, upsert_for

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


@cache
def _insert_once_statement(dialect: str) -> Any:
    return (upsert_for(dialect)(EVENTS)
            .on_conflict_do_nothing(index_elements=["kind", "channel_id", "slack_ts"],
                                    index_where=sql_text(ONCE_PER_MESSAGE))
            .returning(EVENTS.c.id))


MESSAGE_COLUMNS = ("case_id", "at", "actor", "kind", "text", "permalink", "slack_ts", "channel_id", "thread_ts",
                   "deleted", "data")


@cache
def _posted_statement() -> Any:
    """PostgreSQL: a person's message recorded in one statement (a round trip instead of four).

    Data-modifying CTEs: claim the event id (``:key``; NULL claims nothing), find the channel's case unless the
    claim was taken, insert the message unless (kind, channel, ts) is recorded, touch the case if it was. The
    row(s) say whether the claim held, the case and its summary, the new event's id, and the departments still
    to answer (one row each), so a first answer needs no query of its own.
    """
    deliveries: Table = Delivery.__table__  # type: ignore[assignment]
    # Parameters are named "m_…": a parameter named as a column of ``cases`` (channel_id…) would be taken by
    # SQLAlchemy as a value to SET in the touch's UPDATE.
    key, now = bindparam("m_key", type_=deliveries.c.key.type), bindparam("m_now", type_=EVENTS.c.at.type)
    channel = bindparam("m_channel_id", type_=CASES.c.channel_id.type)
    claim = (postgresql.insert(deliveries)
             .from_select(["key", "received_at"], select(key, now).where(key.is_not(None)))
             .on_conflict_do_nothing(index_elements=["key"]).returning(deliveries.c.key).cte("claim"))
    claimed = key.is_(None) | exists(select(claim.c.key))
    room = (select(CASES.c.id, CASES.c.summary_ts, CASES.c.number)
            .where(CASES.c.channel_id == channel, claimed).cte("room"))
    # constants as SQL literals: a bound literal's value is lost when a cached statement runs with parameters
    values = {"case_id": room.c.id, "at": now, "kind": literal_column("'message'"), "deleted": false(),
              "channel_id": channel}
    recorded = (postgresql.insert(EVENTS)
                .from_select(MESSAGE_COLUMNS, select(*(values.get(name) if name in values else
                                                       bindparam(f"m_{name}", type_=EVENTS.c[name].type)
                                                       for name in MESSAGE_COLUMNS)))
                .on_conflict_do_nothing(index_elements=["kind", "channel_id", "slack_ts"],
                                        index_where=sql_text(ONCE_PER_MESSAGE))
                .returning(EVENTS.c.id, EVENTS.c.case_id).cte("recorded"))
    touched = (update(CASES).where(CASES.c.id.in_(select(recorded.c.case_id))).values(updated_at=now)
               .returning(CASES.c.id).cte("touched"))
    base = select(claimed.label("claimed")).subquery("base")
    return (select(base.c.claimed, room.c.id, room.c.summary_ts, room.c.number,
                   select(recorded.c.id).scalar_subquery(),
                   exists(select(touched.c.id)), DEPARTMENTS.c.id, DEPARTMENTS.c.department, DEPARTMENTS.c.heads,
                   DEPARTMENTS.c.deputies)
            .select_from(base.outerjoin(room, true()).outerjoin(
                DEPARTMENTS, and_(DEPARTMENTS.c.case_id == room.c.id, DEPARTMENTS.c.answered_at.is_(None))))
            .order_by(DEPARTMENTS.c.id))


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
    """INSERT a message or key-moment event unless (kind, channel, ts) is recorded: its id, or None.

    ON CONFLICT DO NOTHING on the partial unique index: no "already recorded?" query first, and on
    PostgreSQL no failed insert aborting the transaction when two deliveries race.
    """
    return session.execute(_insert_once_statement(dialect_of(session)), values).scalar_one_or_none()


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
    channel is no case's
    or the message was recorded before. ``delivery`` (an event id) is claimed first: AlreadyDelivered if taken.

    Core statements, without the ORM's unit of work. On PostgreSQL the claim, the case, the insert and the
    case's touch are one statement (each statement is a round trip to the server, and this is every message
    in a case channel); on SQLite, where a statement is a function call, they run one after the other. Most
    messages are neither first answers nor repeats; a first answer marks its departments answered in one
    UPDATE, which checks that they still were not (two heads answering at once: one of them answered).
    """
    values = {"actor": user, "text": text, "permalink": permalink, "slack_ts": ts, "channel_id": channel_id,
              "thread_ts": thread_ts if thread_ts != ts else None, "data": None}  # data as add_event writes it
    if dialect_of(session) == "postgresql":
        rows = session.execute(_posted_statement(), {
            f"m_{name}": value for name, value in {"key": delivery, "now": now, **values}.items()}).all()
        claimed, case_id, summary_ts, number, event_id = rows[0][:5]
        if not claimed:
            raise AlreadyDelivered(str(delivery))
        if case_id is None or event_id is None:
            return None
        room = Room(case_id, summary_ts, number, tuple(Waiting(*row[6:]) for row in rows if row[6] is not None))
    else:
        claim_first(session, delivery, now)
        found = room_in_channel(session, channel_id)
        if found is None or _insert_once(session, {
                **values, "case_id": found.case_id, "at": now, "kind": "message", "deleted": False}) is None:
            return None
        room = found
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
