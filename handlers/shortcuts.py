"""Shortcuts: the message shortcut "Escalate this message"."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.blocks.escalate_modal import ModalContext, escalate_modal
from bot.domain.escalation import SUMMARY_MAX, EscalationRequest
from bot.services import Services
from bot.text import truncate, unescape_slack
from handlers.common import acknowledge

CALLBACK_ID = "escalate_message"


def register(app: App, svc: Services) -> None:
    def escalate_message(shortcut: dict[str, Any], client: WebClient) -> None:
        """After the ack: open the form (the trigger ID's first and only use)."""
        message = shortcut.get("message") or {}
        # Message text is stored escaped; the input shows plain text, and the case keeps the original.
        text = truncate(unescape_slack(message.get("text") or ""), SUMMARY_MAX)
        context = ModalContext(
            channel=(shortcut.get("channel") or {}).get("id"),
            response_url=shortcut.get("response_url"),
            source_channel=(shortcut.get("channel") or {}).get("id"),
            source_ts=message.get("ts"),
        )
        client.views_open(
            trigger_id=shortcut["trigger_id"],
            view=escalate_modal(svc.config, EscalationRequest(customer=None, summary=text), context),
        )

    app.shortcut(CALLBACK_ID)(ack=acknowledge, lazy=[escalate_message])
