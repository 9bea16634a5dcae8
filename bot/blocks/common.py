"""Small Block Kit helpers shared by every surface. User text goes through ``escape_mrkdwn`` here."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.text import escape_mrkdwn, truncate

Block = dict[str, Any]


def mention(user_or_group: str) -> str:
    """``<@U…>`` for a person, ``<!subteam^S…>`` for a user group (which notifies its members)."""
    return f"<!subteam^{user_or_group}>" if user_or_group.startswith("S") else f"<@{user_or_group}>"


def channel_link(channel_id: str | None, fallback: str = "the case channel") -> str:
    return f"<#{channel_id}>" if channel_id else fallback


def money(value: Decimal | None) -> str:
    if value is None:
        return "not stated"
    return f"${value:,.0f}" if value == value.to_integral_value() else f"${value:,.2f}"


def slack_date(moment: datetime) -> str:
    """A date every reader sees in their own timezone, with a UTC fallback for old clients."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def mrkdwn_user(text: str, limit: int = 3000) -> dict[str, Any]:
    """A mrkdwn text object holding user-written text, escaped."""
    return {"type": "mrkdwn", "text": truncate(escape_mrkdwn(text), limit)}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, 150)}


def section(text: str, **extra: Any) -> Block:
    """A section of mrkdwn we wrote ourselves (any user text inside must already be escaped)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}, **extra}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(t, 3000)} for t in texts[:10]]}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": plain(text, 75), "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    return element


def actions(block_id: str, *elements: dict[str, Any]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}
