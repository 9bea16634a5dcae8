"""Queries that need the dialect's own SQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.orm import Session

from storage.models import Delivery


def upsert_for(dialect: str) -> Callable[[Table], Insert]:
    """The dialect's INSERT with ON CONFLICT (PostgreSQL's and SQLite's take the same arguments)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert  # type: ignore[return-value]


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


@cache
def _claim(dialect: str) -> Any:
    # Built once per dialect on the Core table and run with parameters: building a statement with values
    # and the ORM's insert path on every request cost more CPU than the round trip (the hot path of every event).
    table = Delivery.__table__
    return upsert_for(dialect)(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)


# PostgreSQL, for statements that claim the delivery :key as their first data-modifying CTE (see claim_first):
# ``WITH {CLAIM_CTE}, …``; NULL claims nothing. The claim holds when ``CLAIMED`` is true.
CLAIM_CTE = """claim AS (
    INSERT INTO deliveries (key, received_at)
    SELECT CAST(:key AS varchar), :now WHERE CAST(:key AS varchar) IS NOT NULL
    ON CONFLICT (key) DO NOTHING RETURNING key
)"""
CLAIMED = "(CAST(:key AS varchar) IS NULL OR EXISTS (SELECT 1 FROM claim))"


def claim_delivery(session: Session, key: str, now: datetime) -> bool:
    """Record a Slack delivery (``event:<id>``, ``view:<id>``); False if it was seen before.

    ``ON CONFLICT DO NOTHING`` rather than catching IntegrityError: on PostgreSQL a failed insert
    would abort the caller's whole transaction.
    """
    inserted = session.execute(_claim(dialect_of(session)), {"key": key, "received_at": now}).scalar_one_or_none()
    return inserted is not None


class AlreadyDelivered(Exception):
    """This Slack delivery was claimed before (a retry, or the same event at two replicas): nothing was done."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def claim_first(session: Session, key: str | None, now: datetime) -> None:
    """Claim ``key`` as the first statement of the caller's transaction; raise AlreadyDelivered if taken.

    In the transaction that does the work (rather than one of its own): one commit and round trips fewer, and
    a failed transaction releases the claim with its rollback. A concurrent delivery of the same key waits on
    the unique key until this transaction ends, then sees it taken (or free again, after a rollback).
    """
    if key is not None and not claim_delivery(session, key, now):
        raise AlreadyDelivered(key)


def forget_deliveries(session: Session, before: datetime) -> int:
    """Slack stops retrying within an hour; keys older than that only take space."""
    result = session.execute(delete(Delivery).where(Delivery.received_at < before))
    return result.rowcount or 0  # type: ignore[attr-defined]


def release_delivery(session: Session, key: str) -> None:
    """The delivery was not handled after all (the listener failed): Slack's retry must get through."""
    session.execute(delete(Delivery).where(Delivery.key == key))
