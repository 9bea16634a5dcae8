"""Upgrades: from an empty database and from the previous release's database, on SQLite and PostgreSQL.

The previous release's database is ``tests/fixtures/release-0004.json``: what the released code itself
wrote while playing its demo story and importing survey answers (see ``tests/fixtures/dump_release_db.py``).
It is loaded at that release's schema revision, without today's models, then upgraded by
``advocacy-bot migrate``, and today's code must read and work on it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Boolean, Date, DateTime, Integer, MetaData, Numeric, create_engine, func, select, text
from sqlalchemy.engine import make_url

from bot.sandbox.standin import SlackStandIn
from bot.settings import normalize_database_url
from storage.migrate import alembic_config, current_head, upgrade
from storage.models import Base
from tests.cli_helpers import bot_env, cli, write_config

RELEASE = Path(__file__).parent / "fixtures" / "release-0004.json"


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, of the kind the suite runs on (a fresh PostgreSQL database, or a file)."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin_url = make_url(normalize_database_url(server))
    name = f"advocacy_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _schema_drift(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()


def _revision(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        engine.dispose()


def _value(column_type: Any, value: Any) -> Any:
    """A JSON value as the column's Python type (the dump wrote times as ISO text, decimals as text)."""
    if value is None:
        return None
    if isinstance(column_type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column_type, Date):
        return date.fromisoformat(value)
    if isinstance(column_type, Numeric) and not isinstance(column_type.as_generic(), Boolean):
        return Decimal(value)
    if isinstance(column_type, Boolean):
        return bool(value)
    return value


def load_release(url: str, release: dict[str, Any]) -> None:
    """Insert the release's rows into a database at the release's revision, through reflection only."""
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    rows = release["tables"]
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM counters"))  # the migration's own seed row is in the dump
            for table in metadata.sorted_tables:
                if table.name not in rows or not rows[table.name]:
                    continue
                connection.execute(table.insert(), [
                    {name: _value(table.c[name].type, value) for name, value in row.items()}
                    for row in rows[table.name]
                ])
            if engine.dialect.name == "postgresql":  # a restored database carries its sequences along
                for table in metadata.sorted_tables:
                    if "id" in table.c and isinstance(table.c.id.type, Integer) and rows.get(table.name):
                        connection.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"))
    finally:
        engine.dispose()


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    try:
        with engine.connect() as connection:
            return {t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in metadata.sorted_tables if t.name != "alembic_version"}
    finally:
        engine.dispose()


def test_an_empty_database_migrates_to_the_schema_the_code_expects(empty_url: str, tmp_path: Path) -> None:
    result = cli("migrate", env=bot_env(DATABASE_URL=empty_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _revision(empty_url) == current_head()
    assert _schema_drift(empty_url) == []
    again = cli("migrate", env=bot_env(DATABASE_URL=empty_url), cwd=tmp_path)  # a second run is a no-op
    assert again.returncode == 0, again.stderr


def test_every_migration_downgrades_and_upgrades_again(empty_url: str) -> None:
    """An upgrade that goes wrong can be rolled back to the previous release's schema and retried."""
    engine = create_engine(empty_url)
    try:
        upgrade(engine)
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        upgrade(engine)
    finally:
        engine.dispose()
    assert _schema_drift(empty_url) == []


def test_the_previous_release_database_upgrades_with_everything_in_it(
        empty_url: str, tmp_path: Path, team: dict[str, Any], standin: SlackStandIn) -> None:
    release = json.loads(RELEASE.read_text(encoding="utf-8"))
    engine = create_engine(empty_url)
    upgrade(engine, release["revision"])
    engine.dispose()
    load_release(empty_url, release)
    before = _counts(empty_url)
    assert before["cases"] == 4 and before["feedback"] == 3 and before["outbox"] == 48

    config = write_config(tmp_path / "advocacy.yaml", {
        **team, "advocates": ["U01ADA", "U02GRACE"],
        "departments": {"advocacy": {"heads": ["U01ADA"]},
                        "billing": {"heads": ["U10BILL"], "keywords": ["invoice", "refund"]},
                        "logistics": {"heads": ["U20SAM"], "keywords": ["delivery", "late"]}}})
    env = bot_env(DATABASE_URL=empty_url, ADVOCACY_CONFIG=str(config), SLACK_BOT_TOKEN=standin.bot_token,
                  SLACK_API_URL=standin.api_url)
    migrated = cli("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert _revision(empty_url) == current_head()
    assert _schema_drift(empty_url) == []
    after = _counts(empty_url)
    assert {name: after[name] for name in before} == before  # nothing lost, nothing duplicated

    # Today's code reads the old rows: the export carries every case as the old code wrote it ...
    exported = cli("export", "cases", "--format", "json", env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    cases = {c["number"]: c for c in json.loads(exported.stdout)}
    old_cases = {c["number"]: c for c in release["tables"]["cases"]}
    assert sorted(cases) == sorted(old_cases)
    first = cases[1]
    assert first["customer"] == "Acme Corp" and first["status"] == old_cases[1]["status"]
    assert first["resolution"] == old_cases[1]["resolution"]
    assert len(first["timeline"]) == sum(1 for e in release["tables"]["case_events"] if e["case_id"] == 1)

    # ... the digest counts them and the feedback, and the old pending work is picked up by the tick.
    week = datetime.fromisoformat(old_cases[1]["created_at"]).strftime("%G-W%V")
    digest = cli("digest", "--week", week, "--format", "json", env=env, cwd=tmp_path)
    assert digest.returncode == 0, digest.stderr
    figures = json.loads(digest.stdout)
    assert figures["cases_opened"] == len(old_cases)
    answers = release["tables"]["feedback"]
    answered = datetime.fromisoformat(answers[0]["at"]).strftime("%G-W%V")
    assert all(datetime.fromisoformat(a["at"]).strftime("%G-W%V") == answered for a in answers)
    survey = cli("digest", "--week", answered, "--format", "json", env=env, cwd=tmp_path)
    assert survey.returncode == 0, survey.stderr
    feedback = json.loads(survey.stdout)
    assert feedback["nps"]["n"] == sum(a["nps"] is not None for a in answers)
    assert feedback["csat"]["n"] == sum(a["csat"] is not None for a in answers)
    ticked = cli("tick", "--now", "2026-12-05T12:00:00Z", env=env, cwd=tmp_path)
    assert ticked.returncode == 0, ticked.stderr


def test_the_release_fixture_is_an_earlier_revision_of_this_schema() -> None:
    """Guards the fixture against being regenerated at the wrong revision (or a revision since removed)."""
    release = json.loads(RELEASE.read_text(encoding="utf-8"))
    history = [r.revision for r in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()]
    assert release["revision"] in history[1:]
