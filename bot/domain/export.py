"""Cases as plain data, for ``advocacy-bot export cases`` (and anyone checking the figures by hand).

``export_cases`` is the whole record of each case (JSON); ``csv_rows`` flattens it to one row per case,
scalar fields and counts only, for spreadsheets.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage.models import Case, CaseEvent, CustomerUpdate, PreventionAction


def iso_utc(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _by_case(session: Session, model: Any, order: tuple[Any, ...], cases: Any) -> dict[int, list[Any]]:
    """Rows of ``model`` for the ``cases`` selected, grouped by case, each group in ``order``."""
    grouped: dict[int, list[Any]] = {}
    for row in session.scalars(select(model).where(model.case_id.in_(cases)).order_by(*order)):
        grouped.setdefault(row.case_id, []).append(row)
    return grouped


def export_cases(session: Session, *, since: datetime | None = None) -> list[dict[str, Any]]:
    """Every case (created at or after ``since``), oldest first, with its record; times in ISO 8601 UTC."""
    selected = select(Case.id)
    if since is not None:
        selected = selected.where(Case.created_at >= since)
    updates = _by_case(session, CustomerUpdate, (CustomerUpdate.at, CustomerUpdate.id), selected)
    events = _by_case(session, CaseEvent, (CaseEvent.at, CaseEvent.id), selected)
    actions = _by_case(session, PreventionAction, (PreventionAction.due_on, PreventionAction.id), selected)
    # the case recurred from may be older than ``since``: numbers of every case referred to
    earlier = select(Case.recurrence_of_id).where(Case.id.in_(selected), Case.recurrence_of_id.is_not(None))
    numbers = {row.id: row.number for row in session.execute(select(Case.id, Case.number).where(Case.id.in_(earlier)))}
    cases = session.scalars(select(Case).where(Case.id.in_(selected)).options(selectinload(Case.departments))
                            .order_by(Case.number))
    return [
        {
            "number": case.number,
            "customer": case.customer.name,
            "status": case.status,
            "severity": case.severity,
            "owner": case.owner_id,
            "reporter": case.reporter_id,
            "departments": [
                {"name": d.department, "heads": list(d.heads), "deputies": list(d.deputies or []),
                 "asked_at": iso_utc(d.asked_at), "first_response_at": iso_utc(d.answered_at),
                 "first_response_by": d.answered_by}
                for d in case.departments
            ],
            "impact": str(case.impact) if case.impact is not None else None,
            "channel_id": case.channel_id,
            "created_at": iso_utc(case.created_at),
            "resolved_at": iso_utc(case.resolved_at),
            "closed_at": iso_utc(case.closed_at),
            "cadence_seconds": case.cadence_seconds,
            "next_update_due": iso_utc(case.next_update_due) if case.is_open else None,
            "customer_updates": [
                {"at": iso_utc(u.at), "by": u.by, "text": u.text, "via": u.via, "source": u.source,
                 "due_at": iso_utc(u.due_at), "on_time": u.on_time}
                for u in updates.get(case.id, [])
            ],
            "timeline": [
                {"at": iso_utc(e.at), "actor": e.actor, "kind": e.kind, "text": e.text, "permalink": e.permalink,
                 "deleted": bool(e.deleted)}
                for e in events.get(case.id, [])
            ],
            "resolution": case.resolution,
            "root_cause": ({"category": case.root_cause_category, "text": case.root_cause}
                           if case.root_cause_category or case.root_cause else None),
            "prevention_actions": [
                {"what": a.what, "owner": a.owner_id, "due": a.due_on.isoformat(), "done": a.status == "done"}
                for a in actions.get(case.id, [])
            ],
            "recurrence_of": numbers.get(case.recurrence_of_id) if case.recurrence_of_id is not None else None,
        }
        for case in cases
    ]


CSV_COLUMNS = (
    "number", "customer", "status", "severity", "owner", "reporter", "departments", "impact", "channel_id",
    "created_at", "resolved_at", "closed_at", "next_update_due", "root_cause_category", "recurrence_of",
    "customer_updates", "timeline_events", "departments_answered", "prevention_actions", "prevention_actions_done",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs such a cell as a formula


def csv_cell(value: str | None) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula: a customer name must stay text."""
    if value is None:
        return ""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_rows(cases: list[dict[str, Any]]) -> Iterator[list[object]]:
    """The header, then one row per exported case: its scalar fields and the sizes of its lists."""
    yield list(CSV_COLUMNS)
    for case in cases:
        root_cause = case["root_cause"] or {}
        yield [
            case["number"], csv_cell(case["customer"]), case["status"], case["severity"], case["owner"],
            case["reporter"], ";".join(d["name"] for d in case["departments"]), case["impact"] or "",
            case["channel_id"] or "", case["created_at"], case["resolved_at"] or "", case["closed_at"] or "",
            case["next_update_due"] or "", csv_cell(root_cause.get("category")),
            case["recurrence_of"] if case["recurrence_of"] is not None else "",
            len(case["customer_updates"]), len(case["timeline"]),
            sum(1 for d in case["departments"] if d["first_response_at"]),
            len(case["prevention_actions"]), sum(1 for a in case["prevention_actions"] if a["done"]),
        ]
