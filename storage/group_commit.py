"""Group commit for the inserts a person waits for (a request's row written before its ack).

Concurrent requests hand their row to one writer thread, which inserts everything queued in one
transaction. SQLite has a single writer, so twenty requests committing one by one queue behind each
other; committed together they wait for one commit. A batch that hits a unique key (a view submitted
twice) is retried row by row, so only the duplicate fails.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError

if TYPE_CHECKING:
    from storage.db import Database

MAX_BATCH = 200
WAIT_SECONDS = 10.0


@dataclass
class _Pending:
    table: Table
    row: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def insert(self, table: Table, row: dict[str, Any]) -> None:
        """Insert ``row`` and return once it is committed; raises what the insert raised."""
        pending = _Pending(table, row)
        self._ensure_writer()
        self._queue.put(pending)
        if not pending.done.wait(WAIT_SECONDS):
            raise TimeoutError("the database did not commit in time")
        if pending.error is not None:
            raise pending.error

    def _ensure_writer(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._write_forever, name="group-commit", daemon=True)
                    self._thread.start()

    def _write_forever(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        try:
            by_table: dict[Table, list[dict[str, Any]]] = {}
            for pending in batch:
                by_table.setdefault(pending.table, []).append(pending.row)
            with self.db.transaction(urgent=True) as session:
                for table, rows in by_table.items():
                    session.connection().execute(insert(table), rows)  # one executemany per table
        except IntegrityError as exc:
            if len(batch) > 1:
                for pending in batch:
                    self._write([pending])  # sets each one's outcome itself
                return
            batch[0].error = exc
        except Exception as exc:  # every waiter learns what went wrong, and answers its person
            for pending in batch:
                pending.error = exc
        for pending in batch:
            pending.done.set()
