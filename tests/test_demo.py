"""``advocacy-bot sandbox --script demo`` as a user runs it: a subprocess, no Slack credentials, no network."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from sqlalchemy import select

from bot.sandbox.demo import SAMPLE_CONFIG
from storage.db import Database
from storage.models import Case, OutboxItem
from tests.cli_helpers import bot_env, cli, write_config


def sandbox(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    return cli("sandbox", "--script", "demo", *args, env=bot_env(), cwd=tmp_path, timeout=60)


def test_the_demo_story_plays_end_to_end(tmp_path: Path) -> None:
    result = sandbox(tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "#case-1-acme-corp is created (private)" in out
    assert "topic of #case-1-acme-corp: Case #1" in out
    assert "#case-1-acme-corp <- @advocacy-bot (pinned):" in out
    assert "is open in #case-1-acme-corp" in out  # the link reply, with the channel shown by name
    assert "<@" not in out and "<#" not in out  # mrkdwn rendered: @names and #names, never raw IDs
    assert "modal \"Escalate\" opens for @grace" in out
    assert "bookmark in #case-3-initech: Original message" in out
    assert "+finance is rejected: nothing was created" in out
    assert "[Add to #case-1-acme-corp]" in out and "Your report is in #case-1-acme-corp" in out
    assert "Slack answers pins.add: http_500" in out
    assert "#case-4-wayne-enterprises: now pinned" in out
    assert "recovered: one summary in #case-4-wayne-enterprises, pinned" in out
    assert "sandbox: the story played as expected" in out
    assert list(tmp_path.iterdir()) == []  # the temporary database is gone


def test_the_demo_leaves_its_cases_in_the_given_database(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    result = sandbox(tmp_path, "--db", str(path))
    assert result.returncode == 0, result.stderr
    db = Database(f"sqlite:///{path}")
    try:
        with db.transaction() as session:
            cases = list(session.scalars(select(Case).order_by(Case.number)))
            customers = [c.customer.name for c in cases]
            assert all(c.channel_id and c.summary_ts for c in cases)
            assert all(item.status == "done" for item in session.scalars(select(OutboxItem)))
    finally:
        db.dispose()
    assert customers == ["Acme Corp", "Globex", "Initech", "Wayne Enterprises"]

    again = sandbox(tmp_path, "--db", str(path))  # the story needs an empty database, and says so
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1].endswith("already holds cases; the story needs an empty database")


def test_a_step_that_falls_short_fails_in_one_line(tmp_path: Path) -> None:
    team = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    team["severities"] = {"sev1": {"update_every": "2h"}, "sev2": {"update_every": "1d"}}
    team["default_severity"] = "sev2"  # the story's "p1" is now unknown: step 1 is refused
    config = write_config(tmp_path / "team.yaml", team)
    result = sandbox(tmp_path, "--config", str(config))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("sandbox: step 1 (") and "Unknown severity" in line


def test_json_logs_of_the_whole_story_carry_no_secret(tmp_path: Path) -> None:
    token, secret = "xoxb-1234-5678-from-the-environment", "0123456789abcdef-signing-secret"
    env = bot_env(LOG_FORMAT="json", SLACK_BOT_TOKEN=token, SLACK_SIGNING_SECRET=secret,
                  SLACK_APP_TOKEN="xapp-1-A0-123-app-level-token")
    result = cli("sandbox", "--script", "demo", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "sandbox: the story played as expected" in result.stdout  # the transcript stays on stdout
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # the logs, JSON only, on stderr
    requests = [line for line in lines if line["logger"] == "bot.web"]
    assert {"command", "view_submission", "message_action"} <= {line["kind"] for line in requests}
    assert all(line["outcome"] == "ok" and line["user"].startswith("U") for line in requests)
    whole = result.stdout + result.stderr
    for leak in (token, secret, "xoxb-", "xoxp-", "xapp-", "xoxe"):
        assert leak not in whole
    assert re.search(r"xox[a-z]-|xapp-", whole) is None
