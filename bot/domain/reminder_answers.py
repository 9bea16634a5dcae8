"""Answers to a reminder that are queued before the ack and done right after it: a ✅ or 💤 reaction, a Snooze click.

Before the ack a reaction is only queued. Its event id is claimed first, so a redelivery (or the same event
at another replica) is told apart as AlreadyDelivered even when the reminder was answered meanwhile; and when it
may answer a reminder, a ``reminder.react`` outbox row is written with the claim. ``answer_reaction`` runs that
row (``jobs/reminder_answers.py``): it checks again, since the reminder may have been answered in between, and changes
the cadence at the reaction's own time. The ack costs one statement on PostgreSQL instead of the cadence
change's dozen round trips, and an acknowledged reaction is never lost: if the process stops before the row
runs, the tick (of any replica) runs it. A click on *Snooze 1h* or *Snooze until tomorrow* is checked (the
refusal is the ack's business) and queued the same way; ``bot.update_flow.snooze_clicked`` does it. No Slack here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Boolean, String, Table, bindparam, insert, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from bot.config import TeamConfig
from bot.domain.cadence import current, may_answer, record_customer_update, snooze
from storage.models import Case, OutboxItem, Reminder
from storage.queries import CLAIM_CTE, CLAIMED, AlreadyDelivered, claim_first, dialect_of

DONE, SNOOZE = "white_check_mark", "zzz"
KIND, SNOOZE_KIND = "reminder.react", "reminder.snooze"

CASES: Table = Case.__table__  # type: ignore[assignment]
REMINDERS: Table = Reminder.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxItem.__table__  # type: ignore[assignment]

# The reminder a reaction may answer: the message is that reminder, not the leadership step (a ✅ there is no
# customer update), not answered yet, and the person is the case's owner or an advocate (``may_answer``; being
# an advocate is known before, as :advocate). ``answer_reaction`` checks all of it again, with the rest of
# ``current``, when the row runs. One condition for both databases' statements.
ANSWERABLE = """reminders.channel_id = :channel_id AND reminders.message_ts = :ts AND reminders.step <> 'leadership'
    AND reminders.answered_at IS NULL AND (cases.owner_id = :user OR CAST(:advocate AS boolean))"""
_TARGET = (select(REMINDERS.c.id, REMINDERS.c.case_id, CASES.c.number)
           .join(CASES, CASES.c.id == REMINDERS.c.case_id)
           .where(sql_text(ANSWERABLE).bindparams(bindparam("user", type_=String()),
                                                  bindparam("advocate", type_=Boolean())))
           .limit(1))
_QUEUE = insert(OUTBOX)

# PostgreSQL: all of it in one statement that commits itself (``Database.one_statement``): claim the event id
# (NULL claims nothing); unless it was taken, find the reminder it may answer; queue the row the job runs, as
# ``_queue_row`` writes it on SQLite. (PostgreSQL runs a data-modifying CTE whether or not the SELECT reads it.)
_QUEUED_SQL = f"""
WITH {CLAIM_CTE}, target AS (
    SELECT reminders.id, reminders.case_id, cases.number FROM reminders JOIN cases ON cases.id = reminders.case_id
    WHERE {ANSWERABLE} AND {CLAIMED}
    LIMIT 1
), queued AS (
    INSERT INTO outbox (key, kind, case_id, payload, status, due_at, attempts, created_at)
    SELECT CAST(:row_key AS varchar), '{KIND}', case_id,
           json_build_object('reminder_id', id, 'user', CAST(:user AS text), 'reaction', CAST(:reaction AS text)),
           'pending', :now, 0, :now
    FROM target
    RETURNING id
)
SELECT {CLAIMED}, (SELECT number FROM target)
"""


@cache
def _queued_statement() -> Any:
    return sql_text(_QUEUED_SQL).bindparams(bindparam("now", type_=OUTBOX.c.created_at.type),
                                            bindparam("advocate", type_=Boolean()))


def _queue_row(key: str, kind: str, case_id: int, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The row the job runs, as the PostgreSQL statements write it (SQLite inserts it with ``_QUEUE``)."""
    return {"key": key, "kind": kind, "case_id": case_id, "payload": payload, "status": "pending", "due_at": now,
            "attempts": 0, "created_at": now}


def reaction_name(reaction: str) -> str | None:
    """DONE or SNOOZE, skin tone dropped (Slack sends +1::skin-tone-3); None for any other reaction."""
    name = reaction.split("::", 1)[0]
    return name if name in (DONE, SNOOZE) else None


def queue_reaction(session: Session, *, delivery: str | None, user: str, advocate: bool, channel_id: str, ts: str,
                   reaction: str, now: datetime) -> int | None:
    """Claim ``delivery`` and queue the reaction if it may answer a reminder; the case's number, or None.

    ``reaction`` is DONE or SNOOZE. AlreadyDelivered if the event id was claimed before: nothing was queued.
    """
    key = f"reaction:{delivery or uuid.uuid4().hex}"
    if dialect_of(session) == "postgresql":
        claimed, number = session.execute(_queued_statement(), {
            "key": delivery, "now": now, "user": user, "advocate": advocate, "channel_id": channel_id,
            "ts": ts, "row_key": key, "reaction": reaction}).one()
        if not claimed:
            raise AlreadyDelivered(str(delivery))
        return number
    claim_first(session, delivery, now)
    target = session.execute(_TARGET, {"channel_id": channel_id, "ts": ts, "user": user,
                                       "advocate": advocate}).first()
    if target is None:
        return None
    session.execute(_QUEUE, _queue_row(key, KIND, target.case_id,
                                       {"reminder_id": target.id, "user": user, "reaction": reaction}, now))
    return int(target.number)


# A click on a reminder's Snooze button: the reminder, whether the person may answer it and whether it still waits;
# when both, the row the job runs is queued with it. PostgreSQL: one statement (``_SNOOZE_SQL``).
_CLICKED = (select(REMINDERS.c.id, REMINDERS.c.case_id, CASES.c.owner_id,
                   REMINDERS.c.answered_at.is_(None).label("waiting"))
            .join(CASES, CASES.c.id == REMINDERS.c.case_id).where(REMINDERS.c.id == bindparam("reminder_id")))
_SNOOZE_SQL = f"""
WITH target AS (
    SELECT reminders.id, reminders.case_id, cases.owner_id, reminders.answered_at IS NULL AS waiting
    FROM reminders JOIN cases ON cases.id = reminders.case_id WHERE reminders.id = :reminder_id
), queued AS (
    INSERT INTO outbox (key, kind, case_id, payload, status, due_at, attempts, created_at)
    SELECT CAST(:row_key AS varchar), '{SNOOZE_KIND}', case_id,
           json_build_object('reminder_id', id, 'user', CAST(:user AS text), 'tomorrow', CAST(:tomorrow AS boolean),
                             'response_url', CAST(:response_url AS text)),
           'pending', :now, 0, :now
    FROM target WHERE waiting AND (owner_id = :user OR CAST(:advocate AS boolean))
    RETURNING id
)
SELECT owner_id, waiting FROM target
"""


class Clicked(NamedTuple):
    """The clicked reminder's case owner, and whether it still waited (then, if the person may answer, queued)."""

    owner_id: str
    waiting: bool


@cache
def _snooze_statement() -> Any:
    return sql_text(_SNOOZE_SQL).bindparams(bindparam("now", type_=OUTBOX.c.created_at.type),
                                            bindparam("advocate", type_=Boolean()),
                                            bindparam("tomorrow", type_=Boolean()))


def queue_snooze(session: Session, *, reminder_id: int, user: str, advocate: bool, tomorrow: bool,
                 response_url: str | None, now: datetime) -> Clicked | None:
    """Queue a Snooze click if ``user`` may answer the reminder and it still waits; None if there is no reminder."""
    key = f"snooze:{reminder_id}:{uuid.uuid4().hex}"  # Slack never redelivers a click; two clicks are two rows
    if dialect_of(session) == "postgresql":
        found = session.execute(_snooze_statement(), {
            "reminder_id": reminder_id, "row_key": key, "user": user, "advocate": advocate, "tomorrow": tomorrow,
            "response_url": response_url, "now": now}).first()
        return None if found is None else Clicked(found.owner_id, bool(found.waiting))
    found = session.execute(_CLICKED, {"reminder_id": reminder_id}).first()
    if found is None:
        return None
    if found.waiting and (found.owner_id == user or advocate):
        session.execute(_QUEUE, _queue_row(key, SNOOZE_KIND, found.case_id, {
            "reminder_id": reminder_id, "user": user, "tomorrow": tomorrow, "response_url": response_url}, now))
    return Clicked(found.owner_id, bool(found.waiting))


def reminder_and_case(session: Session, reminder_id: int) -> tuple[Reminder, Case] | None:
    """A reminder and its case, in one round trip; None if the reminder is gone."""
    found = session.execute(select(Reminder, Case).join(Case, Case.id == Reminder.case_id)
                            .where(Reminder.id == reminder_id)).first()
    return None if found is None else (found[0], found[1])


class Reacted(NamedTuple):
    """A reaction that answered a reminder: its case's number and what it did (updated, snoozed)."""

    case_number: int
    outcome: str


def answer_reaction(session: Session, config: TeamConfig, advocates: Sequence[str], *, reminder_id: int,
                    user: str, reaction: str, at: datetime) -> Reacted | None:
    """The queued reaction, answered (``at``: when it was made). None when it answers nothing (any more).

    Only the owner or an advocate counts (a head's ✅ is not a customer update), and only while the reminder
    is about the open period: a second reaction, or one after a button or a logged update, has no effect.
    """
    found = reminder_and_case(session, reminder_id)
    if found is None:
        return None
    reminder, case = found
    if reminder.step == "leadership" or not current(reminder, case) or not may_answer(user, case, advocates):
        return None
    if reaction == SNOOZE:
        snoozed = snooze(session, reminder, case, by=user, until=at + timedelta(hours=1), now=at)
        return Reacted(case.number, "snoozed") if snoozed else None
    record_customer_update(session, case, by=user, text=None, via="unspecified", source="reaction", at=at,
                           config=config, announce=False)
    return Reacted(case.number, "updated")
