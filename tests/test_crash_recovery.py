"""A real `advocacy-bot run` process killed halfway through a case set-up; the tick finishes the job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.sandbox.driver import SlackDriver
from bot.sandbox.standin import SlackStandIn
from storage.db import Database
from tests.cli_helpers import bot_env, cli, free_port, write_config
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, wait_until
from tests.helpers import all_cases, outbox, setup_settled


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as answer:
            return json.loads(answer.read())["ok"]
    except OSError:
        return False


def test_killed_between_set_up_steps_then_resumed_by_tick(
    tmp_path: Path, team: dict, standin: SlackStandIn, db: Database, database_url: str
) -> None:
    port = free_port()
    env = bot_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.api_url,
        DATABASE_URL=database_url,
        ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)),
        PORT=str(port),
    )
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: ready(url) or process.poll() is not None, timeout=30, message="the bot to be ready")
        assert process.poll() is None, process.stdout.read() if process.stdout else ""

        standin.fail("pins.add", delay=3)  # Slack pins, but the process dies before it hears back
        driver = SlackDriver(f"{url}/slack/events", signing_secret=SIGNING_SECRET, standin=standin)
        assert driver.command("U30REQ", "/escalate", "Acme: refund stuck p1").status == 200
        # The delayed pins.add has reached Slack (its fault is taken), not merely been claimed.
        wait_until(lambda: not standin.faults_pending("pins.add"), timeout=30, message="the pin to be in flight")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        log = process.stdout.read() if process.stdout else ""
        print(log)  # the bot's log, shown if the test fails
    assert BOT_TOKEN not in log and SIGNING_SECRET not in log  # secrets never reach the log

    [case] = all_cases(db)
    assert case.summary_ts and not setup_settled(db)
    wait_until(lambda: standin.pins(case.channel_id), message="the pin to land after all")

    # Within the lease nobody else may take the step; after it, the tick resumes it.
    now = datetime.now(UTC)
    env.pop("PORT")
    cli("tick", "--now", now.isoformat(), env=env, cwd=tmp_path)
    assert not setup_settled(db)
    result = cli("tick", "--now", (now + timedelta(minutes=3)).isoformat(), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert setup_settled(db) and all(i.status == "done" for i in outbox(db))
    assert standin.pins(case.channel_id) == [case.summary_ts]
    assert len([m for m in standin.messages(case.channel_id) if m.bot_id]) == 1
    assert any(f"<#{case.channel_id}>" in (r.text or "") for r in standin.responses)
