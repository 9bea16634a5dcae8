"""What a person does in the page, done the way Slack does it: stored in the stand-in where Slack would
store it (their message, their reaction), then sent to the bot as Slack sends it, through the driver
(signed, to ``POST /slack/events``), so the bot's own verification and parsing run.

Each function checks first that the person could do it in Slack (a member of the channel, the modal is
theirs, the channel is not archived); a refusal is a :class:`SandboxError` whose text the page shows.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from bot.sandbox.driver import DriverResponse
from bot.sandbox.standin import Channel
from handlers.shortcuts import CALLBACK_ID, LOG_UPDATE_CALLBACK_ID

if TYPE_CHECKING:
    from bot.sandbox.workspace import Workspace

# The app's slash commands and message shortcuts, as app.manifest.yaml declares them.
COMMANDS = {
    "/escalate": "<customer>: <what happened> [p1] [+billing] [$12k]",
    "/case": "update <text> | status | owner @name | add +dept | note | resolve | close | reopen N | timeline",
    "/advocacy": "customer add|show|edit <name> | handover @from @to [--reason text] | digest | help",
}
SHORTCUTS = {CALLBACK_ID: "Escalate this message", LOG_UPDATE_CALLBACK_ID: "Log as customer update"}
REACTIONS = ("white_check_mark", "zzz", "pushpin", "+1", "eyes", "tada")
_HANDLE = re.compile(r"(?<![\w<@])@([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)
_CHANNEL = re.compile(r"(?<![\w<#])#([a-z0-9][a-z0-9_-]*)")


class SandboxError(Exception):
    """Something the person cannot do (as Slack would not let them); the message says why."""


def person(ws: Workspace, user_id: str) -> str:
    """A person of the workspace (not the bot, not deactivated)."""
    found = next((u for u in ws.standin.users() if u.id == user_id), None)
    if found is None or found.is_bot or found.deleted:
        raise SandboxError(f"There is nobody called {user_id!r} in this workspace.")
    return user_id


def channel_for(ws: Workspace, user_id: str, channel_id: str, *, write: bool = False) -> Channel:
    """A channel the person sees: public ones, private ones they are in, their DM with the bot."""
    channel = ws.standin.channel(channel_id)
    visible = channel is not None and (
        channel.im_user == user_id if channel.is_im else not channel.is_private or user_id in channel.members)
    if channel is None or not visible:
        raise SandboxError("That channel does not exist, or you are not in it.")
    if write and channel.is_archived:
        raise SandboxError(f"#{channel.name} is archived: nobody can post or run commands there.")
    if write and not channel.is_im and user_id not in channel.members:
        raise SandboxError(f"Join #{channel.name} first.")
    return channel


def typed(ws: Workspace, text: str) -> str:
    """What a Slack client sends for what was typed: ``@ada`` picked from the list becomes ``<@U01ADA>``,
    ``#general`` becomes ``<#C0GENERAL|general>``; unknown names stay as typed."""
    handles = {u.name.lower(): u.id for u in ws.standin.users() if not u.deleted}
    names = {c.name: c.id for c in ws.standin.channels if not c.is_im}
    text = _HANDLE.sub(lambda m: f"<@{handles[m[1].lower()]}>" if m[1].lower() in handles else m[0], text)
    return _CHANNEL.sub(lambda m: f"<#{names[m[1]]}|{m[1]}>" if m[1] in names else m[0], text)


def _checked(response: DriverResponse, what: str) -> DriverResponse:
    if response.status != 200:
        raise SandboxError(f"The bot answered {what} with HTTP {response.status}.")
    return response


def post(ws: Workspace, user_id: str, channel_id: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
    """The message box: a slash command (not in threads, as in Slack), or a message / thread reply."""
    channel = channel_for(ws, user_id, channel_id, write=True)
    text = text.strip()
    if not text:
        raise SandboxError("Type a message first.")
    if text.startswith("/"):
        if thread_ts:
            raise SandboxError("Slash commands cannot be used in threads (as in Slack): use the channel's box, "
                               "or a message shortcut.")
        command = text.split(maxsplit=1)[0]
        rest = text[len(command):]
        if command not in COMMANDS:
            raise SandboxError(f"{command} is not a command of this app; try {', '.join(COMMANDS)}.")
        response = ws.driver.command(user_id, command, typed(ws, rest.strip()), channel_id=channel.id)
        show_ack(ws, user_id, channel.id, command, response)
        ws.changed()
        return {"ok": True}
    if channel.is_im:  # app.manifest.yaml: messages_tab_read_only_enabled
        raise SandboxError("Sending messages to this app has been turned off (its Messages tab is read-only).")
    ts, response = ws.driver.say(user_id, channel.id, typed(ws, text), thread_ts=thread_ts or None)
    _checked(response, "the message event")
    ws.changed()
    return {"ok": True, "ts": ts}


def show_ack(ws: Workspace, user_id: str, channel_id: str, command: str, response: DriverResponse) -> None:
    """Slack shows a slash command's immediate answer to the person only; a failure as Slack words it."""
    if response.status != 200:
        ws.standin.add_ephemeral(channel_id, user_id, f"{command} failed with the error \"http_{response.status}\"")
        return
    body = response.json()
    if isinstance(body, dict):
        text, blocks = str(body.get("text") or ""), body.get("blocks")
    else:
        text, blocks = response.text, None
    if text or blocks:
        ws.standin.add_ephemeral(channel_id, user_id, text, blocks)


def react(ws: Workspace, user_id: str, channel_id: str, ts: str, name: str) -> dict[str, Any]:
    channel_for(ws, user_id, channel_id, write=True)
    name = name.strip(":")
    message = ws.standin.message_json(channel_id, ts)
    if message is None:
        raise SandboxError("That message is gone.")
    if any(r["name"] == name and user_id in r["users"] for r in message.get("reactions") or []):
        raise SandboxError(f"You already reacted :{name}:.")
    _checked(ws.driver.react(user_id, channel_id, ts, name), "the reaction event")
    ws.changed()
    return {"ok": True}


def join(ws: Workspace, user_id: str, channel_id: str) -> dict[str, Any]:
    channel = channel_for(ws, user_id, channel_id)
    if channel.is_private or channel.is_im or channel.is_archived:
        raise SandboxError("Only open public channels can be joined; private ones need an invitation.")
    if user_id not in channel.members:
        _checked(ws.driver.join(user_id, channel_id), "the join event")
        ws.changed()
    return {"ok": True}


def _own_view(ws: Workspace, user_id: str, view_id: str) -> dict[str, Any]:
    view = ws.standin.views.get(view_id)
    if view is None or view["user"] != user_id:
        raise SandboxError("That form is not open for you any more.")
    return view


def click(ws: Workspace, user_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """A button, menu, picker or select outside an input block: ``block_actions``.

    ``data``: ``action_id``, ``block_id``, ``value`` (a button's value, the chosen option's value, a date, a
    user ID), and where: ``view_id`` (a modal or the Home tab) or ``channel`` + ``ts`` (a message, or an
    ephemeral message, which the stand-in does not keep: the page sends the button's value along).
    """
    action_id, block_id, value = str(data.get("action_id") or ""), data.get("block_id"), data.get("value")
    if not action_id:
        raise SandboxError("Which button?")
    if data.get("view_id"):
        _own_view(ws, user_id, str(data["view_id"]))
        response = ws.driver.block_action(user_id, action_id, value=value, block_id=block_id,
                                          view_id=str(data["view_id"]))
    else:
        channel = channel_for(ws, user_id, str(data.get("channel") or ""))
        response = ws.driver.block_action(user_id, action_id, value=value, block_id=block_id, channel_id=channel.id,
                                          message_ts=str(data.get("ts") or ""))
    _checked(response, "the click")
    ws.changed()
    return {"ok": True}


def submit(ws: Workspace, user_id: str, view_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """A modal's Submit: ``view_submission`` with the inputs' values by block ID; errors come back by block."""
    _own_view(ws, user_id, view_id)
    try:
        response = ws.driver.view_submission(user_id, view_id, values)
    except ValueError as exc:  # a value that is not one of the options, a block the view does not have
        raise SandboxError(str(exc)) from None
    _checked(response, "the form")
    body = response.json()
    ws.changed()
    if isinstance(body, dict) and body.get("response_action") == "errors":
        return {"ok": False, "errors": body.get("errors") or {}}
    return {"ok": True}


def close_view(ws: Workspace, user_id: str, view_id: str) -> dict[str, Any]:
    """Cancel / ×: Slack closes the modal (and would send ``view_closed`` only to apps that ask for it)."""
    _own_view(ws, user_id, view_id)
    ws.standin.close_view(view_id)
    ws.changed()
    return {"ok": True}


def suggest(ws: Workspace, user_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """An external select being typed in: ``block_suggestion``; the bot's options come back."""
    view_id = str(data.get("view_id") or "")
    _own_view(ws, user_id, view_id)
    response = _checked(ws.driver.block_suggestion(user_id, str(data.get("action_id") or ""),
                                                   str(data.get("value") or ""), view_id=view_id,
                                                   block_id=data.get("block_id")), "the search")
    body = response.json() if response.text else {}
    options = list((body or {}).get("options") or [])
    for group in (body or {}).get("option_groups") or []:
        options += group.get("options") or []
    return {"ok": True, "options": options}


def open_home(ws: Workspace, user_id: str) -> dict[str, Any]:
    """The person opens the app's Home tab: ``app_home_opened``, and the bot publishes what they should see."""
    event: dict[str, Any] = {"type": "app_home_opened", "user": user_id, "tab": "home",
                             "channel": ws.standin.dm_channel(user_id) or ""}
    home = ws.standin.home_views.get(user_id)
    if home is not None:
        event["view"] = home
    _checked(ws.driver.event(event), "app_home_opened")
    return {"ok": True}


def shortcut(ws: Workspace, user_id: str, callback_id: str, channel_id: str, ts: str) -> dict[str, Any]:
    if callback_id not in SHORTCUTS:
        raise SandboxError("This app has no such shortcut.")
    channel = channel_for(ws, user_id, channel_id, write=True)
    _checked(ws.driver.message_shortcut(user_id, callback_id, channel_id=channel.id, message_ts=ts), "the shortcut")
    ws.changed()
    return {"ok": True}


def parse(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise SandboxError("The request is not JSON.") from None
    if not isinstance(data, dict):
        raise SandboxError("The request is not a JSON object.")
    return data
