"""The advocacy-bot command: config check, settings errors, migrate, tick."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect

from bot.sandbox.standin import SlackStandIn
from storage.db import Database
from tests.cli_helpers import bot_env, cli, write_config
from tests.conftest import BOT_TOKEN, Bot, wait_until
from tests.helpers import all_cases, outbox, setup_settled


def test_config_check_prints_the_routing_table_and_a_route(tmp_path: Path, team: dict) -> None:
    config = write_config(tmp_path / "advocacy.yaml", team)
    env = bot_env(ADVOCACY_CONFIG=str(config))
    result = cli("config", "check", "--route", "Acme: the invoice was late p1", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "billing" in result.stdout and "U10BILL" in result.stdout and "invoice, refund" in result.stdout
    assert "advocacy (triage)" in result.stdout
    assert "route: billing, logistics (keywords" in result.stdout and "severity p1" in result.stdout


def test_config_errors_name_the_yaml_path(tmp_path: Path, team: dict) -> None:
    team["departments"]["billing"]["heds"] = ["U10BILL"]
    team["severities"]["p1"]["update_every"] = "soon"
    team["timezone"] = "Europe/Atlantis"
    config = write_config(tmp_path / "advocacy.yaml", team)
    result = cli("config", "check", env=bot_env(ADVOCACY_CONFIG=str(config)), cwd=tmp_path)
    assert result.returncode == 2
    assert "departments.billing.heds: unknown key" in result.stderr
    assert "severities.p1.update_every: 'soon' is not a duration" in result.stderr
    assert "timezone: 'Europe/Atlantis' is not an IANA timezone" in result.stderr
    assert "Traceback" not in result.stderr

    team = {**team, "departments": {"billing": {"heads": ["U10BILL"]}}, "triage_department": "support",
            "default_severity": "p2", "timezone": "UTC", "severities": {"p2": {"update_every": "1d"}}}
    write_config(config, team)
    result = cli("config", "check", env=bot_env(ADVOCACY_CONFIG=str(config)), cwd=tmp_path)
    assert "triage_department: unknown department 'support'; departments are: billing" in result.stderr
    write_config(config, {**team, "triage_department": "billing", "advocates": ["alice"]})
    result = cli("config", "check", env=bot_env(ADVOCACY_CONFIG=str(config)), cwd=tmp_path)
    assert "advocates[0]: must be a Slack user ID (U…) or user group ID (S…)" in result.stderr
    (tmp_path / "broken.yaml").write_text("timezone: [unclosed\n", encoding="utf-8")
    result = cli("config", "check", env=bot_env(ADVOCACY_CONFIG=str(tmp_path / "broken.yaml")), cwd=tmp_path)
    assert result.returncode == 2 and "not valid YAML at line" in result.stderr


def test_config_check_against_slack(tmp_path: Path, team: dict, bot: Bot) -> None:
    team["departments"]["logistics"]["heads"] = ["U20SHIP", "U77NOBODY"]
    team["leadership_channel"] = "C0GENERAL"
    bot.standin.channel("C0GENERAL").members.remove("U0BOT") if "U0BOT" in bot.standin.channel(
        "C0GENERAL").members else None
    config = write_config(tmp_path / "advocacy.yaml", team)
    env = bot_env(ADVOCACY_CONFIG=str(config), SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET="x",
                  SLACK_API_URL=bot.standin.api_url)
    result = cli("config", "check", "--slack", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "departments.logistics.heads: U77NOBODY: user_not_found" in result.stdout
    assert "leadership_channel: the bot is not a member of C0GENERAL" in result.stdout
    team["departments"]["logistics"]["heads"] = ["U20SHIP"]
    team["leadership_channel"] = "C0LEAD"
    write_config(config, team)
    assert cli("config", "check", "--slack", env=env, cwd=tmp_path).returncode == 0


def test_missing_or_malformed_settings_stop_start_up_with_one_clear_line(tmp_path: Path, team: dict) -> None:
    write_config(tmp_path / "advocacy.yaml", team)
    missing = cli("run", env=bot_env(), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "advocacy-bot: SLACK_BOT_TOKEN is required to run the bot (a bot token, xoxb-…)"
    ]
    secret = "xoxp-very-secret-user-token"
    malformed = cli("run", env=bot_env(SLACK_BOT_TOKEN=secret), cwd=tmp_path)
    assert malformed.returncode == 2
    assert "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-" in malformed.stderr
    assert secret not in malformed.stderr + malformed.stdout and "Traceback" not in malformed.stderr
    no_secret = cli("run", env=bot_env(SLACK_BOT_TOKEN="xoxb-1"), cwd=tmp_path)
    assert "SLACK_SIGNING_SECRET is required in HTTP mode" in no_secret.stderr
    bad_port = cli("run", env=bot_env(PORT="http"), cwd=tmp_path)
    assert bad_port.returncode == 2 and bad_port.stderr.startswith("advocacy-bot: PORT:")
    bad_db = cli("migrate", env=bot_env(DATABASE_URL="mysql://x"), cwd=tmp_path)
    assert bad_db.returncode == 2 and "DATABASE_URL: must be a sqlite:/// or postgresql:// URL" in bad_db.stderr
    at_sign = cli("migrate", env=bot_env(DATABASE_URL="postgresql://advocacy:pa@ss-word@db:5432/advocacy"),
                  cwd=tmp_path)
    assert at_sign.returncode == 2 and "DATABASE_URL: the password (or user name) contains '@'" in at_sign.stderr
    assert "ss-word" not in at_sign.stderr + at_sign.stdout


def test_a_token_slack_rejects_stops_start_up_with_one_line(tmp_path: Path, team: dict,
                                                           standin: SlackStandIn) -> None:
    write_config(tmp_path / "advocacy.yaml", team)
    env = bot_env(SLACK_BOT_TOKEN="xoxb-wrong", SLACK_SIGNING_SECRET="s3cret-signing", SLACK_API_URL=standin.api_url,
                  DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}")
    rejected = cli("run", env=env, cwd=tmp_path)
    assert rejected.returncode == 2 and "Traceback" not in rejected.stderr
    assert rejected.stderr.strip().splitlines()[-1] == (
        "advocacy-bot: Slack rejected SLACK_BOT_TOKEN at auth.test: invalid_auth")
    assert "xoxb-wrong" not in rejected.stderr + rejected.stdout


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = cli("migrate", env=bot_env(DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    db = Database(url)
    assert {"cases", "customers", "case_events", "outbox", "deliveries"} <= set(inspect(db.engine).get_table_names())
    db.dispose()


def test_tick_command_resumes_pending_work_at_the_given_time(tmp_path: Path, team: dict, bot: Bot,
                                                              database_url: str) -> None:
    bot.standin.fail("conversations.create", status=429, retry_after=60)
    bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck")
    wait_until(lambda: outbox(bot.db) and outbox(bot.db)[0].attempts == 1 and outbox(bot.db)[0].lease_owner is None)
    config = write_config(tmp_path / "advocacy.yaml", team)
    env = bot_env(ADVOCACY_CONFIG=str(config), SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=bot.standin.api_url,
                  DATABASE_URL=database_url)
    early = cli("tick", "--now", (bot.clock() + timedelta(seconds=30)).isoformat(), env=env, cwd=tmp_path)
    assert early.returncode == 0 and "outbox done 0" in early.stdout
    later = (bot.clock() + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = cli("tick", "--now", later, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "outbox done 6" in result.stdout
    assert setup_settled(bot.db) and all_cases(bot.db)[0].summary_ts


def test_tick_logs_one_json_object_per_line_with_one_line_per_job(tmp_path: Path, team: dict, bot: Bot,
                                                                  database_url: str) -> None:
    from jobs.tick import JOBS

    bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck")
    wait_until(lambda: setup_settled(bot.db))
    config = write_config(tmp_path / "advocacy.yaml", team)
    env = bot_env(ADVOCACY_CONFIG=str(config), SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=bot.standin.api_url,
                  DATABASE_URL=database_url, LOG_FORMAT="json", SLACK_SIGNING_SECRET="the-signing-secret-value")
    later = (bot.clock() + timedelta(days=2)).isoformat()  # the case's update is overdue: reminders post
    result = cli("tick", "--now", later, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("tick at ")  # the summary is the command's output, not a log line
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # every line is one JSON object
    assert lines
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys()
        assert datetime.fromisoformat(line["time"]).utcoffset() == timedelta(0)
    jobs = {line["job"]: line for line in lines if line["logger"] == "jobs.tick" and "job" in line}
    assert list(jobs) == [name for name, _ in JOBS] + ["outbox"]
    assert all(isinstance(line["duration_ms"], float | int) and line["level"] == "INFO" for line in jobs.values())
    assert jobs["reminders"]["count"] >= 1 and jobs["outbox"]["done"] == jobs["outbox"]["count"] >= 1
    assert "xox" not in result.stderr and "the-signing-secret-value" not in result.stderr


def test_an_unknown_log_format_stops_start_up_with_one_line(tmp_path: Path) -> None:
    result = cli("migrate", env=bot_env(LOG_FORMAT="xml"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["advocacy-bot: LOG_FORMAT: Input should be 'text' or 'json'"]
    assert result.stdout == ""
