"""The Slack stand-in and the driver as the browser sandbox uses them.

- :class:`SandboxStandIn` counts every change (a :class:`ChangeFeed`): the page waits on it instead of
  polling the whole workspace, and the workspace file is rewritten after changes. It also does two things
  a Slack client shows that the plain stand-in does not keep: a slash command's immediate answer (the
  ack body) is an ephemeral message to the person, and ``replace_original`` / ``delete_original`` through
  a response URL act on the ephemeral message whose button was clicked.
- :class:`SandboxDriver` signs requests with the real time: the bot checks signatures against its
  machine's clock (five minutes of skew at most), while everything else follows the sandbox clock.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.sandbox.driver import SlackDriver
from bot.sandbox.standin import SlackStandIn, User

# Web API methods that change nothing a person sees; every other call may have (a post, an invite, ...).
READ_ONLY_METHODS = frozenset({
    "auth.test", "team.info", "users.info", "users.list", "usergroups.users.list", "conversations.info",
    "conversations.list", "conversations.members", "conversations.history", "conversations.replies",
    "chat.getPermalink", "pins.list", "reactions.get", "bookmarks.list", "files.info",
})


def _flag(value: Any) -> bool:
    """A boolean as a response URL body may carry it (JSON true, or "true" from a form)."""
    return value is True or str(value).lower() in {"1", "true"}


class ChangeFeed:
    """A version number that grows with every change, and a way to wait for the next one."""

    def __init__(self) -> None:
        self._version = 0
        self._closed = False
        self._changed = threading.Condition()

    @property
    def version(self) -> int:
        with self._changed:
            return self._version

    def bump(self) -> None:
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    def wait(self, after: int, timeout: float, *, until: Callable[[], bool] | None = None) -> int:
        """The version once it is past ``after`` (at once if it already is), when ``until()`` turns true
        (checked at each change or :meth:`poke`), or when ``timeout`` runs out."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > after or self._closed or (until is not None and until()),
                                   timeout)
            return self._version

    def poke(self) -> None:
        """Wake the waiters to look at their ``until`` again, without a change."""
        with self._changed:
            self._changed.notify_all()

    def close(self) -> None:
        """Wake every waiter (the server is stopping: long polls must not hold it up)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


class SandboxStandIn(SlackStandIn):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.changes = ChangeFeed()

    def handle_api(self, method_name: str, args: dict[str, Any],
                   token: str | None) -> tuple[int, dict[str, str], Any]:
        answer = super().handle_api(method_name, args, token)
        if method_name not in READ_ONLY_METHODS:
            self.changes.bump()
        return answer

    def _respond(self, url_id: str, body: dict[str, Any]) -> tuple[int, str]:
        """A response URL post; on an ephemeral message's URL, replace or delete that message in place."""
        with self._lock:
            target = self._response_urls.get(url_id)
            before = len(self._ephemerals)
            status, text = super()._respond(url_id, body)
            replace, delete = _flag(body.get("replace_original")), _flag(body.get("delete_original"))
            # The plain stand-in appends a new ephemeral when the original is not a channel message.
            if status == 200 and target is not None and (replace or delete) and len(self._ephemerals) > before:
                index = next((i for i, e in enumerate(self._ephemerals[:before])
                              if e.get("message_ts") == target.message_ts and e.get("user") == target.user_id), None)
                if index is not None:
                    new = self._ephemerals.pop()
                    if delete and not replace:
                        del self._ephemerals[index]
                    else:
                        self._ephemerals[index] = {**self._ephemerals[index], "text": new.get("text"),
                                                   "blocks": new.get("blocks")}
        self.changes.bump()
        return status, text

    def add_ephemeral(self, channel_id: str, user_id: str, text: str, blocks: list[dict[str, Any]] | None = None,
                      *, thread_ts: str | None = None) -> str:
        """A message only ``user_id`` sees (a command's ack, as Slack shows it); returns its ts."""
        with self._lock:
            ts = self._new_ts()
            self._ephemerals.append({"channel": channel_id, "user": user_id, "text": text, "blocks": blocks,
                                     "message_ts": ts, "thread_ts": thread_ts})
        self.changes.bump()
        return ts

    def users(self) -> list[User]:
        with self._lock:
            return copy.deepcopy(list(self._users.values()))


class SandboxDriver(SlackDriver):
    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        # The signature's timestamp is transport time, checked against the bot machine's real clock.
        return super().sign(body, int(time.time()) if timestamp is None else timestamp)
