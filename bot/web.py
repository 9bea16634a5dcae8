"""The HTTP surface: ``POST /slack/events`` (Bolt), ``GET /healthz``, ``GET /readyz``, ``GET /metrics``.

A plain WSGI router in front of Bolt's WSGI adapter, served by waitress (a production server).
Every Slack request is counted, timed and logged here, in front of Bolt: a request whose signature
does not check out is answered 401 by Bolt before any middleware or listener would see it.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from waitress.server import create_server

from bot.app import AdvocacyApp
from bot.logs import FIELDS
from bot.observability import Metrics, SlackRequest, classify, outcome_of

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _json(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def readiness(app: AdvocacyApp, scheduler_running: Callable[[], bool] | None) -> dict[str, bool]:
    """Ready = database reachable, scheduler running, Slack auth checked once at start (cached).

    Never calls Slack per probe: a Slack incident must not take every replica out of service.
    """
    checks = {"slack_auth": app.services.directory.identity_checked}
    try:
        checks["database"] = app.services.db.ping()
    except Exception:  # any driver error means "not ready"; the probe must answer, not raise
        checks["database"] = False
    if scheduler_running is not None:
        checks["scheduler"] = scheduler_running()
    return checks


class ObservedSlackHandler(SlackRequestHandler):
    """Bolt's WSGI adapter, plus one count, one ack-latency sample and one log line per request."""

    def __init__(self, app: AdvocacyApp) -> None:
        super().__init__(app.bolt)
        self.metrics: Metrics = app.services.metrics

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        started = time.perf_counter()  # the body is read below: a slow upload is part of the ack time
        bolt_request = BoltRequest(body=request.get_body(), query=request.query_string,
                                   headers=request.get_headers())
        status = 500
        try:
            response = self.app.dispatch(bolt_request)
            status = response.status
            return response
        finally:  # an exception out of Bolt (it catches listeners' own) is still a request, answered 500
            self._observe(bolt_request, status, time.perf_counter() - started)

    def _observe(self, request: BoltRequest, status: int, seconds: float) -> None:
        outcome = outcome_of(status)
        seen = classify(request.body, request.context)
        if outcome == "rejected":
            # Unsigned bodies are anyone's: neither their names (label cardinality) nor their ids are trusted.
            seen = SlackRequest(kind=seen.kind)
        self.metrics.request(seen, outcome, seconds)
        ack_ms = round(seconds * 1000, 1)
        described = " ".join(part for part in (seen.kind, seen.name) if part)
        ids = " ".join(f"{key} {value}" for key, value in seen.log_fields().items() if key not in ("kind", "name"))
        log.log(logging.WARNING if outcome == "error" else logging.INFO,
                "slack %s: %s (%s) in %.0f ms%s", described, outcome, status, ack_ms, f"; {ids}" if ids else "",
                extra={FIELDS: {**seen.log_fields(), "outcome": outcome, "status": status, "ack_ms": ack_ms}})


def metrics_response(app: AdvocacyApp, start_response: Callable[..., Any]) -> list[bytes]:
    body, content_type = app.services.metrics.exposition()
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def make_wsgi(app: AdvocacyApp, *, scheduler_running: Callable[[], bool] | None = None) -> WSGIApp:
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
            checks = readiness(app, scheduler_running)
            ok = all(checks.values())
            return _json(start_response, "200 OK" if ok else "503 Service Unavailable", {"ok": ok, **checks})
        return _json(start_response, "404 Not Found", {"ok": False, "error": "not_found"})

    return wsgi


class HttpServer:
    """waitress in a background thread: ``run`` serves forever, tests and the sandbox stop it."""

    def __init__(self, wsgi: WSGIApp, *, host: str = "0.0.0.0", port: int = 3000, threads: int = 16) -> None:
        # Enough threads that a burst of requests does not queue behind busy ones (the tail of the
        # ack latency), few enough not to fight over the interpreter lock (bench/escalate.py).
        self.server = create_server(wsgi, host=host, port=port, threads=threads, ident="advocacy-bot")
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
