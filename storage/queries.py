"""Queries that need the dialect's own SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import Delivery


def claim_delivery(session: Session, key: str, now: datetime) -> bool:
    """Record a Slack delivery (``event:<id>``, ``view:<id>``); False if it was seen before.

    ``ON CONFLICT DO NOTHING`` rather than catching IntegrityError: on PostgreSQL a failed insert
    would abort the caller's whole transaction.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = session.execute(
        insert(Delivery)
        .values(key=key, received_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Delivery.key)
    ).scalar_one_or_none()
    return inserted is not None


def forget_deliveries(session: Session, before: datetime) -> int:
    """Slack stops retrying within an hour; keys older than that only take space."""
    result = session.execute(delete(Delivery).where(Delivery.received_at < before))
    return result.rowcount or 0  # type: ignore[attr-defined]


def release_delivery(session: Session, key: str) -> None:
    """The delivery was not handled after all (the listener failed): Slack's retry must get through."""
    session.execute(delete(Delivery).where(Delivery.key == key))
