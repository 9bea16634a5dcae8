"""The escalation modal: what the requester fills in, prefilled from what they typed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.blocks.common import Block, money, plain, section
from bot.config import TeamConfig
from bot.domain.escalation import CUSTOMER_MAX, SUMMARY_MAX, EscalationError, EscalationRequest, parse_impact
from bot.text import truncate

CALLBACK_ID = "escalate"
TIMEZONE_ACTION = "customer_timezone"
METADATA_MAX = 3000


@dataclass(frozen=True)
class ModalContext:
    """What a view submission cannot tell us by itself (it has no channel and no response URL)."""

    channel: str | None = None
    response_url: str | None = None
    source_channel: str | None = None
    source_ts: str | None = None

    def dump(self) -> str:
        data = {k: v for k, v in self.__dict__.items() if v}
        text = json.dumps(data, separators=(",", ":"))
        if len(text) > METADATA_MAX:  # response URLs are short, but never let metadata break views.open
            data.pop("response_url", None)
            text = json.dumps(data, separators=(",", ":"))
        return text

    @classmethod
    def load(cls, text: str | None) -> ModalContext:
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__ and isinstance(v, str)})


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str = "") -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": {**element, "action_id": block_id},
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def escalate_modal(config: TeamConfig, prefill: EscalationRequest | None, context: ModalContext) -> dict[str, Any]:
    prefill = prefill or EscalationRequest(customer=None, summary="")
    customer: dict[str, Any] = {"type": "plain_text_input", "max_length": CUSTOMER_MAX}
    if prefill.customer:
        customer["initial_value"] = prefill.customer[:CUSTOMER_MAX]
    summary: dict[str, Any] = {"type": "plain_text_input", "multiline": True, "max_length": SUMMARY_MAX}
    if prefill.summary:
        summary["initial_value"] = truncate(prefill.summary, SUMMARY_MAX)
    severity_options = [_option(name.upper(), name) for name in config.severities]
    chosen = prefill.severity or config.default_severity
    severity = {
        "type": "static_select",
        "options": severity_options,
        "initial_option": next(o for o in severity_options if o["value"] == chosen),
    }
    department_options = [_option(name, name) for name in list(config.departments)[:100]]
    departments: dict[str, Any] = {
        "type": "multi_static_select",
        "options": department_options,
        "placeholder": plain("Routed by keywords when left empty"),
    }
    initial = [o for o in department_options if o["value"] in prefill.departments]
    if initial:
        departments["initial_options"] = initial
    impact: dict[str, Any] = {"type": "plain_text_input", "placeholder": plain("$12k")}
    if prefill.impact is not None:
        impact["initial_value"] = money(prefill.impact)
    timezone: dict[str, Any] = {
        "type": "external_select",
        "min_query_length": 2,
        "placeholder": plain("Search: Stockholm, New York, UTC…"),
    }
    if prefill.customer_timezone:
        timezone["initial_option"] = _option(prefill.customer_timezone, prefill.customer_timezone)
    blocks = [
        _input("customer", "Customer", customer),
        _input("summary", "What happened?", summary, hint="Shared with the department heads in the case channel."),
        _input("severity", "Severity", severity),
        _input("departments", "Departments to involve", departments, optional=True),
        _input("impact", "Revenue at risk", impact, optional=True),
        {
            "type": "input",
            "block_id": "timezone",
            "label": plain("Customer's timezone"),
            "element": {**timezone, "action_id": TIMEZONE_ACTION},
            "optional": True,
        },
        _input("external_ref", "CRM ID", {"type": "plain_text_input", "max_length": 200}, optional=True),
    ]
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain("Escalate", 24),
        "submit": plain("Open case", 24),
        "close": plain("Cancel", 24),
        "private_metadata": context.dump(),
        "blocks": blocks,
    }


def _value(values: dict[str, Any], block_id: str, action_id: str | None = None) -> Any:
    return (values.get(block_id) or {}).get(action_id or block_id) or {}


def read_modal(view: dict[str, Any]) -> tuple[EscalationRequest, dict[str, str]]:
    """The request in a submitted modal, plus input errors (impact) keyed by block id."""
    values = (view.get("state") or {}).get("values") or {}
    errors: dict[str, str] = {}
    impact = None
    impact_text = (_value(values, "impact").get("value") or "").strip()
    if impact_text:
        try:
            impact = parse_impact(impact_text)
        except EscalationError as exc:
            errors["impact"] = str(exc)
    severity = (_value(values, "severity").get("selected_option") or {}).get("value")
    departments = tuple(o["value"] for o in _value(values, "departments").get("selected_options") or [])
    timezone = (_value(values, "timezone", TIMEZONE_ACTION).get("selected_option") or {}).get("value")
    request = EscalationRequest(
        customer=(_value(values, "customer").get("value") or "").strip() or None,
        summary=(_value(values, "summary").get("value") or "").strip(),
        severity=severity,
        departments=departments,
        impact=impact,
        customer_timezone=timezone,
        external_ref=(_value(values, "external_ref").get("value") or "").strip() or None,
    )
    return request, errors


def choice_view(blocks: list[Block]) -> dict[str, Any]:
    """The modal, replaced by the add-or-open choice when the customer already has an open case."""
    return {"type": "modal", "callback_id": "escalate_choice", "title": plain("Escalate", 24),
            "close": plain("Close", 24), "blocks": blocks}


def done_view(text: str) -> dict[str, Any]:
    return {"type": "modal", "callback_id": "escalate_done", "title": plain("Escalate", 24),
            "close": plain("Close", 24), "blocks": [section(text)]}


