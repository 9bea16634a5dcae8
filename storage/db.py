"""Engine and sessions. One ``Database`` per process; no import-time side effects."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from storage.group_commit import GroupCommit
from storage.patience import DatabaseBusy, bounded, still_time, time_left

__all__ = ["Database", "DatabaseBusy", "bounded", "make_engine", "time_left"]

# PostgreSQL: a server that does not answer fails a connection attempt after this many seconds, not after
# the operating system's TCP timeout (minutes). libpq's smallest timeout is 2 s.
CONNECT_TIMEOUT_SECONDS = 5
PG_MIN_CONNECT_TIMEOUT = 2
# SQLite: how long a writer waits for another process's write lock (a CLI tick, an import) before failing.
SQLITE_BUSY_MS = 30_000
# PostgreSQL: a connection back in the pool for longer than this is pinged before it is used again (see
# _ping_when_idle).
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
            **kwargs,
        )
        _sqlite_pragmas(engine)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=10, **kwargs)
    _pg_connect_timeout(engine)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """A connection the server dropped (a restart, a failover) is replaced at check-out, so the first request
    after an outage works instead of failing on a dead socket; but only a connection that sat idle is pinged.

    ``pool_pre_ping`` pings at every check-out: under load that is a round trip and ~0.2 ms of CPU on each
    transaction, for connections used a millisecond ago. A connection that dies while in use still fails its
    statement, and SQLAlchemy then invalidates every pooled connection opened before it.
    """

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("returned_at", 0.0) <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out another (a new one if need be).
            raise exc.DisconnectionError(str(error)) from error


def _pg_connect_timeout(engine: Engine) -> None:
    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        # Runs in the thread that needs the connection: a bounded one (a request) waits only its time left.
        left = still_time()
        params["connect_timeout"] = (CONNECT_TIMEOUT_SECONDS if left is None
                                     else max(PG_MIN_CONNECT_TIMEOUT, math.ceil(left)))


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        # Take over transaction control from pysqlite so BEGIN IMMEDIATE is ours to send.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL cannot corrupt the database; a power cut may lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.close()
        record.info["busy_ms"] = SQLITE_BUSY_MS

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # A bounded thread (a request) waits for another process's lock only for its time left; the
        # setting belongs to the connection, so it is put back for the next unbounded user. In steps of
        # 100 ms: consecutive requests on one connection then mostly need no PRAGMA.
        left = still_time()
        busy_ms = SQLITE_BUSY_MS if left is None else max(1, int(left * 10) * 100)
        if connection.info.get("busy_ms") != busy_ms:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={busy_ms}")
            connection.info["busy_ms"] = busy_ms
        # IMMEDIATE takes the write lock up front: a deferred transaction that later writes can
        # fail with SQLITE_BUSY at once instead of waiting, when two threads race.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class WriterLock:
    """One writer at a time, urgent ones first.

    SQLite has a single writer, and a writer that finds the database locked polls with growing
    sleeps (up to 100 ms each). Queueing our own threads here instead wakes the next one the moment
    the lock is free, and lets a request waiting to ack go before background work. Other processes
    (a CLI ``tick``) still meet SQLite's busy_timeout.
    """

    def __init__(self) -> None:
        lock = threading.Lock()
        # Two queues on one lock, and one waiter woken per release: waking every waiter would
        # have them all fight for the GIL just to find the lock taken again.
        self._urgent_turn = threading.Condition(lock)
        self._background_turn = threading.Condition(lock)
        self._held = False
        self._urgent_waiting = 0

    @contextmanager
    def hold(self, *, urgent: bool) -> Iterator[None]:
        """Wait for the turn to write; a bounded thread (see :func:`bounded`) gives up with DatabaseBusy."""
        turn = self._urgent_turn if urgent else self._background_turn
        with turn:
            self._urgent_waiting += urgent
            try:
                while self._held or (not urgent and self._urgent_waiting):
                    left = time_left()
                    if left is not None and left <= 0:
                        break
                    turn.wait(left)
            finally:
                self._urgent_waiting -= urgent
            if self._held or (not urgent and self._urgent_waiting):  # gave up: our time ran out
                if not self._held:  # free, left to urgent waiters a release may not have woken
                    self._urgent_turn.notify()
                raise DatabaseBusy("another writer held the database too long")
            self._held = True
        try:
            yield
        finally:
            with turn:
                self._held = False
                (self._urgent_turn if self._urgent_waiting else self._background_turn).notify()


class Database:
    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # PostgreSQL: sessions whose statements each commit on their own (see one_statement)
        self._autocommit = (sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                                         expire_on_commit=False) if self.dialect == "postgresql" else None)
        self._writer = WriterLock() if self.dialect == "sqlite" else None
        self._group_commit = GroupCommit(self)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def writer(self, *, urgent: bool) -> Iterator[None]:
        """Hold the right to write (SQLite's single writer, shared by this process's threads)."""
        if self._writer is None:
            yield
            return
        with self._writer.hold(urgent=urgent):
            yield

    @contextmanager
    def transaction(self, *, urgent: bool = False) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception.

        ``urgent`` is for the few writes a person waits for (before an ack): on SQLite they go first.
        """
        with self.writer(urgent=urgent), self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def one_statement(self) -> Iterator[Session]:
        """For work that is a single statement on PostgreSQL: the statement commits on its own, without the
        BEGIN and COMMIT round trips of a transaction (a single statement is atomic by itself). Never for two
        statements. On SQLite, an ordinary transaction (its writes queue for the single writer)."""
        if self._autocommit is None:
            with self.transaction() as session:
                yield session
            return
        with self._autocommit() as session:
            yield session

    def insert_now(self, table: Table, row: dict[str, Any]) -> None:
        """Insert one row and commit it, grouped with other threads' rows (see ``group_commit``)."""
        self._group_commit.insert(table, row)

    def ping(self) -> bool:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return True

    def dispose(self) -> None:
        self._group_commit.close()
        self.engine.dispose()
