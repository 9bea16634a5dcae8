"""Text in and out of Slack: the one place user text is escaped, unescaped and slugged."""

from __future__ import annotations

import html
import re
from typing import Any

from slugify import slugify


def escape_mrkdwn(text: str) -> str:
    """Escape user text placed in mrkdwn.

    Slack only treats ``&``, ``<`` and ``>`` as control characters; escaping them stops
    ``<!channel>``, ``<!here>``, ``<!subteam^…>`` and forged links from user input.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape_slack(text: str) -> str:
    """Slash-command text arrives entity-escaped (``AT&amp;T``); undo it before storing."""
    return html.unescape(text) if "&" in text else text


def drop_nul(value: Any) -> Any:
    """``value`` without NUL (U+0000) in any of its strings; dicts and lists are changed in place (their keys,
    Slack's field names, are left as they are).

    PostgreSQL text cannot hold NUL (a write with one fails), SQLite can, and no Slack surface shows it:
    removing it where a request comes in keeps what is stored the same on both, and every write possible.
    """
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = drop_nul(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = drop_nul(item)
    return value


_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def user_ids_in(text: str) -> list[str]:
    """User IDs of ``<@U…>`` mentions, in order, without duplicates."""
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        seen.setdefault(match.group(1), None)
    return list(seen)


CHANNEL_NAME_MAX = 80


def channel_name(prefix: str, name: str, *, suffix: str = "") -> str:
    """A valid Slack channel name ``<prefix>-<slug>[-suffix]``: lowercase ASCII, digits, ``-``, ≤ 80.

    Non-Latin names are transliterated (``Müller`` → ``muller``, ``東京`` → ``dong-jing``); a name
    that leaves nothing (emoji only) falls back to ``customer``.
    """
    tail = f"-{suffix}" if suffix else ""
    room = CHANNEL_NAME_MAX - len(prefix) - 1 - len(tail)
    slug = slugify(name, max_length=room, word_boundary=True, separator="-") or slugify(
        name, max_length=room
    )
    slug = slug.strip("-") or "customer"
    return f"{prefix}-{slug}{tail}"


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
