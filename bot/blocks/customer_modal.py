"""The customer form (``/advocacy customer add|edit``): every detail of one customer, and its status note.

Near-duplicate names are offered in the form: the matches are listed under the name with a checkbox to
confirm a new (or differently named) customer. Only the customer's id rides in ``private_metadata``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.blocks.common import Block, plain
from bot.blocks.escalate_modal import TIMEZONE_ACTION
from bot.config import TeamConfig
from bot.domain.customers import EXTERNAL_REF_MAX, NAME_MAX, NOTE_MAX
from bot.text import truncate
from storage.models import Customer

CALLBACK_ID = "customer_form"
CONFIRM_BLOCK = "confirm_new"
NO_TIER = "-"  # not a valid tier name: the option that clears the tier
STATUS_LABELS = {"active": "Active", "at-risk": "At risk", "churned": "Churned"}
# The form's block ids for the domain's field names (errors go back on these blocks).
BLOCKS = {"advocate_id": "advocate", "note": "status_note"}
SIMILAR_SHOWN = 5


def block_of(field: str) -> str:
    return BLOCKS.get(field, field)


@dataclass(frozen=True)
class CustomerForm:
    """What the form holds, as typed (cleaned later by ``bot.domain.customers.clean_fields``)."""

    name: str = ""
    tier: str | None = None
    timezone: str | None = None
    preferred_hours: str = ""
    advocate_id: str | None = None
    annual_revenue: str = ""
    status: str = "active"
    external_ref: str = ""
    note: str = ""
    confirmed_new: bool = False  # "This is a new customer" ticked
    confirm_shown: bool = False  # the checkbox was in the submitted form

    def details(self, *, with_tier: bool) -> dict[str, str | None]:
        """The details for ``clean_fields``; the tier only when the form offers one."""
        raw: dict[str, str | None] = {
            "name": self.name, "timezone": self.timezone, "preferred_hours": self.preferred_hours,
            "advocate_id": self.advocate_id, "annual_revenue": self.annual_revenue, "status": self.status,
            "external_ref": self.external_ref,
        }
        if with_tier:
            raw["tier"] = None if self.tier == NO_TIER else self.tier
        return raw

    @classmethod
    def of(cls, customer: Customer) -> CustomerForm:
        return cls(
            name=customer.name, tier=customer.tier, timezone=customer.timezone,
            preferred_hours=customer.preferred_hours or "", advocate_id=customer.advocate_id,
            annual_revenue=amount_text(customer.annual_revenue), status=customer.status,
            external_ref=customer.external_ref or "",
        )


def amount_text(value: Decimal | None) -> str:
    """An amount as ``parse_impact`` reads it back: ``$250,000``, or ``1234.50`` with cents."""
    if value is None:
        return ""
    return f"${value:,.0f}" if value == value.to_integral_value() else f"{value:.2f}"


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = True, hint: str = "",
           action_id: str | None = None) -> Block:
    block: Block = {"type": "input", "block_id": block_id, "label": plain(label, 2000),
                    "element": {**element, "action_id": action_id or block_id}, "optional": optional}
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _text(value: str, *, max_length: int, placeholder: str = "", multiline: bool = False) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "max_length": max_length, "multiline": multiline}
    if value:
        element["initial_value"] = value[:max_length]
    if placeholder:
        element["placeholder"] = plain(placeholder)
    return element


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def similar_message(names: Sequence[str], *, editing: bool) -> str:
    """The error on the name block (plain text: Slack shows errors as typed)."""
    shown = ", ".join(truncate(n, 60) for n in names[:SIMILAR_SHOWN])
    tick = "This is a different customer" if editing else "This is a new customer"
    return (f"Similar customers exist: {shown} — use /advocacy customer edit <name>, or tick “{tick}”.")


def customer_modal(config: TeamConfig, form: CustomerForm, *, customer_id: int | None = None,
                   similar: Sequence[str] = ()) -> dict[str, Any]:
    """The add form (``customer_id`` None) or the edit form; ``similar`` names add the confirm checkbox."""
    editing = customer_id is not None
    blocks: list[Block] = [_input("name", "Name", _text(form.name, max_length=NAME_MAX), optional=False)]
    if similar:
        blocks.append({"type": "context", "elements": [plain(similar_message(similar, editing=editing), 2000)]})
        label = "This is a different customer" if editing else "This is a new customer"
        box: dict[str, Any] = {"type": "checkboxes", "options": [_option(label, "new")]}
        if form.confirmed_new:
            box["initial_options"] = box["options"]
        blocks.append(_input(CONFIRM_BLOCK, "Similar names", box,
                             hint="Tick only if none of the customers above is this one."))
    tiers = list(config.checkins.tiers)[:99]  # a static_select holds at most 100 options
    if tiers:
        options = [_option(name, name) for name in tiers] + [_option("No tier", NO_TIER)]
        tier: dict[str, Any] = {"type": "static_select", "options": options, "placeholder": plain("Choose a tier")}
        chosen = next((o for o in options if o["value"] == form.tier), None)
        if chosen:
            tier["initial_option"] = chosen
        hint = f"Without one: {config.checkins.default_tier}." if config.checkins.default_tier else ""
        blocks.append(_input("tier", "Tier (check-in cadence)", tier, hint=hint))
    timezone: dict[str, Any] = {"type": "external_select", "min_query_length": 2,
                                "placeholder": plain("Search: Stockholm, New York, UTC…")}
    if form.timezone:
        timezone["initial_option"] = _option(form.timezone, form.timezone)
    blocks.append(_input("timezone", "Timezone", timezone, action_id=TIMEZONE_ACTION))
    blocks.append(_input("preferred_hours", "Preferred contact hours",
                         _text(form.preferred_hours, max_length=100, placeholder="tue-thu 10:00-12:00"),
                         hint="Days and times in the customer's timezone."))
    advocate: dict[str, Any] = {"type": "users_select", "placeholder": plain("Their single point of contact")}
    if form.advocate_id:
        advocate["initial_user"] = form.advocate_id
    blocks.append(_input("advocate", "Owning advocate", advocate,
                         hint="Escalations for this customer are assigned to them."))
    blocks.append(_input("annual_revenue", "Annual revenue",
                         _text(form.annual_revenue, max_length=40, placeholder="$250k")))
    statuses = [_option(STATUS_LABELS.get(s, s), s) for s in Customer.STATUSES]
    status = {"type": "static_select", "options": statuses,
              "initial_option": next((o for o in statuses if o["value"] == form.status), statuses[0])}
    blocks.append(_input("status", "Status", status, optional=False))
    blocks.append(_input("external_ref", "External reference (CRM ID)",
                         _text(form.external_ref, max_length=EXTERNAL_REF_MAX)))
    blocks.append(_input("status_note", "Why the status changed",
                         _text(form.note, max_length=NOTE_MAX, multiline=True),
                         hint="Kept with the status change in the customer's history."))
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain("Edit customer" if editing else "New customer", 24),
        "submit": plain("Save" if editing else "Add", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"customer": customer_id}) if editing else "",
        "blocks": blocks,
    }


def _state(values: dict[str, Any], block_id: str, action_id: str | None = None) -> dict[str, Any]:
    return (values.get(block_id) or {}).get(action_id or block_id) or {}


def read_customer_modal(view: dict[str, Any]) -> tuple[CustomerForm, int | None]:
    """The submitted form, and the id of the customer being edited (None when adding)."""
    values = (view.get("state") or {}).get("values") or {}

    def text(block_id: str) -> str:
        return str(_state(values, block_id).get("value") or "").strip()

    def option(block_id: str, action_id: str | None = None) -> str | None:
        return (_state(values, block_id, action_id).get("selected_option") or {}).get("value")

    form = CustomerForm(
        name=text("name"),
        tier=option("tier"),
        timezone=option("timezone", TIMEZONE_ACTION),
        preferred_hours=text("preferred_hours"),
        advocate_id=_state(values, "advocate").get("selected_user") or None,
        annual_revenue=text("annual_revenue"),
        status=option("status") or "",
        external_ref=text("external_ref"),
        note=text("status_note"),
        confirmed_new=bool(_state(values, CONFIRM_BLOCK).get("selected_options")),
        confirm_shown=any(b.get("block_id") == CONFIRM_BLOCK for b in view.get("blocks") or []),
    )
    try:
        customer_id = json.loads(view.get("private_metadata") or "{}").get("customer")
    except (ValueError, AttributeError):
        customer_id = None
    return form, customer_id if isinstance(customer_id, int) else None

