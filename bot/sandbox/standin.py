"""A local, stateful stand-in for the parts of the Slack Web API the bot uses.

It is product code: the demo sandbox and the test-suite point an unmodified
``slack_sdk.WebClient(base_url=standin.api_url)`` at it.  It therefore speaks Slack's wire
format (form, JSON and query-string requests; ``{"ok": ...}`` JSON answers; Slack's error
codes, 429 + Retry-After, ...) rather than a convenient in-process API, so that a bot that
works against the stand-in also works against real Slack.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TRIGGER_TTL_SECONDS = 3.0  # Slack: a trigger_id must be exchanged within 3 seconds
RESPONSE_URL_TTL_SECONDS = 30 * 60  # Slack: response_url works for 30 minutes ...
RESPONSE_URL_MAX_USES = 5  # ... and at most 5 times
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000
JSON_ARGS = frozenset({"blocks", "attachments", "metadata", "view"})
_CHANNEL_NAME = re.compile(r"[a-z0-9_\-]+")
# Elements that carry an action_id (Slack generates one when the app leaves it out).
_INTERACTIVE = frozenset({"button", "overflow", "datepicker", "timepicker", "datetimepicker", "checkboxes",
                          "radio_buttons", "workflow_button"})


class SlackError(Exception):
    """A Slack API error answer: HTTP ``status`` with ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, *, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    ok: bool
    error: str | None
    status: int
    at: float


@dataclass
class ResponseCall:
    """One POST to a response_url."""

    url_id: str
    body: dict[str, Any]
    at: float

    @property
    def response_type(self) -> str:
        return str(self.body.get("response_type") or "ephemeral")

    @property
    def text(self) -> str | None:
        return self.body.get("text")

    @property
    def blocks(self) -> list[dict[str, Any]] | None:
        return self.body.get("blocks")

    @property
    def replace_original(self) -> bool:
        return _truthy(self.body.get("replace_original"))

    @property
    def delete_original(self) -> bool:
        return _truthy(self.body.get("delete_original"))


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    is_im: bool = False
    members: list[str] = field(default_factory=list)
    topic: str = ""
    purpose: str = ""
    creator: str = ""
    created: int = 0
    im_user: str | None = None  # the human side of an IM
    topic_set: tuple[str, int] = ("", 0)  # (who, when) - Slack reports both
    purpose_set: tuple[str, int] = ("", 0)


@dataclass
class Message:
    ts: str
    channel: str
    user: str | None
    bot_id: str | None
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    edited: bool = False
    reactions: list[dict[str, Any]] = field(default_factory=list)
    edited_ts: str | None = None
    subtype: str | None = None  # e.g. "channel_join", "channel_topic" (Slack's own notices)
    client_msg_id: str | None = None  # set on what people type in a Slack client
    attachments: list[dict[str, Any]] | None = None  # e.g. link previews (unfurls)
    files: list[dict[str, Any]] | None = None  # files shared with the message (files.completeUploadExternal)
    extra: dict[str, Any] | None = None  # subtype-specific fields (inviter, topic, ...)


@dataclass
class User:
    id: str
    name: str
    real_name: str
    tz: str
    is_bot: bool
    deleted: bool
    email: str | None


@dataclass
class Fault:
    error: str | None = None
    status: int | None = None
    retry_after: int | None = None
    delay: float | None = None
    times: int | None = 1


@dataclass
class _Trigger:
    user_id: str
    issued: float
    view_id: str | None
    used: bool = False


@dataclass
class _ResponseUrl:
    issued: float
    channel_id: str | None
    user_id: str | None
    message_ts: str | None
    uses: int = 0


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, int | str) and str(value).lower() in {"1", "true"})


def _ts_key(ts: str) -> int:
    """Slack ts -> integer microseconds, so comparisons are exact (floats are not)."""
    seconds, _, frac = ts.partition(".")
    return int(seconds) * 1_000_000 + int((frac + "000000")[:6])


class _Args:
    """Request arguments, whatever encoding they came in (form/query values are strings)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        return None if value is None or value == "" else str(value)

    def need(self, key: str, error: str) -> str:
        value = self.text(key)
        if value is None:
            raise SlackError(error)
        return value

    def flag(self, key: str) -> bool:
        return _truthy(self.data.get(key))

    def number(self, key: str, default: int) -> int:
        try:
            return int(self.data.get(key) or default)
        except (TypeError, ValueError):
            return default

    def ids(self, key: str) -> list[str]:
        value = self.data.get(key)
        items = value if isinstance(value, list) else str(value or "").split(",")
        return [str(item).strip() for item in items if str(item).strip()]

    def obj(self, key: str, error: str = "invalid_arguments") -> Any:
        value = self.data.get(key)
        if isinstance(value, str):  # form/query encodings carry JSON-valued args as strings
            try:
                return json.loads(value) if value else None
            except ValueError:
                raise SlackError(error) from None
        return value


Handler = Callable[["SlackStandIn", _Args], dict[str, Any]]
_METHODS: dict[str, Handler] = {}
_APP_LEVEL: set[str] = set()  # methods that take the app-level token (xapp-…), not the bot token


def method(name: str, *, app_level: bool = False) -> Callable[[Handler], Handler]:
    """Register a Web API method handler; it runs with the state lock held."""

    def register(fn: Handler) -> Handler:
        _METHODS[name] = fn
        if app_level:
            _APP_LEVEL.add(name)
        return fn

    return register


class SlackStandIn:
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sandbox-token",
        team_id: str = "T0SANDBOX",
        team_name: str = "Sandbox",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0ADVOCACY",
        bot_name: str = "advocacy-bot",
        clock: Callable[[], float] = time.time,
        bot_can_unarchive: bool = False,
        app_token: str = "xapp-1-A0ADVOCACY-1-sandbox",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token  # Socket Mode's apps.connections.open takes this one (socket_mode.py)
        self._socket_mode: _socket_mode.SocketModeServer | None = None
        # Slack: bot tokens cannot unarchive conversations (they get not_in_channel); tests may lift that.
        self.bot_can_unarchive = bot_can_unarchive
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = re.sub(r"[^a-z0-9-]", "", team_name.lower()) or "sandbox"
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.clock = clock
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._last_ts = 0
        self._users: dict[str, User] = {}
        self._usergroups: dict[str, tuple[str, list[str]]] = {}
        self._channels: dict[str, Channel] = {}
        self._messages: dict[str, list[Message]] = {}
        self._pins: dict[str, list[tuple[str, int, str]]] = {}  # channel -> [(ts, created, pinned by)]
        self._bookmarks: dict[str, list[dict[str, Any]]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._view_user: dict[str, str] = {}
        self._stacks: dict[str, list[str]] = {}  # root view id -> open modal stack
        self._home: dict[str, str] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._responses: list[ResponseCall] = []
        self._ephemerals: list[dict[str, Any]] = []
        self._calls: list[Call] = []
        self._faults: dict[str, list[Fault]] = {}
        self._files: dict[str, dict[str, Any]] = {}  # file id -> Slack's file object (+ "content" bytes)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add_user(bot_user_id, bot_name, real_name=bot_name, is_bot=True)

    # ----------------------------------------------------------------- lifecycle
    def start(self, port: int = 0) -> SlackStandIn:
        server = _Server(("127.0.0.1", port), _RequestHandler)
        server.standin = self
        self._server = server
        # A short poll interval keeps stop() quick (test fixtures start and stop a stand-in per test).
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="slack-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._socket_mode is not None:
            self._socket_mode.stop()
            self._socket_mode = None

    @property
    def socket_mode(self) -> _socket_mode.SocketModeServer:
        """Slack's Socket Mode side (bot/sandbox/socket_mode.py), started on first use."""
        with self._lock:
            if self._socket_mode is None:
                self._socket_mode = _socket_mode.SocketModeServer(self).start()
            return self._socket_mode

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def api_url(self) -> str:
        return self.url + "api/"

    # ----------------------------------------------------------------- workspace set-up
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08X}"

    def _now(self) -> int:
        return int(self.clock())

    def _new_ts(self) -> str:
        # Unique and strictly increasing even when the (injected) clock stands still.
        micros = max(int(self.clock() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def add_user(self, user_id: str, name: str, *, real_name: str | None = None, tz: str = "Europe/Stockholm",
                 is_bot: bool = False, deleted: bool = False, email: str | None = None) -> None:
        with self._lock:
            self._users[user_id] = User(user_id, name, real_name or name, tz, is_bot, deleted, email)

    def add_usergroup(self, group_id: str, handle: str, users: list[str]) -> None:
        with self._lock:
            self._usergroups[group_id] = (handle, list(users))

    def add_channel(self, name: str, *, is_private: bool = False, members: Iterable[str] = (),
                    channel_id: str | None = None, is_archived: bool = False,
                    creator: str | None = None) -> str:
        with self._lock:
            if self._named(name) is not None:
                raise ValueError(f"channel name {name!r} is taken")
            members = list(members)
            channel = Channel(channel_id or self._new_id("C"), name, is_private, is_archived, False, members,
                              creator=creator or (members[0] if members else ""), created=self._now())
            self._channels[channel.id] = channel
            self._messages[channel.id] = []
            return channel.id

    def add_message(self, channel_id: str, user: str, text: str, *,
                    blocks: list[dict[str, Any]] | None = None,
                    thread_ts: str | None = None, metadata: dict[str, Any] | None = None,
                    subtype: str | None = None, client_msg_id: str | None = None,
                    extra: dict[str, Any] | None = None) -> str:
        """Seed a message written by someone else (a human): the Web API here only speaks for the bot.

        ``subtype``/``extra`` make one of Slack's own notices (``channel_join`` with ``inviter``, ...).
        """
        with self._lock:
            ts = self._new_ts()
            message = Message(ts, channel_id, user, None, text, blocks, thread_ts, metadata, subtype=subtype,
                              client_msg_id=client_msg_id, extra=dict(extra) if extra else None)
            self._messages[channel_id].append(message)
            return ts

    def add_reaction(self, channel_id: str, ts: str, user: str, name: str) -> bool:
        """A person reacts (the Web API here only speaks for the bot); False if they already had."""
        with self._lock:
            message = self._message(self._channels[channel_id], ts)
            reaction = next((r for r in message.reactions if r["name"] == name), None)
            if reaction is None:
                reaction = {"name": name, "users": [], "count": 0}
                message.reactions.append(reaction)
            if user in reaction["users"]:
                return False
            reaction["users"].append(user)
            reaction["count"] += 1
            return True

    def next_ts(self) -> str:
        """A fresh Slack ts from the stand-in's clock (what Slack stamps an event with)."""
        with self._lock:
            return self._new_ts()

    def _open_channel(self, channel_id: str) -> Channel:
        """A channel people can still act in (Slack refuses it all in an archived channel)."""
        channel = self._channels.get(channel_id)
        if channel is None:
            raise SlackError("channel_not_found")
        if channel.is_archived:
            raise SlackError("is_archived")
        return channel

    def edit_message(self, channel_id: str, ts: str, user: str, text: str, *,
                     blocks: list[dict[str, Any]] | None = None) -> str:
        """A person edits their own message; returns the edit's ts (``edited.ts``, the event's ts).

        ``blocks`` are the new blocks (a Slack client re-renders a person's rich_text from the text).
        """
        with self._lock:
            message = self._message(self._open_channel(channel_id), ts)
            if message.user != user or message.bot_id or message.subtype:
                raise SlackError("cant_update_message")  # only the author can edit, and only their own words
            message.text, message.blocks = text, blocks
            message.edited, message.edited_ts = True, self._new_ts()
            return message.edited_ts

    def unfurl_message(self, channel_id: str, ts: str, attachments: list[dict[str, Any]]) -> None:
        """Slack adds link previews to a message: attachments only, the message is not marked edited."""
        with self._lock:
            message = self._message(self._open_channel(channel_id), ts)
            message.attachments = [*(message.attachments or []), *copy.deepcopy(attachments)]

    def delete_message(self, channel_id: str, ts: str) -> None:
        """A message is deleted (and so unpinned).  Its thread replies stay, as in Slack."""
        with self._lock:
            message = self._message(self._open_channel(channel_id), ts)
            self._messages[channel_id].remove(message)
            if channel_id in self._pins:
                self._pins[channel_id] = [p for p in self._pins[channel_id] if p[0] != ts]

    def add_member(self, channel_id: str, user: str) -> bool:
        """A person joins (or is added to) a channel; False if they already were a member."""
        with self._lock:
            channel = self._open_channel(channel_id)
            if channel.is_im:
                raise SlackError("method_not_supported_for_channel_type")
            if user in channel.members:
                return False
            channel.members.append(user)
            return True

    def set_topic(self, channel_id: str, user: str, topic: str) -> None:
        """A person sets the channel topic."""
        with self._lock:
            channel = self._open_channel(channel_id)
            if len(topic) > 250:
                raise SlackError("too_long")
            channel.topic, channel.topic_set = topic, (user, self._now())

    def pin_as(self, channel_id: str, ts: str, user: str) -> bool:
        """A person pins a message; False if it already was pinned."""
        with self._lock:
            channel = self._open_channel(channel_id)
            message = self._message(channel, ts)
            pins = self._pins.setdefault(channel.id, [])
            if any(p[0] == message.ts for p in pins):
                return False
            pins.append((message.ts, self._now(), user))
            return True

    def pin_info(self, channel_id: str, ts: str) -> tuple[int, str] | None:
        """(when, by whom) a message was pinned, None if it is not."""
        with self._lock:
            return next(((created, by) for pin_ts, created, by in self._pins.get(channel_id, [])
                         if pin_ts == ts), None)

    # ----------------------------------------------------------------- inspection
    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return copy.deepcopy(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def channel(self, channel_id: str) -> Channel | None:
        with self._lock:
            return copy.deepcopy(self._channels.get(channel_id))

    def channel_by_name(self, name: str) -> Channel | None:
        with self._lock:
            return copy.deepcopy(self._named(name))

    @property
    def channels(self) -> list[Channel]:
        with self._lock:
            return copy.deepcopy(list(self._channels.values()))

    def messages(self, channel_id: str, *, thread_ts: str | None = None) -> list[Message]:
        """All messages of a channel in posting order, or one thread (parent first) given thread_ts."""
        with self._lock:
            found = self._messages.get(channel_id, [])
            if thread_ts is not None:
                found = [m for m in found if m.ts == thread_ts or m.thread_ts == thread_ts]
            return copy.deepcopy(found)

    def thread(self, channel_id: str, thread_ts: str) -> list[Message]:
        return self.messages(channel_id, thread_ts=thread_ts)

    def pins(self, channel_id: str) -> list[str]:
        with self._lock:
            return [p[0] for p in self._pins.get(channel_id, [])]

    def bookmarks(self, channel_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._bookmarks.get(channel_id, []))

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Every view ever opened/pushed/published, as Slack returns it, plus ``user`` (who sees it)."""
        with self._lock:
            return {vid: {**copy.deepcopy(v), "user": self._view_user[vid]} for vid, v in self._views.items()}

    @property
    def home_views(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {user: copy.deepcopy(self._views[vid]) for user, vid in self._home.items()}

    def open_views(self, user_id: str) -> list[str]:
        """The ids of the user's currently open modal stack (root first); [] when none is open."""
        with self._lock:
            for stack in self._stacks.values():
                if stack and self._view_user[stack[0]] == user_id:
                    return list(stack)
            return []

    @property
    def responses(self) -> list[ResponseCall]:
        with self._lock:
            return copy.deepcopy(self._responses)

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._ephemerals)

    def files(self) -> dict[str, dict[str, Any]]:
        """Every file uploaded, as Slack's file object plus ``content`` (the bytes received)."""
        with self._lock:
            return copy.deepcopy(self._files)

    def dm_channel(self, user_id: str) -> str | None:
        with self._lock:
            return next((c.id for c in self._channels.values() if c.is_im and c.im_user == user_id), None)

    def message_json(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        """A stored message in Slack's wire shape (what interaction payloads embed)."""
        with self._lock:
            found = self._find_message(channel_id, ts)
            return None if found is None else copy.deepcopy(self._message_json(found, metadata=True))

    def user_name(self, user_id: str) -> str:
        with self._lock:
            user = self._users.get(user_id)
            return user.name if user else user_id

    def state(self) -> dict[str, Any]:
        """Everything, JSON-ready (served at GET /_standin/state for out-of-process drivers)."""
        with self._lock:
            return {
                "channels": [asdict(c) for c in self._channels.values()],
                "messages": {cid: [asdict(m) for m in ms] for cid, ms in self._messages.items()},
                "pins": {cid: self.pins(cid) for cid in self._pins},
                "bookmarks": copy.deepcopy(self._bookmarks),
                "views": self.views,
                "home_views": self.home_views,
                "responses": [asdict(r) for r in self._responses],
                "ephemerals": self.ephemerals,
                "files": {fid: {k: v for k, v in f.items() if k != "content"} for fid, f in self._files.items()},
                "calls": [asdict(c) for c in self._calls],
            }

    # ----------------------------------------------------------------- faults
    def fail(self, method: str, *, error: str | None = None, status: int | None = None,
             retry_after: int | None = None, delay: float | None = None, times: int | None = 1) -> None:
        """Queue a fault for the next ``times`` calls of ``method`` ("*": any method).

        ``times=None`` keeps the fault until :meth:`clear_faults`; faults of a method apply in FIFO order.
        """
        with self._lock:
            self._faults.setdefault(method, []).append(Fault(error, status, retry_after, delay, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def faults_pending(self, method: str) -> int:
        """Faults queued for ``method`` not yet taken: when it drops, a request has arrived and met one."""
        with self._lock:
            return len(self._faults.get(method, []))

    def _take_fault(self, method_name: str) -> Fault | None:
        with self._lock:
            for key in (method_name, "*"):
                queue = self._faults.get(key)
                if queue:
                    fault = queue[0]
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            queue.pop(0)
                    return fault
            return None

    # ----------------------------------------------------------------- interactivity
    def new_trigger_id(self, user_id: str, *, view_id: str | None = None) -> str:
        """Single-use, valid 3 s; ``view_id``: the interaction happened in that modal (views.push)."""
        with self._lock:
            trigger_id = f"{next(self._ids)}.{self._now()}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = _Trigger(user_id, self.clock(), view_id)
            return trigger_id

    def new_response_url(self, *, channel_id: str | None = None, user_id: str | None = None,
                         message_ts: str | None = None) -> str:
        with self._lock:
            url_id = secrets.token_urlsafe(12)
            self._response_urls[url_id] = _ResponseUrl(self.clock(), channel_id, user_id, message_ts)
            return f"{self.url}response/{url_id}"

    def _respond(self, url_id: str, body: dict[str, Any]) -> tuple[int, str]:
        with self._lock:
            target = self._response_urls.get(url_id)
            if target is None:
                return 404, "no_service"
            if self.clock() - target.issued > RESPONSE_URL_TTL_SECONDS:
                return 404, "expired_url"
            if target.uses >= RESPONSE_URL_MAX_USES:
                return 404, "used_url"
            target.uses += 1
            self._responses.append(ResponseCall(url_id, body, self.clock()))
            original = self._find_message(target.channel_id or "", target.message_ts or "")
            text, blocks = str(body.get("text") or ""), body.get("blocks")
            if _truthy(body.get("delete_original")) and original is not None:
                self._messages[original.channel].remove(original)
            elif _truthy(body.get("replace_original")) and original is not None:
                original.text, original.blocks = text, blocks
            elif body.get("response_type") == "in_channel" and target.channel_id in self._messages:
                self._messages[target.channel_id].append(
                    Message(self._new_ts(), target.channel_id, self.bot_user_id, self.bot_id, text, blocks,
                            body.get("thread_ts")))
            elif target.channel_id:
                self._ephemerals.append({"channel": target.channel_id, "user": target.user_id, "text": text,
                                         "blocks": blocks, "message_ts": self._new_ts()})
            return 200, "ok"

    def receive_upload(self, file_id: str, body: bytes) -> tuple[int, str]:
        """Step 2 of files_upload_v2: the bytes POSTed to the URL files.getUploadURLExternal gave out."""
        with self._lock:
            found = self._files.get(file_id)
            if found is None or found["content"] is not None:
                return 404, "Not Found"
            found["content"] = body
            found["size"] = len(body)
            return 200, f"OK - {len(body)}"

    def close_view(self, view_id: str, *, all_views: bool = False) -> None:
        """What Slack does after a view_submission acked without response_action (or with "clear")."""
        with self._lock:
            for root, stack in list(self._stacks.items()):
                if view_id in stack:
                    del stack[0 if all_views else stack.index(view_id):]
                    if not stack:
                        del self._stacks[root]

    def apply_submission_ack(self, view_id: str, ack: dict[str, Any] | None) -> None:
        """Mirror Slack's reaction to the app's answer to a view_submission."""
        action = (ack or {}).get("response_action")
        with self._lock:
            if action == "errors":
                return
            if action == "update":
                prepared = self._prepare_view(ack["view"], {"modal"}, pointer="/view")
                prepared.pop("_external_taken_by")
                view = self._views[view_id]
                view.update(prepared, hash=self._new_hash())
            elif action == "push":
                self._push_view(view_id, ack["view"])
            else:
                self.close_view(view_id, all_views=action == "clear")

    # ----------------------------------------------------------------- request handling
    def handle_api(self, method_name: str, args: dict[str, Any],
                   token: str | None) -> tuple[int, dict[str, str], Any]:
        """Answer one Web API request: (HTTP status, extra headers, JSON body or a text body)."""
        params = {k: v for k, v in args.items() if k != "token"}
        for key in JSON_ARGS & params.keys():
            with contextlib.suppress(SlackError):  # undecodable JSON is recorded as sent
                params[key] = _Args(params).obj(key)
        status, headers, body = self._dispatch(method_name, _Args(args), token)
        ok = isinstance(body, dict) and bool(body.get("ok"))
        error = body.get("error") if isinstance(body, dict) else f"http_{status}"
        with self._lock:
            self._calls.append(Call(method_name, params, ok, error, status, self.clock()))
        return status, headers, body

    def _dispatch(self, method_name: str, args: _Args, token: str | None) -> tuple[int, dict[str, str], Any]:
        handler = _METHODS.get(method_name)
        if handler is None:  # Slack checks the method before the token
            return 404, {}, {"ok": False, "error": "unknown_method", "req_method": method_name}
        fault = self._take_fault(method_name)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)  # outside the lock: other requests go on meanwhile
            if fault.status == 429:
                retry_after = str(fault.retry_after if fault.retry_after is not None else 1)
                return 429, {"Retry-After": retry_after}, {"ok": False, "error": fault.error or "ratelimited"}
            if fault.status is not None:
                if fault.error:
                    return fault.status, {}, {"ok": False, "error": fault.error}
                return fault.status, {}, f"{fault.status} Slack stand-in: simulated server error"
            if fault.error:
                return 200, {}, {"ok": False, "error": fault.error}
        if not token:
            return 200, {}, {"ok": False, "error": "not_authed"}
        if token not in (self.bot_token, self.app_token):
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        if (token == self.app_token) != (method_name in _APP_LEVEL):  # Slack: each token kind has its methods
            return 200, {}, {"ok": False, "error": "not_allowed_token_type"}
        try:
            with self._lock:  # copied while locked: the answer is serialised after the lock is released
                return 200, {}, copy.deepcopy({"ok": True, **handler(self, args)})
        except SlackError as exc:
            return exc.status, {}, {"ok": False, "error": exc.error, **exc.extra}
        except Exception as exc:  # a stand-in bug: answer like Slack does, but say what broke
            return 200, {}, {"ok": False, "error": "internal_error", "detail": repr(exc)}

    # ----------------------------------------------------------------- state helpers (lock held)
    def _named(self, name: str) -> Channel | None:
        return next((c for c in self._channels.values() if not c.is_im and c.name == name), None)

    def _conversation(self, channel_id: str | None, *, member: bool = True,
                      writable: bool = False) -> Channel:
        """Resolve a channel as the bot sees it: private channels it is not in do not exist for it."""
        channel = self._channels.get(channel_id or "")
        hidden = channel is not None and (channel.is_private or channel.is_im)
        if channel is None or (hidden and self.bot_user_id not in channel.members):
            raise SlackError("channel_not_found")
        if writable and channel.is_archived:
            raise SlackError("is_archived")
        if member and self.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")
        return channel

    def _open_dm(self, user_id: str) -> Channel:
        user = self._users.get(user_id)
        if user is None or user.deleted:
            raise SlackError("user_not_found" if user is None else "user_disabled")
        existing = self.dm_channel(user_id)
        if existing is not None:
            return self._channels[existing]
        channel = Channel(self._new_id("D"), user_id, is_im=True, members=[user_id, self.bot_user_id],
                          created=self._now(), im_user=user_id)
        self._channels[channel.id] = channel
        self._messages[channel.id] = []
        return channel

    def _find_message(self, channel_id: str, ts: str) -> Message | None:
        return next((m for m in self._messages.get(channel_id, []) if m.ts == ts), None)

    def _message(self, channel: Channel, ts: str | None) -> Message:
        found = self._find_message(channel.id, ts or "")
        if found is None:
            raise SlackError("message_not_found")
        return found

    def _new_hash(self) -> str:
        return f"{self._now()}.{secrets.token_hex(4)}"

    def _channel_json(self, c: Channel, *, num_members: bool = False) -> dict[str, Any]:
        if c.is_im:
            return {"id": c.id, "created": c.created, "is_im": True, "is_org_shared": False,
                    "user": c.im_user, "is_user_deleted": False, "priority": 0}
        data = {
            "id": c.id, "name": c.name, "is_channel": True, "is_group": False, "is_im": False,
            "is_mpim": False, "is_private": c.is_private, "created": c.created,
            "is_archived": c.is_archived, "is_general": False,
            "unlinked": 0, "name_normalized": c.name, "is_shared": False, "is_org_shared": False,
            "is_ext_shared": False, "is_pending_ext_shared": False, "pending_shared": [],
            "context_team_id": self.team_id, "creator": c.creator, "is_member": self.bot_user_id in c.members,
            "topic": {"value": c.topic, "creator": c.topic_set[0], "last_set": c.topic_set[1]},
            "purpose": {"value": c.purpose, "creator": c.purpose_set[0], "last_set": c.purpose_set[1]},
            "previous_names": [],
        }
        if num_members:
            data["num_members"] = len(c.members)
        return data

    def _message_json(self, m: Message, *, metadata: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "message", "text": m.text, "user": m.user, "ts": m.ts,
                                "team": self.team_id}
        if m.client_msg_id:
            data["client_msg_id"] = m.client_msg_id
        if m.subtype:
            data["subtype"] = m.subtype
            if m.subtype.startswith(("channel_", "group_")):
                data.pop("team")  # Slack's notices (joins, topic changes) carry no team
        if m.extra:
            data.update(copy.deepcopy(m.extra))
        if m.bot_id:
            profile = {"id": m.bot_id, "app_id": self.app_id, "name": self._users[self.bot_user_id].name,
                       "deleted": False, "team_id": self.team_id}
            data.update(bot_id=m.bot_id, app_id=self.app_id, bot_profile=profile)
        if m.blocks is not None:
            data["blocks"] = m.blocks
        if m.attachments:
            data["attachments"] = m.attachments
        if m.files:
            data["files"] = copy.deepcopy(m.files)
            data.setdefault("upload", True)
        if m.thread_ts:
            data["thread_ts"] = m.thread_ts
            if m.thread_ts != m.ts:
                parent = self._find_message(m.channel, m.thread_ts)
                data["parent_user_id"] = parent.user if parent else None
        replies = [r for r in self._messages.get(m.channel, []) if r.thread_ts == m.ts and r.ts != m.ts]
        if replies:
            users = list(dict.fromkeys(r.user for r in replies))
            data.update(thread_ts=m.ts, reply_count=len(replies), reply_users=users,
                        reply_users_count=len(users), latest_reply=replies[-1].ts)
        if m.edited:
            data["edited"] = {"user": m.user, "ts": m.edited_ts}
        if m.reactions:
            data["reactions"] = m.reactions
        if any(p[0] == m.ts for p in self._pins.get(m.channel, [])):
            data["pinned_to"] = [m.channel]
        if metadata and m.metadata:
            data["metadata"] = m.metadata
        return data

    def _user_json(self, u: User) -> dict[str, Any]:
        try:
            zone = ZoneInfo(u.tz)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        now = datetime.fromtimestamp(self.clock(), UTC).astimezone(zone)
        offset = now.utcoffset()
        profile: dict[str, Any] = {"real_name": u.real_name, "real_name_normalized": u.real_name,
                                   "display_name": u.name, "display_name_normalized": u.name,
                                   "team": self.team_id}
        if u.email:
            profile["email"] = u.email
        if u.is_bot:
            profile.update(bot_id=self.bot_id if u.id == self.bot_user_id else None, api_app_id=self.app_id)
        return {"id": u.id, "team_id": self.team_id, "name": u.name, "deleted": u.deleted,
                "real_name": u.real_name, "tz": u.tz, "tz_label": now.tzname(),
                "tz_offset": int(offset.total_seconds()) if offset else 0,
                "profile": profile, "is_admin": False, "is_owner": False, "is_bot": u.is_bot,
                "is_app_user": False, "updated": self._now()}

    def _content(self, args: _Args) -> tuple[str | None, list[dict[str, Any]] | None]:
        """text + blocks of a message, validated like chat.postMessage does."""
        text = args.text("text")
        blocks = args.obj("blocks", "invalid_blocks_format")
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        if not text and not blocks and not args.obj("attachments"):
            raise SlackError("no_text")
        if text and len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if blocks:
            problems = _block_problems(blocks, "/blocks", MAX_MESSAGE_BLOCKS)
            if problems:
                raise SlackError("invalid_blocks", response_metadata={"messages": problems})
            blocks = _with_ids(blocks)
        return text, blocks

    def _prepare_view(self, raw: Any, types: set[str], *, pointer: str) -> dict[str, Any]:
        """Validate a view like Slack does (cheap checks only) and fill in generated block/action ids."""
        if not isinstance(raw, dict):
            problem = "[ERROR] missing required field: view"
            raise SlackError("invalid_arguments", response_metadata={"messages": [problem]})
        problems: list[str] = []
        view_type = raw.get("type")
        if view_type not in types:
            problems.append(f"[ERROR] must be one of {sorted(types)} [json-pointer:{pointer}/type]")
        for key in ("title", "submit", "close"):
            part = raw.get(key)
            if part is None:
                if key == "title" and view_type == "modal":
                    problems.append(f"[ERROR] missing required field: title [json-pointer:{pointer}]")
                continue
            if not isinstance(part, dict) or part.get("type") != "plain_text":
                problems.append(f"[ERROR] must be a plain_text text object [json-pointer:{pointer}/{key}]")
            elif len(str(part.get("text", ""))) > 24:
                problems.append(f"[ERROR] must be less than 25 characters "
                                f"[json-pointer:{pointer}/{key}/text]")
        blocks = raw.get("blocks")
        if not isinstance(blocks, list):
            problems.append(f"[ERROR] missing required field: blocks [json-pointer:{pointer}]")
            blocks = []
        problems += _block_problems(blocks, f"{pointer}/blocks", MAX_VIEW_BLOCKS)
        has_inputs = any(b.get("type") == "input" for b in blocks if isinstance(b, dict))
        if view_type == "modal" and raw.get("submit") is None and has_inputs:
            problems.append(f"[ERROR] must provide submit when using input blocks "
                            f"[json-pointer:{pointer}/submit]")
        for key, limit in (("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)):
            if len(str(raw.get(key) or "")) > limit:
                problems.append(f"[ERROR] must be at most {limit} characters [json-pointer:{pointer}/{key}]")
        if problems:
            raise SlackError("invalid_arguments", response_metadata={"messages": problems})
        external_id = str(raw.get("external_id") or "")
        taken = next((v["id"] for v in self._views.values() if external_id == v["external_id"] != ""), None)
        return {"type": view_type, "blocks": _with_ids(blocks),
                "private_metadata": str(raw.get("private_metadata") or ""),
                "callback_id": str(raw.get("callback_id") or ""), "state": {"values": {}},
                "title": raw.get("title"), "clear_on_close": bool(raw.get("clear_on_close")),
                "notify_on_close": bool(raw.get("notify_on_close")), "close": raw.get("close"),
                "submit": raw.get("submit"), "external_id": external_id, "_external_taken_by": taken}

    def _store_view(self, prepared: dict[str, Any], user_id: str, *, root: str | None = None,
                    previous: str | None = None) -> dict[str, Any]:
        if prepared.pop("_external_taken_by"):
            raise SlackError("duplicate_external_id")
        view_id = self._new_id("V")
        view = {"id": view_id, "team_id": self.team_id, **prepared, "hash": self._new_hash(),
                "previous_view_id": previous, "root_view_id": root or view_id, "app_id": self.app_id,
                "app_installed_team_id": self.team_id, "bot_id": self.bot_id}
        self._views[view_id] = view
        self._view_user[view_id] = user_id
        return view

    def _trigger(self, trigger_id: str | None) -> _Trigger:
        """A usable trigger; callers mark it used only once the call succeeds (errors change nothing)."""
        trigger = self._triggers.get(trigger_id or "")
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.clock() - trigger.issued > TRIGGER_TTL_SECONDS:
            raise SlackError("expired_trigger_id")
        return trigger

    def _push_view(self, from_view: str | None, raw: Any, user_id: str | None = None) -> dict[str, Any]:
        prepared = self._prepare_view(raw, {"modal"}, pointer="/view")
        stack = next((s for s in self._stacks.values() if from_view in s), None)
        if stack is None and user_id is not None:
            stack = next((s for s in self._stacks.values() if self._view_user[s[0]] == user_id), None)
        if stack is None:
            raise SlackError("not_found")
        if len(stack) >= 3:  # Slack: at most 3 views in a modal stack
            raise SlackError("push_limit_reached")
        view = self._store_view(prepared, self._view_user[stack[0]], root=stack[0], previous=stack[-1])
        stack.append(view["id"])
        return view


def _block_problems(blocks: list[Any], pointer: str, limit: int) -> list[str]:
    problems = []
    if len(blocks) > limit:
        problems.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{pointer}]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or not block.get("type"):
            problems.append(f"[ERROR] missing required field: type [json-pointer:{pointer}/{i}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None and block_id in seen:
            problems.append(f"[ERROR] duplicate block_id `{block_id}` [json-pointer:{pointer}/{i}/block_id]")
        if block_id is not None:
            seen.add(block_id)
    return problems


def _with_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slack assigns a random block_id to blocks, and an action_id to elements, that lack one."""
    blocks = copy.deepcopy(blocks)
    for block in blocks:
        block.setdefault("block_id", secrets.token_urlsafe(3))
        for element in _elements(block):
            kind = str(element.get("type", ""))
            if kind in _INTERACTIVE or kind.endswith(("_select", "_input")):
                element.setdefault("action_id", secrets.token_urlsafe(3))
    return blocks


def _elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    found = [block[k] for k in ("element", "accessory") if isinstance(block.get(k), dict)]
    if block.get("type") == "actions":
        found += [e for e in block.get("elements", []) if isinstance(e, dict)]
    return found


def find_element(blocks: list[dict[str, Any]], action_id: str,
                 block_id: str | None = None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(block, element) holding ``action_id`` - used by the driver to shape interaction payloads."""
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        for element in _elements(block):
            if element.get("action_id") == action_id:
                return block, element
    return None


def _page(items: list[Any], args: _Args, default_limit: int, max_limit: int = 1000) -> tuple[list[Any], str]:
    """Slack's cursor pagination: opaque base64 cursors, next_cursor "" on the last page."""
    offset = 0
    cursor = args.text("cursor")
    if cursor:
        try:
            offset = int(base64.b64decode(cursor).decode().removeprefix("next:"))
        except ValueError:
            raise SlackError("invalid_cursor") from None
    limit = args.number("limit", default_limit)
    limit = min(limit if limit > 0 else default_limit, max_limit)
    end = offset + limit
    next_cursor = base64.b64encode(f"next:{end}".encode()).decode() if end < len(items) else ""
    return items[offset:end], next_cursor


# ===================================================================== Web API methods
@method("auth.test")
def _auth_test(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    return {"url": f"https://{s.team_domain}.slack.com/", "team": s.team_name,
            "user": s._users[s.bot_user_id].name, "team_id": s.team_id, "user_id": s.bot_user_id,
            "bot_id": s.bot_id, "is_enterprise_install": False}


@method("team.info")
def _team_info(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    return {"team": {"id": s.team_id, "name": s.team_name, "domain": s.team_domain, "email_domain": "",
                     "icon": {"image_default": True}}}


@method("conversations.create")
def _conversations_create(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    name = a.text("name")
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > 80:
        raise SlackError("invalid_name_maxlength")
    if not _CHANNEL_NAME.fullmatch(name):
        raise SlackError("invalid_name_specials")
    if not name.strip("-_"):
        raise SlackError("invalid_name_punctuation")
    if s._named(name) is not None:  # archived channels keep their names
        raise SlackError("name_taken")
    channel = Channel(s._new_id("C"), name, a.flag("is_private"), members=[s.bot_user_id],
                      creator=s.bot_user_id, created=s._now())
    s._channels[channel.id] = channel
    s._messages[channel.id] = []
    return {"channel": s._channel_json(channel)}


@method("conversations.invite")
def _conversations_invite(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._channels.get(a.text("channel") or "")
    if channel is not None and channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    channel = s._conversation(a.text("channel"), writable=True)
    users = a.ids("users")
    if not users:
        raise SlackError("no_user")
    if len(users) > 1000:
        raise SlackError("too_many_users")
    valid, errors, removed = [], [], False
    for user_id in dict.fromkeys(users):
        user = s._users.get(user_id)
        code = ("cant_invite_self" if user_id == s.bot_user_id
                else "user_not_found" if user is None
                else "cant_invite" if user.deleted
                else "already_in_channel" if user_id in channel.members
                else None)
        removed = removed or code == "cant_invite"
        if code:
            errors.append({"user": user_id, "ok": False, "error": code})
        else:
            valid.append(user_id)
    # Slack: without force one bad user fails the whole call; deactivated users, and with force any bad
    # user, are skipped while the others are still invited - but the answer is still an error.
    if not errors or a.flag("force") or all(e["error"] == "cant_invite" for e in errors):
        channel.members.extend(valid)
    if errors:
        raise SlackError(errors[0]["error"], errors=errors)
    return {"channel": s._channel_json(channel)}


def _set_text(s: SlackStandIn, a: _Args, key: str) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"), writable=True)
    value = a.text(key) or ""
    if len(value) > 250:
        raise SlackError("too_long")
    setattr(channel, key, value)
    setattr(channel, f"{key}_set", (s.bot_user_id, s._now()))
    return {"channel": s._channel_json(channel)}


@method("conversations.setTopic")
def _conversations_set_topic(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    return _set_text(s, a, "topic")


@method("conversations.setPurpose")
def _conversations_set_purpose(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    return _set_text(s, a, "purpose")


@method("conversations.info")
def _conversations_info(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"), member=False)
    return {"channel": s._channel_json(channel, num_members=a.flag("include_num_members"))}


@method("conversations.list")
def _conversations_list(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    types = set(a.ids("types") or ["public_channel"])
    found = []
    for c in s._channels.values():
        kind = "im" if c.is_im else "private_channel" if c.is_private else "public_channel"
        if kind not in types or (a.flag("exclude_archived") and c.is_archived):
            continue
        if kind != "public_channel" and s.bot_user_id not in c.members:
            continue  # private conversations are only visible to members
        found.append(s._channel_json(c, num_members=not c.is_im))
    page, cursor = _page(found, a, 100)
    return {"channels": page, "response_metadata": {"next_cursor": cursor}}


@method("conversations.members")
def _conversations_members(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"), member=False)
    page, cursor = _page(list(channel.members), a, 100)
    return {"members": page, "response_metadata": {"next_cursor": cursor}}


@method("conversations.join")
def _conversations_join(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._channels.get(a.text("channel") or "")
    if channel is None:
        raise SlackError("channel_not_found")
    if channel.is_private or channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    if s.bot_user_id in channel.members:
        return {"channel": s._channel_json(channel), "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]}}
    channel.members.append(s.bot_user_id)
    return {"channel": s._channel_json(channel)}


@method("conversations.archive")
def _conversations_archive(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"))
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("already_archived")
    channel.is_archived = True
    return {}


@method("conversations.unarchive")
def _conversations_unarchive(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    """Slack documents a bug: bot tokens (xoxb) cannot unarchive; in practice they get ``not_in_channel``.

    ``bot_can_unarchive`` lifts that (as a user token would): the channel is unarchived and the caller
    added to it.
    """
    channel = s._conversation(a.text("channel"), member=False)
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if not channel.is_archived:
        if s.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")
        raise SlackError("not_archived")
    if not s.bot_can_unarchive:
        raise SlackError("not_in_channel")
    channel.is_archived = False
    if s.bot_user_id not in channel.members:
        channel.members.append(s.bot_user_id)
    return {}


def _history(s: SlackStandIn, a: _Args, messages: list[Message], newest_first: bool) -> dict[str, Any]:
    oldest = _ts_key(a.text("oldest") or "0")
    latest = _ts_key(a.text("latest")) if a.text("latest") else None
    inclusive = a.flag("inclusive")

    def within(m: Message) -> bool:
        key = _ts_key(m.ts)
        above = key >= oldest if inclusive else key > oldest
        below = latest is None or (key <= latest if inclusive else key < latest)
        return above and below

    chosen = [m for m in messages if within(m)]
    if newest_first:
        chosen.reverse()
    page, cursor = _page(chosen, a, 100, 999)
    result = {"messages": [s._message_json(m, metadata=a.flag("include_all_metadata")) for m in page],
              "has_more": bool(cursor)}
    if cursor:
        result["response_metadata"] = {"next_cursor": cursor}
    return result


@method("conversations.history")
def _conversations_history(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"))
    top = [m for m in s._messages[channel.id] if m.thread_ts in (None, m.ts)]
    return {**_history(s, a, top, newest_first=True), "pin_count": len(s._pins.get(channel.id, []))}


@method("conversations.replies")
def _conversations_replies(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"))
    parent = s._find_message(channel.id, a.text("ts") or "")
    if parent is None:
        raise SlackError("thread_not_found")
    root = parent.thread_ts or parent.ts
    thread = [m for m in s._messages[channel.id] if m.ts == root or m.thread_ts == root]
    return _history(s, a, thread, newest_first=False)


def _target(s: SlackStandIn, raw: str | None) -> Channel:
    """chat.postMessage's channel: an id, a #name, or a user id (which means the app's DM with them)."""
    raw = raw or ""
    if raw in s._users and raw not in s._channels:
        return s._open_dm(raw)
    named = s._named(raw.removeprefix("#"))
    return s._conversation(named.id if named else raw, writable=True)


@method("chat.postMessage")
def _chat_post_message(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = _target(s, a.text("channel"))
    text, blocks = s._content(a)
    metadata = a.obj("metadata", "invalid_metadata_format")
    well_formed = isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str) and isinstance(
        metadata.get("event_payload"), dict)
    if metadata is not None and not well_formed:
        raise SlackError("invalid_metadata_format")
    thread_ts = a.text("thread_ts")
    parent = s._find_message(channel.id, thread_ts or "")
    if parent is not None and parent.thread_ts:
        thread_ts = parent.thread_ts  # a reply to a reply lands in the same thread
    message = Message(s._new_ts(), channel.id, s.bot_user_id, s.bot_id, text or "", blocks, thread_ts,
                      metadata)
    s._messages[channel.id].append(message)
    return {"channel": channel.id, "ts": message.ts, "message": s._message_json(message, metadata=True)}


@method("chat.update")
def _chat_update(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"), writable=True)
    message = s._message(channel, a.text("ts"))
    if message.user != s.bot_user_id:
        raise SlackError("cant_update_message")
    text, blocks = s._content(a)
    if text is not None:
        message.text = text
    if blocks is not None or a.data.get("blocks") == []:
        message.blocks = blocks or None
    metadata = a.obj("metadata", "invalid_metadata_format")
    if metadata is not None:
        message.metadata = metadata
    message.edited, message.edited_ts = True, s._new_ts()
    return {"channel": channel.id, "ts": message.ts, "text": message.text,
            "message": s._message_json(message, metadata=True)}


@method("chat.postEphemeral")
def _chat_post_ephemeral(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = _target(s, a.text("channel"))
    user = a.need("user", "user_not_in_channel")
    if user not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks = s._content(a)
    ts = s._new_ts()
    s._ephemerals.append({"channel": channel.id, "user": user, "text": text, "blocks": blocks,
                          "message_ts": ts, "thread_ts": a.text("thread_ts")})
    return {"message_ts": ts}


@method("chat.getPermalink")
def _chat_get_permalink(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"), member=False)
    message = s._message(channel, a.text("message_ts"))
    link = f"https://{s.team_domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.thread_ts and message.thread_ts != message.ts:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


@method("pins.add")
def _pins_add(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"), writable=True)
    message = s._message(channel, a.need("timestamp", "no_item_specified"))
    pins = s._pins.setdefault(channel.id, [])
    if any(p[0] == message.ts for p in pins):
        raise SlackError("already_pinned")
    pins.append((message.ts, s._now(), s.bot_user_id))
    return {}


@method("pins.remove")
def _pins_remove(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"), writable=True)
    ts = a.need("timestamp", "no_item_specified")
    pins = s._pins.get(channel.id, [])
    if not any(p[0] == ts for p in pins):
        raise SlackError("no_pin")
    s._pins[channel.id] = [p for p in pins if p[0] != ts]
    return {}


@method("pins.list")
def _pins_list(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"))
    items = [{"type": "message", "created": created, "created_by": by, "channel": channel.id,
              "message": s._message_json(s._message(channel, ts), metadata=False)}
             for ts, created, by in s._pins.get(channel.id, [])]
    return {"items": items}


def _reaction_target(s: SlackStandIn, a: _Args) -> tuple[Message, str]:
    channel = s._conversation(a.text("channel"), writable=True)
    message = s._message(channel, a.need("timestamp", "no_item_specified"))
    return message, a.need("name", "invalid_name").strip(":")


@method("reactions.add")
def _reactions_add(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    message, name = _reaction_target(s, a)
    reaction = next((r for r in message.reactions if r["name"] == name), None)
    if reaction is None:
        reaction = {"name": name, "users": [], "count": 0}
        message.reactions.append(reaction)
    if s.bot_user_id in reaction["users"]:
        raise SlackError("already_reacted")
    reaction["users"].append(s.bot_user_id)
    reaction["count"] += 1
    return {}


@method("reactions.remove")
def _reactions_remove(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    message, name = _reaction_target(s, a)
    reaction = next((r for r in message.reactions if r["name"] == name), None)
    if reaction is None or s.bot_user_id not in reaction["users"]:
        raise SlackError("no_reaction")
    reaction["users"].remove(s.bot_user_id)
    reaction["count"] -= 1
    message.reactions = [r for r in message.reactions if r["count"]]
    return {}


@method("reactions.get")
def _reactions_get(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel"))
    message = s._message(channel, a.need("timestamp", "no_item_specified"))
    return {"type": "message", "channel": channel.id, "message": s._message_json(message, metadata=False)}


@method("bookmarks.add")
def _bookmarks_add(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel_id"), writable=True)
    title = a.need("title", "invalid_arguments")
    kind = a.need("type", "invalid_arguments")
    if kind != "link":
        raise SlackError("invalid_bookmark_type")
    link = a.need("link", "invalid_link")
    bookmark = {"id": s._new_id("Bk"), "channel_id": channel.id, "title": title, "link": link,
                "emoji": a.text("emoji"), "icon_url": None, "type": kind, "entity_id": a.text("entity_id"),
                "date_created": s._now(), "date_updated": 0, "rank": "U",
                "last_updated_by_user_id": s.bot_user_id, "last_updated_by_team_id": s.team_id,
                "shortcut_id": None, "app_id": None}
    s._bookmarks.setdefault(channel.id, []).append(bookmark)
    return {"bookmark": copy.deepcopy(bookmark)}


_MIMETYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
              "csv": "text/csv", "txt": "text/plain", "json": "application/json", "pdf": "application/pdf"}


@method("files.getUploadURLExternal")
def _files_get_upload_url(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    filename = a.need("filename", "invalid_arguments")
    length = a.text("length")
    if length is None or not length.isdigit() or int(length) < 1:
        raise SlackError("invalid_arguments")
    file_id = s._new_id("F")
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    s._files[file_id] = {"id": file_id, "name": filename, "title": filename, "mimetype":
                         _MIMETYPES.get(extension, "application/octet-stream"), "filetype": extension or "binary",
                         "size": int(length), "user": s.bot_user_id, "created": s._now(),
                         "alt_txt": a.text("alt_txt"), "shares": {}, "channels": [], "content": None}
    return {"upload_url": f"{s.url}upload/{file_id}", "file_id": file_id}


@method("files.completeUploadExternal")
def _files_complete_upload(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    entries = a.obj("files")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments")
    chosen = []
    for entry in entries:
        found = s._files.get(str((entry or {}).get("id")))
        if found is None or found["content"] is None or found["channels"]:
            raise SlackError("file_not_found" if found is None else "upload_not_found")
        chosen.append((found, entry))
    channel_id, thread_ts = a.text("channel_id"), a.text("thread_ts")
    channel = s._conversation(channel_id, writable=True) if channel_id else None
    if thread_ts and (channel is None or s._find_message(channel.id, thread_ts) is None):
        raise SlackError("invalid_thread_ts" if channel is not None else "invalid_arguments")
    shared = []
    for found, entry in chosen:
        found["title"] = (entry or {}).get("title") or found["name"]
        if channel is not None:
            found["channels"].append(channel.id)
        shared.append({k: v for k, v in found.items() if k != "content"})
    if channel is not None:
        message = Message(s._new_ts(), channel.id, s.bot_user_id, s.bot_id, a.text("initial_comment") or "",
                          None, thread_ts, None, files=[copy.deepcopy(f) for f in shared])
        s._messages[channel.id].append(message)
        for found, _ in chosen:
            found["shares"] = {"private" if channel.is_private else "public":
                               {channel.id: [{"ts": message.ts, "thread_ts": thread_ts}]}}
    return {"files": [{"id": f["id"], "title": f["title"]} for f in shared]}


@method("files.info")
def _files_info(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    found = s._files.get(a.need("file", "file_not_found"))
    if found is None or found["content"] is None:
        raise SlackError("file_not_found")
    return {"file": {k: v for k, v in found.items() if k != "content"}}


@method("bookmarks.list")
def _bookmarks_list(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    channel = s._conversation(a.text("channel_id"), member=False)
    return {"bookmarks": copy.deepcopy(s._bookmarks.get(channel.id, []))}


@method("views.open")
def _views_open(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    raw = a.obj("view")
    trigger = s._trigger(a.text("trigger_id"))  # Slack reports trigger problems before view problems
    view = s._store_view(s._prepare_view(raw, {"modal"}, pointer="/view"), trigger.user_id)
    s._stacks[view["id"]] = [view["id"]]
    trigger.used = True
    return {"view": copy.deepcopy(view)}


@method("views.push")
def _views_push(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    raw = a.obj("view")
    trigger = s._trigger(a.text("trigger_id"))
    view = s._push_view(trigger.view_id, raw, trigger.user_id)
    trigger.used = True
    return {"view": copy.deepcopy(view)}


@method("views.update")
def _views_update(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    view_id, external_id = a.text("view_id"), a.text("external_id")
    if view_id is None and external_id:
        view_id = next((v["id"] for v in s._views.values() if v["external_id"] == external_id), None)
    view = s._views.get(view_id or "")
    if view is None or (view["type"] != "home" and not any(view["id"] in st for st in s._stacks.values())):
        raise SlackError("not_found")
    if a.text("hash") and a.text("hash") != view["hash"]:
        raise SlackError("hash_conflict")
    prepared = s._prepare_view(a.obj("view"), {view["type"]}, pointer="/view")
    if prepared.pop("_external_taken_by") not in (None, view["id"]):
        raise SlackError("duplicate_external_id")
    view.update(prepared, hash=s._new_hash())
    return {"view": copy.deepcopy(view)}


@method("views.publish")
def _views_publish(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    user_id = a.need("user_id", "invalid_arguments")
    if user_id not in s._users:
        raise SlackError("user_not_found")
    prepared = s._prepare_view(a.obj("view"), {"home"}, pointer="/view")
    current = s._views.get(s._home.get(user_id, ""))
    if current is None:
        view = s._store_view(prepared, user_id)
        s._home[user_id] = view["id"]
        return {"view": copy.deepcopy(view)}
    if a.text("hash") and a.text("hash") != current["hash"]:
        raise SlackError("hash_conflict")
    prepared.pop("_external_taken_by")
    current.update(prepared, hash=s._new_hash())
    return {"view": copy.deepcopy(current)}


@method("users.info")
def _users_info(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    user = s._users.get(a.text("user") or "")
    if user is None:
        raise SlackError("user_not_found")
    return {"user": s._user_json(user)}


@method("users.list")
def _users_list(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    page, cursor = _page([s._user_json(u) for u in s._users.values()], a, 100)
    return {"members": page, "cache_ts": s._now(), "response_metadata": {"next_cursor": cursor}}


@method("usergroups.users.list")
def _usergroups_users_list(s: SlackStandIn, a: _Args) -> dict[str, Any]:
    group = s._usergroups.get(a.text("usergroup") or "")
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group[1])}


# ===================================================================== HTTP plumbing
class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a request stuck in a simulated delay must not keep the process alive
    request_queue_size = 128  # socketserver's 5 overflows when the bot's pools call at once
    standin: SlackStandIn


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "SlackStandIn/1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        standin = self.server.standin
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if parts.path.startswith("/api/"):
                self._api(parts.path.removeprefix("/api/"), parts.query, body)
            elif parts.path.startswith("/response/") and self.command == "POST":
                payload = self._json_or_form(body)
                status, text = standin._respond(parts.path.removeprefix("/response/"), payload)
                self._send(status, text.encode(), "text/html")
            elif parts.path.startswith("/upload/") and self.command == "POST":
                status, text = standin.receive_upload(parts.path.removeprefix("/upload/"), body)
                self._send(status, text.encode(), "text/plain")
            elif parts.path == "/_standin/state":
                self._send_json(200, standin.state())
            elif parts.path == "/_standin/fault" and self.command == "POST":
                spec = json.loads(body or b"{}")
                standin.fail(spec.pop("method"), **spec)
                self._send_json(200, {"ok": True})
            elif parts.path == "/_standin/clear_faults" and self.command == "POST":
                standin.clear_faults()
                self._send_json(200, {"ok": True})
            else:
                self._send(404, b"Not Found", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a simulated delay)
        except (ValueError, TypeError, KeyError) as exc:
            self._send_json(400, {"ok": False, "error": "invalid_request", "detail": str(exc)})

    def _json_or_form(self, body: bytes) -> dict[str, Any]:
        if self.headers.get_content_type() == "application/json":
            return json.loads(body or b"{}")
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        return json.loads(form["payload"]) if "payload" in form else form

    def _api(self, method_name: str, query: str, body: bytes) -> None:
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        content_type = self.headers.get_content_type()
        header_token = None
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            header_token = auth[7:].strip()
        if body and content_type == "application/json":
            try:
                data = json.loads(body)
            except ValueError:
                return self._send_json(200, {"ok": False, "error": "invalid_json"})
            if not isinstance(data, dict):
                return self._send_json(200, {"ok": False, "error": "json_not_object"})
            data.pop("token", None)  # Slack ignores a token inside a JSON body: it must be in the header
            args.update(data)
        elif body and content_type == "application/x-www-form-urlencoded":
            args.update(parse_qsl(body.decode(), keep_blank_values=True))
        elif body:
            return self._send_json(200, {"ok": False, "error": "invalid_post_type"})
        token = header_token or (str(args["token"]) if args.get("token") else None)
        status, headers, answer = self.server.standin.handle_api(method_name, args, token)
        if isinstance(answer, dict):
            self._send_json(status, answer, headers)
        else:
            self._send(status, str(answer).encode(), "text/plain", headers)

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def _send(self, status: int, payload: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


# Registers apps.connections.open; imported last because it builds on this module.
from bot.sandbox import socket_mode as _socket_mode  # noqa: E402
