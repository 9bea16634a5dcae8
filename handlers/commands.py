"""Slash commands: ``/escalate``."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot import escalation_flow
from bot.blocks.escalate_modal import ModalContext, escalate_modal
from bot.blocks.replies import escalating_ack, usage_text
from bot.domain.cases import Origin
from bot.domain.escalation import EscalationError, parse_escalate_text, validate_request
from bot.services import Services

log = logging.getLogger(__name__)


def register(app: App, svc: Services) -> None:
    config = svc.config

    @app.command("/escalate")
    def escalate(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        """Runs before the response: parse, write the request durably, answer. Nothing slow here."""
        text = (command.get("text") or "").strip()
        usage = usage_text(list(config.severities), list(config.departments))
        if text.lower() in {"help", "-h", "--help", "?"}:
            ack(text=usage)
            return
        try:
            request = parse_escalate_text(text, config)
        except EscalationError as exc:
            ack(text=f":warning: {exc} Nothing was created.\n{usage}")
            return
        if request.customer is None or not request.summary:  # no "customer:" part: ask in the form
            ack()
            # The trigger ID is single-use and expires in about 3 s: this is its first use, right away.
            context = ModalContext(channel=command.get("channel_id"), response_url=command.get("response_url"))
            svc.later(client.views_open, trigger_id=command["trigger_id"],
                      view=escalate_modal(config, request, context))
            return
        problems = validate_request(request, config)
        if problems:
            ack(text=":warning: " + " ".join(problems.values()) + f" Nothing was created.\n{usage}")
            return
        origin = Origin(
            requester=command["user_id"],
            channel_id=command.get("channel_id"),
            response_url=command.get("response_url"),
        )
        # One insert before the ack: from here on the escalation survives a crash.
        try:
            escalation_flow.request_case(svc, request, origin)
        except (SQLAlchemyError, TimeoutError):
            log.exception("could not record an escalation")
            ack(text=":x: I could not record this escalation (database unavailable). Nothing was created; "
                "please try again in a minute.")
            return
        ack(text=escalating_ack(request.customer or ""))
        svc.kick()
