"""The HTTP surface: signatures, retried events, unhandled events, health and readiness."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from bot import web
from tests.conftest import Bot, wait_until
from tests.helpers import all_cases


def test_bad_signature_is_rejected_and_nothing_is_recorded(bot: Bot) -> None:
    response = bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck", signature="v0=deadbeef")
    assert response.status == 401
    time.sleep(0.2)
    assert all_cases(bot.db) == []
    assert bot.standin.calls == []


def test_stale_timestamp_is_rejected(bot: Bot) -> None:
    six_minutes_ago = int(time.time()) - 6 * 60
    response = bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck", timestamp=six_minutes_ago)
    assert response.status == 401
    time.sleep(0.2)
    assert all_cases(bot.db) == []


def test_a_retried_event_has_one_effect(bot: Bot) -> None:
    event = {"type": "app_home_opened", "user": "U01ADV", "channel": "D0HOME", "tab": "home"}
    first = bot.driver.event(event, event_id="Ev0HOME1")
    wait_until(lambda: bot.standin.calls_to("views.publish"))
    retry = bot.driver.event(event, event_id="Ev0HOME1", retry_num=1)
    assert first.status == retry.status == 200
    time.sleep(0.3)
    assert len(bot.standin.calls_to("views.publish")) == 1
    bot.driver.event(event, event_id="Ev0HOME2")  # a new event is handled again
    wait_until(lambda: len(bot.standin.calls_to("views.publish")) == 2)


def test_a_request_queued_too_long_is_answered_busy_and_not_handled(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every request counts as queued too long: the arrival time must reach the app from waitress.
    monkeypatch.setattr(web, "SHED_AFTER_SECONDS", -1.0)
    command = bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck")
    assert command.status == 200 and command.json() == {"response_type": "ephemeral", "text": web.BUSY}
    event = {"type": "app_home_opened", "user": "U01ADV", "channel": "D0HOME", "tab": "home"}
    shed = bot.driver.event(event, event_id="Ev0SHED")
    assert shed.status == 503 and {k.lower(): v for k, v in shed.headers.items()}.get(web.SHED_HEADER) == "1"
    unsigned = bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck", signature="v0=deadbeef")
    assert unsigned.status == 401
    time.sleep(0.3)
    assert all_cases(bot.db) == [] and not bot.standin.calls_to("views.publish")
    monkeypatch.setattr(web, "SHED_AFTER_SECONDS", 2.5)
    assert bot.driver.event(event, event_id="Ev0SHED", retry_num=1).status == 200  # its claim was never taken
    wait_until(lambda: bot.standin.calls_to("views.publish"))


def test_a_request_held_up_before_the_server_is_shed_by_its_age_only_when_busy(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    # Slack's signed timestamp says 4 s old (the kernel's accept queue, where waitress cannot time it).
    old = int(time.time()) - 4
    fresh = bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck", timestamp=old)
    shed = {"response_type": "ephemeral", "text": web.BUSY}
    assert fresh.status == 200 and fresh.json() != shed  # not busy here: a skewed clock is no reason to shed
    monkeypatch.setattr(web, "BUSY_WAIT_SECONDS", -1.0)  # requests queue for a thread here
    busy = bot.driver.command("U30REQ", "/escalate", "Globex: refund stuck", timestamp=old)
    assert busy.status == 200 and busy.json() == shed
    on_time = bot.driver.command("U30REQ", "/escalate", "Initech: refund stuck")
    assert on_time.status == 200 and on_time.json() != shed


def test_home_lists_the_cases_you_own(bot: Bot) -> None:
    bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck")
    wait_until(lambda: all_cases(bot.db) and all_cases(bot.db)[0].summary_ts)
    bot.driver.event({"type": "app_home_opened", "user": "U01ADV", "tab": "home"})
    wait_until(lambda: "U01ADV" in bot.standin.home_views)
    assert "#1 · Acme" in json.dumps(bot.standin.home_views["U01ADV"], ensure_ascii=False)


def test_unhandled_events_are_acknowledged_not_404(bot: Bot) -> None:
    response = bot.driver.event({"type": "channel_created", "channel": {"id": "C9", "name": "x"}})
    assert response.status == 200


def test_health_and_readiness(bot: Bot) -> None:
    with urllib.request.urlopen(f"{bot.server.url}/healthz", timeout=5) as answer:
        assert answer.status == 200
    try:
        urllib.request.urlopen(f"{bot.server.url}/readyz", timeout=5)
        raise AssertionError("not ready before the Slack auth check")
    except urllib.error.HTTPError as exc:
        assert exc.code == 503
        assert json.loads(exc.read())["slack_auth"] is False
    bot.svc.directory.identity()  # what `run` does at start
    calls = len(bot.standin.calls)
    for _ in range(3):
        with urllib.request.urlopen(f"{bot.server.url}/readyz", timeout=5) as answer:
            assert json.loads(answer.read()) == {"ok": True, "slack_auth": True, "database": True, "slack_token": True}
    assert len(bot.standin.calls) == calls  # probes never call Slack
