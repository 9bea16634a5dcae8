"""Hostile requests to ``POST /slack/events``: signatures, replays, body size, bodies Bolt cannot read.

Every hostile body that should reach the parser is properly signed, so it is the parser (and what Bolt does
with what it parsed) that is exercised, not the signature check. Outcomes: 401 and nothing recorded for what
is not Slack's; 413 before anything parses a body over the limit; for a signed body, an acknowledgement (2xx)
or a clear 4xx — never a 404 (Slack retries it), never a 500, never a traceback in the logs.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

import bot.web as web
from bot.web import MAX_BODY_BYTES, SERVER_MAX_BODY_BYTES, make_wsgi, read_body
from tests.conftest import SIGNING_SECRET, Bot
from tests.helpers import all_cases, outbox
from tests.test_metrics_endpoint import scrape, value

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def sign(body: bytes, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Slack's v0 signature of raw bytes (the driver signs text; some bodies here are not UTF-8)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def post(bot: Bot, body: bytes | str, content_type: str, headers: dict[str, str] | None = None,
         *, signed: bool = True) -> tuple[int, bytes]:
    """POST ``body`` as it is (signed unless told not to; ``headers`` added last), the status and the answer."""
    raw = body.encode() if isinstance(body, str) else body
    all_headers = {"Content-Type": content_type, **(sign(raw) if signed else {}), **(headers or {})}
    address = urlsplit(bot.server.url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=10)
    try:
        connection.request("POST", "/slack/events", body=raw, headers=all_headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def escalate_form(text: str = "Acme: refund stuck") -> str:
    """A complete /escalate slash command: accepted, it would record a case."""
    return urlencode({"token": "x", "team_id": "T0SANDBOX", "team_domain": "sandbox", "channel_id": "C0GENERAL",
                      "channel_name": "general", "user_id": "U30REQ", "user_name": "rita.sales",
                      "command": "/escalate", "text": text, "api_app_id": "A0ADVOCACY",
                      "response_url": "https://hooks.example/commands/1", "trigger_id": "1.2.3"})


def slack_effects(bot: Bot) -> list[str]:
    """Web API calls made because of a request (Bolt's own auth.test on its first verified request aside)."""
    return [c.method for c in bot.standin.calls if c.method != "auth.test"]


def assert_nothing_recorded(bot: Bot) -> None:
    time.sleep(0.2)  # work after the ack would have started by now
    assert all_cases(bot.db) == []
    assert outbox(bot.db) == []
    assert slack_effects(bot) == []


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO)
    yield caplog


def assert_no_traceback(logs: pytest.LogCaptureFixture) -> None:
    """Nothing failed on our side: no ERROR line, no exception logged (a warning about the request is fine)."""
    bad = [f"{r.levelname} {r.name}: {r.getMessage()}" for r in logs.records
           if r.levelno >= logging.ERROR or r.exc_info]
    assert bad == []


# ---------------------------------------------------------------- signatures and timestamps


def test_missing_signature_headers_are_rejected_and_nothing_is_recorded(bot: Bot) -> None:
    for headers in ({}, {"X-Slack-Request-Timestamp": str(int(time.time()))}, {"X-Slack-Signature": "v0=00"}):
        status, _ = post(bot, escalate_form(), FORM, headers, signed=False)
        assert status == 401
    assert_nothing_recorded(bot)


def test_a_wrong_signature_is_rejected_and_nothing_is_recorded(bot: Bot) -> None:
    body = escalate_form()
    another_secret = sign(body.encode(), secret="not-the-signing-secret")
    assert post(bot, body, FORM, another_secret, signed=False)[0] == 401
    tampered = sign(escalate_form("Acme: something else").encode())  # Slack's signature of another body
    assert post(bot, body, FORM, tampered, signed=False)[0] == 401
    truncated = {**sign(body.encode())}
    truncated["X-Slack-Signature"] = truncated["X-Slack-Signature"][:-2]
    assert post(bot, body, FORM, truncated, signed=False)[0] == 401
    assert_nothing_recorded(bot)


@pytest.mark.parametrize("minutes", [-6, 6, -60 * 24], ids=["6-minutes-old", "6-minutes-ahead", "a-day-old"])
def test_a_replayed_request_outside_five_minutes_is_rejected_with_a_valid_signature(bot: Bot, minutes: int) -> None:
    """A captured request replayed later: its signature is Slack's, but its timestamp is out of the window."""
    when = int(time.time()) + minutes * 60
    response = bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck", timestamp=when)
    assert response.status == 401
    assert_nothing_recorded(bot)


@pytest.mark.parametrize("headers", [
    {"X-Slack-Request-Timestamp": "not-a-number"},
    {"X-Slack-Request-Timestamp": "1e9"},
    {"X-Slack-Request-Timestamp": "9" * 5000},  # longer than int() reads
    {"X-Slack-Request-Timestamp": ""},
    {"X-Slack-Signature": "v0=\u00e9\u00e9"},  # not ASCII: hmac.compare_digest raises on it
], ids=["word", "exponent", "5000-digits", "empty", "non-ascii-signature"])
def test_garbled_signature_headers_are_rejected_not_answered_500(
        bot: Bot, headers: dict[str, str], logs: pytest.LogCaptureFixture) -> None:
    body = escalate_form().encode()
    status, _ = post(bot, body, FORM, {**sign(body), **headers}, signed=False)
    assert status == 401
    assert_nothing_recorded(bot)
    assert_no_traceback(logs)


def test_a_rejected_request_body_is_not_logged(bot: Bot, logs: pytest.LogCaptureFixture) -> None:
    """Bolt's signature check logs a rejected body at INFO: people's text and the verification token."""
    logs.set_level(logging.DEBUG, logger="bot.web")
    body = escalate_form("Acme: the marker SECRET-CUSTOMER-TEXT")
    status, _ = post(bot, body, FORM, {"X-Slack-Signature": "v0=deadbeef"})
    assert status == 401
    assert not [r for r in logs.records if "SECRET-CUSTOMER-TEXT" in r.getMessage()]
    [line] = [r for r in logs.records if r.name == "bot.web"]
    assert line.fields["outcome"] == "rejected" and line.fields["status"] == 401  # type: ignore[attr-defined]


# ---------------------------------------------------------------- body size


@pytest.fixture
def bolt_never_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("Bolt parsed a body that is over the limit")

    monkeypatch.setattr(web, "BoltRequest", refuse)


def oversized_command() -> str:
    """A signed /escalate whose body is one byte over the limit (a case, had it been accepted)."""
    body = escalate_form("Acme: refund stuck ")
    return body + "x" * (MAX_BODY_BYTES + 1 - len(body))


def test_a_body_over_the_limit_is_answered_413_before_bolt_parses_it(bot: Bot, bolt_never_parses: None) -> None:
    body = oversized_command()
    assert len(body) == MAX_BODY_BYTES + 1
    status, answer = post(bot, body, FORM)
    assert status == 413
    assert json.loads(answer) == {"ok": False, "error": "request_too_large", "max_bytes": MAX_BODY_BYTES}
    assert_nothing_recorded(bot)
    assert value(scrape(bot), "advocacy_slack_requests_total", kind="unknown", outcome="error") == 1


def test_a_body_at_the_limit_is_read(bot: Bot) -> None:
    event = {"type": "event_callback", "event_id": "Ev0BIG", "team_id": "T0SANDBOX", "api_app_id": "A0ADVOCACY",
             "event": {"type": "channel_created", "channel": {"id": "C9", "name": "x"}}, "padding": ""}
    size = len(json.dumps(event))
    event["padding"] = "x" * (MAX_BODY_BYTES - size)
    body = json.dumps(event)
    assert len(body) == MAX_BODY_BYTES
    assert post(bot, body, JSON)[0] == 200


def test_a_chunked_body_over_the_limit_is_answered_413(bot: Bot, bolt_never_parses: None) -> None:
    """No Content-Length: the server puts the chunks together, and the limit still applies."""
    raw = oversized_command().encode()
    address = urlsplit(bot.server.url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=10)
    try:
        chunks = (raw[i:i + 65536] for i in range(0, len(raw), 65536))
        connection.request("POST", "/slack/events", body=chunks, encode_chunked=True,
                           headers={"Content-Type": FORM, **sign(raw)})
        answer = connection.getresponse()
        assert answer.status == 413 and json.loads(answer.read())["error"] == "request_too_large"
    finally:
        connection.close()
    assert_nothing_recorded(bot)


def test_a_huge_upload_is_refused_by_the_server_before_its_body_is_sent(bot: Bot, bolt_never_parses: None) -> None:
    """Over the server's own cap, waitress answers 413 from the headers alone: no gigabyte is spooled."""
    address = urlsplit(bot.server.url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=10)
    try:
        connection.putrequest("POST", "/slack/events")
        connection.putheader("Content-Type", FORM)
        connection.putheader("Content-Length", str(SERVER_MAX_BODY_BYTES * 256))
        connection.endheaders()  # and no body at all
        answer = connection.getresponse()
        assert answer.status == 413
    finally:
        connection.close()
    assert_nothing_recorded(bot)


class Endless(io.RawIOBase):
    """A request stream with more to give than anyone should read: counts what was read."""

    def __init__(self) -> None:
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), 1000)  # short reads, as sockets give
        buffer[:size] = b"x" * size
        self.taken += size
        return size


def call_wsgi(bot: Bot, environ: dict[str, Any]) -> tuple[str, bytes]:
    """The app as another WSGI server would call it (no Content-Length, as for chunked uploads)."""
    seen: list[str] = []
    body = b"".join(make_wsgi(bot.app)({"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events",
                                        "SERVER_PROTOCOL": "HTTP/1.1", **environ},
                                       lambda status, _headers: seen.append(status)))
    return seen[0], body


def test_without_content_length_reading_stops_at_the_limit(bot: Bot) -> None:
    stream = Endless()
    status, answer = call_wsgi(bot, {"wsgi.input": stream, "wsgi.input_terminated": True})
    assert status.startswith("413") and json.loads(answer)["max_bytes"] == MAX_BODY_BYTES
    assert MAX_BODY_BYTES < stream.taken <= MAX_BODY_BYTES + 1000


def test_a_stream_without_length_or_end_is_not_read(bot: Bot) -> None:
    """PEP 3333: with no Content-Length and no end marker there is nothing to read safely."""
    stream = Endless()
    status, _ = call_wsgi(bot, {"wsgi.input": stream, **{f"HTTP_{k.upper().replace('-', '_')}": v
                                                          for k, v in sign(b"").items()}})
    assert stream.taken == 0
    assert status.startswith("200")  # an empty, signed body: nothing to do, acknowledged


def test_read_body() -> None:
    assert read_body({"wsgi.input": io.BytesIO(b"abc"), "CONTENT_LENGTH": "3"}, limit=3) == b"abc"
    assert read_body({"wsgi.input": io.BytesIO(b"abcd"), "CONTENT_LENGTH": "4"}, limit=3) is None
    assert read_body({"wsgi.input": io.BytesIO(b"abc"), "wsgi.input_terminated": True}, limit=3) == b"abc"
    assert read_body({"wsgi.input": io.BytesIO(b"abcd"), "wsgi.input_terminated": True}, limit=3) is None
    assert read_body({"wsgi.input": io.BytesIO(b"abc")}, limit=3) == b""
    assert read_body({}, limit=3) == b""


# ---------------------------------------------------------------- bodies Bolt cannot take, types nobody handles


def payload(data: Any) -> str:
    return urlencode({"payload": data if isinstance(data, str) else json.dumps(data)})


def envelope(event: Any, **extra: Any) -> str:
    return json.dumps({"token": "x", "team_id": "T0SANDBOX", "api_app_id": "A0ADVOCACY", "type": "event_callback",
                       "event_id": f"Ev0{abs(hash(json.dumps(event))) % 10**8}", "event_time": int(time.time()),
                       "event": event, **extra})


USER = {"id": "U30REQ", "username": "rita.sales", "team_id": "T0SANDBOX"}
TEAM = {"id": "T0SANDBOX", "domain": "sandbox"}
# name → (body, content type, the answer): 400 for a body nobody can read, 200 for an acknowledgement.
HOSTILE: dict[str, tuple[str | bytes, str, int]] = {
    "json-truncated": ('{"type": "event_callback", "event": {"type": "mess', JSON, 400),
    "json-not-an-object": ("[1, 2, 3]", JSON, 400),
    "json-null": ("null", JSON, 400),
    "json-a-number": ("12", JSON, 400),
    "json-nested-100k-deep": ("[" * 100_000 + "]" * 100_000, JSON, 400),
    "json-raw-control-character": ('{"type": "event_callback", "x": "a\x01b"}', JSON, 400),
    "not-utf-8": (b'{"type": "event_callback", "text": "\xff\xfe"}', JSON, 400),
    "form-garbage": ("%%%&&&==&=%zz", FORM, 200),
    "form-without-command-or-payload": ("a=b&c=d", FORM, 200),
    "payload-not-json": (payload("{not json"), FORM, 400),
    "payload-a-list": (payload("[1]"), FORM, 400),
    "payload-null": (payload("null"), FORM, 400),
    "payload-empty": ("payload=", FORM, 400),
    "payload-unknown-type": (payload({"type": "mystery", "user": USER, "team": TEAM}), FORM, 200),
    "payload-without-type": (payload({"user": USER, "team": TEAM}), FORM, 200),
    "block-actions-unknown-action": (payload({"type": "block_actions", "user": USER, "team": TEAM,
                                              "actions": [{"action_id": "nobody_handles_this", "type": "button",
                                                           "block_id": "b", "action_ts": "1.2"}]}), FORM, 200),
    "block-actions-without-actions": (payload({"type": "block_actions", "user": USER, "team": TEAM}), FORM, 200),
    "block-actions-empty-actions": (payload({"type": "block_actions", "user": USER, "team": TEAM, "actions": []}),
                                    FORM, 400),
    "view-submission-unknown-callback": (payload({"type": "view_submission", "user": USER, "team": TEAM,
                                                  "view": {"id": "V1", "type": "modal", "callback_id": "nobody",
                                                           "state": {"values": {}}}}), FORM, 200),
    "view-submission-view-without-type": (payload({"type": "view_submission", "user": USER, "team": TEAM,
                                                   "view": {"id": "V1", "callback_id": "nobody"}}), FORM, 400),
    "view-closed": (payload({"type": "view_closed", "user": USER, "team": TEAM,
                             "view": {"id": "V1", "type": "modal", "callback_id": "resolve_case"}}), FORM, 200),
    "shortcut-unknown-callback": (payload({"type": "shortcut", "callback_id": "nobody", "user": USER,
                                           "team": TEAM, "trigger_id": "1.2.3"}), FORM, 200),
    "message-action-unknown-callback": (payload({"type": "message_action", "callback_id": "nobody", "user": USER,
                                                 "team": TEAM, "trigger_id": "1.2.3",
                                                 "channel": {"id": "C0GENERAL", "name": "general"},
                                                 "message": {"ts": "1.2", "text": "hi"}}), FORM, 200),
    "block-suggestion-unknown-action": (payload({"type": "block_suggestion", "action_id": "nobody", "user": USER,
                                                 "team": TEAM, "value": "x"}), FORM, 200),
    "command-not-ours": (urlencode({"command": "/nope", "text": "x", "user_id": "U30REQ", "team_id": "T0SANDBOX",
                                    "channel_id": "C0GENERAL"}), FORM, 200),
    "event-unsubscribed-type": (envelope({"type": "channel_created", "channel": {"id": "C9", "name": "x"}}),
                                JSON, 200),
    "event-type-unknown-to-slack": (envelope({"type": "no_such_event", "user": "U30REQ"}), JSON, 200),
    "event-message-without-channel": (envelope({"type": "message", "user": "U30REQ", "ts": "1.2", "text": "x"}),
                                      JSON, 200),
    "event-missing": (json.dumps({"type": "event_callback", "team_id": "T0SANDBOX", "event_id": "Ev0NONE"}),
                      JSON, 400),
    "event-not-an-object": (envelope("message"), JSON, 400),
    "envelope-unknown-type": (json.dumps({"type": "mystery", "team_id": "T0SANDBOX"}), JSON, 200),
    "empty-body": ("", JSON, 200),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_signed_body_bolt_cannot_use_is_acknowledged_or_refused_never_404_or_500(
        bot: Bot, name: str, logs: pytest.LogCaptureFixture) -> None:
    body, content_type, expected = HOSTILE[name]
    status, answer = post(bot, body, content_type)
    assert status == expected, answer
    if status == 400:
        assert json.loads(answer)["ok"] is False  # a clear answer, in JSON
    assert_nothing_recorded(bot)
    assert_no_traceback(logs)


@pytest.mark.parametrize("name", [n for n, (_, _, status) in HOSTILE.items() if status == 400])
def test_an_unsigned_body_bolt_cannot_use_is_401_like_any_unsigned_request(bot: Bot, name: str) -> None:
    """Strangers learn nothing about what the parser thought of their body."""
    body, content_type, _ = HOSTILE[name]
    assert post(bot, body, content_type, {"X-Slack-Signature": "v0=deadbeef"})[0] == 401
    assert post(bot, body, content_type, signed=False)[0] == 401


def test_unhandled_requests_are_counted_and_logged_as_acknowledged(bot: Bot, logs: pytest.LogCaptureFixture) -> None:
    body, content_type, _ = HOSTILE["block-actions-unknown-action"]
    assert post(bot, body, content_type)[0] == 200
    [line] = [r for r in logs.records if r.name == "bot.web"]
    fields = line.fields  # type: ignore[attr-defined]
    assert (fields["kind"], fields["outcome"], fields["status"], fields["note"]) == (
        "block_actions", "ok", 200, "unhandled, acknowledged")
    body, content_type, _ = HOSTILE["json-truncated"]
    assert post(bot, body, content_type)[0] == 400
    samples = scrape(bot)
    assert value(samples, "advocacy_slack_requests_total", kind="block_actions", outcome="ok") == 1
    assert value(samples, "advocacy_slack_requests_total", kind="unknown", outcome="error") == 1


def test_a_replayed_event_inside_the_window_has_one_effect(bot: Bot) -> None:
    """Slack's signature allows a replay within five minutes: events are deduplicated by event_id."""
    event = {"type": "app_home_opened", "user": "U01ADV", "channel": "D0HOME", "tab": "home"}
    body = envelope(event).encode()
    captured = sign(body)
    assert post(bot, body, JSON, captured, signed=False)[0] == 200
    assert post(bot, body, JSON, captured, signed=False)[0] == 200  # the same bytes and headers, replayed
    time.sleep(0.5)
    assert len(bot.standin.calls_to("views.publish")) == 1
