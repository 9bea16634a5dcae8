"""PostgreSQL connections: one the server dropped while it sat in the pool is replaced before anyone uses it,
and one used a moment ago is not pinged again (a round trip per transaction under load)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

import storage.db
from storage.db import Database


@pytest.fixture
def pg(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Database, list[int]]]:
    if db.dialect != "postgresql":
        pytest.skip("needs PostgreSQL (set TEST_DATABASE_URL): SQLite has no server to drop a connection")
    monkeypatch.setattr(storage.db, "PING_AFTER_IDLE_SECONDS", 0.3)
    pings: list[int] = []
    real_ping = db.engine.dialect.do_ping

    def counting_ping(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(real_ping(dbapi_connection))

    monkeypatch.setattr(db.engine.dialect, "do_ping", counting_ping)
    yield db, pings


def backend_pid(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_dropped_by_the_server_while_idle_is_replaced_unseen(pg: tuple[Database, list[int]]) -> None:
    db, pings = pg
    first = backend_pid(db)
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:  # the server ends it, as a restart or failover would
        assert admin.execute("SELECT pg_terminate_backend(%s)", (first,)).fetchone() == (True,)
    time.sleep(0.4)

    second = backend_pid(db)  # no error: the dead connection was found by the ping and replaced
    assert second != first and pings


def test_a_connection_used_a_moment_ago_is_not_pinged(pg: tuple[Database, list[int]]) -> None:
    db, pings = pg
    backend_pid(db)
    pings.clear()
    for _ in range(20):
        with db.transaction() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
    assert pings == []

    time.sleep(0.4)  # idle past the limit: pinged once on its next use
    backend_pid(db)
    assert pings == [1]
