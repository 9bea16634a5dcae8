"""What one person sees of the workspace, as JSON for the page: read from the stand-in, which holds what
Slack would (the bot's posts, people's messages, views), never from the bot's database.

A person sees the public channels, the private ones they are in, their DM with the bot, the messages
only they were shown (ephemeral), their App Home and the modal they have open.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from bot.sandbox.acting import COMMANDS, REACTIONS, SHORTCUTS
from bot.sandbox.standin import Channel, Message

if TYPE_CHECKING:
    from bot.sandbox.workspace import Workspace

FILE_URL = "/sandbox/api/file/"


def people(ws: Workspace) -> list[dict[str, Any]]:
    config = ws.config
    roles: dict[str, list[str]] = {}
    for advocate in config.advocates:
        roles.setdefault(advocate, []).append("advocate")
    for name, department in config.departments.items():
        for head in department.heads:
            roles.setdefault(head, []).append(f"head of {name}")
    for leader in config.leaders:
        roles.setdefault(leader, []).append("leader")
    return [{"id": u.id, "name": u.name, "real_name": u.real_name, "tz": u.tz, "roles": roles.get(u.id, [])}
            for u in ws.standin.users() if not u.is_bot and not u.deleted]


def sees(channel: Channel, user_id: str) -> bool:
    if channel.is_im:
        return channel.im_user == user_id
    return not channel.is_private or user_id in channel.members


def _channel_entry(ws: Workspace, channel: Channel, user_id: str, latest: str | None) -> dict[str, Any]:
    name = ws.standin.user_name(ws.standin.bot_user_id) if channel.is_im else channel.name  # a DM: the app's name
    return {"id": channel.id, "name": name, "im": channel.is_im,
            "private": channel.is_private, "archived": channel.is_archived, "member": user_id in channel.members,
            "latest": latest}


def _file(file: dict[str, Any]) -> dict[str, Any]:
    return {"id": file.get("id"), "name": file.get("name"), "title": file.get("title"),
            "mimetype": file.get("mimetype"), "url": f"{FILE_URL}{file.get('id')}"}


def message_json(message: Message, pins: list[str]) -> dict[str, Any]:
    data = asdict(message)
    data.pop("metadata")  # the bot's idempotency keys: Slack clients do not show them
    data["bot"] = message.bot_id is not None
    data["pinned"] = message.ts in pins
    data["files"] = [_file(f) for f in message.files or []]
    return data


def channel_view(ws: Workspace, channel: Channel, user_id: str) -> dict[str, Any]:
    s = ws.standin
    pins = s.pins(channel.id)
    ephemerals = [{"ts": e["message_ts"], "text": e.get("text") or "", "blocks": e.get("blocks"),
                   "thread_ts": e.get("thread_ts")}
                  for e in s.ephemerals if e.get("channel") == channel.id and e.get("user") == user_id]
    return {**_channel_entry(ws, channel, user_id, None), "topic": channel.topic, "purpose": channel.purpose,
            "members": [m for m in channel.members if m != s.bot_user_id], "pins": pins,
            "bookmarks": [{"title": b.get("title"), "link": b.get("link")} for b in s.bookmarks(channel.id)],
            "messages": [message_json(m, pins) for m in s.messages(channel.id)], "ephemerals": ephemerals}


def modal_of(ws: Workspace, user_id: str) -> dict[str, Any] | None:
    """The top of the person's open modal stack (Slack shows one view at a time)."""
    stack = ws.standin.open_views(user_id)
    if not stack:
        return None
    view = ws.standin.views[stack[-1]]
    return {k: view.get(k) for k in ("id", "hash", "title", "submit", "close", "blocks")} | {"depth": len(stack)}


def state(ws: Workspace, user_id: str, channel_id: str | None) -> dict[str, Any]:
    s = ws.standin
    visible = [c for c in s.channels if sees(c, user_id)]
    latest = {c.id: next((m.ts for m in reversed(s.messages(c.id)) if m.user != user_id), None) for c in visible}
    chosen = next((c for c in visible if c.id == channel_id), None)
    home = s.home_views.get(user_id)
    now = ws.clock()
    return {
        "version": s.changes.version,
        "now": now.isoformat(), "now_ms": int(now.timestamp() * 1000),
        "zone": ws.config.timezone, "team": s.team_name, "domain": s.team_domain,
        "me": user_id,
        "bot": {"id": s.bot_user_id, "name": s.user_name(s.bot_user_id)},
        "people": people(ws),
        "users": {u.id: u.name for u in s.users()},
        "channel_names": {c.id: c.name for c in s.channels if not c.is_im},
        "channels": [_channel_entry(ws, c, user_id, latest[c.id]) for c in visible],
        "channel": channel_view(ws, chosen, user_id) if chosen else None,
        "home": {k: home.get(k) for k in ("id", "hash", "blocks")} if home else None,
        "modal": modal_of(ws, user_id),
        "commands": COMMANDS, "shortcuts": SHORTCUTS, "reactions": list(REACTIONS),
    }
