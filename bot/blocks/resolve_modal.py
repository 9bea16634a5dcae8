"""The resolve modal: resolution, root cause, the final customer update and up to three prevention actions.

The first prevention action is required; the other two rows are optional, but a row partly filled in
must be completed. A view submission carries no channel: the case id rides in ``private_metadata``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bot.blocks.common import Block, context, plain
from bot.blocks.reminders import VIA_LABELS
from bot.config import TeamConfig
from bot.domain.escalation import EscalationError, parse_impact
from bot.domain.resolution import PreventionInput, Resolution
from bot.text import escape_mrkdwn
from storage.models import Case

RESOLVE_VIEW = "resolve_case"
ROWS = 3
TEXT_MAX = 3000  # plain_text_input holds at most 3,000 characters
WHAT_MAX = 500
FIELDS = ("what", "owner", "due")


def row_block(row: int, field: str) -> str:
    return f"prevention{row}_{field}"


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str = "") -> Block:
    block: Block = {"type": "input", "block_id": block_id, "label": plain(label, 2000),
                    "element": {**element, "action_id": block_id}, "optional": optional}
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _text(*, multiline: bool = True, max_length: int = TEXT_MAX, placeholder: str = "") -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline, "max_length": max_length}
    if placeholder:
        element["placeholder"] = plain(placeholder)
    return element


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def resolve_modal(case: Case, config: TeamConfig) -> dict[str, Any]:
    categories = [_option(name, name) for name in config.root_causes[:100]]  # static_select: 100 options at most
    via = [_option(label, key) for key, label in VIA_LABELS.items()]
    blocks: list[Block] = [
        context(f"*Case #{case.number} · {escape_mrkdwn(case.customer.name)}*: how it ended, and what stops it "
                "happening again. Update reminders stop once it is resolved."),
        _input("resolution", "Resolution", _text(placeholder="What fixed it for the customer?")),
        _input("category", "Root-cause category", {"type": "static_select", "options": categories,
                                                   "placeholder": plain("Choose a category")}),
        _input("root_cause", "Root cause", _text(placeholder="Why did it happen?")),
        _input("final_update", "Final update given to the customer", _text(),
               hint="Recorded as a customer update on the case."),
        _input("via", "How the customer was told", {"type": "static_select", "options": via,
                                                    "initial_option": via[0]}),
    ]
    for row in range(1, ROWS + 1):
        optional = row > 1  # Slack itself marks an optional input's label "(optional)"
        blocks += [
            {"type": "divider"},
            _input(row_block(row, "what"), f"Prevention action {row}",
                   _text(multiline=False, max_length=WHAT_MAX, placeholder="What will stop this happening again?"),
                   optional=optional),
            _input(row_block(row, "owner"), "Owner", {"type": "users_select", "placeholder": plain("Who does it")},
                   optional=optional),
            _input(row_block(row, "due"), "Due date", {"type": "datepicker", "placeholder": plain("By when")},
                   optional=optional,
                   hint="Its owner is reminded by DM on the morning it is due." if row == 1 else ""),
        ]
    blocks += [
        {"type": "divider"},
        _input("losses", "Customer's losses", _text(multiline=False, max_length=40, placeholder="$12k"),
               optional=True),
        _input("credits", "Credits issued", _text(multiline=False, max_length=40, placeholder="$500"),
               optional=True),
    ]
    return {
        "type": "modal",
        "callback_id": RESOLVE_VIEW,
        "private_metadata": json.dumps({"case": case.id}),
        "title": plain(f"Resolve case #{case.number}", 24),
        "submit": plain("Resolve", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def case_id_of(view: dict[str, Any]) -> int | None:
    try:
        value = json.loads(view.get("private_metadata") or "{}").get("case")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _state(values: dict[str, Any], block_id: str) -> dict[str, Any]:
    return (values.get(block_id) or {}).get(block_id) or {}


def _text_value(values: dict[str, Any], block_id: str) -> str:
    return str(_state(values, block_id).get("value") or "").strip()


def _selected(values: dict[str, Any], block_id: str) -> str:
    return str((_state(values, block_id).get("selected_option") or {}).get("value") or "")


def _amount(values: dict[str, Any], block_id: str, errors: dict[str, str]) -> Any:
    text = _text_value(values, block_id)
    if not text:
        return None
    try:
        return parse_impact(text)
    except EscalationError as exc:
        errors[block_id] = str(exc)
        return None


def read_resolve_modal(view: dict[str, Any], config: TeamConfig, today: date
                       ) -> tuple[Resolution | None, dict[str, str]]:
    """The resolution in a submitted modal, or errors keyed by block id (for ``response_action: errors``).

    ``today`` is the team's date: a prevention action cannot be due in the past.
    """
    values = (view.get("state") or {}).get("values") or {}
    errors: dict[str, str] = {}
    texts = {}
    for block_id, missing in (("resolution", "Say how it was resolved."),
                              ("root_cause", "Say why it happened."),
                              ("final_update", "Say what the customer was told last.")):
        texts[block_id] = _text_value(values, block_id)
        if not texts[block_id]:
            errors[block_id] = missing
    category = _selected(values, "category")
    if category not in config.root_causes:
        errors["category"] = ("Choose a root-cause category." if not category else
                              f"“{category}” is not a root-cause category here; choose one from the list.")
    via = _selected(values, "via") or "other"
    if via not in VIA_LABELS:
        errors["via"] = "Choose how the customer was told."
    prevention = []
    for row in range(1, ROWS + 1):
        what = _text_value(values, row_block(row, "what"))
        owner = str(_state(values, row_block(row, "owner")).get("selected_user") or "")
        due_text = str(_state(values, row_block(row, "due")).get("selected_date") or "")
        given = {"what": what, "owner": owner, "due": due_text}
        if row > 1 and not any(given.values()):
            continue  # an optional row left empty
        for field, value in given.items():
            if not value:
                errors[row_block(row, field)] = (
                    {"what": "Say what will be done.", "owner": "Choose who does it.", "due": "Choose a due date."}
                    [field] if row == 1 else
                    f"Fill in what, owner and due date of prevention action {row}, or leave all three empty.")
        due_on = None
        if due_text:
            try:
                due_on = date.fromisoformat(due_text)
            except ValueError:
                errors[row_block(row, "due")] = "Choose a date from the calendar."
            else:
                if due_on < today:
                    errors[row_block(row, "due")] = "The due date is in the past."
        if what and owner and due_on is not None:
            prevention.append(PreventionInput(what=what, owner=owner, due_on=due_on))
    losses = _amount(values, "losses", errors)
    credits = _amount(values, "credits", errors)
    if errors:
        return None, errors
    return Resolution(resolution=texts["resolution"], category=category, root_cause=texts["root_cause"],
                      final_update=texts["final_update"], via=via, actions=tuple(prevention), losses=losses,
                      credits=credits), {}
