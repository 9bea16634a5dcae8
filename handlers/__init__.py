"""Thin Bolt listeners, one module per Slack surface: parse, authorize, call the domain, respond."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import actions, commands, events, home, middleware, options, shortcuts, views


def register(app: App, svc: Services) -> None:
    middleware.register(app, svc)
    commands.register(app, svc)
    shortcuts.register(app, svc)
    views.register(app, svc)
    actions.register(app, svc)
    options.register(app, svc)
    home.register(app, svc)
    events.register(app, svc)  # last: the catch-all
