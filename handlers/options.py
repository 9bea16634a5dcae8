"""Options for external selects (block_suggestion): the customer's timezone."""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from slack_bolt import Ack, App

from bot.blocks.escalate_modal import TIMEZONE_ACTION
from bot.services import Services

MAX_OPTIONS = 100  # Slack shows at most 100 options


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def timezone_options(query: str) -> list[dict[str, Any]]:
    """Zones whose name contains every word of the query: ``new york`` → America/New_York."""
    words = query.lower().replace("_", " ").split()
    matches = [z for z in _zones() if all(w in z.lower().replace("_", " ") for w in words)]
    return [{"text": {"type": "plain_text", "text": z}, "value": z} for z in matches[:MAX_OPTIONS]]


def register(app: App, svc: Services) -> None:
    @app.options(TIMEZONE_ACTION)
    def timezone(ack: Ack, payload: dict[str, Any]) -> None:
        ack(options=timezone_options(str(payload.get("value") or "")))
