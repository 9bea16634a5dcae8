"""Events API: people's messages in case channels, reactions and pins, the app losing its token
(``tokens_revoked``, ``app_uninstalled``); anything else is acknowledged.

A 404 makes Slack retry the event and, if it keeps happening, disable the subscription.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App, BoltContext

from bot import case_flow, update_flow
from bot.observability import CASE
from bot.services import Services

log = logging.getLogger(__name__)
# message subtypes written by people (others: joins, topic changes, bot posts, …)
PEOPLE_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})
PUSHPIN = "pushpin"


def register(app: App, svc: Services) -> None:
    @app.event("message")
    def message(event: dict[str, Any], context: BoltContext) -> None:
        """Only people's messages count: joins, topic changes, bot posts and unfurls are filtered out.

        ``delivery`` (the event id) is claimed by the flow's own transaction: see handlers/middleware.py."""
        subtype, channel = event.get("subtype"), event.get("channel")
        delivery = context.get("delivery")
        if not channel:
            return
        if subtype == "message_changed":
            changed = event.get("message") or {}
            # a link preview changes the message without an "edited" mark; bots' edits are not people's
            if "edited" in changed and not changed.get("bot_id") and changed.get("ts"):
                case_flow.message_edited(svc, channel_id=channel, ts=changed["ts"], text=changed.get("text") or "",
                                         delivery=delivery)
        elif subtype == "message_deleted":
            if event.get("deleted_ts"):
                case_flow.message_deleted(svc, channel_id=channel, ts=event["deleted_ts"], delivery=delivery)
        elif subtype in PEOPLE_SUBTYPES and event.get("user") and not event.get("bot_id") and event.get("ts"):
            posted = case_flow.message_posted(svc, user=event["user"], channel_id=channel, ts=event["ts"],
                                              thread_ts=event.get("thread_ts"), text=event.get("text") or "",
                                              delivery=delivery)
            if posted is not None:
                context[CASE] = posted.case_number  # for the request's log line (bot/observability.py)
                if posted.answered:
                    log.info("departments %s answered in case #%s", ",".join(posted.answered), posted.case_number)
                    svc.kick()

    @app.event("pin_added")
    def pin_added(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        ts = (item.get("message") or {}).get("ts")
        channel = event.get("channel_id") or item.get("channel")
        if item.get("type") == "message" and channel and ts and event.get("user"):
            case_flow.key_moment(svc, user=event["user"], channel_id=channel, ts=ts, how="pin")

    @app.event("reaction_added")
    def reaction_added(event: dict[str, Any], context: BoltContext) -> None:
        item = event.get("item") or {}
        delivery = context.get("delivery")  # claimed by the flow's own statement
        if item.get("type") != "message" or not item.get("channel") or not item.get("ts"):
            return
        if str(event.get("reaction") or "").split("::", 1)[0] == PUSHPIN:
            case_flow.key_moment(svc, user=str(event.get("user")), channel_id=item["channel"], ts=item["ts"],
                                 how="reaction", delivery=delivery)
            return
        number = update_flow.queue_reaction(svc, user=str(event.get("user")), channel_id=item["channel"],
                                            ts=item["ts"], reaction=str(event.get("reaction") or ""),
                                            delivery=delivery)
        if number is not None:
            context[CASE] = number  # for the request's log line (bot/observability.py)
            svc.kick()  # answered right after the ack (jobs/reminder_answers.py)

    @app.event("tokens_revoked")
    def tokens_revoked(event: dict[str, Any]) -> None:
        """Only the bot token matters: the app holds no user tokens (``tokens.oauth``)."""
        if (event.get("tokens") or {}).get("bot"):
            svc.token.mark("tokens_revoked", svc.clock())

    @app.event("app_uninstalled")
    def app_uninstalled() -> None:
        svc.token.mark("app_uninstalled", svc.clock())

    # Registered after every other event listener (handlers/__init__.py): Bolt runs the first listener that
    # matches, so specific handlers win.
    @app.event(re.compile(".*"))
    def acknowledge_other_events() -> None:
        return None
