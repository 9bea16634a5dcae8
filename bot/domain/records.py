"""What every domain change writes besides its state: a timeline entry, and Slack effects for the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.models import Case, CaseEvent, OutboxItem


def add_event(
    session: Session,
    case: Case,
    *,
    at: datetime,
    actor: str,
    kind: str,
    text: str | None = None,
    permalink: str | None = None,
    slack_ts: str | None = None,
    channel_id: str | None = None,
    thread_ts: str | None = None,
    data: dict[str, object] | None = None,
) -> CaseEvent:
    event = CaseEvent(
        case_id=case.id,
        at=at,
        actor=actor,
        kind=kind,
        text=text,
        permalink=permalink,
        slack_ts=slack_ts,
        channel_id=channel_id,
        thread_ts=thread_ts,
        data=data,
        deleted=False,
    )
    session.add(event)
    return event


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    now: datetime,
    payload: dict[str, object] | None = None,
    case_id: int | None = None,
    after: OutboxItem | None = None,
    due_at: datetime | None = None,
) -> OutboxItem:
    """Add a Slack effect to the outbox. Callers choose keys so that the same effect has one key.

    Rows are flushed together with the rest of the transaction (one batched INSERT), except when a
    chained row needs the id of the one before it.
    """
    if after is not None and after.id is None:
        session.flush()
    item = OutboxItem(
        key=key,
        kind=kind,
        case_id=case_id,
        after_id=after.id if after is not None else None,
        payload=payload or {},
        status="pending",
        due_at=due_at or now,
        attempts=0,
        created_at=now,
    )
    session.add(item)
    return item
