"""The app factory: ``create_app(settings, client=…)`` builds the Bolt app and what it needs.

Nothing happens at import time; nothing calls Slack at construction (auth.test is done by ``run``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient

from bot.clock import Clock, system_clock
from bot.config import TeamConfig, load_config
from bot.logs import redact_secrets_of
from bot.observability import Metrics
from bot.services import Services
from bot.settings import Settings
from bot.slack_client import SlackClient, make_client
from storage.db import Database


@dataclass
class AdvocacyApp:
    bolt: App
    services: Services


def create_app(
    settings: Settings,
    client: WebClient | None = None,
    *,
    config: TeamConfig | None = None,
    db: Database | None = None,
    clock: Clock = system_clock,
    metrics: Metrics | None = None,
) -> AdvocacyApp:
    import handlers  # registers effects and listeners only when an app is built
    from jobs.registry import load_effects

    load_effects()

    # The secrets this app was given (the sandbox makes its own) are redacted from every log line.
    redact_secrets_of(settings)
    metrics = metrics or Metrics()
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = client or make_client(token, settings.slack_api_url, metrics=metrics)
    if isinstance(client, SlackClient) and client.metrics is None:
        client.metrics = metrics  # built before the app (tests, the sandbox): counted by the app it serves
    services = Services(
        settings=settings,
        config=config or load_config(settings.advocacy_config),
        db=db or Database(settings.database_url),
        client=client,
        clock=clock,
        metrics=metrics,
    )
    bolt = App(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None,
        # With a token, App() would call auth.test right here; run() checks auth once at start instead.
        token_verification_enabled=False,
        # Listeners run in the request thread and answer at once; what is slow they hand to our own
        # pools (svc.later, svc.kick). Otherwise Bolt runs every listener on its pool and polls for
        # the ack every 10 ms, and listeners still busy after their ack delay everyone's acks.
        process_before_response=True,
        # Bolt logs request bodies at DEBUG; keep its logger at INFO so user text and URLs stay out.
        logger=logging.getLogger("slack_bolt"),
        # An unmatched subscribed event answered 404 makes Slack retry; answer 200 instead.
        raise_error_for_unhandled_request=False,
        ignoring_self_events_enabled=True,
    )
    # Bolt's signature check logs each rejected request's whole body at INFO (people's text, the verification
    # token Slack still sends): bot.web logs one line per rejected request instead, without the body.
    logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)
    handlers.register(bolt, services)
    return AdvocacyApp(bolt=bolt, services=services)
