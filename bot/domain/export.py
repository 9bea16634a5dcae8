"""Cases as plain data, for ``advocacy-bot export cases`` (and anyone checking the figures by hand)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage.models import Case, CustomerUpdate


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def export_cases(session: Session) -> list[dict[str, Any]]:
    """Every case, oldest first, with its customer updates; times in ISO 8601 UTC."""
    updates: dict[int, list[dict[str, Any]]] = {}
    for update in session.scalars(select(CustomerUpdate).order_by(CustomerUpdate.at, CustomerUpdate.id)):
        updates.setdefault(update.case_id, []).append(
            {"at": _iso(update.at), "by": update.by, "text": update.text, "via": update.via,
             "source": update.source, "due_at": _iso(update.due_at), "on_time": update.on_time})
    cases = session.scalars(select(Case).options(selectinload(Case.departments)).order_by(Case.number))
    return [
        {
            "number": case.number,
            "customer": case.customer.name,
            "status": case.status,
            "severity": case.severity,
            "owner": case.owner_id,
            "reporter": case.reporter_id,
            "departments": [d.department for d in case.departments],
            "impact": str(case.impact) if case.impact is not None else None,
            "channel_id": case.channel_id,
            "created_at": _iso(case.created_at),
            "cadence_seconds": case.cadence_seconds,
            "next_update_due": _iso(case.next_update_due) if case.is_open else None,
            "customer_updates": updates.get(case.id, []),
        }
        for case in cases
    ]
