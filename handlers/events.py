"""Events API: anything subscribed but not handled elsewhere is acknowledged, never answered 404.

A 404 makes Slack retry the event and, if it keeps happening, disable the subscription.
"""

from __future__ import annotations

import re

from slack_bolt import App

from bot.services import Services


def register(app: App, svc: Services) -> None:
    # Registered last: Bolt runs the first listener that matches, so specific handlers win.
    @app.event(re.compile(".*"))
    def acknowledge_other_events() -> None:
        return None
