"""The case room, as handlers call it: find the case, authorize the person, change it, say what happened.

Each function is one short transaction run before the ack and returns the sentence for the person;
``FlowError`` carries a refusal that says why. Slack effects (notices, invites, the summary) are outbox
rows run after the ack. Who may do what:
  * anyone in the channel: notes, pins, customer updates;
  * the owner, an advocate, or a head or deputy of an involved department: status, severity, impact,
    owner (the new owner must be an advocate: the owner is the customer's single point of contact),
    adding a department;
  * the owner or an advocate: resolve, close, reopen; an advocate: hand over (``bot/handover_flow.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.blocks.common import mention
from bot.domain import case_room, lifecycle
from bot.domain.cadence import record_customer_update
from bot.domain.escalation import EscalationError, parse_impact
from bot.escalation_flow import advocates
from bot.flow import FlowError, case_here
from bot.services import Services
from bot.text import unescape_slack, user_ids_in
from storage.models import Case, CaseEvent, CustomerUpdate
from storage.queries import claim_first

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Team:
    """Who counts as whom right now: advocates and each department's responders, user groups expanded."""

    advocates: list[str]
    responders: dict[str, set[str]]

    def may_change(self, user: str, case: Case) -> bool:
        return (user == case.owner_id or user in self.advocates
                or any(user in case_room.responders(d, self.responders) for d in case.departments))

    def may_close(self, user: str, case: Case) -> bool:
        return user == case.owner_id or user in self.advocates


def team(svc: Services) -> Team:
    """Read before any transaction: expanding user groups may ask Slack (cached for minutes)."""
    responders: dict[str, set[str]] = {}
    for name, department in svc.config.departments.items():
        people = [*department.heads, *department.deputies]
        try:
            responders[name] = set(svc.directory.expand(people))
        except SlackApiError as exc:
            log.warning("could not expand the user groups of %s: %s", name, exc.response.get("error"))
            responders[name] = {p for p in people if not p.startswith("S")}
    return Team(advocates=advocates(svc), responders=responders)


def _refuse_change(case: Case) -> FlowError:
    return FlowError(f"Only the owner ({mention(case.owner_id)}), an advocate, or a head or deputy of a department "
                     f"asked on case #{case.number} can change that.")


def _change(svc: Services, user: str, channel_id: str | None, usage: str,
            apply: Callable[[Session, Case], str]) -> str:
    """The shape of every guarded change: team first (may ask Slack), then one transaction."""
    people = team(svc)
    with svc.db.transaction(urgent=True) as session:
        case = case_here(session, channel_id, usage)
        if not people.may_change(user, case):
            raise _refuse_change(case)
        try:
            return apply(session, case)
        except lifecycle.NoChange as exc:
            raise FlowError(str(exc)) from None


def status(svc: Services, *, user: str, channel_id: str | None, value: str) -> str:
    wanted = value.strip().lower().replace(" ", "-")
    wanted = {"waiting": "waiting-on-customer", "waiting-on-the-customer": "waiting-on-customer"}.get(wanted, wanted)
    if wanted not in lifecycle.SETTABLE_STATUSES:
        hint = " (`/case resolve` and `/case close` end a case)" if wanted in ("resolved", "closed") else ""
        raise FlowError(f"Status is one of {', '.join(lifecycle.SETTABLE_STATUSES)}{hint}: "
                        "`/case status investigating`.")

    def apply(session: Session, case: Case) -> str:
        lifecycle.set_status(session, case, wanted, by=user, now=svc.clock(), config=svc.config)
        if wanted == "waiting-on-customer":
            return (f"Case #{case.number} is waiting on the customer: update reminders are paused until the "
                    "status changes.")
        return f"Case #{case.number} is now {wanted}."

    return _change(svc, user, channel_id, "/case status", apply)


def owner(svc: Services, *, user: str, channel_id: str | None, value: str) -> str:
    people = user_ids_in(value)
    if len(people) != 1:
        raise FlowError("Name one person: `/case owner @name`.")
    new_owner = people[0]
    team_advocates = advocates(svc)
    if new_owner not in team_advocates:
        raise FlowError(f"{mention(new_owner)} is not an advocate: a case is owned by the customer's single point "
                        f"of contact, one of the advocates ({', '.join(mention(a) for a in team_advocates)}). "
                        "Ask a department head with `/case add +department` instead.")

    def apply(session: Session, case: Case) -> str:
        lifecycle.set_owner(session, case, new_owner, by=user, now=svc.clock())
        return f"{mention(new_owner)} now owns case #{case.number}; I am inviting them to the channel."

    return _change(svc, user, channel_id, "/case owner", apply)


def severity(svc: Services, *, user: str, channel_id: str | None, value: str) -> str:
    wanted = value.strip().lower()
    if wanted not in svc.config.severities:
        raise FlowError(f"Severity is one of {', '.join(svc.config.severities)}: `/case severity p1`.")

    def apply(session: Session, case: Case) -> str:
        lifecycle.set_severity(session, case, wanted, by=user, now=svc.clock(), config=svc.config)
        return f"Case #{case.number} is now {wanted.upper()}."

    return _change(svc, user, channel_id, "/case severity", apply)


def impact(svc: Services, *, user: str, channel_id: str | None, value: str) -> str:
    try:
        amount = parse_impact(unescape_slack(value))
    except EscalationError as exc:
        raise FlowError(f"{exc} `/case impact $12k`.") from None
    if amount < Decimal(0):
        raise FlowError("The revenue at risk cannot be negative.")

    def apply(session: Session, case: Case) -> str:
        lifecycle.set_impact(session, case, amount, by=user, now=svc.clock())
        return f"Revenue at risk on case #{case.number} is now ${amount:,.2f}."

    return _change(svc, user, channel_id, "/case impact", apply)


def add_department(svc: Services, *, user: str, channel_id: str | None, value: str) -> str:
    name = value.strip().lstrip("+").lower()
    if name not in svc.config.departments:
        raise FlowError(f"“{value.strip()}” is not a department; departments are "
                        f"{', '.join('+' + d for d in svc.config.departments)}.")

    def apply(session: Session, case: Case) -> str:
        lifecycle.add_department(session, case, name, by=user, now=svc.clock(), config=svc.config)
        return f"Asking {name} on case #{case.number}: inviting its heads, then a message mentions them."

    return _change(svc, user, channel_id, "/case add", apply)


def note(svc: Services, *, user: str, channel_id: str | None, value: str) -> str:
    text = unescape_slack(value).strip()
    if not text:
        raise FlowError("Write the note: `/case note Called the carrier, pickup tomorrow`.")
    with svc.db.transaction(urgent=True) as session:  # anyone in the channel may add a note
        case = case_here(session, channel_id, "/case note")
        lifecycle.add_note(session, case, text, by=user, now=svc.clock())
        return f"Note added to case #{case.number}."


def timeline(svc: Services, *, channel_id: str | None) -> tuple[Case, list[CaseEvent]]:
    with svc.db.transaction() as session:
        case = case_room.case_in_channel(session, channel_id)
        if case is None:
            raise FlowError("`/case timeline` works in a case channel (#case-…); type it there.")
        _ = case.customer
        return case, lifecycle.timeline(session, case)


def log_message_as_update(svc: Services, *, user: str, channel_id: str | None, ts: str, text: str) -> str:
    """The "Log as customer update" shortcut: people answer in threads, where commands cannot be typed.

    One update per message: a unique (case, message) constraint, checked first for a clear answer.
    """
    text = unescape_slack(text).strip()
    if not text:
        raise FlowError("That message has no text to record as a customer update.")
    already = "That message is already recorded as a customer update."
    now = svc.clock()
    try:
        with svc.db.transaction(urgent=True) as session:
            case = case_here(session, channel_id, "Log as customer update")
            if session.scalar(select(CustomerUpdate.id).where(CustomerUpdate.case_id == case.id,
                                                               CustomerUpdate.message_ts == ts)):
                return already
            record_customer_update(session, case, by=user, text=text, via="unspecified", source="shortcut", at=now,
                                   config=svc.config, message_ts=ts)
            return f":white_check_mark: Recorded as a customer update on case #{case.number}."
    except IntegrityError:  # the same message logged twice at once: the other request recorded it
        return already


def _permalink(svc: Services, channel_id: str, ts: str, thread_ts: str | None) -> str | None:
    try:
        return svc.directory.permalink(channel_id, ts, thread_ts)
    except SlackApiError as exc:  # the record matters more than its link: keep the message without one
        log.warning("no permalink for %s/%s: %s", channel_id, ts, exc.response.get("error"))
        return None


def message_posted(svc: Services, *, user: str, channel_id: str, ts: str, thread_ts: str | None,
                   text: str, delivery: str | None = None) -> case_room.Posted | None:
    """A person's message in a case channel: on the timeline; from a head or deputy, a response.

    Returns its case's number and the departments it answered, or None when the channel is no case's or it
    was recorded before.
    ``delivery`` (an event id) is claimed first in the same transaction (AlreadyDelivered if it was before).
    """
    people = team(svc)
    permalink = _permalink(svc, channel_id, ts, thread_ts)
    now = svc.clock()
    try:
        with svc.db.one_statement() as session:  # one statement on PostgreSQL (see case_room.record_message)
            return case_room.record_message(session, delivery=delivery, user=user, channel_id=channel_id, ts=ts,
                                            thread_ts=thread_ts, text=unescape_slack(text), permalink=permalink,
                                            now=now, expanded=people.responders)
    except IntegrityError:  # delivered twice at once: the other delivery recorded it
        return None


def message_edited(svc: Services, *, channel_id: str, ts: str, text: str, delivery: str | None = None) -> bool:
    with svc.db.transaction() as session:
        claim_first(session, delivery, svc.clock())
        return case_room.edit_message(session, channel_id, ts, unescape_slack(text), svc.clock()) is not None


def message_deleted(svc: Services, *, channel_id: str, ts: str, delivery: str | None = None) -> bool:
    with svc.db.transaction() as session:
        claim_first(session, delivery, svc.clock())
        return case_room.delete_message(session, channel_id, ts, svc.clock()) is not None


def key_moment(svc: Services, *, user: str, channel_id: str, ts: str, how: str, delivery: str | None = None) -> bool:
    """A :pushpin: reaction or a pin by anyone in the channel: the message is a key moment, once."""
    try:
        with svc.db.transaction() as session:
            claim_first(session, delivery, svc.clock())
            case = case_room.case_in_channel(session, channel_id)
            if case is None:
                return False
            return case_room.mark_key_moment(session, case, channel_id=channel_id, ts=ts, by=user, how=how,
                                             now=svc.clock()) is not None
    except IntegrityError:  # the reaction and the pin arrived at once: one of them recorded it
        return False
