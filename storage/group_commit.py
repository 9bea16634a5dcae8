"""Group commit for the inserts a person waits for (a request's row written before its ack).

Concurrent requests queue their rows, and one of them — the leader — inserts everything queued in
one transaction while the others wait. SQLite has a single writer, so twenty requests committing one
by one queue behind each other; committed together they wait for one commit. There is no writer
thread: the leader is a request thread that writes its own row, so a lone request pays no thread
hand-over, and in a burst each waiting request is woken once (its batch committed, or it leads the
next one). A batch that hits a unique key (a view submitted twice) is retried row by row, so only
the duplicate fails.

The leader writes through one Core connection kept open for this purpose: the ORM session's
bookkeeping and a pool check-out per batch cost more than the insert itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage.patience import DatabaseBusy, time_left

if TYPE_CHECKING:
    from storage.db import Database

WAIT_SECONDS = 10.0


def _wait_seconds() -> float:
    """How long a queued row waits for its batch: WAIT_SECONDS, or less in a bounded thread (a request)."""
    left = time_left()
    return WAIT_SECONDS if left is None else max(0.0, min(WAIT_SECONDS, left))


@dataclass(eq=False)
class _Pending:
    table: Table
    row: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to lead the next batch rather than because its row was written
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = False
        self._connection: Connection | None = None  # used by the leader only: one at a time

    def insert(self, table: Table, row: dict[str, Any]) -> None:
        """Insert ``row`` and return once it is committed; raises what the insert raised."""
        pending = _Pending(table, row)
        with self._lock:
            self._queue.append(pending)
            pending.lead = not self._leading
            self._leading = True
        if not pending.lead:
            # Woken once: our row was written, or we were promoted to write the next batch.
            wait = _wait_seconds()
            while not pending.done.wait(wait):
                if self._withdraw(pending):
                    raise DatabaseBusy("the database did not commit in time")
                wait = WAIT_SECONDS  # a leader is writing our row: its outcome (bounded by its time) is ours
        if pending.lead:  # our row is in the queue, written by the batch we lead
            self._lead()
        if pending.error is not None:
            raise pending.error

    def _withdraw(self, pending: _Pending) -> bool:
        """Give up on a row the leader has not taken yet. A row already being written is waited for."""
        with self._lock:
            if pending in self._queue and not pending.lead:
                self._queue.remove(pending)
                return True
        return False

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._write(batch)
        finally:
            with self._lock:
                if self._queue:  # rows that came while we wrote: their first one leads next
                    self._queue[0].lead = True
                    self._queue[0].done.set()
                else:
                    self._leading = False
            for pending in batch:
                pending.done.set()

    def _write(self, batch: list[_Pending]) -> None:
        try:
            by_table: dict[Table, list[dict[str, Any]]] = {}
            for pending in batch:
                by_table.setdefault(pending.table, []).append(pending.row)
            connection = self._connection or self._connect()
            with self.db.writer(urgent=True), connection.begin():
                for table, rows in by_table.items():
                    connection.execute(insert(table), rows)  # one executemany per table
        except IntegrityError as exc:
            if len(batch) > 1:
                for pending in batch:
                    self._write([pending])  # sets each one's outcome itself
                return
            batch[0].error = exc
        except Exception as exc:  # every waiter learns what went wrong, and answers its person
            if isinstance(exc, DBAPIError) and self._connection is not None:
                self._connection.invalidate()  # a broken connection is replaced on the next batch
                self._connection = None
            for pending in batch:
                pending.error = exc

    def _connect(self) -> Connection:
        connection = self.db.engine.connect()
        if self.db.dialect == "sqlite":
            # Whichever connection commits past 1,000 WAL pages copies them back into the database
            # (and syncs it): not this one, which people wait on; background writers and the tick do.
            connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            connection.commit()
        self._connection = connection
        return connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
