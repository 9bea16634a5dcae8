"""Ticks side by side on PostgreSQL: 4 ``advocacy-bot tick`` processes over 1,000 due cases post each reminder once.

Every replica runs the tick, and operators may run ``advocacy-bot tick`` by hand at the same time: reminder
steps are claimed with ``FOR UPDATE SKIP LOCKED`` and their posts go through the outbox under a lease, so
no step may be posted twice and none may be lost. On SQLite a single writer makes the question moot (the
same code path is covered there by tests/test_reminders.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter as Tally
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from bot.config import parse_config
from bot.sandbox.standin import SlackStandIn
from storage.db import Database
from storage.models import Case, CaseEvent, Counter, Customer, OutboxItem, Reminder
from tests.cli_helpers import bot_env, write_config
from tests.conftest import BOT_TOKEN

CASES = 1_000
PROCESSES = 4
OWNER = "U01ADV"
# p1 updates are due every 2h. The case was opened at T-3h and its period scheduled at T-70m, already past the
# heads-up time (due-30m), so no heads-up exists; at T the overdue reminder (due T-1h) has come, the escalation
# (due+2h) and the leadership line (due+1d, to C0LEAD) have not. Exactly one post per case is expected.
T = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday
OPENED = T - timedelta(hours=3)
DUE = T - timedelta(hours=1)
SCHEDULED = DUE - timedelta(minutes=10)
REPORT = re.compile(r"\breminders (\d+),.*; outbox done (\d+), retried (\d+), deferred \d+, failed (\d+), "
                    r"cancelled (\d+)")


def channel_of(number: int) -> str:
    return f"C1{number:07d}"


def step_key(case_id: int, step: str) -> str:
    """As ``cadence.schedule`` names a step: the outbox key, and the key in the posted message's metadata."""
    return f"reminder:{case_id}:{DUE:%Y%m%dT%H%M%SZ}:{step}"


def seed(db: Database, standin: SlackStandIn, team: dict[str, Any]) -> dict[str, str]:
    """1,000 open p1 cases, each with its own channel (the bot a member) and the reminder steps of its period.

    Everything goes in as bulk inserts in one transaction. The steps are those ``cadence.schedule`` makes for
    a period scheduled after its heads-up time: overdue at the due time, then the escalation and the
    leadership line, which are not due at T. Returns the overdue reminder key expected in each case channel.
    """
    config = parse_config(team)
    rules = config.reminders
    later_steps = {"escalate": DUE + rules.escalate_after_for(config.update_every("p1")),
                   "leadership": DUE + rules.leadership_after}
    assert min(later_steps.values()) > T and config.leadership_channel == "C0LEAD"
    for number in range(1, CASES + 1):
        standin.add_channel(f"case-{number:04d}", channel_id=channel_of(number), members=[standin.bot_user_id, OWNER],
                            is_private=True)
    with db.transaction() as session:
        session.execute(insert(Customer), [
            {"name": f"Customer {n}", "name_key": f"customer {n}", "timezone": None, "external_ref": None,
             "created_at": OPENED} for n in range(1, CASES + 1)])
        customer_ids = {name_key: id_ for id_, name_key in session.execute(select(Customer.id, Customer.name_key))}
        session.execute(insert(Case), [
            {"number": n, "customer_id": customer_ids[f"customer {n}"], "summary": f"refund stuck ({n})",
             "severity": "p1", "status": "new", "owner_id": OWNER, "reporter_id": "U30REQ",
             "channel_name": f"case-{n:04d}", "channel_id": channel_of(n), "summary_ts": None,
             "created_at": OPENED, "updated_at": OPENED, "next_update_due": DUE} for n in range(1, CASES + 1)])
        session.execute(update(Counter).where(Counter.name == "case").values(value=CASES))
        cases = dict(session.execute(select(Case.id, Case.channel_id)).all())
        session.execute(insert(Reminder), [
            {"key": step_key(case_id, step), "case_id": case_id, "due_at": DUE, "step": step, "fire_at": fire_at,
             "status": "scheduled", "created_at": SCHEDULED}
            for case_id in cases for step, fire_at in {"overdue": DUE, **later_steps}.items()])
    return {channel_id or "": step_key(case_id, "overdue") for case_id, channel_id in cases.items()}


def reminder_keys(standin: SlackStandIn, channel_id: str) -> list[str]:
    """Keys of the bot's reminder posts in a channel, in posting order."""
    keys = []
    for message in standin.messages(channel_id):
        key = str(((message.metadata or {}).get("event_payload") or {}).get("key", ""))
        if message.bot_id and message.user == standin.bot_user_id and key.startswith("reminder:"):
            keys.append(key)
    return keys


def test_concurrent_ticks_post_each_reminder_exactly_once(database_url: str, db: Database, standin: SlackStandIn,
                                                          team: dict[str, Any], tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (set TEST_DATABASE_URL): on SQLite a single writer makes concurrent ticks "
                    "moot, and tests/test_reminders.py covers the same code path")
    expected = seed(db, standin, team)
    with db.transaction() as session:
        due_now = Tally(session.scalars(select(Reminder.step).where(Reminder.status == "scheduled",
                                                                    Reminder.fire_at <= T)))
    assert due_now == {"overdue": CASES}, "the seed must leave one due step per case"

    env = bot_env(ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)), SLACK_BOT_TOKEN=BOT_TOKEN,
                  SLACK_API_URL=standin.api_url, DATABASE_URL=database_url)
    runs = []
    for index in range(PROCESSES):
        out, err = tmp_path / f"tick{index}.out", tmp_path / f"tick{index}.err"
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen([sys.executable, "-m", "bot.cli", "tick", "--now", T.isoformat()],
                                       env=env, cwd=tmp_path, stdout=stdout, stderr=stderr)
        runs.append((process, out, err))
    try:
        for process, _, _ in runs:
            process.wait(timeout=240)
    finally:
        for process, _, _ in runs:
            if process.poll() is None:
                process.kill()
                process.wait()
    reports = []
    for index, (process, out, err) in enumerate(runs):
        stdout, stderr = out.read_text(), err.read_text()
        assert process.returncode == 0, f"tick {index} exited {process.returncode}:\n{stdout}\n{stderr}"
        found = REPORT.search(stdout)
        assert found, f"tick {index} printed no report:\n{stdout}\n{stderr}"
        reports.append(tuple(int(n) for n in found.groups()))
    print("per process (reminders fired, outbox done, retried, failed, cancelled):", reports)

    # It adds up: every due step claimed by exactly one process, every post sent by exactly one. (A tick sends at
    # most 500 outbox rows, so 1,000 posts in this one round also take two senders.)
    fired = [r[0] for r in reports]
    assert sum(fired) == CASES, reports
    assert sum(r[1] for r in reports) == CASES, reports
    assert all(r[2:] == (0, 0, 0) for r in reports), reports
    # The senders really ran side by side (sending 1,000 posts takes seconds): rows claimed under SKIP LOCKED by
    # several processes at once, each sent once. Which process claims the reminder steps is a race (two claims of
    # 500 take milliseconds): only their sum is asserted.
    assert sum(1 for r in reports if r[1] > 0) >= 2, f"one process sent every post, none ran alongside: {reports}"

    # Slack: one reminder in each case channel, the overdue one of its case; none anywhere else.
    posted: Tally[str] = Tally()
    for channel in standin.channels:
        keys = reminder_keys(standin, channel.id)
        posted.update(keys)
        if channel.id in expected:
            assert keys == [expected[channel.id]], channel.id
        else:
            assert keys == [], channel.id
    assert [key for key, count in posted.items() if count > 1] == []
    assert set(posted) == set(expected.values()) and len(posted) == CASES
    assert len(standin.calls_to("chat.postMessage")) == CASES
    assert standin.calls_to("conversations.history") == []  # no post had to be reconciled after a retry

    # Database: each overdue step fired once with its message; the rest of the period is untouched.
    ts_of = {(channel_id, key): m.ts for channel_id in expected for m in standin.messages(channel_id)
             if (key := str(((m.metadata or {}).get("event_payload") or {}).get("key", "")))}
    with db.transaction() as session:
        reminders = list(session.scalars(select(Reminder)))
        outbox_rows = list(session.scalars(select(OutboxItem)))
        case_channel = {id_: channel_id for id_, channel_id in session.execute(select(Case.id, Case.channel_id))}
        events = session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "reminder_posted"))
    statuses = Tally((r.step, r.status) for r in reminders)
    assert statuses == {("overdue", "fired"): CASES, ("escalate", "scheduled"): CASES,
                        ("leadership", "scheduled"): CASES}
    for reminder in (r for r in reminders if r.step == "overdue"):
        channel_id = case_channel[reminder.case_id]
        assert reminder.channel_id == channel_id
        assert reminder.message_ts == ts_of[(channel_id, reminder.key)], reminder.key
    assert sorted(i.key for i in outbox_rows) == sorted(expected.values())
    assert {(i.kind, i.status, i.attempts, i.lease_owner) for i in outbox_rows} == {("reminder.post", "done", 1, None)}
    assert events == CASES
