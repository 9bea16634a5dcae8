"""Who is who in Slack: the bot's identity (auth.test, cached) and user-group expansion (cached)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient

GROUP_TTL_SECONDS = 300
ZONE_TTL_SECONDS = 3600  # people rarely move; a DM held for working hours can be an hour off after a move


@dataclass(frozen=True)
class Identity:
    bot_user_id: str
    team_id: str
    team_url: str


class Directory:
    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._identity: Identity | None = None
        self._groups: dict[str, tuple[float, list[str]]] = {}
        self._zones: dict[str, tuple[float, ZoneInfo | None]] = {}
        self._lock = threading.Lock()

    def identity(self) -> Identity:
        """auth.test once per process: /readyz and every job read the cached answer."""
        if self._identity is None:
            data = self.client.auth_test().data
            assert isinstance(data, dict)
            self._identity = Identity(
                bot_user_id=str(data.get("user_id")),
                team_id=str(data.get("team_id")),
                team_url=str(data.get("url") or ""),
            )
        return self._identity

    def permalink(self, channel: str, ts: str, thread_ts: str | None = None) -> str:
        """A message's permalink in Slack's stable format, built from the workspace URL (one auth.test)."""
        link = f"{self.identity().team_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return link

    @property
    def identity_checked(self) -> bool:
        return self._identity is not None

    def group_members(self, group_id: str) -> list[str]:
        with self._lock:
            cached = self._groups.get(group_id)
            if cached and time.monotonic() - cached[0] < GROUP_TTL_SECONDS:
                return cached[1]
        users = list(self.client.usergroups_users_list(usergroup=group_id).get("users") or [])
        with self._lock:
            self._groups[group_id] = (time.monotonic(), users)
        return users

    def expand(self, ids: Iterable[str]) -> list[str]:
        """User IDs, with user groups (``S…``) replaced by their members; order kept, no duplicates."""
        out: dict[str, None] = {}
        for entry in ids:
            members = self.group_members(entry) if entry.startswith("S") else [entry]
            for user in members:
                out.setdefault(user, None)
        return list(out)

    def user_zone(self, user_id: str) -> ZoneInfo | None:
        """The timezone set in the user's Slack profile (``users.info`` → ``user.tz``), cached for an hour.

        None when Slack has no usable zone for them; Slack errors propagate (the caller decides).
        """
        with self._lock:
            cached = self._zones.get(user_id)
            if cached and time.monotonic() - cached[0] < ZONE_TTL_SECONDS:
                return cached[1]
        name = (self.client.users_info(user=user_id).get("user") or {}).get("tz")
        try:
            zone = ZoneInfo(str(name)) if name else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        with self._lock:
            self._zones[user_id] = (time.monotonic(), zone)
        return zone
