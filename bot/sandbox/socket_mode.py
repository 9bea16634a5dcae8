"""Slack's side of Socket Mode, for the stand-in: ``apps.connections.open`` and the WebSocket link.

As Slack does it: the app calls ``apps.connections.open`` with its app-level token (``xapp-…``, in the
Authorization header) and gets a single-use ``ws…/link/?ticket=…`` URL. On connecting it is greeted
with ``hello``. Slack then pushes envelopes - ``events_api`` (the event callback), ``slash_commands``
(the command's form fields as a JSON object) and ``interactive`` (the interaction payload) - each with
an ``envelope_id`` the app acknowledges by sending ``{"envelope_id": …, "payload": …?}``. Events API
envelopes not acknowledged in time are delivered again with ``retry_attempt`` + 1; commands and
interactions are not (a person is waiting: they see an error instead). Slack refreshes links: it sends
``{"type": "disconnect", "reason": "refresh_requested"}``, the app opens a new link (calling
``apps.connections.open`` again) and closes the old one, which Slack otherwise closes itself a little later.

The bot under test runs slack_sdk's own Socket Mode client against this server, unmodified.
"""

from __future__ import annotations

import contextlib
import copy
import http
import itertools
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from bot.sandbox.standin import SlackError, _Args, method

if TYPE_CHECKING:
    from bot.sandbox.standin import SlackStandIn

log = logging.getLogger(__name__)

ACK_TIMEOUT_SECONDS = 3.0  # Slack: an envelope must be acknowledged within 3 seconds
MAX_RETRIES = 3  # Slack retries an Events API delivery up to three times
DRAIN_SECONDS = 10.0  # how long a link asked to refresh may stay open before Slack closes it
KINDS = frozenset({"events_api", "slash_commands", "interactive"})
# Interaction payloads whose ack may carry an answer (view errors/updates, menu options); Slack drops
# the payload of any other ack.
_ANSWERED_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})
_HOST = "applink-standin"


class NotConnected(RuntimeError):
    """No app holds an open Socket Mode link to deliver to."""


def accepts_response_payload(kind: str, payload: dict[str, Any]) -> bool:
    """Whether Slack reads a payload in the ack of this envelope (and so tells the app it may send one)."""
    if kind == "slash_commands":
        return True
    return kind == "interactive" and payload.get("type") in _ANSWERED_INTERACTIONS


@dataclass
class Envelope:
    """One delivery attempt on the wire."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int
    retry_reason: str
    link: int  # the id of the link it was sent on
    sent_at: float

    def wire(self) -> dict[str, Any]:
        return {"envelope_id": self.envelope_id, "type": self.type, "payload": self.payload,
                "accepts_response_payload": self.accepts_response_payload,
                "retry_attempt": self.retry_attempt, "retry_reason": self.retry_reason}


@dataclass
class Delivery:
    """Something Slack has to tell the app, with every attempt at it and the app's answer."""

    kind: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    attempts: list[Envelope] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)  # every ack message, in arrival order
    _acked: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def acked(self) -> bool:
        return self._acked.is_set()

    @property
    def response(self) -> dict[str, Any] | None:
        """The payload of the first ack (None: acknowledged without one, or not acknowledged)."""
        payload = self.acks[0].get("payload") if self.acks else None
        return payload if isinstance(payload, dict) else None

    @property
    def acked_envelope_id(self) -> str | None:
        return str(self.acks[0]["envelope_id"]) if self.acks else None

    def wait(self, timeout: float) -> bool:
        """True once any attempt has been acknowledged; False if none was within ``timeout`` seconds."""
        return self._acked.wait(timeout)


@dataclass
class Link:
    """One open WebSocket connection of the app."""

    id: int
    connection: ServerConnection
    opened_at: float
    drain_deadline: float | None = None  # set once Slack has asked the app to refresh this link
    received: list[Any] = field(default_factory=list)  # every message the app sent on it

    @property
    def draining(self) -> bool:
        return self.drain_deadline is not None


class SocketModeServer:
    """The WebSocket end of the stand-in; :attr:`SlackStandIn.socket_mode` starts one on first use."""

    def __init__(self, standin: SlackStandIn, *, ack_timeout: float = ACK_TIMEOUT_SECONDS,
                 max_retries: int = MAX_RETRIES, drain_seconds: float = DRAIN_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.standin = standin
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self.drain_seconds = drain_seconds
        self.clock = clock  # timers only: elapsed time, whatever clock the stand-in's messages use
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._tickets: dict[str, bool] = {}  # ticket -> used
        self._links: dict[int, Link] = {}
        self._closed_links: list[Link] = []
        self._deliveries: list[Delivery] = []
        self._unsettled: list[Delivery] = []  # events not yet acknowledged with retries left: the timer's work
        self._by_envelope: dict[str, Delivery] = {}
        self.stray_acks: list[dict[str, Any]] = []  # acks naming no envelope this server sent
        self.links_opened = 0
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> SocketModeServer:
        # No compression: Slack's clients do not negotiate it, and plain frames keep the wire readable.
        # A short close timeout: slack_sdk's client drops the socket rather than answer a close frame.
        self._server = serve(self._serve, "127.0.0.1", 0, process_request=self._check_ticket, compression=None,
                             close_timeout=1, logger=log)
        for target, name in ((self._server.serve_forever, "socket-mode-accept"), (self._watch, "socket-mode-timers")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()  # closes every link (1001 going away) and waits for their threads
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the Socket Mode server is not started")
        return int(self._server.socket.getsockname()[1])

    # ----------------------------------------------------------------- connecting
    def open_url(self) -> str:
        """A fresh single-use link URL, as ``apps.connections.open`` hands out."""
        ticket = str(uuid.uuid4())
        with self._cond:
            self._tickets[ticket] = False
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.standin.app_id}"

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        ticket = (parse_qs(parts.query).get("ticket") or [""])[0]
        with self._cond:
            valid = parts.path == "/link/" and self._tickets.get(ticket) is False
            if valid:
                self._tickets[ticket] = True  # a ticket opens one link
        if not valid:
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")
        return None

    def _serve(self, connection: ServerConnection) -> None:
        """One link: hello, then read acks until the app (or we) close it."""
        # Hello is sent and the link registered under the lock: no envelope (nor disconnect) can go out on it
        # before hello, and once the app has read hello the link is known.
        with self._cond:
            link = Link(next(self._ids), connection, self.clock())
            try:
                connection.send(json.dumps({
                    "type": "hello", "num_connections": len(self._links) + 1,
                    "debug_info": {"host": _HOST, "build_number": 1, "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.standin.app_id},
                }))
            except ConnectionClosed:
                return
            self._links[link.id] = link
            self.links_opened += 1
            self._cond.notify_all()
        try:
            for raw in connection:
                self._received(link, raw)
        except ConnectionClosed:
            pass  # slack_sdk's client drops the TCP connection without a close frame
        finally:
            with self._cond:
                self._closed_links.append(self._links.pop(link.id))
                self._cond.notify_all()

    def _received(self, link: Link, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = raw
        with self._cond:
            link.received.append(message)
            if not isinstance(message, dict) or "envelope_id" not in message:
                return
            delivery = self._by_envelope.get(str(message["envelope_id"]))
            if delivery is None:
                self.stray_acks.append(message)
                return
            delivery.acks.append(message)
            delivery._acked.set()

    # ----------------------------------------------------------------- delivering
    def send(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, retry_reason: str = "",
             wait_for_link: float = 10.0) -> Delivery:
        """Deliver an envelope to one of the app's links (waiting up to ``wait_for_link`` s for one)."""
        if kind not in KINDS:
            raise ValueError(f"unknown envelope type {kind!r}; Slack sends {sorted(KINDS)}")
        delivery = Delivery(kind, copy.deepcopy(payload), accepts_response_payload(kind, payload))
        with self._cond:
            self._deliveries.append(delivery)
            if kind == "events_api":
                self._unsettled.append(delivery)
        if not self._attempt(delivery, retry_attempt, retry_reason, wait_for_link):
            raise NotConnected(f"no Socket Mode link open to deliver a {kind} envelope to")
        return delivery

    def deliver(self, kind: str, payload: dict[str, Any], *, timeout: float = 10.0, retry_attempt: int = 0,
                retry_reason: str = "") -> Delivery:
        """:meth:`send`, then wait up to ``timeout`` s for the ack (see :attr:`Delivery.acked`)."""
        delivery = self.send(kind, payload, retry_attempt=retry_attempt, retry_reason=retry_reason,
                             wait_for_link=timeout)
        delivery.wait(timeout)
        return delivery

    def _attempt(self, delivery: Delivery, retry_attempt: int, retry_reason: str, wait_for_link: float) -> bool:
        deadline = self.clock() + wait_for_link
        with self._cond:
            while True:
                # Slack routes new envelopes to links it has not asked to refresh.
                link = next((k for k in self._links.values() if not k.draining), None)
                left = deadline - self.clock()
                if link is not None or left <= 0 or self._stopping.is_set():
                    break
                self._cond.wait(left)
            if link is None:
                return False
            envelope = Envelope(str(uuid.uuid4()), delivery.kind, delivery.payload,
                                delivery.accepts_response_payload, retry_attempt, retry_reason, link.id,
                                self.clock())
            delivery.attempts.append(envelope)
            self._by_envelope[envelope.envelope_id] = delivery
        # Lost if its link is closing: an event is then delivered again on another link, as Slack does.
        with contextlib.suppress(ConnectionClosed):
            link.connection.send(json.dumps(envelope.wire()))
        return True

    def _watch(self) -> None:
        """Timers: redeliver unacknowledged events, close links left draining past their deadline."""
        while not self._stopping.wait(0.05):
            now = self.clock()
            with self._cond:
                self._unsettled = [d for d in self._unsettled if not d.acked and len(d.attempts) <= self.max_retries]
                due = [d for d in self._unsettled if d.attempts and now - d.attempts[-1].sent_at >= self.ack_timeout]
                stale = [k for k in self._links.values() if k.drain_deadline is not None and now >= k.drain_deadline]
            for delivery in due:
                self._attempt(delivery, delivery.attempts[-1].retry_attempt + 1, "timeout", 0)
            for link in stale:
                link.connection.close(code=1001, reason="link refreshed")

    def disconnect(self, reason: str = "refresh_requested") -> int:
        """Ask the app to move to a new link (Slack's ``disconnect``); returns how many links were asked."""
        with self._cond:
            links = [k for k in self._links.values() if not k.draining]
            for link in links:
                link.drain_deadline = self.clock() + self.drain_seconds
        for link in links:
            with contextlib.suppress(ConnectionClosed):
                link.connection.send(json.dumps({"type": "disconnect", "reason": reason,
                                                 "debug_info": {"host": _HOST}}))
        return len(links)

    def drop(self) -> int:
        """Lose every open link abruptly (a network failure, a Slack host going away): the TCP connection ends
        with no ``disconnect`` message and no close frame, so the app learns of it only from the socket.
        Returns how many links were dropped."""
        with self._cond:
            links = list(self._links.values())
        for link in links:
            with contextlib.suppress(OSError):
                link.connection.socket.shutdown(socket.SHUT_RDWR)
        return len(links)

    # ----------------------------------------------------------------- inspection
    @property
    def open_links(self) -> int:
        with self._cond:
            return len(self._links)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._cond:
            return list(self._deliveries)

    def received(self) -> list[Any]:
        """Every message the app sent, over every link (open or closed), in link order."""
        with self._cond:
            links = sorted([*self._closed_links, *self._links.values()], key=lambda k: k.id)
            return [copy.deepcopy(m) for k in links for m in k.received]

    def wait_for_link(self, timeout: float = 10.0, *, opened: int = 1) -> bool:
        """True once at least ``opened`` links have been opened in all and one is open and not draining."""
        deadline = self.clock() + timeout
        with self._cond:
            while not (self.links_opened >= opened and any(not k.draining for k in self._links.values())):
                left = deadline - self.clock()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


@method("apps.connections.open", app_level=True)
def _apps_connections_open(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    if a.text("token"):
        # Slack: this method takes its token only in the Authorization header, never as a parameter.
        raise SlackError("not_authed")
    return {"url": s.socket_mode.open_url()}
