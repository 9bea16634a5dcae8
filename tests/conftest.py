"""Shared fixtures: a database (SQLite, or PostgreSQL with TEST_DATABASE_URL), the Slack stand-in,
and the bot served over HTTP exactly as in production, driven by signed requests - or, for tests marked
``over_both_transports``, also over Socket Mode (the stand-in's WebSocket link, slack_sdk's client)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from bot.app import AdvocacyApp, create_app
from bot.clock import FixedClock
from bot.config import TeamConfig, parse_config
from bot.sandbox.driver import SlackDriver
from bot.sandbox.standin import SlackStandIn
from bot.services import Services
from bot.settings import Settings
from bot.socket_mode import AdvocacySocketMode
from bot.web import HttpServer, make_wsgi
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-sandbox-token"

TEAM: dict[str, Any] = {
    "timezone": "Europe/Stockholm",
    "advocates": ["U01ADV", "U02ADV"],
    "leadership_channel": "C0LEAD",
    "triage_department": "advocacy",
    "case_channels": "private",
    "departments": {
        "advocacy": {"heads": ["U01ADV"]},
        "billing": {"heads": ["U10BILL"], "keywords": ["invoice", "refund", "charge", "billing"]},
        "logistics": {"heads": ["U20SHIP"], "keywords": ["delivery", "delivered", "shipment", "late"]},
    },
    "severities": {"p1": {"update_every": "2h"}, "p2": {"update_every": "1d"}, "p3": {"update_every": "3d"}},
    "default_severity": "p2",
}
PEOPLE = {
    "U01ADV": "ada.advocate",
    "U02ADV": "alan.advocate",
    "U10BILL": "bill.head",
    "U20SHIP": "shipley.head",
    "U30REQ": "rita.sales",
    "U40OTHER": "otto.support",
}


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, message: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy: set-up runs after the ack, in Bolt's listener thread."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.02)


# ---------------------------------------------------------------- database


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session; each test then gets a copy (SQLite) or truncated tables (PostgreSQL)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        from bot.settings import normalize_database_url

        url = normalize_database_url(url)
        db = Database(url)
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        upgrade(db.engine)
        db.dispose()
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    return str(path)


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    if database_template.startswith("postgresql"):
        db = Database(database_template)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with db.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            connection.execute(text("INSERT INTO counters (name, value) VALUES ('case', 0)"))
        db.dispose()
        return database_template
    path = tmp_path / "advocacy.db"
    shutil.copy(database_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


# ---------------------------------------------------------------- Slack stand-in and the bot


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    server = SlackStandIn(bot_token=BOT_TOKEN).start()
    for user_id, name in PEOPLE.items():
        server.add_user(user_id, name)
    server.add_channel("general", channel_id="C0GENERAL", members=list(PEOPLE))
    server.add_channel("leadership", channel_id="C0LEAD", members=["U01ADV", "U0BOT"], is_private=True)
    yield server
    server.stop()


@pytest.fixture
def team() -> dict[str, Any]:
    """The team config as YAML data; tests may change it before ``config`` is built."""
    return yaml.safe_load(yaml.safe_dump(TEAM))


@pytest.fixture
def config(team: dict[str, Any]) -> TeamConfig:
    return parse_config(team)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(standin: SlackStandIn, database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=standin.api_url,
        database_url=database_url,
        advocacy_config=tmp_path / "advocacy.yaml",
        _env_file=None,  # type: ignore[call-arg]
    )


@dataclass
class Bot:
    app: AdvocacyApp
    server: HttpServer
    driver: SlackDriver
    standin: SlackStandIn
    clock: FixedClock
    socket_mode: AdvocacySocketMode | None = None  # the bot's Socket Mode link, with the "socket" transport

    @property
    def svc(self) -> Services:
        return self.app.services

    @property
    def db(self) -> Database:
        return self.app.services.db


@pytest.fixture
def transport(request: pytest.FixtureRequest) -> str:
    """How Slack reaches the bot: "http" (signed requests to /slack/events) unless a test is parametrized."""
    return str(getattr(request, "param", "http"))


# The same test over HTTP and over Socket Mode: the driver's calls and the assertions do not change.
over_both_transports = pytest.mark.parametrize("transport", ["http", "socket"], indirect=True)


@pytest.fixture
def bot(
    settings: Settings, config: TeamConfig, db: Database, standin: SlackStandIn, clock: FixedClock, transport: str
) -> Iterator[Bot]:
    from bot.slack_client import make_client

    client = make_client(BOT_TOKEN, standin.api_url, timeout=2)
    app = create_app(settings, client, config=config, db=db, clock=clock)
    socket_mode = AdvocacySocketMode(app, standin.app_token) if transport == "socket" else None
    server = HttpServer(make_wsgi(app, socket_connected=socket_mode.connected if socket_mode else None),
                        host="127.0.0.1", port=0).start()
    if socket_mode is not None:
        assert socket_mode.open_link() and standin.socket_mode.wait_for_link(), "no Socket Mode link"
    driver = SlackDriver(f"{server.url}/slack/events", signing_secret=SIGNING_SECRET, standin=standin,
                         transport="socket" if socket_mode else "http")
    yield Bot(app=app, server=server, driver=driver, standin=standin, clock=clock, socket_mode=socket_mode)
    if socket_mode is not None:
        socket_mode.close()
    server.stop()
    # Background work must not outlive the test: on PostgreSQL the next test shares the database.
    app.services.close()
