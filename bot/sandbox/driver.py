"""Plays the Slack side towards the bot's ``POST /slack/events`` endpoint, or over Socket Mode.

Requests are shaped and signed exactly as Slack sends them (slash commands form-encoded,
Events API JSON envelopes, interactivity as a form field ``payload=<json>``), so the bot's
real request verification and parsing run unchanged.  With ``transport="socket"`` the same
payloads go to the bot over the stand-in's Socket Mode link instead, in Slack's envelopes
(see bot/sandbox/socket_mode.py), and the ack is the answer.  With a :class:`SlackStandIn` the
payloads are built from its state (stored views and messages, live trigger ids and
response URLs), which keeps the whole loop bot -> stand-in -> driver -> bot consistent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from bot.sandbox.standin import SlackStandIn, find_element

REQUEST_TIMEOUT_SECONDS = 10.0
# Slack leaves these sequences alone when it entity-escapes user text (mentions, channels, links).
_CONTROL_SEQUENCE = re.compile(r"(<(?:[@#!]|https?://|mailto:)[^<>]*>)")
# A bare address a person types, which Slack turns into <https://...> (trailing punctuation left out).
_BARE_URL = re.compile(r"(?:https?://|mailto:)[^\s<>|]*[^\s<>|.,;:!?)'\"]")
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|[^>]*)?>")
_BROADCASTS = frozenset({"here", "channel", "everyone"})
# What a message carries about its thread / reactions / pins later on, not when it is first posted.
_LATER_KEYS = ("reply_count", "reply_users", "reply_users_count", "latest_reply", "reactions", "pinned_to")
_TEXT_INPUTS = frozenset({"plain_text_input", "number_input", "email_text_input", "url_text_input"})
# Element type -> (state key, is-multi) for the elements whose state is a plain id/date value.
_PLAIN_SELECTIONS = {
    "users_select": ("selected_user", False),
    "multi_users_select": ("selected_users", True),
    "conversations_select": ("selected_conversation", False),
    "multi_conversations_select": ("selected_conversations", True),
    "channels_select": ("selected_channel", False),
    "multi_channels_select": ("selected_channels", True),
    "datepicker": ("selected_date", False),
    "timepicker": ("selected_time", False),
    "datetimepicker": ("selected_date_time", False),
}


class NoAck(TimeoutError):
    """Socket Mode: the app did not acknowledge an envelope in time (what HTTP would see as a failed request)."""


@dataclass
class DriverResponse:
    status: int
    text: str
    headers: dict[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def escape(text: str) -> str:
    """Slack's entity escaping of user-typed text (&, <, >), sparing <@U..>/<#C..>/<http..> sequences."""
    parts = _CONTROL_SEQUENCE.split(text)
    return "".join(
        part if i % 2 else part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        for i, part in enumerate(parts)
    )


def linkify(text: str) -> str:
    """What a Slack client sends for typed text: bare addresses become <https://...> links."""
    parts = _CONTROL_SEQUENCE.split(text)
    return "".join(part if i % 2 else _BARE_URL.sub(lambda m: f"<{m.group(0)}>", part)
                   for i, part in enumerate(parts))


def _rich_element(sequence: str) -> dict[str, Any]:
    target, _, label = sequence[1:-1].partition("|")
    if target.startswith("@"):
        return {"type": "user", "user_id": target[1:]}
    if target.startswith("#"):
        return {"type": "channel", "channel_id": target[1:]}
    if target.startswith("!"):
        name = target[1:]
        if name in _BROADCASTS:
            return {"type": "broadcast", "range": name}
        if name.startswith("subteam^"):
            return {"type": "usergroup", "usergroup_id": name.removeprefix("subteam^")}
        return {"type": "text", "text": label or sequence}
    link: dict[str, Any] = {"type": "link", "url": target}
    if label:
        link["text"] = label
    return link


def rich_text(text: str) -> dict[str, Any]:
    """The rich_text block a Slack client attaches to what a person types (``text`` unescaped, linkified)."""
    elements = [_rich_element(part) if i % 2 else {"type": "text", "text": part}
                for i, part in enumerate(_CONTROL_SEQUENCE.split(text)) if part]
    return {"type": "rich_text", "block_id": secrets.token_urlsafe(3),
            "elements": [{"type": "rich_text_section", "elements": elements}]}


def link_preview(index: int, url: str) -> dict[str, Any]:
    """The attachment Slack adds when it unfurls a plain web link (title/service: the host name)."""
    host = urlsplit(url).hostname or url
    return {"id": index, "from_url": url, "original_url": url, "fallback": f"{host}: {host}", "title": host,
            "title_link": url, "service_name": host}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found += group.get("options", [])
    return found


def _option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """The option object Slack echoes back for a chosen value (external menus: text = value)."""
    if isinstance(value, dict):
        return value
    if "external" in element["type"]:
        return {"text": _plain(str(value)), "value": str(value)}
    for option in _options(element):
        if option.get("value") == value:
            return {k: option[k] for k in ("text", "value", "description") if k in option}
    raise ValueError(f"{element.get('action_id')!r} has no option with value {value!r}")


def element_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """Slack's ``state.values`` entry for one element; ``value=None`` gives the untouched shape."""
    kind = element["type"]
    state: dict[str, Any] = {"type": kind}
    if kind in _TEXT_INPUTS or kind == "rich_text_input":
        state["value"] = None if value is None else str(value)
    elif kind in _PLAIN_SELECTIONS:
        key, multi = _PLAIN_SELECTIONS[kind]
        state[key] = list(value or []) if multi else value
    elif kind.startswith("multi_") or kind == "checkboxes":
        state["selected_options"] = [_option(element, v) for v in value or []]
    elif kind.endswith("_select") or kind in ("radio_buttons", "overflow"):
        state["selected_option"] = None if value is None else _option(element, value)
    else:
        state["value"] = value
    return state


# Untouched inputs are submitted with their initial value, as Slack does: element key → state key.
_INITIAL_KEYS = {
    "initial_value": "value",
    "initial_option": "selected_option",
    "initial_options": "selected_options",
    "initial_user": "selected_user",
    "initial_users": "selected_users",
    "initial_conversation": "selected_conversation",
    "initial_conversations": "selected_conversations",
    "initial_channel": "selected_channel",
    "initial_channels": "selected_channels",
    "initial_date": "selected_date",
    "initial_time": "selected_time",
    "initial_date_time": "selected_date_time",
}


def initial_state(element: dict[str, Any]) -> dict[str, Any]:
    """The state of an input the person did not touch: its initial value, else empty."""
    state = element_state(element, None)
    for initial, key in _INITIAL_KEYS.items():
        if initial in element:
            state[key] = element[initial]
    return state


def view_state(blocks: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """``state.values`` for a view: every input block (initial value if not given) plus any other given block."""
    known = {b.get("block_id") for b in blocks}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"the view has no blocks {sorted(unknown)}")
    state: dict[str, Any] = {}
    for block in blocks:
        block_id = block.get("block_id")
        element = block.get("element") if block.get("type") == "input" else None
        if element is None and block_id in values:
            element = next((e for e in (block.get("elements") or [block.get("accessory")]) if e), None)
        if element is not None:
            entry = element_state(element, values[block_id]) if block_id in values else initial_state(element)
            state[block_id] = {element["action_id"]: entry}
    return state


class SlackDriver:
    def __init__(
        self,
        app_url: str,
        *,
        signing_secret: str,
        standin: SlackStandIn | None = None,
        team_id: str = "T0SANDBOX",
        api_app_id: str = "A0ADVOCACY",
        verification_token: str = "sandbox-verification-token",
        clock: Callable[[], float] = time.time,
        transport: Literal["http", "socket"] = "http",
    ) -> None:
        if transport == "socket" and standin is None:
            raise ValueError("the socket transport delivers through the stand-in's Socket Mode link")
        self.transport = transport
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.standin = standin
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.verification_token = verification_token  # the deprecated "token" field Slack still sends
        self.clock = clock

    # ----------------------------------------------------------------- transport
    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        """Slack's v0 request signature (what slack_sdk's SignatureVerifier checks)."""
        ts = str(int(self.clock()) if timestamp is None else timestamp)
        base = f"v0:{ts}:{body}".encode()
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}

    def post(self, body: str, content_type: str, headers: dict[str, str] | None = None) -> DriverResponse:
        """Send a signed request; ``headers`` may override the signature headers (to test rejection)."""
        all_headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
                       **self.sign(body), **(headers or {})}
        request = urllib.request.Request(self.app_url, data=body.encode(), headers=all_headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:
                return DriverResponse(answer.status, answer.read().decode(), dict(answer.headers.items()))
        except urllib.error.HTTPError as exc:  # 4xx/5xx are answers too (e.g. 401 on a bad signature)
            return DriverResponse(exc.code, exc.read().decode(), dict(exc.headers.items()))

    def _send(self, body: str, content_type: str, *, timestamp: int | None, signature: str | None,
              extra: dict[str, str] | None = None) -> DriverResponse:
        headers = {**self.sign(body, timestamp), **(extra or {})}
        if signature is not None:
            headers["X-Slack-Signature"] = signature
        return self.post(body, content_type, headers)

    def _deliver(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0,
                 retry_reason: str = "") -> DriverResponse:
        """Socket Mode: the payload in an envelope; the ack (matched by envelope_id) answers, as status 200."""
        assert self.standin is not None
        delivery = self.standin.socket_mode.deliver(kind, payload, timeout=REQUEST_TIMEOUT_SECONDS,
                                                    retry_attempt=retry_attempt, retry_reason=retry_reason)
        if not delivery.acked:
            raise NoAck(f"the app did not acknowledge the {kind} envelope in {REQUEST_TIMEOUT_SECONDS:.0f} s")
        body = delivery.response
        return DriverResponse(200, "" if body is None else json.dumps(body),
                              {"X-Envelope-Id": delivery.acked_envelope_id or ""})

    def _unsigned(self, timestamp: int | None, signature: str | None) -> None:
        if self.transport == "socket" and (timestamp is not None or signature is not None):
            raise ValueError("Socket Mode envelopes are not signed: timestamp/signature apply to HTTP only")

    def _interact(self, payload: dict[str, Any]) -> DriverResponse:
        if self.transport == "socket":
            return self._deliver("interactive", payload)
        body = urlencode({"payload": json.dumps(payload)})
        return self._send(body, "application/x-www-form-urlencoded", timestamp=None, signature=None)

    # ----------------------------------------------------------------- context from the stand-in
    def _bot_user_id(self) -> str:
        return self.standin.bot_user_id if self.standin else "U0BOT"

    def _domain(self) -> str:
        return self.standin.team_domain if self.standin else "sandbox"

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self._domain()}

    def _user(self, user_id: str) -> dict[str, Any]:
        name = self.standin.user_name(user_id) if self.standin else user_id
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _channel(self, channel_id: str, default_name: str | None = None) -> dict[str, Any]:
        channel = self.standin.channel(channel_id) if self.standin else None
        if channel is None:
            return {"id": channel_id, "name": default_name or channel_id}
        return {"id": channel_id, "name": "directmessage" if channel.is_im else channel.name}

    def _trigger(self, user_id: str, view_id: str | None = None) -> str:
        if self.standin:
            return self.standin.new_trigger_id(user_id, view_id=view_id)
        return f"{int(self.clock())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"

    def _response_url(self, channel_id: str | None, user_id: str, message_ts: str | None = None) -> str:
        if self.standin:
            return self.standin.new_response_url(channel_id=channel_id, user_id=user_id,
                                                 message_ts=message_ts)
        # Without a stand-in nothing can answer a response_url; keep Slack's shape anyway.
        return f"https://hooks.slack.com/actions/{self.team_id}/1/{secrets.token_hex(12)}"

    def _view(self, view_id: str) -> dict[str, Any]:
        view = self.standin.views.get(view_id) if self.standin else None
        if view is None:
            raise ValueError(f"the stand-in has no view {view_id!r}")
        view.pop("user")
        return view

    def _action_ts(self) -> str:
        return f"{self.clock():.6f}"

    def _event_ts(self) -> str:
        """A new Slack ts for something that happens now (the stand-in's clock when there is one)."""
        return self.standin.next_ts() if self.standin else self._action_ts()

    def _channel_type(self, channel_id: str) -> str:
        """The Events API's channel_type: private channels are "group", DMs "im"."""
        channel = self.standin.channel(channel_id) if self.standin else None
        if channel is None:
            return {"D": "im", "G": "group"}.get(channel_id[:1], "channel")
        return "im" if channel.is_im else "group" if channel.is_private else "channel"

    def _stored(self, channel_id: str, ts: str) -> dict[str, Any]:
        message = self.standin.message_json(channel_id, ts) if self.standin else None
        if message is None:
            raise ValueError(f"the stand-in has no message {ts!r} in {channel_id!r}")
        return message

    def _permalink(self, channel_id: str, message: dict[str, Any]) -> str:
        ts = str(message.get("ts") or "")
        link = f"https://{self._domain()}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
        if message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel_id}"
        return link

    def _message_event(self, channel_id: str, fields: dict[str, Any], *, event_id: str | None) -> DriverResponse:
        """A ``message`` event: the fields, then channel, event_ts and channel_type as Slack orders them."""
        event = {"type": "message", **fields, "channel": channel_id,
                 "event_ts": fields.get("event_ts") or fields["ts"], "channel_type": self._channel_type(channel_id)}
        return self.event(event, event_id=event_id)

    # ----------------------------------------------------------------- Slack requests
    def command(self, user_id: str, command: str, text: str = "", *, channel_id: str = "C0GENERAL",
                channel_name: str = "general", timestamp: int | None = None,
                signature: str | None = None) -> DriverResponse:
        fields = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self._domain(),
            "channel_id": channel_id,
            "channel_name": self._channel(channel_id, channel_name)["name"],
            "user_id": user_id,
            "user_name": self._user(user_id)["name"],
            "command": command if command.startswith("/") else f"/{command}",
            "text": escape(text),
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url(channel_id, user_id),
            "trigger_id": self._trigger(user_id),
        }
        self._unsigned(timestamp, signature)
        if self.transport == "socket":  # the form's fields, as a JSON object
            return self._deliver("slash_commands", fields)
        return self._send(urlencode(fields), "application/x-www-form-urlencoded", timestamp=timestamp,
                          signature=signature)

    def event(self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None,
              retry_reason: str = "http_timeout", timestamp: int | None = None) -> DriverResponse:
        event = dict(event)
        event.setdefault("event_ts", event.get("ts") or self._action_ts())
        kind = event.get("type", "")
        context = json.dumps({"et": kind, "tid": self.team_id, "aid": self.api_app_id,
                              "cid": event.get("channel")})
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev0{secrets.token_hex(4).upper()}",
            "event_time": int(self.clock()),
            "authorizations": [{"enterprise_id": None, "team_id": self.team_id,
                                "user_id": self._bot_user_id(), "is_bot": True,
                                "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
            "event_context": "4-" + base64.urlsafe_b64encode(context.encode()).decode().rstrip("="),
        }
        self._unsigned(timestamp, None)
        if self.transport == "socket":  # the event callback itself; a retry says so in the envelope
            return self._deliver("events_api", envelope, retry_attempt=retry_num or 0,
                                 retry_reason=retry_reason if retry_num else "")
        retry = {} if retry_num is None else {"X-Slack-Retry-Num": str(retry_num),
                                               "X-Slack-Retry-Reason": retry_reason}
        return self._send(json.dumps(envelope), "application/json", timestamp=timestamp, signature=None,
                          extra=retry)

    def react(self, user_id: str, channel_id: str, ts: str, name: str, *,
              event_id: str | None = None) -> DriverResponse:
        """A person adds a reaction: recorded in the stand-in, then ``reaction_added`` as Slack sends it."""
        if self.standin is not None:
            self.standin.add_reaction(channel_id, ts, user_id, name)
            message = self.standin.message_json(channel_id, ts) or {}
            item_user = message.get("user") or message.get("bot_id") or ""
        else:
            item_user = ""
        return self.event({"type": "reaction_added", "user": user_id, "reaction": name, "item_user": item_user,
                           "item": {"type": "message", "channel": channel_id, "ts": ts},
                           "event_ts": self._action_ts()}, event_id=event_id)

    # ----------------------------------------------------------------- people (and Slack) in channels
    def say(self, user_id: str, channel_id: str, text: str, *, thread_ts: str | None = None,
            event_id: str | None = None) -> tuple[str, DriverResponse]:
        """A person posts ``text`` (a reply when ``thread_ts``): stored, then the ``message`` event.

        The text is what they type: bare links are linkified and &, <, > entity-escaped like Slack does,
        and it comes with the client's rich_text block.  Returns the new message's ts and the answer.
        """
        typed = linkify(text)
        wire, block = escape(typed), rich_text(typed)
        client_msg_id = str(uuid.uuid4())
        parent_user: str | None = None
        if self.standin is not None:
            channel = self.standin.channel(channel_id)
            if channel is None:
                raise ValueError(f"the stand-in has no channel {channel_id!r}")
            if channel.is_archived:
                raise ValueError(f"#{channel.name} is archived: nobody can post there")
            if thread_ts is not None:
                # a reply to a reply lands in the same thread, as in Slack's clients
                thread_ts = self._stored(channel_id, thread_ts).get("thread_ts") or thread_ts
                parent_user = self._stored(channel_id, thread_ts).get("user")
            ts = self.standin.add_message(channel_id, user_id, wire, blocks=[block], thread_ts=thread_ts,
                                          client_msg_id=client_msg_id)
        else:
            ts = self._action_ts()
        fields: dict[str, Any] = {"client_msg_id": client_msg_id, "text": wire, "user": user_id, "ts": ts,
                                  "blocks": [block], "team": self.team_id}
        if thread_ts is not None:
            fields["thread_ts"] = thread_ts
            if parent_user:
                fields["parent_user_id"] = parent_user
        return ts, self._message_event(channel_id, fields, event_id=event_id)

    def _changed(self, channel_id: str, message: dict[str, Any], previous: dict[str, Any], ts: str, *,
                 event_id: str | None) -> DriverResponse:
        return self._message_event(channel_id, {"subtype": "message_changed", "message": message,
                                                "previous_message": previous, "hidden": True, "ts": ts},
                                   event_id=event_id)

    def edit(self, user_id: str, channel_id: str, ts: str, text: str, *,
             event_id: str | None = None) -> DriverResponse:
        """A person edits their message: stored (with ``edited``), then ``message_changed``."""
        typed = linkify(text)
        wire, block = escape(typed), rich_text(typed)
        if self.standin is not None:
            previous = self._stored(channel_id, ts)
            edit_ts = self.standin.edit_message(channel_id, ts, user_id, wire, blocks=[block])
            message = self._stored(channel_id, ts)
        else:
            edit_ts = self._action_ts()
            previous = {"type": "message", "text": "", "user": user_id, "ts": ts, "team": self.team_id}
            message = {**previous, "text": wire, "blocks": [block], "edited": {"user": user_id, "ts": edit_ts}}
        message.update(source_team=self.team_id, user_team=self.team_id)
        return self._changed(channel_id, message, previous, edit_ts, event_id=event_id)

    def unfurl(self, channel_id: str, ts: str, *, attachments: list[dict[str, Any]] | None = None,
               event_id: str | None = None) -> DriverResponse:
        """Slack adds link previews: ``message_changed`` with the same text plus attachments, not ``edited``.

        ``attachments`` default to a plain preview of each link in the message.
        """
        if self.standin is None:
            raise ValueError("unfurl needs the stand-in: the preview depends on the message's links")
        previous = self._stored(channel_id, ts)
        if attachments is None:
            urls = list(dict.fromkeys(_LINK.findall(str(previous.get("text") or ""))))
            if not urls:
                raise ValueError(f"message {ts!r} has no link to unfurl")
            attachments = [link_preview(i, url) for i, url in enumerate(urls, 1)]
        self.standin.unfurl_message(channel_id, ts, attachments)
        return self._changed(channel_id, self._stored(channel_id, ts), previous, self._event_ts(),
                             event_id=event_id)

    def delete(self, user_id: str, channel_id: str, ts: str, *, event_id: str | None = None) -> DriverResponse:
        """A person deletes a message: removed from the stand-in, then ``message_deleted``."""
        if self.standin is not None:
            previous = self._stored(channel_id, ts)
            self.standin.delete_message(channel_id, ts)
        else:
            previous = {"type": "message", "text": "", "user": user_id, "ts": ts, "team": self.team_id}
        return self._message_event(channel_id, {"subtype": "message_deleted", "hidden": True,
                                                "previous_message": previous, "deleted_ts": ts,
                                                "ts": self._event_ts()}, event_id=event_id)

    def join(self, user_id: str, channel_id: str, *, inviter: str | None = None,
             event_id: str | None = None) -> DriverResponse:
        """A person joins (``inviter``: was added by someone): a member now, and Slack's ``channel_join``."""
        text = f"<@{user_id}> has joined the channel"
        extra = {"inviter": inviter} if inviter else {}
        if self.standin is not None:
            if not self.standin.add_member(channel_id, user_id):
                raise ValueError(f"{user_id} already is a member of {channel_id}")
            ts = self.standin.add_message(channel_id, user_id, text, subtype="channel_join", extra=extra)
        else:
            ts = self._action_ts()
        return self._message_event(channel_id, {"subtype": "channel_join", "ts": ts, "user": user_id,
                                                "text": text, **extra}, event_id=event_id)

    def set_topic(self, user_id: str, channel_id: str, topic: str, *,
                  event_id: str | None = None) -> DriverResponse:
        """A person sets the channel topic: stored, and Slack's ``channel_topic`` notice."""
        topic = escape(topic)
        text = f"set the channel topic: {topic}"
        if self.standin is not None:
            self.standin.set_topic(channel_id, user_id, topic)
            ts = self.standin.add_message(channel_id, user_id, text, subtype="channel_topic",
                                          extra={"topic": topic})
        else:
            ts = self._action_ts()
        return self._message_event(channel_id, {"subtype": "channel_topic", "ts": ts, "user": user_id,
                                                "text": text, "topic": topic}, event_id=event_id)

    def pin(self, user_id: str, channel_id: str, ts: str, *, event_id: str | None = None) -> DriverResponse:
        """A person pins a message: recorded in the stand-in, then ``pin_added``."""
        if self.standin is not None:
            if not self.standin.pin_as(channel_id, ts, user_id):
                raise ValueError(f"message {ts!r} in {channel_id!r} already is pinned")
            message = self._stored(channel_id, ts)
            created = (self.standin.pin_info(channel_id, ts) or (int(self.clock()), user_id))[0]
            pin_count = len(self.standin.pins(channel_id))
        else:
            message = {"type": "message", "ts": ts, "pinned_to": [channel_id]}
            created, pin_count = int(self.clock()), 1
        message.pop("metadata", None)
        message["permalink"] = self._permalink(channel_id, message)
        return self.event({
            "type": "pin_added", "user": user_id, "channel_id": channel_id,
            "item": {"type": "message", "created": created, "created_by": user_id, "channel": channel_id,
                     "message": message},
            "item_user": message.get("user") or "", "pin_count": pin_count,
            "pinned_info": {"channel": channel_id, "pinned_by": user_id, "pinned_ts": created},
            "event_ts": self._event_ts(),
        }, event_id=event_id)

    def echo(self, channel_id: str, ts: str, *, event_id: str | None = None) -> DriverResponse:
        """The ``message`` event Slack sends the app for one of its own posts (bot_id, no subtype)."""
        message = self._stored(channel_id, ts)
        if not message.get("bot_id"):
            raise ValueError(f"message {ts!r} in {channel_id!r} is not the bot's")
        for key in _LATER_KEYS:
            message.pop(key, None)
        if message.get("thread_ts") == ts:
            del message["thread_ts"]  # a thread parent: it had no thread when it was posted
        message.pop("type")
        return self._message_event(channel_id, {**message, "event_ts": ts}, event_id=event_id)

    def message_shortcut(self, user_id: str, callback_id: str, *, channel_id: str,
                         message_ts: str) -> DriverResponse:
        message = self.standin.message_json(channel_id, message_ts) if self.standin else None
        if message is None:
            raise ValueError(f"the stand-in has no message {message_ts!r} in {channel_id!r}")
        return self._interact({
            "type": "message_action",
            "token": self.verification_token,
            "action_ts": self._action_ts(),
            "team": self._team(),
            "user": self._user(user_id),
            "channel": self._channel(channel_id),
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger(user_id),
            "response_url": self._response_url(channel_id, user_id),
            "message_ts": message_ts,
            "message": message,
        })

    def block_action(self, user_id: str, action_id: str, *, value: Any = None, block_id: str | None = None,
                     view_id: str | None = None, channel_id: str | None = None, message_ts: str | None = None,
                     selected_option: Any = None, response_url: bool = True) -> DriverResponse:
        payload: dict[str, Any] = {"type": "block_actions", "user": self._user(user_id),
                                   "api_app_id": self.api_app_id, "token": self.verification_token,
                                   "team": self._team(), "enterprise": None, "is_enterprise_install": False}
        blocks: list[dict[str, Any]] = []
        if view_id is not None:
            view = self._view(view_id)
            blocks = view["blocks"]
            view["state"] = {"values": view_state(blocks, {})}
            payload.update(container={"type": "view", "view_id": view_id}, view=view)
        elif channel_id is not None and message_ts is not None:
            message = self.standin.message_json(channel_id, message_ts) if self.standin else None
            blocks = (message or {}).get("blocks") or []
            payload.update(container={"type": "message", "message_ts": message_ts, "channel_id": channel_id,
                                      "is_ephemeral": message is None},
                           channel=self._channel(channel_id), state={"values": {}})
            if message is not None:
                payload["message"] = message
            if response_url:  # Slack sends response_url for message interactions, never for modal ones
                payload["response_url"] = self._response_url(channel_id, user_id, message_ts)
        payload["trigger_id"] = self._trigger(user_id, view_id)
        found = find_element(blocks, action_id, block_id)
        block, element = found if found else ({"block_id": block_id or ""}, {"type": "button"})
        action: dict[str, Any] = {"action_id": action_id, "block_id": block["block_id"],
                                  "action_ts": self._action_ts()}
        if element["type"] == "button":
            action.update(type="button", text=element.get("text", _plain(action_id)))
            if value is not None or "value" in element:
                action["value"] = value if value is not None else element["value"]
        else:
            chosen = selected_option if selected_option is not None else value
            action.update(element_state(element, chosen))
        payload["actions"] = [action]
        return self._interact(payload)

    def view_submission(self, user_id: str, view_id: str, values: dict[str, Any]) -> DriverResponse:
        view = self._view(view_id)
        view["state"] = {"values": view_state(view["blocks"], values)}
        answer = self._interact({
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self._trigger(user_id, view_id),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        })
        if self.standin is not None and answer.status == 200:
            # Slack closes (or updates/pushes) the modal according to the app's ack.
            body = answer.json()
            self.standin.apply_submission_ack(view_id, body if isinstance(body, dict) else None)
        return answer

    def block_suggestion(self, user_id: str, action_id: str, value: str, *, view_id: str,
                         block_id: str | None = None) -> DriverResponse:
        view = self._view(view_id)
        found = find_element(view["blocks"], action_id, block_id)
        return self._interact({
            "type": "block_suggestion",
            "user": self._user(user_id),
            "container": {"type": "view", "view_id": view_id},
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "action_id": action_id,
            "block_id": found[0]["block_id"] if found else block_id,
            "value": value,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": view,
        })
