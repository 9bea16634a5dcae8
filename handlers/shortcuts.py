"""Message shortcuts: "Escalate this message", and "Log as customer update" (for thread replies)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot import case_flow
from bot.blocks.escalate_modal import ModalContext, escalate_modal
from bot.domain.escalation import SUMMARY_MAX, EscalationRequest
from bot.flow import FlowError
from bot.services import Services
from bot.text import truncate, unescape_slack
from handlers.middleware import log_not_done

log = logging.getLogger(__name__)

CALLBACK_ID = "escalate_message"
LOG_UPDATE_CALLBACK_ID = "log_customer_update"


def register(app: App, svc: Services) -> None:
    @app.shortcut(CALLBACK_ID)
    def escalate_message(ack: Ack, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        message = shortcut.get("message") or {}
        # Message text is stored escaped; the input shows plain text, and the case keeps the original.
        text = truncate(unescape_slack(message.get("text") or ""), SUMMARY_MAX)
        context = ModalContext(
            channel=(shortcut.get("channel") or {}).get("id"),
            response_url=shortcut.get("response_url"),
            source_channel=(shortcut.get("channel") or {}).get("id"),
            source_ts=message.get("ts"),
        )
        # after the ack, and the trigger ID's first and only use
        svc.later(client.views_open, trigger_id=shortcut["trigger_id"],
                  view=escalate_modal(svc.config, EscalationRequest(customer=None, summary=text), context))

    @app.shortcut(LOG_UPDATE_CALLBACK_ID)
    def log_customer_update(ack: Ack, shortcut: dict[str, Any], respond: Respond) -> None:
        """People answer in threads, where slash commands cannot be typed: record the chosen message."""
        ack()
        message = shortcut.get("message") or {}
        try:
            answer = case_flow.log_message_as_update(
                svc, user=shortcut["user"]["id"], channel_id=(shortcut.get("channel") or {}).get("id"),
                ts=str(message.get("ts") or ""), text=message.get("text") or "")
        except FlowError as exc:
            answer = f":warning: {exc}"
        except (SQLAlchemyError, TimeoutError):
            log_not_done(log, "could not record a customer update from a message")
            answer = ":x: I could not record that (database unavailable). Nothing was recorded; please try again."
        # ephemeral, through the shortcut's response_url; after the ack (it is an HTTP call)
        svc.later(respond, text=answer, response_type="ephemeral", replace_original=False)
        svc.kick()
