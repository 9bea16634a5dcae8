"""Global middleware: requests are counted while answered; a retried Slack event has one effect;
listeners call Slack through the app's own client; NUL characters never reach a listener."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse

from bot.services import Services
from bot.text import drop_nul
from storage.queries import claim_delivery, release_delivery

log = logging.getLogger(__name__)
# How a NUL can appear in a raw body: JSON's \u0000 (also inside a form's payload=, as %5Cu0000), a form's
# %00, or the byte itself. Bodies without any of these (nearly all) are not walked.
_MAY_HOLD_NUL = re.compile(r"\\u0000|%00|%5cu0000|\x00", re.IGNORECASE)


def register(app: App, svc: Services) -> None:
    # One middleware for all of it (each one costs every request Bolt's argument building).
    @app.middleware
    def in_flight_and_once(body: dict[str, Any], context: BoltContext, request: BoltRequest,
                           next: Callable[[], BoltResponse]) -> BoltResponse | None:
        # No NUL in any text a listener reads (PostgreSQL cannot store it; see drop_nul). Socket Mode
        # requests have no raw body: those are always walked.
        if not request.raw_body or _MAY_HOLD_NUL.search(request.raw_body):
            drop_nul(body)
        # Bolt hands listeners a fresh WebClient per request; ours has the same token and settings, is
        # shared by the jobs already, and counts its calls in /metrics (views.open, views.publish, …).
        context["client"] = svc.client
        # Listeners run before the response (process_before_response): the count covers them.
        with svc.in_flight:
            # Slack retries events it thinks we missed (x-slack-retry-num) and they carry the same
            # event_id; slash commands and views are never retried and are deduped where they act.
            event_id = body.get("event_id") if body.get("type") == "event_callback" else None
            if event_id:
                with svc.db.transaction() as session:
                    first = claim_delivery(session, f"event:{event_id}", svc.clock())
                if not first:
                    log.info("event %s already handled; acknowledging the retry", event_id)
                    return BoltResponse(status=200, body="")
            return next()

    @app.error
    def release_failed_event(error: Exception, body: dict[str, Any]) -> None:
        """A listener failed (database down…): Bolt answers 500 and Slack retries; let that retry in,
        or the event would be lost to its own dedupe key."""
        log.error("listener failed: %s: %s", type(error).__name__, error)
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            try:
                with svc.db.transaction() as session:
                    release_delivery(session, f"event:{event_id}")
            except Exception:  # the database is what failed: the claim may not even exist
                log.exception("could not release event %s for Slack's retry", event_id)
