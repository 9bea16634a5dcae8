"""`advocacy-bot export cases --format json|csv [--since DATE]`, run as a subprocess against a case's record."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from storage.models import Case, PreventionAction
from tests.cli_helpers import bot_env, cli
from tests.conftest import Bot, wait_until
from tests.helpers import all_cases, setup_settled, timeline

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def open_case(bot: Bot, text: str, user: str = "U30REQ") -> Case:
    before = len(all_cases(bot.db))
    assert bot.driver.command(user, "/escalate", text, channel_id="C0GENERAL").status == 200
    wait_until(lambda: len(all_cases(bot.db)) > before and setup_settled(bot.db), message="the case set-up")
    return all_cases(bot.db)[-1]


@pytest.fixture
def history(bot: Bot) -> tuple[Bot, Case, Case]:
    """Case #1 (resolved, with messages, a response, a note and prevention actions) and #2, its recurrence."""
    bot.clock.now = T0
    first = open_case(bot, "=Acme: refund stuck p1 $12k")
    channel = str(first.channel_id)
    bot.clock.advance(minutes=10)
    ts = bot.standin.add_message(channel, "U10BILL", "Billing: the refund is re-issued")  # a person's message…
    bot.driver.event({"type": "message", "channel": channel, "user": "U10BILL",  # …and the event Slack sends
                      "text": "Billing: the refund is re-issued", "ts": ts})
    bot.clock.advance(minutes=5)
    oops, _ = bot.driver.say("U30REQ", channel, "wrong channel, sorry")
    bot.driver.delete("U30REQ", channel, oops)
    bot.driver.command("U01ADV", "/case", "note Customer called twice", channel_id=channel)
    wait_until(lambda: any(e.kind == "department_responded" for e in timeline(bot.db, first.id)))

    with bot.db.transaction() as session:
        session.execute(update(Case).where(Case.id == first.id).values(
            status="resolved", resolved_at=T0 + timedelta(days=1), next_update_due=None,
            resolution="Refund re-issued by hand", root_cause_category="process",
            root_cause="The nightly refund job skipped manual refunds"))
    bot.clock.now = T0 + timedelta(days=2)
    second = open_case(bot, "=Acme: refund stuck again")
    with bot.db.transaction() as session:
        session.execute(update(Case).where(Case.id == second.id).values(recurrence_of_id=first.id))
        for what, due, status in [("Alert on skipped refunds", date(2026, 12, 1), "open"),
                                  ("Document manual refunds", date(2026, 11, 28), "done")]:
            session.add(PreventionAction(case_id=first.id, what=what, owner_id="U01ADV", due_on=due,
                                         remind_at=datetime.combine(due, datetime.min.time(), UTC), status=status,
                                         created_by="U01ADV", created_at=T0 + timedelta(days=1)))
    return bot, first, second


def export(database_url: str, tmp_path: Path, *args: str) -> str:
    result = cli("export", "cases", *args, env=bot_env(DATABASE_URL=database_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_json_has_the_whole_record_of_each_case(history: tuple[Bot, Case, Case], database_url: str,
                                                tmp_path: Path) -> None:
    bot, first, _ = history
    exported: list[dict[str, Any]] = json.loads(export(database_url, tmp_path, "--format", "json"))
    assert [c["number"] for c in exported] == [1, 2]
    case = exported[0]
    assert {k: case[k] for k in ("number", "customer", "status", "severity", "owner", "reporter", "impact",
                                 "created_at", "resolved_at", "closed_at", "next_update_due")} == {
        "number": 1, "customer": "=Acme", "status": "resolved", "severity": "p1", "owner": "U01ADV",
        "reporter": "U30REQ", "impact": "12000.00", "created_at": "2026-11-24T09:00:00Z",
        "resolved_at": "2026-11-25T09:00:00Z", "closed_at": None, "next_update_due": None}
    assert case["channel_id"] == first.channel_id and case["customer_updates"] == []
    [billing] = case["departments"]
    assert (billing["name"], billing["heads"], billing["first_response_at"], billing["first_response_by"]) == (
        "billing", ["U10BILL"], "2026-11-24T09:10:00Z", "U10BILL")
    assert case["resolution"] == "Refund re-issued by hand"
    assert case["root_cause"] == {"category": "process", "text": "The nightly refund job skipped manual refunds"}
    assert case["prevention_actions"] == [
        {"what": "Document manual refunds", "owner": "U01ADV", "due": "2026-11-28", "done": True},
        {"what": "Alert on skipped refunds", "owner": "U01ADV", "due": "2026-12-01", "done": False}]
    assert case["recurrence_of"] is None and exported[1]["recurrence_of"] == 1
    assert exported[1]["root_cause"] is None and exported[1]["status"] == "new"

    events = case["timeline"]
    assert set(events[0]) == {"at", "actor", "kind", "text", "permalink", "deleted"}
    assert events[0] == {"at": "2026-11-24T09:00:00Z", "actor": "U30REQ", "kind": "opened", "text": "refund stuck $12k",
                         "permalink": None, "deleted": False}
    messages = [e for e in events if e["kind"] == "message"]
    assert [(m["actor"], m["text"], m["deleted"]) for m in messages] == [
        ("U10BILL", "Billing: the refund is re-issued", False), ("U30REQ", "wrong channel, sorry", True)]
    assert messages[0]["at"] == "2026-11-24T09:10:00Z"
    assert messages[0]["permalink"].endswith(f"/archives/{first.channel_id}/p{messages_ts(bot, first)}")
    kinds = [e["kind"] for e in events]
    assert kinds.index("message") < kinds.index("department_responded") < kinds.index("note")
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)


def messages_ts(bot: Bot, case: Case) -> str:
    [event] = [e for e in timeline(bot.db, case.id) if e.kind == "message" and e.actor == "U10BILL"]
    return str(event.slack_ts).replace(".", "")


def test_csv_is_one_row_per_case_with_a_header(history: tuple[Bot, Case, Case], database_url: str,
                                               tmp_path: Path) -> None:
    bot, first, _ = history
    rows = list(csv.DictReader(io.StringIO(export(database_url, tmp_path, "--format", "csv"))))
    assert list(rows[0]) == [
        "number", "customer", "status", "severity", "owner", "reporter", "departments", "impact", "channel_id",
        "created_at", "resolved_at", "closed_at", "next_update_due", "root_cause_category", "recurrence_of",
        "customer_updates", "timeline_events", "departments_answered", "prevention_actions",
        "prevention_actions_done"]
    assert len(rows) == 2
    one, two = rows
    assert one["number"] == "1" and one["customer"] == "'=Acme"  # never a spreadsheet formula
    assert (one["status"], one["severity"], one["owner"], one["reporter"]) == ("resolved", "p1", "U01ADV", "U30REQ")
    assert (one["departments"], one["impact"], one["channel_id"]) == ("billing", "12000.00", first.channel_id)
    assert (one["created_at"], one["resolved_at"], one["closed_at"]) == ("2026-11-24T09:00:00Z",
                                                                         "2026-11-25T09:00:00Z", "")
    assert (one["root_cause_category"], one["recurrence_of"], two["recurrence_of"]) == ("process", "", "1")
    assert int(one["timeline_events"]) == len(timeline(bot.db, first.id))
    assert (one["departments_answered"], one["prevention_actions"], one["prevention_actions_done"]) == ("1", "2", "1")
    assert (two["customer"], two["next_update_due"]) == ("'=Acme", "2026-11-27T09:00:00Z")


def test_since_keeps_cases_created_on_or_after_the_date(history: tuple[Bot, Case, Case], database_url: str,
                                                        tmp_path: Path) -> None:
    exported = json.loads(export(database_url, tmp_path, "--since", "2026-11-26"))
    assert [c["number"] for c in exported] == [2] and exported[0]["recurrence_of"] == 1  # #1 itself is left out
    assert [c["number"] for c in json.loads(export(database_url, tmp_path, "--since", "2026-11-24"))] == [1, 2]
    assert json.loads(export(database_url, tmp_path, "--since", "2026-11-27")) == []
    rows = list(csv.reader(io.StringIO(export(database_url, tmp_path, "--format", "csv", "--since", "2026-11-25"))))
    assert len(rows) == 2 and rows[0][0] == "number" and rows[1][0] == "2"
    bad = cli("export", "cases", "--since", "last week", env=bot_env(DATABASE_URL=database_url), cwd=tmp_path)
    assert bad.returncode == 2 and "'last week' is not a date (YYYY-MM-DD)" in bad.stderr
