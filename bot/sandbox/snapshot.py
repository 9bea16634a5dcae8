"""The browser sandbox's memory: the Slack stand-in's workspace and the sandbox clock, in a JSON file.

The stand-in keeps Slack's side in memory; the bot keeps its side in the database. For "a restart resumes
the same workspace" both must survive, so the workspace file lives beside the database
(``advocacy-sandbox.db`` → ``advocacy-sandbox.db.workspace.json``) and is rewritten after changes.

What is persisted is what a person sees and what the bot relies on later (channels, messages, pins,
views, files, ...). Short-lived grants (trigger IDs live 3 s, response URLs point at the stand-in's port,
which changes per run) and the call log are not: ``TRANSIENT`` names them, so that a field added to the
stand-in later has to be placed in one list or the other (tests/test_sandbox_web.py checks).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import os
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.sandbox.standin import Channel, Message, SlackStandIn, User

FORMAT = 1
PERSISTED = frozenset({"_ids", "_last_ts", "_users", "_usergroups", "_channels", "_messages", "_pins", "_bookmarks",
                       "_views", "_view_user", "_stacks", "_home", "_ephemerals", "_files"})
# Set again by the constructor on every start, or meaningless after a restart (see the module's docstring).
TRANSIENT = frozenset({"bot_token", "bot_can_unarchive", "team_id", "team_name", "team_domain", "bot_user_id",
                       "bot_id", "app_id", "app_token", "clock", "_lock", "_triggers", "_response_urls", "_responses",
                       "_calls", "_faults", "_server", "_thread", "_socket_mode"})


def state_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".workspace.json")


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields the dataclass has now: a file written by an older version still loads."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def dump(standin: SlackStandIn) -> dict[str, Any]:
    """The stand-in's workspace as JSON-ready data (file contents base64)."""
    s = standin
    with s._lock:
        next_id = next(s._ids)
        s._ids = itertools.count(next_id)  # peeking consumed one: put it back
        return copy.deepcopy({
            "next_id": next_id,
            "last_ts": s._last_ts,
            "users": [asdict(u) for u in s._users.values()],
            "usergroups": {gid: [handle, list(users)] for gid, (handle, users) in s._usergroups.items()},
            "channels": [asdict(c) for c in s._channels.values()],
            "messages": {cid: [asdict(m) for m in messages] for cid, messages in s._messages.items()},
            "pins": {cid: [list(pin) for pin in pins] for cid, pins in s._pins.items()},
            "bookmarks": s._bookmarks,
            "views": s._views,
            "view_user": s._view_user,
            "stacks": s._stacks,
            "home": s._home,
            "ephemerals": s._ephemerals,
            "files": {fid: {**f, "content": None if f.get("content") is None
                            else base64.b64encode(f["content"]).decode()} for fid, f in s._files.items()},
        })


def load(standin: SlackStandIn, data: dict[str, Any]) -> None:
    """Replace the stand-in's workspace with ``data`` (from :func:`dump`)."""
    s = standin
    channels = [Channel(**{**_known(Channel, c), "topic_set": tuple(c.get("topic_set") or ("", 0)),
                           "purpose_set": tuple(c.get("purpose_set") or ("", 0))}) for c in data["channels"]]
    with s._lock:
        s._ids = itertools.count(int(data["next_id"]))
        s._last_ts = int(data["last_ts"])
        s._users = {u["id"]: User(**_known(User, u)) for u in data["users"]}
        s._usergroups = {gid: (str(handle), list(users)) for gid, (handle, users) in data["usergroups"].items()}
        s._channels = {c.id: c for c in channels}
        s._messages = {cid: [Message(**_known(Message, m)) for m in messages]
                       for cid, messages in data["messages"].items()}
        s._pins = {cid: [(str(ts), int(created), str(by)) for ts, created, by in pins]
                   for cid, pins in data["pins"].items()}
        s._bookmarks = data["bookmarks"]
        s._views = data["views"]
        s._view_user = data["view_user"]
        s._stacks = data["stacks"]
        s._home = data["home"]
        s._ephemerals = data["ephemerals"]
        s._files = {fid: {**f, "content": None if f.get("content") is None else base64.b64decode(f["content"])}
                    for fid, f in data["files"].items()}


def save(path: Path, standin: SlackStandIn, now: datetime) -> None:
    """Write the workspace and the clock's time atomically (a crash mid-write keeps the previous file)."""
    payload = json.dumps({"format": FORMAT, "clock": now.isoformat(), "standin": dump(standin)})
    partial = path.with_name(path.name + ".partial")
    partial.write_text(payload, encoding="utf-8")
    os.replace(partial, path)


def read(path: Path) -> tuple[datetime, dict[str, Any]] | None:
    """(the clock's time, the stand-in's data) from a workspace file; None when there is none yet.

    A file this version cannot read raises ValueError: starting afresh would silently lose a workspace.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a workspace file this version can read")
    return datetime.fromisoformat(data["clock"]), data["standin"]
