"""Reading outcomes: what the database holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from storage.db import Database
from storage.models import Case, CaseEvent, OutboxItem


def all_cases(db: Database) -> list[Case]:
    with db.transaction() as session:
        cases = list(session.scalars(select(Case).order_by(Case.number)))
        for case in cases:
            _ = case.customer, list(case.departments)
        return cases


def timeline(db: Database, case_id: int) -> list[CaseEvent]:
    with db.transaction() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def outbox(db: Database) -> list[OutboxItem]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def mrkdwn_texts(blocks: object) -> list[str]:
    """Every mrkdwn text object in a block tree: where Slack would act on <!channel> and friends."""
    found: list[str] = []
    if isinstance(blocks, dict):
        if blocks.get("type") == "mrkdwn":
            found.append(str(blocks.get("text")))
        for value in blocks.values():
            found += mrkdwn_texts(value)
    elif isinstance(blocks, list):
        for value in blocks:
            found += mrkdwn_texts(value)
    return found


def setup_settled(db: Database) -> bool:
    items = outbox(db)
    return bool(items) and all(item.status != "pending" for item in items)


def drained(db: Database, now: datetime) -> bool:
    """No outbox row due by ``now`` is left to run (what the after-ack drive does has been done)."""
    return all(item.status != "pending" or item.due_at > now for item in outbox(db))
