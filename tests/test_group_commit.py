"""Rows written before an ack: group commit, and the drive stepping aside while requests come in."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import storage.group_commit
from jobs.drive import RequestsInFlight
from storage.db import Database
from storage.models import OutboxItem

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TABLE = OutboxItem.__table__


def row(key: str) -> dict[str, Any]:
    return {"key": key, "kind": "test.row", "payload": {"k": key}, "status": "pending", "due_at": NOW,
            "attempts": 0, "created_at": NOW}


def keys(db: Database) -> set[str]:
    with db.transaction() as session:
        return set(session.scalars(select(OutboxItem.key)))


class HeldWriter:
    """Holds the group commit's next write until released, so that rows queue up behind it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = threading.Event()
        original = storage.group_commit.GroupCommit._write

        def held(commit: storage.group_commit.GroupCommit, batch: list[Any]) -> None:
            self.release.wait(10)
            original(commit, batch)

        monkeypatch.setattr(storage.group_commit.GroupCommit, "_write", held)


def run_threads(targets: list[Any]) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)


def test_concurrent_inserts_are_each_committed_before_they_return(db: Database) -> None:
    seen_after_return: dict[str, bool] = {}

    def insert(key: str) -> None:
        db.insert_now(TABLE, row(key))  # type: ignore[arg-type]
        with db.sessions() as session:  # a fresh session: committed, not just flushed
            seen_after_return[key] = session.scalar(select(func.count()).where(OutboxItem.key == key)) == 1

    run_threads([lambda k=f"row:{n}": insert(k) for n in range(40)])
    assert keys(db) == {f"row:{n}" for n in range(40)}
    assert seen_after_return == {f"row:{n}": True for n in range(40)}


def test_a_duplicate_in_a_batch_fails_alone(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    db.insert_now(TABLE, row("dup"))  # type: ignore[arg-type]
    outcomes: dict[str, str] = {}

    def insert(key: str) -> None:
        try:
            db.insert_now(TABLE, row(key))  # type: ignore[arg-type]
            outcomes[key] = "ok"
        except IntegrityError:
            outcomes[key] = "duplicate"

    held = HeldWriter(monkeypatch)
    first = threading.Thread(target=insert, args=("a",))
    first.start()  # leads, and is held
    time.sleep(0.1)
    others = [threading.Thread(target=insert, args=(k,)) for k in ("dup", "b", "c")]
    for t in others:
        t.start()
    time.sleep(0.2)
    held.release.set()  # "a" commits alone; the other three then go as one batch
    for t in [first, *others]:
        t.join(30)
    assert outcomes == {"a": "ok", "dup": "duplicate", "b": "ok", "c": "ok"}
    assert keys(db) == {"a", "b", "c", "dup"}


def test_a_row_not_yet_taken_is_withdrawn_on_timeout(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage.group_commit, "WAIT_SECONDS", 0.3)
    outcomes: dict[str, str] = {}

    def insert(key: str) -> None:
        try:
            db.insert_now(TABLE, row(key))  # type: ignore[arg-type]
            outcomes[key] = "ok"
        except TimeoutError:
            outcomes[key] = "timeout"

    held = HeldWriter(monkeypatch)  # the leader's write hangs; the follower's wait runs out
    leader = threading.Thread(target=insert, args=("leader",))
    leader.start()
    time.sleep(0.1)
    insert("follower")
    held.release.set()
    leader.join(30)
    # The person behind the follower was told nothing was recorded, and nothing was.
    assert outcomes == {"leader": "ok", "follower": "timeout"}
    assert keys(db) == {"leader"}


def test_the_drive_waits_for_a_quiet_moment_but_not_for_ever() -> None:
    gate = RequestsInFlight(quiet=0.05, max_wait=0.3)
    began = time.monotonic()
    gate.wait_quiet()
    assert time.monotonic() - began < 0.3  # nothing in flight: go on

    with gate:  # a request being answered: wait, up to max_wait
        began = time.monotonic()
        gate.wait_quiet()
        assert time.monotonic() - began >= 0.3

    with gate:
        pass
    began = time.monotonic()
    gate.wait_quiet()  # a request just ended: the quiet period runs from when it began
    assert 0.0 <= time.monotonic() - began < 0.3
