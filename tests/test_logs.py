"""Log lines: LOG_FORMAT=json|text as the CLI sets them up, and secrets redacted from every record."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.logs import FIELDS, REDACTED, JsonFormatter, RedactingFilter
from tests.cli_helpers import bot_env

BOT_TOKEN = "xoxb-111-222-bottokenvalue"
SECRET = "8f14e45fceea167a5a36dedd4bea2543"

# Logs through logging as the CLI configures it (bot.cli._setup_logging, from the environment's settings):
# a token and the signing secret in the message, in args, in extra fields, in a traceback and in an
# exception no one caught in a thread.
SCRIPT = f"""
import logging, threading
from bot.cli import _setup_logging
from bot.settings import load_settings

_setup_logging(load_settings())
log = logging.getLogger("some.module")
log.warning("calling Slack with %s and secret %s", {BOT_TOKEN!r}, {SECRET!r})
log.info("user token xoxp-9-8-7 app xapp-1-A1-2-abc refresh xoxe.xoxp-1-Mi0y and xoxe-1-abc",
         extra={{"{FIELDS}": {{"name": "/escalate", "header": "Bearer {BOT_TOKEN}"}}, "raw": "{SECRET}"}})
log.info("args as a mapping: %(token)s", {{"token": {BOT_TOKEN!r}}})
try:
    raise RuntimeError("Slack said no to {BOT_TOKEN}")
except RuntimeError:
    log.exception("failed with {SECRET}")
def uncaught():
    raise ValueError({SECRET!r})
thread = threading.Thread(target=uncaught)
thread.start()
thread.join()
"""


def run_script(log_format: str, tmp_path: Path) -> str:
    env = bot_env(LOG_FORMAT=log_format, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET)
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    return result.stderr


def test_json_records_with_a_token_and_the_signing_secret_come_out_redacted(tmp_path: Path) -> None:
    err = run_script("json", tmp_path)
    lines = [json.loads(line) for line in err.splitlines()]
    assert [line["logger"] for line in lines] == ["some.module"] * 4 + ["advocacy-bot"]
    calling, tokens, mapping, failed, uncaught = lines
    assert calling["message"] == f"calling Slack with {REDACTED} and secret {REDACTED}"
    assert calling["level"] == "WARNING" and calling["time"].endswith("Z")
    assert tokens["message"] == f"user token {REDACTED} app {REDACTED} refresh {REDACTED} and {REDACTED}"
    assert tokens["name"] == "/escalate" and tokens["header"] == f"Bearer {REDACTED}"
    assert tokens["raw"] == REDACTED
    assert mapping["message"] == f"args as a mapping: {REDACTED}"
    assert failed["message"] == f"failed with {REDACTED}" and f"Slack said no to {REDACTED}" in failed["exception"]
    assert uncaught["level"] == "CRITICAL" and "ValueError" in uncaught["exception"]
    for leak in (BOT_TOKEN, SECRET, "xoxb-", "xoxp-", "xapp-", "xoxe"):
        assert leak not in err


def test_text_records_are_redacted_too(tmp_path: Path) -> None:
    err = run_script("text", tmp_path)
    assert f"WARNING some.module: calling Slack with {REDACTED} and secret {REDACTED}" in err
    assert "Traceback (most recent call last)" in err and f"Slack said no to {REDACTED}" in err
    for leak in (BOT_TOKEN, SECRET, "xoxb-", "xoxp-", "xapp-", "xoxe"):
        assert leak not in err


def test_short_setting_values_are_not_treated_as_secrets() -> None:
    """SLACK_SIGNING_SECRET=x in a test must not blank every x of every line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(["x", SECRET]))
    log = logging.getLogger("tests.test_logs.short")
    log.propagate = False
    log.addHandler(handler)
    try:
        log.warning("box of %s", SECRET)
    finally:
        log.removeHandler(handler)
    assert json.loads(stream.getvalue())["message"] == f"box of {REDACTED}"


@pytest.mark.parametrize("value", ["JSON", " json ", "text"])
def test_log_format_is_read_in_any_case(value: str) -> None:
    from bot.settings import Settings

    assert Settings(log_format=value, _env_file=None).log_format == value.strip().lower()  # type: ignore[call-arg]
