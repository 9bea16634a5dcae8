"""``/advocacy customer show|add|edit <name>``: see a customer; add or change one in a form.

Anyone may ``show`` (an ephemeral card: details, status history, open and recent cases); only advocates may
``add`` or ``edit``. Both open the customer form (the ``/advocacy`` dispatcher opens a returned view with the
command's trigger ID). The form's submission is one short transaction keyed by the view id, so a form
submitted twice changes once; near-duplicate names are offered in the form before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.blocks.common import channel_link, mention, money, slack_date
from bot.blocks.customer_modal import CustomerForm, block_of, customer_modal, similar_message
from bot.domain.customers import (
    NAME_MAX,
    NOTE_MAX,
    CustomerError,
    clean_fields,
    closest_customers,
    create_customer,
    find_customer,
    name_key,
    open_cases_of,
    recent_cases_of,
    similar_customers,
    status_history,
    update_customer,
)
from bot.escalation_flow import advocates
from bot.flow import FlowError
from bot.services import Services
from bot.text import escape_mrkdwn, truncate, unescape_slack
from storage.models import Customer
from storage.queries import claim_delivery

USAGE = "`/advocacy customer show|add|edit <name>`"
HISTORY_SHOWN = 10
RECENT_SHOWN = 5
SUMMARY_SHOWN = 80
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

View = dict[str, Any]


@dataclass(frozen=True)
class FormReply:
    """How to answer the form's submission: errors on blocks, a replacement view, or (neither) close it."""

    errors: dict[str, str] | None = None
    view: View | None = None


class _Rejected(Exception):
    """Leaves the transaction (rolling back the delivery claim: the corrected form must get through)."""

    def __init__(self, reply: FormReply) -> None:
        super().__init__()
        self.reply = reply


def customer(svc: Services, *, user: str, text: str) -> str | View:
    """The ``/advocacy customer`` tool: an ephemeral answer, or the form to open."""
    verb, _, rest = text.strip().partition(" ")
    verb, name = verb.lower(), " ".join(unescape_slack(rest).split())
    if len(name) > NAME_MAX:
        raise FlowError(f"That name is longer than {NAME_MAX} characters; no customer is called that.")
    if verb == "show":
        return show(svc, name=name)
    if verb == "add":
        return add_form(svc, user=user, name=name)
    if verb == "edit":
        return edit_form(svc, user=user, name=name)
    if not verb:
        raise FlowError(f"Say what to do: {USAGE}, e.g. `/advocacy customer show Acme`.")
    raise FlowError(f"`{truncate(verb, 40)}` is not a customer sub-command: {USAGE}.")


def _require_advocate(svc: Services, user: str) -> list[str]:
    team = advocates(svc)
    if user not in team:
        raise FlowError("Only an advocate can add or edit customers; ask one of "
                        f"{', '.join(mention(a) for a in team)}. Anyone can `/advocacy customer show <name>`.")
    return team


def _not_found(session: Session, name: str, verb: str) -> str:
    shown = escape_mrkdwn(name)
    matches = closest_customers(session, name)
    if not matches:
        return f":mag: I know no customer called “{shown}”. `/advocacy customer add {shown}` adds one."
    names = ", ".join(f"*{escape_mrkdwn(c.name)}*" for c in matches)
    return (f":mag: I know no customer called “{shown}”. Closest: {names} — "
            f"e.g. `/advocacy customer {verb} {escape_mrkdwn(matches[0].name)}`.")


# ---------------------------------------------------------------- show


def _who(by: str) -> str:
    return mention(by) if _USER_ID.match(by) else escape_mrkdwn(by)


def _card(session: Session, customer: Customer) -> str:
    unset = "not set"
    lines = [
        f"*{escape_mrkdwn(customer.name)}* — {customer.status}",
        f"Tier: {escape_mrkdwn(customer.tier or unset)} · "
        f"Advocate: {mention(customer.advocate_id) if customer.advocate_id else unset} · "
        f"Timezone: {customer.timezone or unset} · Preferred hours: {customer.preferred_hours or unset}",
        f"Annual revenue: {money(customer.annual_revenue) if customer.annual_revenue is not None else unset} · "
        f"External reference: {escape_mrkdwn(customer.external_ref or unset)} · "
        f"Customer since {slack_date(customer.created_at)}",
        f"*Status history* (latest {HISTORY_SHOWN})",
    ]
    for row in status_history(session, customer.id, HISTORY_SHOWN):
        change = f"{row.to_status} (created)" if row.from_status is None else f"{row.from_status} → {row.to_status}"
        note = f": “{escape_mrkdwn(truncate(row.note, 200))}”" if row.note else ""
        lines.append(f"• {slack_date(row.at)} — {change} by {_who(row.by)}{note}")
    open_cases = open_cases_of(session, customer.name)
    lines.append(f"*Open cases* ({len(open_cases)})" if open_cases else "*Open cases*: none")
    for case in open_cases:
        lines.append(f"• #{case.number} · {case.severity.upper()} · {case.status} · "
                     f"{channel_link(case.channel_id, '(no channel)')} — "
                     f"{escape_mrkdwn(truncate(case.summary, SUMMARY_SHOWN))}")
    recent = recent_cases_of(session, customer.id, RECENT_SHOWN)
    if recent:
        lines.append("*Recent cases*")
        for case in recent:
            ended = case.closed_at or case.resolved_at
            lines.append(f"• #{case.number} · {case.status}" + (f" {slack_date(ended)}" if ended else "")
                         + f" — {escape_mrkdwn(truncate(case.summary, SUMMARY_SHOWN))}")
    return "\n".join(lines)


def show(svc: Services, *, name: str) -> str:
    if not name:
        raise FlowError("Name the customer: `/advocacy customer show Acme`.")
    with svc.db.transaction() as session:
        found = find_customer(session, name)
        return _not_found(session, name, "show") if found is None else _card(session, found)


# ---------------------------------------------------------------- the form


def add_form(svc: Services, *, user: str, name: str) -> str | View:
    _require_advocate(svc, user)
    similar: list[str] = []
    if name:
        with svc.db.transaction() as session:
            existing = find_customer(session, name)
            if existing is not None:
                shown = escape_mrkdwn(existing.name)
                raise FlowError(f"*{shown}* already exists: `/advocacy customer edit {shown}` changes it.")
            similar = [c.name for c in similar_customers(session, name)]
    return customer_modal(svc.config, CustomerForm(name=name), similar=similar)


def edit_form(svc: Services, *, user: str, name: str) -> str | View:
    _require_advocate(svc, user)
    if not name:
        raise FlowError("Name the customer: `/advocacy customer edit Acme`.")
    with svc.db.transaction() as session:
        found = find_customer(session, name)
        if found is None:
            return _not_found(session, name, "edit")
        return customer_modal(svc.config, CustomerForm.of(found), customer_id=found.id)


def _reject(field: str, message: str) -> _Rejected:
    return _Rejected(FormReply(errors={block_of(field): message}))


def submit(svc: Services, *, user: str, form: CustomerForm, customer_id: int | None, delivery: str) -> FormReply:
    """The form's submission. Keyed by the view (``delivery``): a form submitted twice changes once."""
    team = advocates(svc)
    if user not in team:
        return FormReply(errors={"name": "Only an advocate can add or edit customers."})
    tiers = svc.config.checkins.tiers
    values, errors = clean_fields(form.details(with_tier=bool(tiers)), tiers=tiers)
    note = form.note or None
    if note and len(note) > NOTE_MAX:
        errors["note"] = f"Keep the note under {NOTE_MAX} characters."
    if errors:
        return FormReply(errors={block_of(field): message for field, message in errors.items()})
    now = svc.clock()
    try:
        with svc.db.transaction(urgent=True) as session:
            if not claim_delivery(session, delivery, now):
                return FormReply()  # the same form, submitted twice: the first one did it
            existing = session.get(Customer, customer_id) if customer_id is not None else None
            if customer_id is not None and existing is None:
                raise _reject("name", "This customer no longer exists; close the form.")
            advocate = values.get("advocate_id")
            if advocate and advocate not in team and (existing is None or advocate != existing.advocate_id):
                raise _reject("advocate_id", "Choose one of the team's advocates: escalations for this customer "
                                             "are assigned to them.")
            name = values["name"]
            if existing is None or name_key(name) != existing.name_key:
                same = find_customer(session, name)
                if same is not None and same.id != customer_id:
                    raise _reject("name", f"“{same.name}” already exists: use /advocacy customer edit {same.name}.")
                similar = [] if form.confirmed_new else [
                    c.name for c in similar_customers(session, name, exclude_id=customer_id)]
                if similar and form.confirm_shown:
                    raise _reject("name", similar_message(similar, editing=existing is not None))
                if similar:  # the form has no checkbox yet: show the matches and the checkbox in it
                    raise _Rejected(FormReply(view=customer_modal(svc.config, form, customer_id=customer_id,
                                                                  similar=similar)))
            try:
                if existing is None:
                    create_customer(session, values, by=user, now=now, note=note)
                else:
                    update_customer(session, existing, values, by=user, now=now, note=note)
            except CustomerError as exc:
                raise _reject(exc.field, str(exc)) from None
    except _Rejected as rejected:
        return rejected.reply
    return FormReply()
