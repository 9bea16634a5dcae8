"""Socket Mode for ``advocacy-bot run``: Bolt's Socket Mode handler on slack_sdk's built-in client.

It talks to Slack through the app's own WebClient, so ``SLACK_API_URL`` (a stand-in, a proxy) is
honoured for ``apps.connections.open`` too, and answers like the HTTP path does (bot/web.py):
every request is counted and logged, and one no listener handles is acknowledged rather than left
unanswered - Bolt's Socket Mode adapter sends no ack for its 404, which Slack would retry.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.app import AdvocacyApp
from bot.slack_client import is_transient, slack_error
from bot.web import observe_request

log = logging.getLogger(__name__)

# Seconds between the client's pings; a link with no pong for four of them is replaced.
PING_INTERVAL_SECONDS = 10.0
RETRY_SECONDS = (5, 10, 30, 60, 120, 300)  # between attempts to open the first link; then every 300 s


class AppTokenRejected(Exception):
    """Slack refused SLACK_APP_TOKEN at apps.connections.open (the message is Slack's error code)."""


class LinkEnded(ConnectionResetError):
    """The link's TCP connection ended without a WebSocket close frame (a network failure, a Slack host gone)."""


class _LinkSocket:
    """A link's socket as slack_sdk's reader uses it, except that the end of the stream raises :class:`LinkEnded`.

    slack_sdk's built-in client reads an ended stream as "no bytes yet": its reader spins on ``recv()`` and
    the link still counts as connected until five pings go unanswered (a minute at the production interval),
    while events Slack sends to the app go nowhere. Raised, it is an OSError that slack_sdk's own reader
    already handles: the connection is closed and on_error listeners are told (:meth:`AdvocacySocketMode.
    _link_failed` opens the next one). Everything else is the socket's own."""

    def __init__(self, sock: Any, closing: Callable[[], bool]) -> None:
        self._sock = sock
        self._closing = closing

    def recv(self, size: int) -> bytes:
        data: bytes = self._sock.recv(size)
        if not data and size > 0 and not self._closing():  # closing: our own close() ends the reads on purpose
            raise LinkEnded(errno.ECONNRESET, "the Socket Mode link ended without a close frame")
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class AdvocacySocketMode(SocketModeHandler):
    """One Socket Mode link to Slack (replaced on Slack's ``disconnect``, when its connection ends, or when it
    goes stale)."""

    def __init__(self, app: AdvocacyApp, app_token: str) -> None:
        super().__init__(app.bolt, app_token, web_client=app.services.client,
                         logger=logging.getLogger("slack_sdk.socket_mode"), ping_interval=PING_INTERVAL_SECONDS)
        self.metrics = app.services.metrics
        plain_connect = self.client.connect

        def connect() -> None:  # every link, the first and each replacement (connect_to_new_endpoint calls it)
            plain_connect()
            session = self.client.current_session
            if session is not None:
                with session.sock_send_lock:  # as Connection.disconnect takes it first: no interleaving with it
                    if session.sock is not None and not isinstance(session.sock, _LinkSocket):
                        session.sock = _LinkSocket(session.sock, closing=lambda: self.client.closed)

        self.client.connect = connect  # type: ignore[method-assign]
        self.client.on_error_listeners.append(self._link_failed)

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        """Run Bolt on the envelope and ack it by its envelope_id, with the ack's payload if any."""
        started = time.perf_counter()
        request = BoltRequest(mode="socket_mode", body=req.payload, headers=build_headers(req))
        try:
            response = self.app.dispatch(request)
        except Exception as exc:
            # Bolt catches what listeners raise; what escapes is Bolt failing on a payload shape Slack does not
            # send. No ack, as HTTP answers 400: Slack counts it as not delivered.
            observe_request(self.metrics, request, 400, started, f"malformed payload ({type(exc).__name__})")
            return
        note = ""
        if response.status == 404:
            # No listener matched (see bot/web.py): acknowledge, or Slack retries the event and shows the
            # person an error for an interaction.
            response, note = BoltResponse(status=200, body=""), "unhandled, acknowledged"
        # Counted and logged before the ack goes out, as over HTTP: once Slack has its answer, the line is there.
        observe_request(self.metrics, request, response.status, started, note)
        send_response(client, req, response, started)  # acks 200s only: a 500 is retried, as over HTTP

    def open_link(self) -> bool:
        """apps.connections.open, then the link. A rejected app token raises :class:`AppTokenRejected`;
        Slack unreachable or failing (5xx, 429) is logged and answered False, to be tried again. Once a
        link has opened, slack_sdk's client replaces it by itself (Slack's ``disconnect``, a stale link)."""
        try:
            self.connect()
        except SlackApiError as exc:
            if not is_transient(exc):
                raise AppTokenRejected(slack_error(exc)) from None
            reason = slack_error(exc)
        except OSError as exc:  # connection refused, DNS, timeout
            reason = type(exc).__name__
        else:
            log.info("Socket Mode link to Slack open")
            return True
        log.warning("Slack did not open a Socket Mode link (%s): trying again; /readyz says not ready until it does",
                    reason)
        return False

    def keep_opening(self, stopping: threading.Event, delays: Sequence[float] = RETRY_SECONDS) -> None:
        """Try :meth:`open_link` with growing pauses until it works, the token is refused, or ``stopping``."""
        for attempt in itertools.count():
            if stopping.wait(delays[min(attempt, len(delays) - 1)]):
                return
            try:
                if self.open_link():
                    return
            except AppTokenRejected as exc:  # refused after all: nothing will arrive, say so loudly
                log.error("Slack rejected SLACK_APP_TOKEN at apps.connections.open: %s; no Socket Mode link", exc)
                return

    def _link_failed(self, error: Exception) -> None:
        """slack_sdk's listener for errors on the link (called on its reader thread, before the reader closes
        the connection): a link that ended is replaced at once, not when the pings give up on it."""
        if not isinstance(error, LinkEnded) or self.client.closed:
            return
        log.warning("The Socket Mode link to Slack ended without a close frame: opening a new one; "
                    "/readyz says not ready until it is open")
        threading.Thread(target=self._replace_ended_link, name="socket-mode-relink", daemon=True).start()

    def _replace_ended_link(self, wait_seconds: float = 2.0) -> None:
        # Off the reader thread: it still has to close the ended connection, which is what lets
        # connect_to_new_endpoint (not forced, so never a second link if slack_sdk's monitor got there first)
        # see that no link is open.
        deadline = time.monotonic() + wait_seconds
        while self.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.client.closed:
            return
        try:
            self.client.connect_to_new_endpoint()
        except Exception as exc:  # Slack down or failing: slack_sdk's monitor tries again every ping interval
            reason = slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("Slack did not open a new Socket Mode link (%s): trying again every %.0f s", reason,
                        self.client.ping_interval)
        else:
            if self.client.is_connected():
                log.info("Socket Mode link to Slack open again")

    def close(self) -> None:
        # slack_sdk's client closes its link only once its reader's recv() times out (it holds the lock close
        # needs), and its message thread sees ``closed`` only after a 1 s wait on its queue. Ending the
        # socket's reads and waking that thread first makes stopping (SIGTERM, every test) immediate.
        self.client.closed = True
        self.client.message_queue.put(None)
        sock = getattr(self.client.current_session, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)
        super().close()

    def connected(self) -> bool:
        """A link is open (the client's own state, no network call: cheap enough for every /readyz)."""
        return self.client.is_connected()
