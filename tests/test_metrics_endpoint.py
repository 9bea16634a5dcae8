"""``GET /metrics`` as Prometheus scrapes it, after signed Slack requests, Slack API calls and a tick;
and the one log line per Slack request."""

from __future__ import annotations

import logging
import time
import urllib.request
from datetime import datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from jobs.tick import tick
from storage.models import Reminder
from tests.conftest import Bot, wait_until
from tests.helpers import all_cases, outbox, setup_settled

Labels = dict[str, str]


def scrape(bot: Bot) -> dict[str, list[tuple[Labels, float]]]:
    """Every sample of the exposition by sample name (``…_total``, ``…_count``, ``…_bucket``)."""
    with urllib.request.urlopen(f"{bot.server.url}/metrics", timeout=5) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=")
        text = answer.read().decode()
    samples: dict[str, list[tuple[Labels, float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def value(samples: dict[str, list[tuple[Labels, float]]], metric: str, /, **labels: str) -> float | None:
    """The value of the one sample of ``metric`` whose labels include ``labels``; None when there is none."""
    found = [v for sample_labels, v in samples.get(metric, []) if labels.items() <= sample_labels.items()]
    assert len(found) <= 1, f"{metric}{labels} matches {len(found)} samples"
    return found[0] if found else None


def escalate(bot: Bot, text: str = "Acme: refund stuck") -> None:
    assert bot.driver.command("U30REQ", "/escalate", text).status == 200


def oldest_overdue(bot: Bot, now: datetime) -> datetime | None:
    with bot.db.transaction() as session:
        return session.scalar(select(func.min(Reminder.fire_at))
                              .where(Reminder.status == "scheduled", Reminder.fire_at < now))


def test_requests_slack_calls_outbox_reminders_and_ticks_are_on_metrics(bot: Bot) -> None:
    escalate(bot)
    wait_until(lambda: setup_settled(bot.db), message="the case set-up")
    [case] = all_cases(bot.db)
    _, said = bot.driver.say("U01ADV", case.channel_id, "Called the customer, looking into it")
    assert said.status == 200
    rejected = bot.driver.command("U30REQ", "/escalate", "Acme: again", signature="v0=deadbeef")
    assert rejected.status == 401

    # The customer update is due a day after the case opened: a day and an hour on, its reminders are
    # overdue, and stay so until a tick fires them. The next post fails once: one outbox row waits.
    bot.clock.advance(hours=25)
    oldest = oldest_overdue(bot, bot.clock())
    assert oldest is not None
    before = scrape(bot)
    assert value(before, "advocacy_oldest_overdue_reminder_seconds") == (bot.clock() - oldest).total_seconds() > 3600
    assert value(before, "advocacy_outbox_pending") == 0
    assert value(before, "advocacy_outbox_failed") == 0
    assert value(before, "advocacy_tick_seconds_count") == 0
    bot.standin.fail("chat.postMessage", status=500)
    report = tick(bot.svc)
    assert report.outbox.retried == 1 and not report.errors

    after = scrape(bot)
    requests = "advocacy_slack_requests_total"
    assert value(after, requests, kind="command", name="/escalate", outcome="ok") == 1
    assert value(after, requests, kind="event", name="message", outcome="ok") == 1
    # an unsigned body names nothing: its command is not a label value, whatever it claims
    assert value(after, requests, kind="command", name="", outcome="rejected") == 1
    assert sum(v for _, v in after[requests]) == 3
    assert value(after, "advocacy_ack_seconds_count", kind="command") == 2
    assert value(after, "advocacy_ack_seconds_count", kind="event") == 1
    assert value(after, "advocacy_ack_seconds_bucket", kind="command", le="+Inf") == 2
    assert value(after, "advocacy_ack_seconds_bucket", kind="command", le="3.0") == 2  # under Slack's 3 s

    calls = "advocacy_slack_api_calls_total"
    assert value(after, calls, method="conversations.create", outcome="ok") == 1
    assert value(after, calls, method="chat.postMessage", outcome="ok") == len(
        [c for c in bot.standin.calls_to("chat.postMessage") if c.ok])
    assert value(after, calls, method="chat.postMessage", outcome="error") == 1  # the 500
    # every call the stand-in saw is counted, but Bolt's own auth.test at the first request (made with
    # its per-request client, which sends the team_id, before any middleware of ours runs)
    ours = [c for c in bot.standin.calls if not (c.method == "auth.test" and "team_id" in c.params)]
    assert sum(v for _, v in after[calls]) == len(ours)
    assert value(after, "advocacy_slack_api_ratelimited_total", method="chat.postMessage") is None

    pending = [item for item in outbox(bot.db) if item.status == "pending"]
    assert value(after, "advocacy_outbox_pending") == len(pending) == 1
    assert value(after, "advocacy_oldest_overdue_reminder_seconds") == 0  # the tick claimed them
    assert value(after, "advocacy_tick_seconds_count") == 1
    assert value(after, "advocacy_tick_runs_total", outcome="ok") == 1
    assert value(after, "advocacy_state_scrape_ok") == 1


def test_a_rate_limited_call_is_counted_as_ratelimited(bot: Bot) -> None:
    bot.standin.fail("conversations.create", status=429, retry_after=7)
    escalate(bot)
    wait_until(lambda: any(i.last_error == "ratelimited" and i.lease_owner is None for i in outbox(bot.db)),
               message="the rate-limited step to wait for its retry")
    samples = scrape(bot)
    assert value(samples, "advocacy_slack_api_calls_total", method="conversations.create", outcome="ratelimited") == 1
    assert value(samples, "advocacy_slack_api_calls_total", method="conversations.create", outcome="ok") is None
    assert value(samples, "advocacy_slack_api_ratelimited_total", method="conversations.create") == 1
    assert value(samples, "advocacy_outbox_pending") == len(
        [i for i in outbox(bot.db) if i.status == "pending"]) > 0


def test_a_scrape_answers_when_the_database_does_not(bot: Bot, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    escalate(bot)
    wait_until(lambda: setup_settled(bot.db), message="the case set-up")

    def unavailable(**_: object) -> None:
        raise OperationalError("SELECT", {}, Exception("database is gone"))

    monkeypatch.setattr(bot.svc.db, "transaction", unavailable)
    with caplog.at_level(logging.WARNING, logger="bot.observability"):
        samples = scrape(bot)
    assert value(samples, "advocacy_state_scrape_ok") == 0
    assert "advocacy_outbox_pending" not in samples and "advocacy_oldest_overdue_reminder_seconds" not in samples
    assert value(samples, "advocacy_slack_requests_total", kind="command", outcome="ok") == 1
    assert any("could not read the outbox" in r.getMessage() for r in caplog.records)


def test_a_dead_letter_is_counted_as_failed_and_the_gauge_follows_the_database(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    def failed_rows() -> int:
        return len([item for item in outbox(bot.db) if item.status == "failed"])

    assert value(scrape(bot), "advocacy_outbox_failed") == 0
    # Slack refuses the channel for good (not a 429 or 5xx): no retry, a dead letter, a person told.
    bot.standin.fail("conversations.create", error="restricted_action")
    escalate(bot)
    wait_until(lambda: setup_settled(bot.db), message="the set-up to fail and its DMs to go out")
    assert bot.standin.messages(bot.standin.dm_channel("U30REQ") or "")  # the person was told
    samples = scrape(bot)
    assert value(samples, "advocacy_outbox_failed") == failed_rows() == 1
    assert value(samples, "advocacy_outbox_pending") == 0
    assert value(scrape(bot), "advocacy_outbox_failed") == 1  # a gauge read from the rows: scraping adds nothing

    # A scrape while the database fails leaves the gauge out (no stale or zero value for an alert to trust) …
    real_transaction = bot.svc.db.transaction

    def unavailable(**_: object) -> None:
        raise OperationalError("SELECT", {}, Exception("database is gone"))

    monkeypatch.setattr(bot.svc.db, "transaction", unavailable)
    assert "advocacy_outbox_failed" not in scrape(bot)
    monkeypatch.setattr(bot.svc.db, "transaction", real_transaction)

    # … and once it answers, the gauge matches the database again, a second dead letter included.
    bot.standin.fail("conversations.create", error="restricted_action")
    escalate(bot, "Globex: printer on fire")
    wait_until(lambda: len(all_cases(bot.db)) == 2 and setup_settled(bot.db), message="the second set-up")
    assert value(scrape(bot), "advocacy_outbox_failed") == failed_rows() == 2


def test_apps_in_one_process_count_on_their_own(bot: Bot) -> None:
    """Each app has its own registry: a second app neither fails to register nor shares counts."""
    from bot.app import create_app

    other = create_app(bot.svc.settings, config=bot.svc.config, db=bot.db, clock=bot.clock)
    try:
        escalate(bot)
        wait_until(lambda: setup_settled(bot.db), message="the case set-up")
        text = other.services.metrics.exposition()[0].decode()
        assert 'advocacy_slack_requests_total{kind="command"' not in text
        assert value(scrape(bot), "advocacy_slack_requests_total", kind="command", outcome="ok") == 1
    finally:
        other.services.close()


def test_one_log_line_per_slack_request(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bot.web"):
        escalate(bot)
        wait_until(lambda: setup_settled(bot.db), message="the case set-up")
        [case] = all_cases(bot.db)
        bot.driver.command("U01ADV", "/case", "help", channel_id=case.channel_id, channel_name=case.channel_name)
        bot.driver.command("U30REQ", "/escalate", "Acme: again", signature="v0=deadbeef")
        time.sleep(0.1)
    lines = [r for r in caplog.records if r.name == "bot.web"]
    assert len(lines) == 3
    first, in_case, rejected = (r.fields for r in lines)  # type: ignore[attr-defined]
    assert first["kind"] == "command" and first["name"] == "/escalate" and first["outcome"] == "ok"
    assert first["user"] == "U30REQ" and first["channel"] == "C0GENERAL" and first["team"] == "T0SANDBOX"
    assert 0 < first["ack_ms"] < 3000 and "case" not in first
    assert in_case["name"] == "/case" and in_case["channel"] == case.channel_id and in_case["case"] == case.number
    assert rejected["outcome"] == "rejected" and rejected["status"] == 401 and "user" not in rejected
    assert "slack command /escalate: ok (200) in" in lines[0].getMessage()
    assert "user U30REQ channel C0GENERAL" in lines[0].getMessage()


def test_metrics_tick_with_a_failing_job_counts_an_error(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    import jobs.tick

    def broken(_svc: object, _now: datetime) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(jobs.tick, "JOBS", [("broken", broken), *jobs.tick.JOBS])
    report = tick(bot.svc, bot.clock() + timedelta(minutes=1))
    assert report.errors == {"broken": "RuntimeError: boom"}
    samples = scrape(bot)
    assert value(samples, "advocacy_tick_runs_total", outcome="error") == 1
    assert value(samples, "advocacy_tick_seconds_count") == 1


def test_event_lines_and_effect_runs_carry_the_case_number_and_slack_ids(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    """Events name only a channel id: the listener tells the request's line which case it was about; every
    outbox run (channel created, reminder posted…) logs one line with its case and the Slack ids it made."""
    with caplog.at_level(logging.INFO):
        escalate(bot, "Acme: refund stuck p1")
        wait_until(lambda: setup_settled(bot.db), message="the case set-up")
        [case] = all_cases(bot.db)
        channel = case.channel_id or ""
        assert bot.driver.say("U10BILL", channel, "Looking at the refund")[1].status == 200
        bot.clock.advance(hours=2)
        tick(bot.svc, bot.clock())
        wait_until(lambda: all(i.status != "pending" or i.due_at > bot.clock() for i in outbox(bot.db)),
                   message="the outbox to drain")
        reminder = next(m for m in bot.standin.messages(channel)
                        if str((m.metadata or {}).get("event_payload", {}).get("key", "")).endswith("overdue"))
        assert bot.driver.react("U01ADV", channel, reminder.ts, "white_check_mark").status == 200
        assert bot.driver.react("U40OTHER", channel, reminder.ts, "tada").status == 200  # answers nothing
    requests = [r.fields for r in caplog.records if r.name == "bot.web"]  # type: ignore[attr-defined]
    reply = next(f for f in requests if f["name"] == "message")
    assert (reply["case"], reply["channel"], reply["user"]) == (case.number, channel, "U10BILL")
    check, tada = [f for f in requests if f["name"] == "reaction_added"]
    assert (check["case"], check["user"]) == (case.number, "U01ADV") and "case" not in tada
    runs = [r for r in caplog.records if r.name == "jobs.outbox" and "effect" in getattr(r, "fields", {})]
    created = next(r for r in runs if r.fields["effect"] == "case.create_channel")  # type: ignore[attr-defined]
    assert created.fields["case"] == case.number and created.fields["channel"] == channel  # type: ignore[attr-defined]
    assert created.fields["status"] == "done"  # type: ignore[attr-defined]
    posted = next(r for r in runs if r.fields["effect"] == "reminder.post")  # type: ignore[attr-defined]
    assert posted.fields["ts"] == reminder.ts and posted.fields["case"] == case.number  # type: ignore[attr-defined]
    assert f"case {case.number} channel {channel} ts {reminder.ts}" in posted.getMessage()
