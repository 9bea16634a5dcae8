"""The sandbox's web page and its JSON API, in front of the bot's own WSGI app.

- ``GET /`` and ``GET /static/<file>``: the page (plain HTML, CSS and JS shipped in the package).
- ``GET /sandbox/api/state?user=U…&channel=C…&after=N``: what that person sees. With ``after``, the answer
  waits (up to ``LONG_POLL_SECONDS``) until the workspace changed past version N: the page stays current
  without reloading and without polling in a loop.
- ``GET /sandbox/api/file/F…``: an uploaded file (the digest's chart).
- ``POST /sandbox/api/<action>`` with a JSON body: what a person does (:mod:`bot.sandbox.acting`) and the
  clock's jumps.
- everything else goes to the bot: ``POST /slack/events``, ``/healthz``, ``/readyz``, ``/metrics``.

The page lets whoever reaches it act as anyone, so the server listens on 127.0.0.1 only, and the API
takes only requests addressed to a local host name with a JSON content type: a web page elsewhere can
neither send those cross-origin without a preflight we never grant, nor reach us by DNS rebinding.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from bot.sandbox import acting, viewer
from bot.sandbox.acting import SandboxError
from bot.sandbox.timetravel import JUMPS
from bot.web import WSGIApp, read_body

if TYPE_CHECKING:
    from bot.sandbox.workspace import Workspace

log = logging.getLogger(__name__)

LONG_POLL_SECONDS = 20.0
COALESCE_SECONDS = 0.05  # a change usually comes in a burst (a case's set-up): answer once it settled a little
MAX_API_BODY = 256 * 1024
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(html|css|js|svg)$")
_TYPES = {"html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
          "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml"}
_FILE_ID = re.compile(r"^F[0-9A-Z]+$")


def static_file(name: str) -> bytes | None:
    if not _STATIC_NAME.match(name):
        return None
    resource = resources.files("bot.sandbox").joinpath("static", name)
    return resource.read_bytes() if resource.is_file() else None


def _answer(start_response: Callable[..., Any], status: str, body: bytes, content_type: str,
            extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
               ("X-Content-Type-Options", "nosniff"), *(extra or [])]
    start_response(status, headers)
    return [body]


def _json(start_response: Callable[..., Any], data: dict[str, Any], status: str = "200 OK") -> list[bytes]:
    return _answer(start_response, status, json.dumps(data).encode(), "application/json")


def _local(environ: dict[str, Any]) -> bool:
    host = str(environ.get("HTTP_HOST") or "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name.lower() in LOCAL_HOSTS


def _post(ws: Workspace, action: str, user: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """Do ``action`` as ``user``; None when there is no such action."""
    def text(key: str) -> str:
        return str(data.get(key) or "")

    if action == "message":
        return acting.post(ws, user, text("channel"), text("text"), data.get("thread_ts") or None)
    if action == "react":
        return acting.react(ws, user, text("channel"), text("ts"), text("name"))
    if action == "join":
        return acting.join(ws, user, text("channel"))
    if action == "action":
        return acting.click(ws, user, data)
    if action == "submit":
        values = data.get("values")
        return acting.submit(ws, user, text("view_id"), values if isinstance(values, dict) else {})
    if action == "close":
        return acting.close_view(ws, user, text("view_id"))
    if action == "suggest":
        return acting.suggest(ws, user, data)
    if action == "home":
        return acting.open_home(ws, user)
    if action == "shortcut":
        return acting.shortcut(ws, user, text("callback_id"), text("channel"), text("ts"))
    return None


class Polls:
    """One long poll per page: a page that asks again (it moved to another channel, or acts as someone else)
    ends its previous poll at once, instead of leaving it to hold a server thread until it times out."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._latest: dict[str, int] = {}
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def waiting(self, client: str) -> Iterator[Callable[[], bool]]:
        with self._lock:
            token = next(self._count)
            if client:
                self._latest[client] = token
        self.ws.standin.changes.poke()  # the page's previous poll sees it was superseded
        try:
            yield lambda: bool(client) and self._latest.get(client) != token
        finally:
            with self._lock:
                if client and self._latest.get(client) == token:
                    del self._latest[client]


def sandbox_wsgi(ws: Workspace, bot: WSGIApp) -> WSGIApp:
    page = static_file("index.html")
    polls = Polls(ws)

    def api(environ: dict[str, Any], start_response: Callable[..., Any], path: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if not _local(environ):
            return _json(start_response, {"ok": False, "error": "the sandbox answers on 127.0.0.1 only"},
                         "403 Forbidden")
        if path == "state" and method == "GET":
            query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            # Someone the page does not know yet (a first visit, a workspace started afresh): the first person.
            people = [p["id"] for p in viewer.people(ws)]
            user = acting.person(ws, query["user"] if query.get("user") in people else (people or [""])[0])
            after = query.get("after", "")
            if after.lstrip("-").isdigit() and ws.standin.changes.version <= int(after):
                with polls.waiting(query.get("client", "")) as superseded:
                    if ws.standin.changes.wait(int(after), LONG_POLL_SECONDS, until=superseded) > int(after):
                        time.sleep(COALESCE_SECONDS)
            return _json(start_response, viewer.state(ws, user, query.get("channel")))
        if path.startswith("file/") and method == "GET":
            file_id = path.removeprefix("file/")
            found = ws.standin.files().get(file_id) if _FILE_ID.match(file_id) else None
            if found is None or found.get("content") is None:
                return _json(start_response, {"ok": False, "error": "file_not_found"}, "404 Not Found")
            return _answer(start_response, "200 OK", found["content"], str(found.get("mimetype") or
                                                                           "application/octet-stream"))
        if method != "POST":
            return _json(start_response, {"ok": False, "error": "not_found"}, "404 Not Found")
        if not str(environ.get("CONTENT_TYPE") or "").startswith("application/json"):
            return _json(start_response, {"ok": False, "error": "send JSON"}, "415 Unsupported Media Type")
        body = read_body(environ, MAX_API_BODY)
        if body is None:
            return _json(start_response, {"ok": False, "error": "too large"}, "413 Payload Too Large")
        data = acting.parse(body)
        if path == "clock":
            kind = str(data.get("jump") or "")
            if kind not in JUMPS:
                raise SandboxError(f"The clock jumps by one of: {', '.join(JUMPS)}.")
            return _json(start_response, {"ok": True, **ws.jump(kind)})
        user = acting.person(ws, str(data.get("user") or ""))
        answer = _post(ws, path, user, data)
        if answer is None:
            return _json(start_response, {"ok": False, "error": "not_found"}, "404 Not Found")
        return _json(start_response, answer)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/" and environ.get("REQUEST_METHOD") in ("GET", "HEAD") and page is not None:
            return _answer(start_response, "200 OK", page, _TYPES["html"])
        if path.startswith("/static/"):
            content = static_file(path.removeprefix("/static/"))
            if content is None:
                return _json(start_response, {"ok": False, "error": "not_found"}, "404 Not Found")
            return _answer(start_response, "200 OK", content, _TYPES[path.rsplit(".", 1)[1]])
        if path.startswith("/sandbox/api/"):
            try:
                return api(environ, start_response, path.removeprefix("/sandbox/api/"))
            except (SandboxError, ValueError) as exc:  # the driver's ValueErrors name what the request got wrong
                # 200 with ok: false, as Slack's Web API answers: a refusal is an answer, not a failed request.
                return _json(start_response, {"ok": False, "error": str(exc)})
        return bot(environ, start_response)

    return wsgi
