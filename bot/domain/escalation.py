"""What an escalation asks for, parsed from ``/escalate`` text or the modal; and where it is routed.

No Slack here: plain values in, plain values out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

from bot.config import TeamConfig
from bot.text import unescape_slack

CUSTOMER_MAX = 200
SUMMARY_MAX = 3000

_DEPARTMENT_TOKEN = re.compile(r"(?<![\w+])\+([A-Za-z0-9][\w-]*)")
_IMPACT_TOKEN = re.compile(r"(?<![\w$])\$\s?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s?([kKmM])?(?![\w.,]*\d)")
# Words that look like a severity (p1, P2, sev1): unknown ones are mistakes, not prose.
_SEVERITY_LIKE = re.compile(r"^(?:p|sev)\d{1,2}$", re.IGNORECASE)


class EscalationError(ValueError):
    """Input that cannot become a case; the message is shown to the person, ephemerally."""


@dataclass(frozen=True)
class EscalationRequest:
    """An escalation as the requester asked for it (before routing and owner choice)."""

    customer: str | None
    summary: str
    severity: str | None = None
    departments: tuple[str, ...] = ()
    impact: Decimal | None = None
    customer_timezone: str | None = None
    external_ref: str | None = None

    def with_(self, **changes: object) -> EscalationRequest:
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, object]:
        return {
            "customer": self.customer,
            "summary": self.summary,
            "severity": self.severity,
            "departments": list(self.departments),
            "impact": str(self.impact) if self.impact is not None else None,
            "customer_timezone": self.customer_timezone,
            "external_ref": self.external_ref,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> EscalationRequest:
        impact = data.get("impact")
        return cls(
            customer=data.get("customer"),  # type: ignore[arg-type]
            summary=str(data.get("summary") or ""),
            severity=data.get("severity"),  # type: ignore[arg-type]
            departments=tuple(data.get("departments") or ()),  # type: ignore[arg-type]
            impact=Decimal(str(impact)) if impact is not None else None,
            customer_timezone=data.get("customer_timezone"),  # type: ignore[arg-type]
            external_ref=data.get("external_ref"),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class Route:
    departments: tuple[str, ...]
    reason: str  # "explicit" | "keywords" | "triage"
    matched: dict[str, list[str]] = field(default_factory=dict)


def parse_impact(text: str) -> Decimal:
    """``$12k``, ``12k``, ``$12,000``, ``1.5m`` → Decimal dollars."""
    match = re.fullmatch(r"\s*\$?\s?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s?([kKmM])?\s*", text)
    if not match:
        raise EscalationError(f"“{text}” is not an amount; write it like $12k, $12,000 or 12000.")
    return _amount(match.group(1), match.group(2))


def _amount(number: str, unit: str | None) -> Decimal:
    try:
        value = Decimal(number.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the regexes only let digits through
        raise EscalationError(f"“{number}” is not an amount.") from None
    value *= {"k": 1000, "m": 1_000_000}.get((unit or "").lower(), 1)
    return value.quantize(Decimal("0.01"))


def _split_customer(text: str) -> tuple[str | None, str]:
    """``Acme: checkout is down`` → (``Acme``, ``checkout is down``), on Slack's escaped text.

    The first colon outside ``<…>`` (links, mentions) and not starting ``://`` ends the customer.
    """
    depth = 0
    for index, char in enumerate(text):
        if char == "<":
            depth += 1
        elif char == ">":
            depth = max(0, depth - 1)
        elif char == ":" and depth == 0:
            if text[index + 1 : index + 3] == "//":
                return None, text
            customer = text[:index].strip()
            if not customer or len(unescape_slack(customer)) > CUSTOMER_MAX or "\n" in customer:
                return None, text
            return customer, text[index + 1 :].strip()
    return None, text


def parse_escalate_text(text: str, config: TeamConfig) -> EscalationRequest:
    """Parse ``/escalate <customer>: <summary>`` with tokens (severity, ``+dept``, ``$impact``) anywhere.

    Raises :class:`EscalationError` for an unknown department or severity, listing the valid ones.
    The customer is ``None`` when there is no ``<customer>:`` part (the modal then asks for it).
    """
    # Split before unescaping: in the raw text a real mention or link is <…>, a typed "<" is &lt;.
    customer, rest = _split_customer(text.strip())
    if customer is not None and "<" in customer:  # "<@U1> says: …" names a person, not a customer
        customer, rest = None, text.strip()
    customer = unescape_slack(customer) if customer is not None else None
    rest = unescape_slack(rest)

    departments: list[str] = []
    unknown_departments: list[str] = []
    for match in _DEPARTMENT_TOKEN.finditer(rest):
        name = match.group(1).lower()
        if name in config.departments:
            if name not in departments:
                departments.append(name)
        else:
            unknown_departments.append(match.group(1))
    if unknown_departments:
        raise EscalationError(
            f"Unknown department {', '.join('+' + d for d in unknown_departments)}. "
            f"Departments are: {', '.join('+' + d for d in config.departments)}."
        )
    rest = _DEPARTMENT_TOKEN.sub("", rest)

    severity = None
    kept_words = []
    for word in rest.split(" "):
        bare = word.strip(",.;()[]").lower()
        if bare in config.severities and severity is None:
            severity = bare
            continue
        if _SEVERITY_LIKE.match(bare) and bare not in config.severities:
            raise EscalationError(
                f"Unknown severity “{word.strip(',.;()[]')}”. Severities are: {', '.join(config.severities)}."
            )
        kept_words.append(word)
    rest = " ".join(kept_words)

    impact = None
    impact_match = _IMPACT_TOKEN.search(rest)
    if impact_match:
        impact = _amount(impact_match.group(1), impact_match.group(2))

    summary = re.sub(r"[ \t]{2,}", " ", rest).strip()
    return EscalationRequest(
        customer=customer,
        summary=summary,
        severity=severity,
        departments=tuple(departments),
        impact=impact,
    )


def route(summary: str, explicit: tuple[str, ...] | list[str], config: TeamConfig) -> Route:
    """Departments for a case: the explicit ones, else keyword matches on the summary, else triage."""
    if explicit:
        return Route(tuple(explicit), "explicit")
    matched: dict[str, list[str]] = {}
    lowered = summary.lower()
    for name, department in config.departments.items():
        hits = [
            keyword
            for keyword in department.keywords
            if re.search(rf"(?<!\w){re.escape(keyword.lower())}(?!\w)", lowered)
        ]
        if hits:
            matched[name] = hits
    if matched:
        return Route(tuple(matched), "keywords", matched)
    return Route((config.triage_department,), "triage")


def validate_request(request: EscalationRequest, config: TeamConfig) -> dict[str, str]:
    """Problems with a complete request, keyed by field (the modal shows them beside the inputs)."""
    errors: dict[str, str] = {}
    if not request.customer or not request.customer.strip():
        errors["customer"] = "Which customer is this about?"
    elif len(request.customer) > CUSTOMER_MAX:
        errors["customer"] = f"Keep the customer's name under {CUSTOMER_MAX} characters."
    if not request.summary.strip():
        errors["summary"] = "Say what is wrong, in a sentence or two."
    elif len(request.summary) > SUMMARY_MAX:
        errors["summary"] = f"Keep the summary under {SUMMARY_MAX} characters."
    if request.severity is not None and request.severity not in config.severities:
        errors["severity"] = f"Severities are: {', '.join(config.severities)}."
    unknown = [d for d in request.departments if d not in config.departments]
    if unknown:
        errors["departments"] = f"Departments are: {', '.join(config.departments)}."
    return errors
