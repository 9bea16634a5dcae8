"""Customers: one row per customer, names unique regardless of case; their details and status history.

No Slack here. Details typed by a person (a form, a CSV cell) are cleaned by ``clean_fields``; a
customer is created by ``create_customer`` (or ``get_or_create_customer`` for an escalation) and changed by
``update_customer``. A status is only ever changed by ``update_customer``, which writes the
``CustomerStatusChange`` row (the first row is the creation): retention is read from those rows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.contact_hours import format_contact_hours, parse_contact_hours
from bot.domain.escalation import EscalationError, parse_impact
from storage.models import Case, Customer, CustomerStatusChange

NAME_MAX = 200
EXTERNAL_REF_MAX = 200
NOTE_MAX = 1000
REVENUE_MAX = Decimal("999999999999.99")  # Numeric(14, 2)
# What a person can set, in the order forms and files show them (the name is the customer's key).
FIELDS = ("name", "tier", "timezone", "preferred_hours", "advocate_id", "annual_revenue", "status", "external_ref")
LABELS = {
    "name": "name", "tier": "tier", "timezone": "timezone", "preferred_hours": "preferred hours",
    "advocate_id": "advocate", "annual_revenue": "annual revenue", "status": "status",
    "external_ref": "external reference", "note": "note",
}
_USER_ID = re.compile(r"^<?@?([UW][A-Z0-9]{2,})(?:\|[^>]*)?>?$")


class CustomerError(ValueError):
    """A detail that cannot be stored; ``field`` says which (a key of ``LABELS``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def name_key(name: str) -> str:
    """``ACME`` and `` acme `` are one customer."""
    return " ".join(name.split()).casefold()


def find_customer(session: Session, name: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.name_key == name_key(name))).one_or_none()


# ---------------------------------------------------------------- cleaning what people type


def clean_value(field: str, text: str | None, *, tiers: Collection[str]) -> Any:
    """One detail as typed → the value to store; blank clears it (None). A ValueError says what is wrong."""
    text = (text or "").strip()
    if field == "name":
        name = " ".join(text.split())
        if not name:
            raise ValueError("Write the customer's name.")
        if len(name) > NAME_MAX:
            raise ValueError(f"Keep the name under {NAME_MAX} characters.")
        return name
    if field == "status":
        text = "-".join(text.lower().replace("_", " ").replace("-", " ").split())  # "At risk" → at-risk
        if text not in Customer.STATUSES:
            raise ValueError(f"“{text}” is not a status; use {', '.join(Customer.STATUSES)}.")
        return text
    if not text:
        return None
    if field == "tier":
        text = text.lower()  # tier names are lowercase (checkins.tiers)
        if text not in tiers:
            known = ", ".join(tiers) or "none are configured (checkins.tiers)"
            raise ValueError(f"“{text}” is not a tier; tiers are: {known}.")
        return text
    if field == "timezone":
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"“{text}” is not an IANA timezone (e.g. Europe/Stockholm, America/New_York).") from None
        return text
    if field == "preferred_hours":
        return format_contact_hours(parse_contact_hours(text))
    if field == "advocate_id":
        match = _USER_ID.match(text)
        if match is None:
            raise ValueError(f"“{text}” is not a Slack user ID (like U01ABCDEF).")
        return match.group(1)
    if field == "annual_revenue":
        try:
            amount = parse_impact(text)
        except EscalationError:
            raise ValueError(f"“{text}” is not an amount ≥ 0; write it like $250k, $250,000 or 250000.") from None
        if amount > REVENUE_MAX:
            raise ValueError(f"{text} is more than this bot can store (up to $999,999,999,999).")
        return amount
    if field == "external_ref":
        if len(text) > EXTERNAL_REF_MAX:
            raise ValueError(f"Keep the external reference under {EXTERNAL_REF_MAX} characters.")
        return text
    raise KeyError(field)


def clean_fields(raw: Mapping[str, str | None], *, tiers: Collection[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The given details cleaned (only the keys present in ``raw``), and the errors by field."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in FIELDS:
        if field in raw:
            try:
                values[field] = clean_value(field, raw[field], tiers=tiers)
            except ValueError as exc:
                errors[field] = str(exc)
    return values, errors


# ---------------------------------------------------------------- creating and changing


def _insert(session: Session, name: str, *, now: datetime, by: str, status: str = "active",
            note: str | None = None, **details: Any) -> Customer:
    customer = Customer(name=" ".join(name.split()), name_key=name_key(name), created_at=now, status=status,
                        **details)
    session.add(customer)
    session.flush()
    session.add(CustomerStatusChange(customer_id=customer.id, at=now, from_status=None, to_status=status, by=by,
                                     note=note))
    return customer


def get_or_create_customer(
    session: Session,
    name: str,
    *,
    now: datetime,
    timezone: str | None = None,
    external_ref: str | None = None,
    by: str = "bot",
) -> Customer:
    """The customer called ``name``, created if unknown; given details fill in what is missing."""
    customer = find_customer(session, name)
    if customer is None:
        return _insert(session, name, now=now, by=by, timezone=timezone, external_ref=external_ref)
    if timezone:
        customer.timezone = timezone
    if external_ref:
        customer.external_ref = external_ref
    return customer


def _check_note(note: str | None) -> None:
    if note and len(note) > NOTE_MAX:
        raise CustomerError("note", f"Keep the note under {NOTE_MAX} characters.")


def create_customer(session: Session, values: Mapping[str, Any], *, by: str, now: datetime,
                    note: str | None = None) -> Customer:
    """A new customer from cleaned ``values`` (``name`` required); its creation is its first status row."""
    _check_note(note)
    name = values["name"]
    existing = find_customer(session, name)
    if existing is not None:
        raise CustomerError("name", f"“{existing.name}” already exists.")
    details = {k: v for k, v in values.items() if k not in ("name", "status") and v is not None}
    return _insert(session, name, now=now, by=by, status=values.get("status") or "active", note=note, **details)


def update_customer(session: Session, customer: Customer, changes: Mapping[str, Any], *, by: str, now: datetime,
                    note: str | None = None) -> list[str]:
    """Apply cleaned ``changes`` (None clears a detail); the fields that changed, in ``FIELDS`` order.

    A status change writes a ``CustomerStatusChange`` (from, to, by, at, note). A note without a status
    change is refused: it would be lost.
    """
    _check_note(note)
    if note and changes.get("status", customer.status) == customer.status:
        raise CustomerError("note", "A note goes with a status change; change the status or leave the note empty.")
    changed: list[str] = []
    for field in FIELDS:
        if field not in changes:
            continue
        value = changes[field]
        if field == "name":
            if name_key(value) != customer.name_key:
                other = find_customer(session, value)
                if other is not None and other.id != customer.id:
                    raise CustomerError("name", f"“{other.name}” already exists; choose another name.")
                customer.name_key = name_key(value)
            if value != customer.name:
                customer.name = value
                changed.append(field)
        elif field == "status":
            if value not in Customer.STATUSES:
                raise CustomerError("status", f"“{value}” is not a status; use {', '.join(Customer.STATUSES)}.")
            if value != customer.status:
                session.add(CustomerStatusChange(customer_id=customer.id, at=now, from_status=customer.status,
                                                 to_status=value, by=by, note=note))
                customer.status = value
                changed.append(field)
        elif getattr(customer, field) != value:
            setattr(customer, field, value)
            changed.append(field)
    if changed:
        customer.updated_at = now
    return changed


def status_history(session: Session, customer_id: int, limit: int = 10) -> list[CustomerStatusChange]:
    """The latest ``limit`` status rows, newest first."""
    return list(session.scalars(
        select(CustomerStatusChange).where(CustomerStatusChange.customer_id == customer_id)
        .order_by(CustomerStatusChange.at.desc(), CustomerStatusChange.id.desc()).limit(limit)))


def open_cases_of(session: Session, name: str) -> list[Case]:
    customer = find_customer(session, name)
    if customer is None:
        return []
    return list(
        session.scalars(
            select(Case)
            .where(Case.customer_id == customer.id, Case.status.in_(Case.OPEN_STATUSES))
            .order_by(Case.number)
        )
    )


def recent_cases_of(session: Session, customer_id: int, limit: int = 5) -> list[Case]:
    """The customer's latest cases that have ended (resolved or closed), newest first."""
    return list(session.scalars(
        select(Case).where(Case.customer_id == customer_id, Case.status.not_in(Case.OPEN_STATUSES))
        .order_by(Case.created_at.desc(), Case.number.desc()).limit(limit)))


# ---------------------------------------------------------------- near-duplicate names

# Words that say what kind of company it is, not which: "Acme", "ACME Corp." and "Acme, Inc." are one name.
LEGAL_SUFFIXES = frozenset({
    "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc", "llp", "lp", "plc",
    "gmbh", "ag", "kg", "ab", "as", "asa", "aps", "oy", "oyj", "sa", "sas", "sarl", "srl", "spa", "bv", "nv",
    "pty", "pte", "kk", "sl", "sro", "group", "holding", "holdings",
})
SIMILAR_CUTOFF = 85  # rapidfuzz token_sort_ratio of the comparable names, 0-100
CLOSEST_CUTOFF = 60  # a looser net for "did you mean" when a name is not found
_DROPPED = re.compile(r"[.'’]")  # "S.A." → "sa", "McDonald's" → "mcdonalds"
_SEPARATORS = re.compile(r"[\W_]+")


def comparable(name: str) -> str:
    """The name as compared for near-duplicates: no case, accents, punctuation or legal suffixes."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = _SEPARATORS.sub(" ", _DROPPED.sub("", text)).split()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def _ranked(session: Session, name: str, *, limit: int, cutoff: float, scorer: Any,
            exclude_id: int | None) -> list[Customer]:
    key = name_key(name)
    rows = session.execute(select(Customer.id, Customer.name, Customer.name_key)).all()
    choices = {row.id: comparable(row.name) for row in rows if row.name_key != key and row.id != exclude_id}
    found = process.extract(comparable(name), choices, scorer=scorer, score_cutoff=cutoff, limit=None)
    names = {row.id: row.name for row in rows}
    ids = [customer_id for _, _, customer_id in sorted(found, key=lambda f: (-f[1], names[f[2]].casefold()))]
    ids = ids[:limit]
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}
    return [customers[i] for i in ids]


def similar_customers(session: Session, name: str, limit: int = 5, *, exclude_id: int | None = None) -> list[Customer]:
    """Customers whose names are near-duplicates of ``name``, best first. The customer whose name_key is
    ``name``'s own is not a near-duplicate (it is the same customer); ``exclude_id`` leaves out the one
    being edited. Compares every name in memory: fine for the thousands of customers a team has.
    """
    return _ranked(session, name, limit=limit, cutoff=SIMILAR_CUTOFF, scorer=fuzz.token_sort_ratio,
                   exclude_id=exclude_id)


def closest_customers(session: Session, name: str, limit: int = 5) -> list[Customer]:
    """For a name that was not found: the customers it may have meant (partial names count), best first."""
    return _ranked(session, name, limit=limit, cutoff=CLOSEST_CUTOFF, scorer=fuzz.WRatio, exclude_id=None)
