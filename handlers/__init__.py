"""Thin Bolt listeners, one module per Slack surface: parse, authorize, call the domain, respond."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import actions, commands, events, home, middleware, options, shortcuts, views


def register(app: App, svc: Services) -> None:
    # Bolt tries each listener's matcher in registration order, building its arguments each time, until one
    # matches: the three slash commands first (a person waits on them, and they are only three matchers for
    # everything else to pass), then the busiest surfaces (events are most of the traffic, then buttons).
    # Every listener matches by exact name except the events' catch-all, which matches events only: home's
    # app_home_opened must come before it.
    middleware.register(app, svc)
    commands.register(app, svc)
    home.register(app, svc)
    events.register(app, svc)  # ends with the catch-all for events
    actions.register(app, svc)
    shortcuts.register(app, svc)
    views.register(app, svc)
    options.register(app, svc)
