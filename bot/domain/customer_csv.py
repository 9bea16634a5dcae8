"""Customers as CSV: ``advocacy-bot customers import`` and ``export``. No Slack here.

The columns are ``name,tier,timezone,preferred_hours,advocate,annual_revenue,status,external_ref``; only
``name`` is required, any other may be left out of the header, and an empty cell leaves that detail as it is.
A row is matched to a customer by name (case and spacing ignored): new names are created, known ones
updated. Every row is checked before anything is written; one bad row refuses the whole file, naming each
bad row's line (the header is line 1). A status changed by an import is in the history with ``by="import"``.

The export writes the same columns first (then ``id``, ``created_at``, ``updated_at``, which an import
ignores), so an exported file imports back unchanged.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.csv_import import BadRow, ImportRefused, csv_records
from bot.domain.customers import clean_fields, create_customer, find_customer, name_key, update_customer
from bot.domain.export import FORMULA_START, csv_cell, iso_utc
from storage.models import Customer, CustomerStatusChange

COLUMNS = ("name", "tier", "timezone", "preferred_hours", "advocate", "annual_revenue", "status", "external_ref")
EXPORT_ONLY = ("id", "created_at", "updated_at")  # written by the export, ignored by an import
_FIELD = {"advocate": "advocate_id"}  # column → the domain's field name (the others are the same)
IMPORTED_BY = "import"


@dataclass(frozen=True)
class Imported:
    created: int
    updated: int
    unchanged: int

    def __str__(self) -> str:
        return f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}"


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, Any]  # cleaned; only the cells that were filled in


def _header(line: int, fields: list[str]) -> list[str]:
    names = [field.strip().casefold() for field in fields]
    known = (*COLUMNS, *EXPORT_ONLY)
    problems = [f"unknown column {name!r} (columns are: {', '.join(COLUMNS)})" for name in names if name not in known]
    problems += [f"column {name!r} appears twice" for name in dict.fromkeys(names) if names.count(name) > 1]
    if "name" not in names:
        problems.append("missing column 'name'")
    if problems:
        raise ImportRefused([BadRow(line, tuple(problems))])
    return names


def _cell(text: str) -> str:
    """A cell as written; the ``'`` the export puts before a formula-like value is taken off again."""
    text = text.strip()
    return text[1:] if len(text) > 1 and text[0] == "'" and text[1].startswith(FORMULA_START) else text


def read_rows(lines: Iterable[str], *, tiers: Collection[str], advocates: Collection[str] | None = None,
              current_advocates: Mapping[str, str | None] | None = None) -> list[_Row]:
    """Every row of the file checked; ImportRefused with all the bad rows if there is any.

    ``advocates``: when given, a new advocate must be one of them (the team config's user IDs); one a
    customer already has (``current_advocates``, by name_key) is kept even if they have left the team.
    """
    records = csv_records(lines)
    first = next(records, None)
    if first is None:
        raise ImportRefused([BadRow(1, ("the file is empty; the first line must be the header: "
                                        + ",".join(COLUMNS),))])
    header = _header(*first)
    rows: list[_Row] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    for line, fields in records:
        if len(fields) > len(header):
            bad.append(BadRow(line, (f"{len(fields)} cells, the header has {len(header)}",)))
            continue
        raw = {_FIELD.get(column, column): _cell(cell) for column, cell in zip(header, fields, strict=False)
               if column in COLUMNS and _cell(cell)}
        problems: list[str] = []
        if "name" not in raw:
            problems.append("name is empty")
        values, errors = clean_fields(raw, tiers=tiers)
        columns = {field: column for column, field in _FIELD.items()}
        problems += [f"{columns.get(field, field)}: {message}" for field, message in errors.items()]
        advocate = values.get("advocate_id")
        current = (current_advocates or {}).get(name_key(values.get("name") or ""))
        if advocate and advocates is not None and advocate not in advocates and advocate != current:
            problems.append(f"advocate: {advocate} is not one of the team's advocates ({', '.join(advocates)})")
        if "name" in values:
            key = name_key(values["name"])
            if key in seen:
                problems.append(f"“{values['name']}” is also on line {seen[key]}")
            seen.setdefault(key, line)
        if problems:
            bad.append(BadRow(line, tuple(problems)))
        else:
            rows.append(_Row(line, values))
    if bad:
        raise ImportRefused(bad)
    return rows


def import_customers(session: Session, lines: Iterable[str], *, now: datetime, tiers: Collection[str],
                     advocates: Collection[str] | None = None) -> Imported:
    """Check the whole file, then create or update each row's customer (in the caller's transaction)."""
    current = {key: advocate for key, advocate in session.execute(select(Customer.name_key, Customer.advocate_id))}
    rows = read_rows(lines, tiers=tiers, advocates=advocates, current_advocates=current)
    created = updated = unchanged = 0
    for row in rows:
        customer = find_customer(session, row.values["name"])
        if customer is None:
            create_customer(session, row.values, by=IMPORTED_BY, now=now)
            created += 1
            continue
        # matched by name: the name itself stays as it is spelled here
        changes = {k: v for k, v in row.values.items() if k != "name"}
        if update_customer(session, customer, changes, by=IMPORTED_BY, now=now):
            updated += 1
        else:
            unchanged += 1
    session.flush()
    return Imported(created=created, updated=updated, unchanged=unchanged)


# ---------------------------------------------------------------- export


def _amount(value: Decimal | None) -> str | None:
    """``250000`` or ``1234.50``: plain numbers, which an import reads back."""
    if value is None:
        return None
    return f"{value:.0f}" if value == value.to_integral_value() else f"{value:.2f}"


def export_customers(session: Session) -> list[dict[str, Any]]:
    """Every customer by name, with the import's columns, its ids and times, and its status history."""
    history: dict[int, list[CustomerStatusChange]] = {}
    for change in session.scalars(select(CustomerStatusChange).order_by(CustomerStatusChange.at,
                                                                        CustomerStatusChange.id)):
        history.setdefault(change.customer_id, []).append(change)
    return [
        {
            "name": c.name, "tier": c.tier, "timezone": c.timezone, "preferred_hours": c.preferred_hours,
            "advocate": c.advocate_id, "annual_revenue": _amount(c.annual_revenue), "status": c.status,
            "external_ref": c.external_ref, "id": c.id, "created_at": iso_utc(c.created_at),
            "updated_at": iso_utc(c.updated_at),
            "status_history": [{"at": iso_utc(h.at), "from": h.from_status, "to": h.to_status, "by": h.by,
                                "note": h.note} for h in history.get(c.id, [])],
        }
        for c in session.scalars(select(Customer).order_by(Customer.name_key))
    ]


def _text(value: object) -> str:
    return csv_cell(None if value is None else str(value))


def csv_rows(customers: list[dict[str, Any]]) -> Iterator[list[str]]:
    """The header, then one row per customer (the status history is in the JSON export only)."""
    columns = (*COLUMNS, *EXPORT_ONLY)
    yield list(columns)
    for customer in customers:
        yield [_text(customer[column]) for column in columns]
