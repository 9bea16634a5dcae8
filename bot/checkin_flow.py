"""Answering a check-in, as handlers call it: the DM's (and the Home's) Log, Snooze and Skip.

Only the advocate the check-in was put to, the customer's advocate, or any advocate may answer. The team
is read first (expanding user groups may ask Slack), then one short transaction runs before the ack;
``FlowError`` says why nothing changed. Form submissions are keyed by the view: a form submitted twice
records once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.blocks.common import mention, slack_date
from bot.domain import checkins
from bot.domain.checkins import CheckInLog, NotOpen
from bot.escalation_flow import advocates
from bot.flow import FlowError
from bot.services import Services
from bot.text import escape_mrkdwn
from storage.models import CheckIn, Customer
from storage.queries import claim_delivery


@dataclass(frozen=True)
class Target:
    checkin_id: int
    customer: str


def _refusal(exc: NotOpen) -> FlowError:
    if exc.status == "done":
        return FlowError(f"This check-in was already logged by {mention(exc.by or 'someone')}.")
    if exc.status == "skipped":
        return FlowError(f"This check-in was already skipped by {mention(exc.by or 'someone')}.")
    if exc.status == "cancelled":
        return FlowError(f"This check-in is no longer needed ({exc.reason or 'cancelled'}).")
    if exc.until is not None:
        return FlowError(f"This check-in is already snoozed until {slack_date(exc.until)}.")
    return FlowError("This check-in is not due yet.")


def _load(session: Session, checkin_id: int, user: str, team: list[str]) -> tuple[CheckIn, Customer]:
    checkin = session.get(CheckIn, checkin_id)
    if checkin is None:
        raise FlowError("That check-in no longer exists.")
    customer = session.get_one(Customer, checkin.customer_id)
    if user not in (checkin.advocate_id, customer.advocate_id) and user not in team:
        whose = checkin.advocate_id or customer.advocate_id
        raise FlowError(f"Only {mention(whose) + ' (the customer’s advocate) or ' if whose else ''}an advocate "
                        f"can answer the check-in with {escape_mrkdwn(customer.name)}.")
    return checkin, customer


def target(svc: Services, *, user: str, checkin_id: int) -> Target:
    """Before a form opens: may this person answer, and is the check-in still open?"""
    team = advocates(svc)
    with svc.db.transaction() as session:
        checkin, customer = _load(session, checkin_id, user, team)
        if checkin.status not in checkins.OPEN:
            raise _refusal(NotOpen(checkin))
        return Target(checkin.id, customer.name)


def log(svc: Services, *, user: str, checkin_id: int, form: CheckInLog, delivery: str) -> str:
    team = advocates(svc)
    now = svc.clock()
    with svc.db.transaction(urgent=True) as session:
        if not claim_delivery(session, delivery, now):
            return "Already logged."
        checkin, customer = _load(session, checkin_id, user, team)
        try:
            checkins.log(session, checkin, form, by=user, now=now, config=svc.config)
        except NotOpen as exc:
            raise _refusal(exc) from None
        case = " I am opening a case with what they said." if checkins.opens_case(form, svc.config) else ""
        return f":white_check_mark: Check-in with {escape_mrkdwn(customer.name)} logged.{case}"


def skip(svc: Services, *, user: str, checkin_id: int, reason: str, delivery: str) -> str:
    team = advocates(svc)
    now = svc.clock()
    with svc.db.transaction(urgent=True) as session:
        if not claim_delivery(session, delivery, now):
            return "Already skipped."
        checkin, customer = _load(session, checkin_id, user, team)
        try:
            checkins.skip(session, checkin, reason=reason, by=user, now=now, config=svc.config)
        except NotOpen as exc:
            raise _refusal(exc) from None
        return f":fast_forward: Check-in with {escape_mrkdwn(customer.name)} skipped."


def snooze(svc: Services, *, user: str, checkin_id: int) -> str:
    team = advocates(svc)
    now = svc.clock()
    with svc.db.transaction(urgent=True) as session:
        checkin, customer = _load(session, checkin_id, user, team)
        try:
            until = checkins.snooze(session, checkin, by=user, now=now)
        except NotOpen as exc:
            raise _refusal(exc) from None
        return f":zzz: Check-in with {escape_mrkdwn(customer.name)} snoozed: I will ask again {slack_date(until)}."
