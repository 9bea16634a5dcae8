"""Events API: reactions on reminders; anything else subscribed is acknowledged, never answered 404.

A 404 makes Slack retry the event and, if it keeps happening, disable the subscription.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App

from bot import update_flow
from bot.services import Services

log = logging.getLogger(__name__)


def register(app: App, svc: Services) -> None:
    @app.event("reaction_added")
    def reaction_added(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message" or not item.get("channel") or not item.get("ts"):
            return
        outcome = update_flow.answer_by_reaction(svc, user=str(event.get("user")), channel_id=item["channel"],
                                                 ts=item["ts"], reaction=str(event.get("reaction") or ""))
        if outcome:
            log.info("reminder in %s answered by a reaction: %s", item["channel"], outcome)
            svc.kick()

    # Registered last: Bolt runs the first listener that matches, so specific handlers win.
    @app.event(re.compile(".*"))
    def acknowledge_other_events() -> None:
        return None
