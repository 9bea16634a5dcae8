"""The HTTP surface: ``POST /slack/events`` (Bolt), ``GET /healthz``, ``GET /readyz``.

A plain WSGI router in front of Bolt's WSGI adapter, served by waitress (a production server).
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

from bot.app import AdvocacyApp

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


def make_wsgi(app: AdvocacyApp, *, scheduler_running: Callable[[], bool] | None = None) -> WSGIApp:
    slack = SlackRequestHandler(app.bolt)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/slack/events" and method == "POST":
            return slack(environ, start_response)
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
