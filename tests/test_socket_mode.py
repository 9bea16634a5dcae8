"""Socket Mode, for real: the stand-in's apps.connections.open and WebSocket link speak Slack's protocol
(hello, envelopes acked by envelope_id, redelivery, disconnect and reconnect), and the bot - slack_sdk's
own client inside Bolt's handler, as ``advocacy-bot run`` uses it - answers over it like it does over HTTP."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

import bot.socket_mode as socket_mode_module
from bot.sandbox.driver import SlackDriver
from bot.sandbox.standin import SlackStandIn
from bot.socket_mode import AdvocacySocketMode, AppTokenRejected
from tests.cli_helpers import bot_env, cli, free_port, write_config
from tests.conftest import BOT_TOKEN, Bot, over_both_transports, wait_until
from tests.helpers import all_cases, setup_settled

socket_only = pytest.mark.parametrize("transport", ["socket"], indirect=True)
EVENT = {"type": "event_callback", "event_id": "Ev0SOCKET", "team_id": "T0SANDBOX", "api_app_id": "A0ADVOCACY",
         "event": {"type": "reaction_added", "user": "U01ADV", "reaction": "eyes",
                   "item": {"type": "message", "channel": "C0GENERAL", "ts": "1.000001"}}}


def link_url(standin: SlackStandIn) -> str:
    return str(WebClient(base_url=standin.api_url).apps_connections_open(app_token=standin.app_token)["url"])


@pytest.fixture
def link(standin: SlackStandIn) -> Iterator[ClientConnection]:
    """An app's link opened by hand (no Bolt), its hello already read."""
    with connect(link_url(standin), open_timeout=5) as connection:
        hello = json.loads(connection.recv(timeout=5))
        assert hello["type"] == "hello"
        yield connection


def receive(connection: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    return json.loads(connection.recv(timeout=timeout))


def send_in_background(standin: SlackStandIn, kind: str, payload: dict[str, Any]) -> None:
    threading.Thread(target=standin.socket_mode.send, args=(kind, payload), daemon=True).start()


# ---------------------------------------------------------------- apps.connections.open


def test_apps_connections_open_takes_only_the_app_level_token_in_the_header(standin: SlackStandIn) -> None:
    url = link_url(standin)
    assert url.startswith("ws://127.0.0.1:") and "/link/?ticket=" in url and "app_id=A0ADVOCACY" in url
    assert link_url(standin) != url  # a fresh ticket every time

    def error(call: Any) -> str:
        with pytest.raises(SlackApiError) as raised:
            call()
        return str(raised.value.response["error"])

    app_client = WebClient(token=standin.app_token, base_url=standin.api_url)
    assert error(lambda: WebClient(base_url=standin.api_url).apps_connections_open(app_token=BOT_TOKEN)) == (
        "not_allowed_token_type")
    assert error(lambda: app_client.chat_postMessage(channel="C0GENERAL", text="hi")) == "not_allowed_token_type"
    assert error(lambda: WebClient(base_url=standin.api_url).apps_connections_open(app_token="xapp-1-nope")) == (
        "invalid_auth")
    body = f"token={standin.app_token}".encode()  # Slack wants it in the Authorization header only
    request = urllib.request.Request(f"{standin.api_url}apps.connections.open", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert json.loads(answer.read()) == {"ok": False, "error": "not_authed"}


def test_a_link_url_opens_one_link(standin: SlackStandIn) -> None:
    url = link_url(standin)
    with connect(url, open_timeout=5) as first:
        assert json.loads(first.recv(timeout=5))["num_connections"] == 1
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=5)
        assert refused.value.response.status_code == 401
        with connect(link_url(standin), open_timeout=5) as second:
            hello = json.loads(second.recv(timeout=5))
            assert hello == {"type": "hello", "num_connections": 2,
                             "debug_info": {"host": "applink-standin", "build_number": 1,
                                            "approximate_connection_time": 18060},
                             "connection_info": {"app_id": "A0ADVOCACY"}}


# ---------------------------------------------------------------- envelopes


def test_envelopes_are_acknowledged_by_envelope_id_with_the_answer(standin: SlackStandIn,
                                                                    link: ClientConnection) -> None:
    command = {"command": "/escalate", "text": "Acme: refund stuck", "user_id": "U30REQ"}
    send_in_background(standin, "slash_commands", command)
    envelope = receive(link)
    assert envelope["type"] == "slash_commands" and envelope["payload"] == command
    assert envelope["accepts_response_payload"] is True
    assert (envelope["retry_attempt"], envelope["retry_reason"]) == (0, "")
    link.send(json.dumps({"envelope_id": "not-one-of-yours", "payload": {"text": "stray"}}))
    link.send(json.dumps({"envelope_id": envelope["envelope_id"], "payload": {"text": "Escalating"}}))
    [delivery] = standin.socket_mode.deliveries
    assert delivery.wait(5) and delivery.response == {"text": "Escalating"}
    assert delivery.acked_envelope_id == envelope["envelope_id"]
    assert standin.socket_mode.stray_acks == [{"envelope_id": "not-one-of-yours", "payload": {"text": "stray"}}]

    send_in_background(standin, "interactive", {"type": "block_actions", "actions": []})
    assert receive(link)["accepts_response_payload"] is False  # Slack ignores an answer to a button
    send_in_background(standin, "interactive", {"type": "view_submission", "view": {}})
    assert receive(link)["accepts_response_payload"] is True  # … but reads one to a view submission


def test_an_unacknowledged_event_is_delivered_again_with_the_next_retry_attempt(standin: SlackStandIn,
                                                                               link: ClientConnection) -> None:
    standin.socket_mode.ack_timeout = 0.5
    send_in_background(standin, "events_api", EVENT)
    first, second = receive(link), receive(link)
    assert first["type"] == second["type"] == "events_api" and first["payload"] == second["payload"] == EVENT
    assert first["accepts_response_payload"] is False
    assert (first["retry_attempt"], second["retry_attempt"], second["retry_reason"]) == (0, 1, "timeout")
    assert second["envelope_id"] != first["envelope_id"]
    link.send(json.dumps({"envelope_id": second["envelope_id"]}))
    with pytest.raises(TimeoutError):
        link.recv(timeout=1.0)  # acknowledged: no further attempt
    [delivery] = standin.socket_mode.deliveries
    assert delivery.acked and delivery.response is None and len(delivery.attempts) == 2

    # Slack gives up after three retries; commands and interactions are never retried (a person waits).
    send_in_background(standin, "events_api", {**EVENT, "event_id": "Ev0IGNORED"})
    attempts = [receive(link)["retry_attempt"] for _ in range(4)]
    assert attempts == [0, 1, 2, 3]
    send_in_background(standin, "slash_commands", {"command": "/case"})
    assert receive(link)["type"] == "slash_commands"
    with pytest.raises(TimeoutError):
        link.recv(timeout=1.0)


def test_a_link_asked_to_refresh_gets_no_new_envelopes_and_is_closed_if_the_app_stays(
        standin: SlackStandIn, link: ClientConnection) -> None:
    standin.socket_mode.drain_seconds = 0.5
    assert standin.socket_mode.disconnect() == 1
    message = receive(link)
    assert message == {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "applink-standin"}}
    with pytest.raises(ConnectionClosed) as closed:
        link.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    wait_until(lambda: standin.socket_mode.open_links == 0, message="the old link to close")


# ---------------------------------------------------------------- the bot over Socket Mode


@socket_only
def test_the_bot_reconnects_through_apps_connections_open_when_slack_asks(bot: Bot) -> None:
    server = bot.standin.socket_mode
    assert len(bot.standin.calls_to("apps.connections.open")) == 1 and server.links_opened == 1
    server.disconnect()
    assert server.wait_for_link(opened=2), "the bot did not open a new link"
    assert len(bot.standin.calls_to("apps.connections.open")) == 2  # a new URL: tickets are single-use
    wait_until(lambda: server.open_links == 1, message="the bot to close its old link")
    assert bot.socket_mode is not None and bot.socket_mode.connected()

    response = bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck p1", channel_id="C0GENERAL")
    assert response.status == 200 and "Escalating" in response.text
    wait_until(lambda: setup_settled(bot.db), message="the case set-up")
    [case] = all_cases(bot.db)
    assert bot.standin.channel(case.channel_id).name == "case-1-acme"
    assert server.deliveries[-1].attempts[0].link == 2  # delivered on the new link


@pytest.fixture
def quick_link_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk's client pings every PING_INTERVAL_SECONDS and, while no link is open, tries to open one at
    the same pace: ping often here, so that a retry comes within a second instead of ten."""
    monkeypatch.setattr(socket_mode_module, "PING_INTERVAL_SECONDS", 0.5)


@socket_only
def test_the_bot_reconnects_at_once_after_the_link_drops_without_a_disconnect(bot: Bot) -> None:
    # The production ping interval (10 s): slack_sdk alone would notice the dead link only after five
    # unanswered pings, 40-60 s; the ended stream is seen on the socket at once.
    assert socket_mode_module.PING_INTERVAL_SECONDS == 10
    server = bot.standin.socket_mode
    assert server.links_opened == 1
    assert server.drop() == 1  # the TCP connection ends: no disconnect message, no close frame
    assert server.wait_for_link(timeout=5, opened=2), "the bot did not open a new link at once"
    assert len(bot.standin.calls_to("apps.connections.open")) == 2  # a new URL: tickets are single-use
    assert not any(isinstance(m, dict) and m.get("type") == "disconnect" for m in server.received())
    assert bot.socket_mode is not None
    wait_until(bot.socket_mode.connected, message="the bot to see its new link")

    response = bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck p1", channel_id="C0GENERAL")
    assert response.status == 200 and "Escalating" in response.text
    wait_until(lambda: setup_settled(bot.db), message="the case set-up")
    [case] = all_cases(bot.db)
    assert bot.standin.channel(case.channel_id).name == "case-1-acme"
    assert [m for m in bot.standin.messages(case.channel_id) if m.bot_id]  # the summary was posted
    assert server.deliveries[-1].attempts[0].link == 2  # delivered on the new link
    assert server.links_opened == 2 and server.open_links == 1  # one replacement, not one per party noticing


@socket_only
@pytest.mark.usefixtures("quick_link_checks")  # before ``bot``: the interval is read when the link is made
def test_a_dropped_link_slack_will_not_replace_yet_makes_the_bot_not_ready_until_it_does(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    bot.app.services.directory.identity()  # what run does at start (auth.test, cached)
    assert readyz(bot.server.url)[0] == 200
    bot.standin.fail("apps.connections.open", status=503, times=None)  # Slack failing until cleared
    calls_before = len(bot.standin.calls_to("apps.connections.open"))
    assert bot.standin.socket_mode.drop() == 1
    wait_until(lambda: len(bot.standin.calls_to("apps.connections.open")) >= calls_before + 2,
               message="the bot to keep asking for a new link")
    status, body = readyz(bot.server.url)
    assert status == 503 and body["socket_mode"] is False  # no link: a load balancer stops sending here

    bot.standin.clear_faults()
    assert bot.standin.socket_mode.wait_for_link(timeout=10, opened=2)
    wait_until(lambda: readyz(bot.server.url)[0] == 200, message="ready again without a restart")
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.socket_mode"]
    assert any("ended without a close frame" in w for w in warnings), warnings


@socket_only
def test_a_redelivered_event_has_one_effect(bot: Bot) -> None:
    event = {"type": "app_home_opened", "user": "U01ADV", "channel": "D0HOME", "tab": "home"}
    assert bot.driver.event(event, event_id="Ev0TWICE").status == 200
    wait_until(lambda: bot.standin.calls_to("views.publish"), message="the Home tab")
    server = bot.standin.socket_mode
    again = server.deliver("events_api", server.deliveries[-1].payload, retry_attempt=1, retry_reason="timeout")
    assert again.acked and again.attempts[0].retry_attempt == 1  # acknowledged …
    time.sleep(0.5)
    assert len(bot.standin.calls_to("views.publish")) == 1  # … and deduplicated by event_id


@over_both_transports
def test_a_request_no_listener_handles_is_acknowledged_counted_and_logged(bot: Bot,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    ts = bot.standin.add_message("C0GENERAL", "U30REQ", "hello")
    response = bot.driver.block_action("U30REQ", "no_listener_for_this", channel_id="C0GENERAL", message_ts=ts)
    assert (response.status, response.text) == (200, "")  # over Socket Mode: an ack without payload
    [line] = [r for r in caplog.records if r.name == "bot.web"]
    fields = line.fields  # type: ignore[attr-defined]
    assert (fields["kind"], fields["outcome"], fields["status"], fields["note"]) == (
        "block_actions", "ok", 200, "unhandled, acknowledged")
    body, _ = bot.svc.metrics.exposition()
    counted = {(s.labels["kind"], s.labels["outcome"]): s.value
               for family in text_string_to_metric_families(body.decode())
               for s in family.samples if s.name == "advocacy_slack_requests_total"}
    assert counted == {("block_actions", "ok"): 1.0}
    if bot.socket_mode is not None:
        assert bot.standin.socket_mode.deliveries[-1].acks == [
            {"envelope_id": bot.standin.socket_mode.deliveries[-1].attempts[0].envelope_id}]


def readyz(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


@socket_only
def test_readyz_reflects_the_socket_mode_link(bot: Bot) -> None:
    bot.app.services.directory.identity()  # what run does at start (auth.test, cached)
    status, body = readyz(bot.server.url)
    assert status == 200 and body["socket_mode"] is True
    assert bot.socket_mode is not None
    bot.socket_mode.close()
    status, body = readyz(bot.server.url)
    assert status == 503 and body["socket_mode"] is False


def test_slack_failing_at_start_is_tried_again_until_a_link_opens(bot: Bot) -> None:
    bot.standin.fail("apps.connections.open", status=503, times=2)
    link = AdvocacySocketMode(bot.app, bot.standin.app_token)
    try:
        assert link.open_link() is False and not link.connected()  # logged, to be tried again
        link.keep_opening(threading.Event(), delays=(0.05,))
        assert link.connected() and bot.standin.socket_mode.wait_for_link()
        assert [c.status for c in bot.standin.calls_to("apps.connections.open")] == [503, 503, 200]
    finally:
        link.close()
    refused = AdvocacySocketMode(bot.app, "xapp-1-A0ADVOCACY-3-wrong")
    try:
        with pytest.raises(AppTokenRejected, match="invalid_auth"):
            refused.open_link()
    finally:
        refused.close()


# ---------------------------------------------------------------- advocacy-bot run


def test_run_in_socket_mode_serves_health_checks_escalates_and_stops_on_sigterm(
        tmp_path: Path, team: dict, standin: SlackStandIn, database_url: str) -> None:
    port = free_port()
    env = bot_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=standin.app_token, SLACK_API_URL=standin.api_url,
                  DATABASE_URL=database_url, ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)),
                  PORT=str(port))  # no SLACK_SIGNING_SECRET: Socket Mode does not need one
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: readyz(url)[0] == 200 or process.poll() is not None, timeout=30,
                   message="the bot to be ready")
        assert process.poll() is None
        status, body = readyz(url)
        assert status == 200 and body["socket_mode"] is True and body["slack_auth"] is True
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            assert answer.status == 200
        assert len(standin.calls_to("apps.connections.open")) == 1  # through SLACK_API_URL, not slack.com

        driver = SlackDriver("", signing_secret="", standin=standin, transport="socket")
        response = driver.command("U30REQ", "/escalate", "Acme: refund stuck p1", channel_id="C0GENERAL")
        assert response.status == 200 and "Escalating" in response.text
        wait_until(lambda: standin.channel_by_name("case-1-acme"), timeout=15, message="the case channel")

        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        log = process.stdout.read() if process.stdout else ""
        print(log)  # the bot's log, shown if the test fails
    assert "Socket Mode; health checks on port" in log
    assert standin.app_token not in log and BOT_TOKEN not in log
    wait_until(lambda: standin.socket_mode.open_links == 0, message="the link to be closed")


def test_an_app_token_slack_rejects_stops_start_up_with_one_line(tmp_path: Path, team: dict,
                                                                standin: SlackStandIn) -> None:
    env = bot_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN="xapp-1-A0ADVOCACY-2-revoked",
                  SLACK_API_URL=standin.api_url, DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
                  ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)), PORT=str(free_port()))
    result = cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    # (the scheduler's first tick may log around it: look for the line, not at the last one)
    assert [line for line in result.stderr.splitlines() if line.startswith("advocacy-bot:")] == [
        "advocacy-bot: Slack rejected SLACK_APP_TOKEN at apps.connections.open: invalid_auth"]
    assert "xapp-1-A0ADVOCACY-2-revoked" not in result.stderr + result.stdout
