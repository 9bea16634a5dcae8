"""Shortcuts: the message shortcut "Escalate this message"."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks.escalate_modal import ModalContext, escalate_modal
from bot.domain.escalation import SUMMARY_MAX, EscalationRequest
from bot.services import Services
from bot.text import truncate, unescape_slack

CALLBACK_ID = "escalate_message"


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
