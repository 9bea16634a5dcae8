"""The HTTP surface: ``POST /slack/events`` (Bolt), ``GET /healthz``, ``GET /readyz``, ``GET /metrics``.

A plain WSGI router in front of Bolt's WSGI adapter, served by waitress (a production server).
Every Slack request is counted, timed and logged here, in front of Bolt: a request whose signature
does not check out is answered 401 by Bolt before any middleware or listener would see it.

What Bolt leaves to its host is done here too: a body over ``MAX_BODY_BYTES`` is answered 413 before
anything reads it whole; a body Bolt cannot parse (Bolt parses before it verifies the signature) is 401
when unsigned and 400 when signed, never a 500; and a verified request no listener handles is
acknowledged (200) rather than answered 404, which Slack retries.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import create_server
from waitress.task import WSGITask

from bot.app import AdvocacyApp
from bot.logs import FIELDS
from bot.observability import Metrics, SlackRequest, classify, outcome_of
from storage.db import bounded

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Slack's requests are small: a command or an event is a few KB, and the largest this app gets (a click
# on the App Home, which carries the whole Home view) tens of KB. A body over this limit is not from
# Slack: it is answered 413 without being read, let alone parsed (Bolt parses a body before it checks
# the signature), so a huge body costs the app neither memory nor parse time.
MAX_BODY_BYTES = 1024 * 1024
# waitress receives a whole request before calling the app (spooling past 512 KB to a temporary file),
# by default up to 1 GB; its own cap stops a huge upload at the socket, with a plain-text 413. It sits
# above MAX_BODY_BYTES so that a slightly large body gets the app's answer (JSON, counted and logged).
SERVER_MAX_BODY_BYTES = 4 * MAX_BODY_BYTES
_READ_CHUNK = 64 * 1024
SIGNATURE_MAX_AGE_SECONDS = 5 * 60  # Slack's replay window, as slack_sdk's verifier applies it
# Load shedding: Slack gives up on an answer after 3 s. A request that waited longer than this in waitress's
# queue (all threads busy) cannot be handled and acked in time any more: it is answered at once without
# being handled (an event 503, so that Slack redelivers it later; a command or a button "busy, try again"),
# so that an overloaded replica spends its CPU on requests it can still answer in time instead of collapsing.
SHED_AFTER_SECONDS = 2.5
# Past waitress's connection limit, requests wait in the kernel's accept queue, where waitress does not see
# them: their age is then read from Slack's signed timestamp (whole seconds, so it reads up to 1 s old: a
# request reading over SHED_AFTER_SECONDS + 0.5 is over 2 s old), but only while requests also queue for a
# thread here (over BUSY_WAIT_SECONDS), so that a clock set apart from Slack's never sheds an idle replica.
BUSY_WAIT_SECONDS = 0.1
SHED_HEADER = "x-advocacy-shed"  # on every shed answer (Slack ignores it)
RECEIVED_AT = "advocacy.received_at"  # environ key: time.monotonic() when the whole request had arrived
BUSY = (":hourglass: I am too busy to do that just now. Nothing was changed; please try again in a "
        "moment.")


def read_body(environ: dict[str, Any], limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The request body, or None when it is longer than ``limit`` (never reading more than limit + 1 bytes).

    With a Content-Length, a longer body is refused unread. Without one (chunked, under a server that
    does not set it), the body is read only when the server marks the stream as ending
    (``wsgi.input_terminated``), and no further than the limit; otherwise there is nothing to read
    safely (PEP 3333), as Bolt's own adapter assumes.
    """
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = str(environ.get("CONTENT_LENGTH") or "").strip()
    if length.isdigit():
        size = int(length)
        return None if size > limit else stream.read(size)
    if not environ.get("wsgi.input_terminated"):
        return b""
    chunks: list[bytes] = []
    received = 0
    while received <= limit:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - received))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    return None if received > limit else b"".join(chunks)


def _header(headers: dict[str, Any], name: str) -> str | None:
    value = headers.get(name)
    return value if isinstance(value, str) else None


def _timestamp_readable(value: str) -> bool:
    value = value.strip()
    return value.isascii() and value.isdigit() and len(value) <= 12


def garbled_signature(headers: dict[str, Any]) -> bool:
    """A signature header slack_sdk's verifier would raise on rather than reject, which Bolt answers 500.

    ``int()`` of a timestamp that is not a whole number, and ``hmac.compare_digest`` of a signature that is
    not ASCII, raise. Missing headers are not garbled: Bolt rejects those itself (401).
    """
    timestamp, signature = _header(headers, "x-slack-request-timestamp"), _header(headers, "x-slack-signature")
    return (timestamp is not None and not _timestamp_readable(timestamp)) or (
        signature is not None and not signature.isascii())


def too_late(waited: float, headers: dict[str, Any]) -> bool:
    """Whether a request that waited ``waited`` s for a thread here is too old to handle (SHED_AFTER_SECONDS)."""
    if waited > SHED_AFTER_SECONDS:
        return True
    if waited <= BUSY_WAIT_SECONDS:
        return False
    timestamp = _header(headers, "x-slack-request-timestamp")
    return (timestamp is not None and _timestamp_readable(timestamp)
            and time.time() - int(timestamp) > SHED_AFTER_SECONDS + 0.5)


def _json(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


# A probe answers within its own timeout (typically 1 s): a locked or unreachable database is "not ready" then.
READY_DB_SECONDS = 0.8


def readiness(app: AdvocacyApp, scheduler_running: Callable[[], bool] | None,
              socket_connected: Callable[[], bool] | None = None,
              reasons: list[str] | None = None) -> dict[str, bool]:
    """Ready = database reachable, scheduler running, Slack auth checked once at start (cached), the bot
    token not known to be revoked (a row in the database), and in Socket Mode a link to Slack open (the
    client's own state: no network call). What is wrong, in words, is added to ``reasons``.

    Never calls Slack per probe: a Slack incident must not take every replica out of service.
    """
    reasons = reasons if reasons is not None else []
    checks = {"slack_auth": app.services.directory.identity_checked}
    if not checks["slack_auth"]:
        reasons.append("Slack has not answered auth.test since start (retried in the background)")
    try:
        with bounded(READY_DB_SECONDS):
            checks["database"] = app.services.db.ping()
            revoked = app.services.token.revoked()
    except Exception:  # any driver error means "not ready"; the probe must answer, not raise
        checks["database"] = False
        reasons.append("the database does not answer")
    else:
        checks["slack_token"] = revoked is None
        if revoked is not None:
            reasons.append(revoked.describe())
    if scheduler_running is not None:
        checks["scheduler"] = scheduler_running()
    if socket_connected is not None:
        checks["socket_mode"] = socket_connected()
        if not checks["socket_mode"]:
            reasons.append("no Socket Mode link to Slack is open (the client keeps reconnecting)")
    return checks


class ObservedSlackHandler(SlackRequestHandler):
    """Bolt's WSGI adapter, plus the body limit and an answer for what Bolt cannot take, and one count,
    one ack-latency sample and one log line per request."""

    def __init__(self, app: AdvocacyApp) -> None:
        super().__init__(app.bolt)
        self.metrics: Metrics = app.services.metrics
        self.later = app.services.later
        secret = app.services.settings.slack_signing_secret
        self.secret = secret.get_secret_value().encode() if secret else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()  # the body is read below: a slow upload is part of the ack time
        received = environ.get(RECEIVED_AT)
        waited = time.monotonic() - received if isinstance(received, float) else None  # None: not from waitress
        body = read_body(environ)
        if body is None:
            response = BoltResponse(status=413, body={"ok": False, "error": "request_too_large",
                                                      "max_bytes": MAX_BODY_BYTES})
            self._observe(None, response.status, started, f"body over {MAX_BODY_BYTES} bytes")
        else:
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
            response = self.answer(WsgiHttpRequest(environ), body, started, waited)
        answer = WsgiHttpResponse(status=response.status, headers=response.headers, body=response.body)
        start_response(answer.status, answer.get_headers())
        return answer.get_body()

    def _signed(self, body: bytes, headers: dict[str, Any]) -> bool:
        """Slack's v0 signature check (what Bolt does), for bodies Bolt could not be given: it parses before it
        verifies. On the raw bytes: slack_sdk's verifier cannot take a body that is not UTF-8."""
        timestamp, signature = _header(headers, "x-slack-request-timestamp"), _header(headers, "x-slack-signature")
        if self.secret is None or timestamp is None or signature is None or garbled_signature(headers):
            return False
        if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
            return False
        base = b"v0:" + timestamp.strip().encode() + b":" + body
        return hmac.compare_digest(f"v0={hmac.new(self.secret, base, hashlib.sha256).hexdigest()}", signature)

    def answer(self, request: WsgiHttpRequest, body: bytes, started: float,
               waited: float | None = None) -> BoltResponse:
        headers = request.get_headers()
        try:
            bolt_request = BoltRequest(body=body.decode("utf-8"), query=request.query_string, headers=headers)
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:
            # Not UTF-8, JSON or a form Bolt cannot read, or JSON that is not an object: Bolt's parser raised.
            return self._unreadable(body, headers, started, type(exc).__name__)
        if bolt_request.body.get("type") == "event_callback" and not isinstance(bolt_request.body.get("event"), dict):
            return self._unreadable(body, headers, started, "its event is not an object")
        status, note = 500, ""
        try:
            if garbled_signature(headers):  # rejected, as Bolt would have had its check not raised
                status = 401
                return BoltResponse(status=401, body={"error": "invalid request"})
            if waited is not None and too_late(waited, headers):
                if not self._signed(body, headers):  # Bolt's check, which dispatch would have made
                    status = 401
                    return BoltResponse(status=401, body={"error": "invalid request"})
                response, note = self._shed(bolt_request.body), f"shed after {waited:.1f} s in the queue"
                response.headers[SHED_HEADER] = ["1"]  # for load tests: a shed click's 200 looks like any other
                status = response.status
                return response
            response = self.app.dispatch(bolt_request)
            if response.status == 404:
                # Bolt's answer when no listener matched a request it verified (a payload type, event, action
                # or callback this app does not handle): Slack retries an event answered 404 and shows the
                # person an error for an interaction. Acknowledge it (Bolt has logged it as unhandled).
                response, note = BoltResponse(status=200, body=""), "unhandled, acknowledged"
            status = response.status
            return response
        except Exception as exc:
            # Bolt catches what listeners and middleware raise; what escapes is its own code failing on a
            # payload shape Slack does not send (block_actions without actions, a view without a type, …).
            if not self._signed(body, headers):
                status = 401
                return BoltResponse(status=401, body={"error": "invalid request"})
            status, note = 400, f"malformed payload ({type(exc).__name__})"
            return BoltResponse(status=400, body={"ok": False, "error": "malformed_payload"})
        finally:  # every request is counted and logged, whatever happened
            self._observe(bolt_request, status, started, note)

    def _shed(self, body: dict[str, Any]) -> BoltResponse:
        """The answer to a request that waited too long to be handled in time: nothing is done or written."""
        if body.get("command"):  # a slash command: the ack is the answer the person sees
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": BUSY})
        if body.get("type") in ("block_actions", "message_action", "shortcut"):
            if body.get("response_url"):
                from handlers.middleware import tell_to_try_again  # handlers depend on bot, not the reverse

                self.later(tell_to_try_again, str(body["response_url"]), BUSY)
            return BoltResponse(status=200, body="")
        # Events: Slack redelivers one answered 5xx (its event id is not claimed: the redelivery is handled).
        # A modal's submission: Slack shows an error in the modal, which stays open with what was typed.
        return BoltResponse(status=503, body={"ok": False, "error": "busy"})

    def _unreadable(self, body: bytes, headers: dict[str, Any], started: float, why: str) -> BoltResponse:
        """A body Bolt cannot take: 401 when it is not Slack's (like any unsigned request), else 400."""
        if not self._signed(body, headers):
            self._observe(None, 401, started)
            return BoltResponse(status=401, body={"error": "invalid request"})
        self._observe(None, 400, started, f"malformed body ({why})")
        return BoltResponse(status=400, body={"ok": False, "error": "malformed_body"})

    def _observe(self, request: BoltRequest | None, status: int, started: float, note: str = "") -> None:
        observe_request(self.metrics, request, status, started, note)


def observe_request(metrics: Metrics, request: BoltRequest | None, status: int, started: float,
                    note: str = "") -> None:
    """The count, the ack-latency sample and the log line of one Slack request, over HTTP or Socket Mode;
    ``request`` is None for a body Bolt never got."""
    seconds = time.perf_counter() - started
    outcome = outcome_of(status)
    seen = classify(request.body, request.context) if request is not None else SlackRequest(kind="unknown")
    if outcome == "rejected":
        # Unsigned bodies are anyone's: neither their names (label cardinality) nor their ids are trusted.
        seen = SlackRequest(kind=seen.kind)
    metrics.request(seen, outcome, seconds)
    ack_ms = round(seconds * 1000, 1)
    described = " ".join(part for part in (seen.kind, seen.name) if part)
    ids = " ".join(f"{key} {value}" for key, value in seen.log_fields().items() if key not in ("kind", "name"))
    details = "; ".join(part for part in (ids, note) if part)
    log.log(logging.WARNING if outcome == "error" else logging.INFO,
            "slack %s: %s (%s) in %.0f ms%s", described, outcome, status, ack_ms, f"; {details}" if details else "",
            extra={FIELDS: {**seen.log_fields(), "outcome": outcome, "status": status, "ack_ms": ack_ms,
                            **({"note": note} if note else {})}})


def metrics_response(app: AdvocacyApp, start_response: Callable[..., Any]) -> list[bytes]:
    # A scrape reads three gauges from the database: a locked or unreachable one must not hold it past the
    # scraper's timeout (the gauges are then left out, and advocacy_state_scrape_ok says 0).
    with bounded(READY_DB_SECONDS):
        body, content_type = app.services.metrics.exposition()
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def make_wsgi(app: AdvocacyApp, *, scheduler_running: Callable[[], bool] | None = None,
              socket_connected: Callable[[], bool] | None = None) -> WSGIApp:
    slack = ObservedSlackHandler(app)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/slack/events" and method == "POST":
            return slack(environ, start_response)
        if path == "/metrics" and method == "GET":
            return metrics_response(app, start_response)
        if path == "/healthz":
            return _json(start_response, "200 OK", {"ok": True})
        if path == "/readyz":
            reasons: list[str] = []
            checks = readiness(app, scheduler_running, socket_connected, reasons)
            ok = all(checks.values())
            return _json(start_response, "200 OK" if ok else "503 Service Unavailable",
                         {"ok": ok, **checks, **({"reasons": reasons} if reasons else {})})
        return _json(start_response, "404 Not Found", {"ok": False, "error": "not_found"})

    return wsgi


class _StampedParser(HTTPRequestParser):
    """waitress's request parser, noting when the whole request had arrived (then it waits for a thread)."""

    completed_at: float | None = None

    def received(self, data: bytes) -> int:
        consumed = int(super().received(data))
        if self.completed and self.completed_at is None:
            self.completed_at = time.monotonic()
        return consumed


class _StampedTask(WSGITask):
    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        environ[RECEIVED_AT] = getattr(self.request, "completed_at", None)
        return environ


class _StampedChannel(HTTPChannel):
    """Requests carry their arrival time into the WSGI environ (``RECEIVED_AT``): the time they spent queued
    for a thread is then known to the app (see ``SHED_AFTER_SECONDS``)."""

    parser_class = _StampedParser
    task_class = _StampedTask


class HttpServer:
    """waitress in a background thread: ``run`` serves forever, tests and the sandbox stop it."""

    def __init__(self, wsgi: WSGIApp, *, host: str = "0.0.0.0", port: int = 3000, threads: int = 16) -> None:
        # Enough threads that a burst of requests does not queue behind busy ones (the tail of the
        # ack latency), few enough not to fight over the interpreter lock (bench/escalate.py).
        self.server = create_server(wsgi, host=host, port=port, threads=threads, ident="advocacy-bot",
                                    max_request_body_size=SERVER_MAX_BODY_BYTES)
        self.server.channel_class = _StampedChannel  # type: ignore[union-attr]
        self.thread: threading.Thread | None = None
        self._stopping = False

    @property
    def port(self) -> int:
        return int(self.server.effective_port)  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpServer:
        self.thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        # What exists when serving starts (the app, its config, SQLAlchemy's metadata and compiled
        # statements) lives as long as the process: keep it out of every garbage collection, whose
        # pauses would otherwise grow with it and land on whichever request is being answered.
        gc.freeze()
        try:
            self.server.run()
        except (OSError, ValueError):
            # closing the socket under waitress's select loop ends it with EBADF: expected on stop
            if not self._stopping:
                raise

    def stop(self) -> None:
        self._stopping = True
        # Let request threads finish before the socket map goes: they wake the loop when done.
        self.server.task_dispatcher.shutdown()
        self.server.close()
        if self.thread is not None:
            self.thread.join(timeout=5)
