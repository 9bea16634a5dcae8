"""Customer updates and reminder answers, as handlers call them: find the case, authorize, change, say so.

Each function is one short transaction (run before the ack: the person's action is recorded when
Slack hears back) and returns the sentence to show that person; ``FlowError`` carries a refusal.
Reactions, which nobody is answered for, are only written down before the ack (``queue_reaction``).
The Slack effects (the channel's record, refreshed messages) are outbox rows, run after the ack.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.blocks.common import mention, slack_date
from bot.config import TeamConfig
from bot.domain.cadence import VIA, current, may_answer, record_customer_update, set_cadence, snooze, tomorrow_morning
from bot.durations import format_duration
from bot.escalation_flow import advocates
from bot.flow import FlowError, case_here
from bot.services import Services
from storage.models import Case, OutboxItem, Reminder
from storage.queries import claim_delivery

DONE, SNOOZE = "white_check_mark", "zzz"


def _due_line(case: Case) -> str:
    return f"Next update due {slack_date(case.next_update_due)}." if case.next_update_due else ""


def log_update(svc: Services, *, user: str, text: str, via: str, source: str, channel_id: str | None = None,
               reminder_id: int | None = None, delivery: str | None = None) -> str:
    """Record a customer update by ``user`` (anyone in the case channel), in the channel or from a reminder."""
    if via not in (*VIA, "unspecified"):
        raise FlowError(f"“{via}” is not a way of telling the customer; use one of {', '.join(VIA)}.")
    now = svc.clock()
    with svc.db.transaction(urgent=True) as session:
        if delivery is not None and not claim_delivery(session, delivery, now):
            return "That update is already recorded."
        if reminder_id is not None:
            _, case = _reminder(session, reminder_id)
            if not case.is_open:
                raise FlowError("That case is no longer open; the update was not recorded.")
        else:
            case = case_here(session, channel_id, "/case update")
        record_customer_update(session, case, by=user, text=text, via=via, source=source, at=now, config=svc.config)
        return f":white_check_mark: Customer update recorded for case #{case.number}. {_due_line(case)}"


def change_cadence(svc: Services, *, user: str, channel_id: str | None, cadence: timedelta) -> str:
    """``/case cadence 4h``: what was agreed with the customer; the owner or an advocate may set it."""
    team = advocates(svc)
    now = svc.clock()
    with svc.db.transaction(urgent=True) as session:
        case = case_here(session, channel_id, "/case cadence")
        if not may_answer(user, case, team):
            raise FlowError(f"Only the owner ({mention(case.owner_id)}) or an advocate can change the cadence.")
        set_cadence(session, case, cadence, by=user, now=now, config=svc.config)
        return (f":repeat: Case #{case.number} now updates the customer every {format_duration(cadence)}. "
                f"{_due_line(case)}")


def _reminder(session: Session, reminder_id: int) -> tuple[Reminder, Case]:
    found = session.execute(select(Reminder, Case).join(Case, Case.id == Reminder.case_id)
                            .where(Reminder.id == reminder_id)).first()  # one round trip for both
    if found is None:
        raise FlowError("That reminder no longer exists.")
    return found[0], found[1]


def snooze_reminder(svc: Services, *, user: str, reminder_id: int, tomorrow: bool) -> str:
    team = advocates(svc)
    now = svc.clock()
    with svc.db.transaction(urgent=True) as session:
        reminder, case = _reminder(session, reminder_id)
        if not may_answer(user, case, team):
            raise FlowError(f"Only the owner ({mention(case.owner_id)}) or an advocate can snooze this reminder.")
        if not current(reminder, case):
            raise FlowError("This reminder was already answered.")
        until = tomorrow_morning(case, now, svc.config) if tomorrow else now + timedelta(hours=1)
        if not snooze(session, reminder, case, by=user, until=until, now=now):
            raise FlowError("This reminder was already answered.")
        return f":zzz: Snoozed until {slack_date(until)}. The update stays due {slack_date(reminder.due_at)}."


class Reacted(NamedTuple):
    """A reaction that answered a reminder: its case's number and what it did (updated, snoozed)."""

    case_number: int
    outcome: str


def _answerable(reminder: Reminder, case: Case, user: str, team: Sequence[str]) -> bool:
    """The reminder still waits for this period's update and ``user`` may answer it (owner or advocate)."""
    return reminder.step != "leadership" and current(reminder, case) and may_answer(user, case, team)


def queue_reaction(svc: Services, *, user: str, channel_id: str, ts: str, reaction: str,
                   delivery: str | None = None) -> int | None:
    """✅ on a reminder = the customer was just updated; 💤 = snooze an hour. Before the ack, only written down.

    A reaction that can answer (a reminder its case still waits on, by the owner or an advocate; a head's ✅ is
    not a customer update) becomes a ``reminder.react`` outbox row, answered right after the ack by
    ``jobs/reactions.py`` (or by the tick, if the process died in between): the ack costs one read and one
    insert instead of the whole cadence change. Keyed by the event id, so a redelivery adds nothing. Returns the
    case's number, or None when the reaction answers nothing (then nothing is written).
    """
    name = reaction.split("::", 1)[0]  # skin tones ride along as +1::skin-tone-3
    if name not in (DONE, SNOOZE):
        return None
    team = advocates(svc)  # before any database work: never hold the database while Slack answers
    now = svc.clock()
    with svc.db.reading() as session:
        found = session.execute(select(Reminder, Case).join(Case, Case.id == Reminder.case_id)
                                .where(Reminder.channel_id == channel_id, Reminder.message_ts == ts)).first()
        if found is None or not _answerable(found[0], found[1], user, team):
            return None
        reminder_id, case_id, number = found[0].id, found[1].id, found[1].number
    row = {"key": f"reaction:{delivery or uuid.uuid4().hex}", "kind": "reminder.react", "case_id": case_id,
           "payload": {"reminder_id": reminder_id, "user": user, "reaction": name, "at": now.isoformat()},
           "status": "pending", "due_at": now, "attempts": 0, "created_at": now}
    with suppress(IntegrityError):  # this event was written before (a redelivery): it is answered once
        svc.db.insert_now(OutboxItem.__table__, row)  # type: ignore[arg-type]
    return number


def answer_reaction(session: Session, config: TeamConfig, team: Sequence[str], *, reminder_id: int, user: str,
                    reaction: str, at: datetime) -> Reacted | None:
    """The queued reaction, answered in the outbox row's transaction (checked again: the reminder may have been
    answered since). What it did, or None."""
    found = session.execute(select(Reminder, Case).join(Case, Case.id == Reminder.case_id)
                            .where(Reminder.id == reminder_id)).first()
    if found is None or not _answerable(found[0], found[1], user, team):
        return None
    reminder, case = found[0], found[1]
    if reaction == SNOOZE:
        snoozed = snooze(session, reminder, case, by=user, until=at + timedelta(hours=1), now=at)
        return Reacted(case.number, "snoozed") if snoozed else None
    record_customer_update(session, case, by=user, text=None, via="unspecified", source="reaction", at=at,
                           config=config, announce=False)
    return Reacted(case.number, "updated")


def update_modal_context(reminder_id: int) -> str:
    return json.dumps({"reminder": reminder_id})


def case_of_reminder(svc: Services, reminder_id: int) -> Case:
    with svc.db.transaction() as session:
        _, case = _reminder(session, reminder_id)
        if not case.is_open:
            raise FlowError(f"Case #{case.number} is {case.status}; nothing is due.")
        _ = case.customer
        return case
