"""Customer updates and reminder answers, as handlers call them: find the case, authorize, change, say so.

Each function is one short transaction (run before the ack: the person's action is recorded when
Slack hears back) and returns the sentence to show that person; ``FlowError`` carries a refusal.
A reaction or a Snooze click is only checked and queued before the ack (``queue_reaction``, ``queue_snooze``),
and done right after it by the outbox (``jobs/reminder_answers.py``).
The Slack effects (the channel's record, refreshed messages) are outbox rows, run after the ack.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.blocks.common import mention, slack_date
from bot.config import TeamConfig
from bot.domain import reminder_answers
from bot.domain.cadence import VIA, current, may_answer, record_customer_update, set_cadence, snooze, tomorrow_morning
from bot.durations import format_duration
from bot.escalation_flow import advocates
from bot.flow import FlowError, case_here
from bot.services import Services
from storage.models import Case, Reminder
from storage.queries import claim_delivery

ALREADY_ANSWERED = "This reminder was already answered."


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
    found = reminder_answers.reminder_and_case(session, reminder_id)
    if found is None:
        raise FlowError("That reminder no longer exists.")
    return found


def queue_snooze(svc: Services, *, user: str, reminder_id: int, tomorrow: bool, response_url: str | None) -> None:
    """*Snooze 1h* / *Snooze until tomorrow* on a reminder: checked and queued before the ack (FlowError: the
    refusal), snoozed and answered right after it (``snooze_clicked``, through the outbox)."""
    advocate = user in advocates(svc)  # before any database work: never hold the database while Slack answers
    with svc.db.one_statement() as session:  # one statement on PostgreSQL
        clicked = reminder_answers.queue_snooze(session, reminder_id=reminder_id, user=user, advocate=advocate,
                                                tomorrow=tomorrow, response_url=response_url, now=svc.clock())
    if clicked is None:
        raise FlowError("That reminder no longer exists.")
    if not (user == clicked.owner_id or advocate):
        raise FlowError(_only_owner_may_snooze(clicked.owner_id))
    if not clicked.waiting:
        raise FlowError(ALREADY_ANSWERED)


def _only_owner_may_snooze(owner_id: str) -> str:
    return f"Only the owner ({mention(owner_id)}) or an advocate can snooze this reminder."


def snooze_clicked(session: Session, config: TeamConfig, team: Sequence[str], *, user: str, reminder_id: int,
                   tomorrow: bool, at: datetime) -> str:
    """A queued Snooze click, done at the click's time ``at`` (checked again: it may have been answered since).
    The sentence for the person."""
    try:
        reminder, case = _reminder(session, reminder_id)
        if not may_answer(user, case, team):
            raise FlowError(_only_owner_may_snooze(case.owner_id))
        until = tomorrow_morning(case, at, config) if tomorrow else at + timedelta(hours=1)
        if not current(reminder, case) or not snooze(session, reminder, case, by=user, until=until, now=at):
            raise FlowError(ALREADY_ANSWERED)
    except FlowError as exc:
        return f":warning: {exc}"
    return f":zzz: Snoozed until {slack_date(until)}. The update stays due {slack_date(reminder.due_at)}."


def queue_reaction(svc: Services, *, user: str, channel_id: str, ts: str, reaction: str,
                   delivery: str | None = None) -> int | None:
    """✅ on a reminder = the customer was just updated; 💤 = snooze an hour. Before the ack, only queued.

    Other reactions are ignored without a database call. A ✅ or 💤 claims ``delivery`` (an event id;
    AlreadyDelivered if it was claimed before) and, when it may answer a reminder, queues it (see
    ``bot.domain.reminder_answers``): the case's number, or None when it answers nothing.
    """
    name = reminder_answers.reaction_name(reaction)
    if name is None:
        return None
    advocate = user in advocates(svc)  # before any database work: never hold the database while Slack answers
    with svc.db.one_statement() as session:  # one statement on PostgreSQL
        return reminder_answers.queue_reaction(session, delivery=delivery, user=user, advocate=advocate,
                                               channel_id=channel_id, ts=ts, reaction=name, now=svc.clock())


def update_modal_context(reminder_id: int) -> str:
    return json.dumps({"reminder": reminder_id})


def case_of_reminder(svc: Services, reminder_id: int) -> Case:
    with svc.db.transaction() as session:
        _, case = _reminder(session, reminder_id)
        if not case.is_open:
            raise FlowError(f"Case #{case.number} is {case.status}; nothing is due.")
        _ = case.customer
        return case
