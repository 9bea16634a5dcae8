"""Global middleware: requests are counted while answered; a retried Slack event has one effect;
listeners call Slack through the app's own client; NUL characters never reach a listener; a request
waits for the database only as long as Slack's 3 s allow, and when the database fails the person is
told to try again (events are answered 500 instead, so that Slack redelivers them)."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk.webhook import WebhookClient
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.services import Services
from bot.text import drop_nul
from storage.db import bounded
from storage.queries import AlreadyDelivered, claim_delivery, release_delivery

log = logging.getLogger(__name__)
# How a NUL can appear in a raw body: JSON's \u0000 (also inside a form's payload=, as %5Cu0000), a form's
# %00, or the byte itself. Bodies without any of these (nearly all) are not walked.
_MAY_HOLD_NUL = re.compile(r"\\u0000|%00|%5cu0000|\x00", re.IGNORECASE)
# All of a request's waits for the database together (SQLite's lock, a PostgreSQL connection): Slack
# gives up on an answer after 3 s, and the answer "try again" must leave in time.
REQUEST_DB_SECONDS = 1.5
RELEASE_DB_SECONDS = 0.5
# Events whose listeners claim the event id themselves, as the first statement of the transaction that
# records them (``context["delivery"]``, see storage.queries.claim_first; on PostgreSQL a message or a ✅ on a
# reminder is one statement, its claim included): people's messages and reactions,
# most of the traffic, then cost one transaction instead of two. A listener path that writes nothing claims
# nothing, and a retry of it does nothing again. Every other event is claimed here, before its listener.
CLAIMED_BY_LISTENER = frozenset({"message", "reaction_added"})
TRY_AGAIN = (":x: I could not do that just now (database unavailable). Nothing was changed; "
             "please try again in a minute.")


def database_failed(error: BaseException) -> bool:
    """The database failed or did not answer in time (DatabaseBusy is a TimeoutError)."""
    return isinstance(error, SQLAlchemyError | TimeoutError)


def database_unavailable(error: BaseException | None) -> bool:
    """Of those failures, the ones of the database itself: unreachable, refusing connections, too slow. The
    others (a constraint, a bad statement) are bugs in what was asked of it."""
    return isinstance(error, OperationalError | InterfaceError | DisconnectionError | PoolTimeout | TimeoutError)


def log_not_done(logger: logging.Logger, message: str, *args: object) -> None:
    """Log a listener's database failure; called in its except block.

    The database unreachable, refusing connections or too slow is one warning line: during an outage every
    request fails alike, and a traceback each would bury the log. Any other database error (a constraint,
    a bad statement: a bug) keeps its traceback."""
    error = sys.exc_info()[1]
    if database_unavailable(error):
        logger.warning(f"{message} (database unavailable: %s)", *args, type(error).__name__)
    else:
        logger.exception(message, *args)


def tell_to_try_again(response_url: str, text: str = TRY_AGAIN) -> None:
    """An ephemeral "try again" through the interaction's response_url (after the ack: it is an HTTP call)."""
    WebhookClient(response_url, timeout=10).send(text=text, response_type="ephemeral", replace_original=False)


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
                event = body.get("event")
                if isinstance(event, dict) and event.get("type") in CLAIMED_BY_LISTENER:
                    context["delivery"] = f"event:{event_id}"
                    return next()
                with svc.db.transaction() as session:
                    first = claim_delivery(session, f"event:{event_id}", svc.clock())
                if not first:
                    return already_handled(event_id)
            return next()

    def already_handled(event_id: object) -> BoltResponse:
        log.info("event %s already handled; acknowledging the retry", event_id)
        return BoltResponse(status=200, body="")

    # Bolt runs the listener after the middleware chain has returned (its next() only marks the chain as
    # passed), so the database bound wraps dispatch itself: middleware, listener, ack and error handler.
    # Socket Mode dispatches through the same method.
    dispatch = app.dispatch

    def bounded_dispatch(req: BoltRequest) -> BoltResponse:
        with bounded(REQUEST_DB_SECONDS):
            return dispatch(req)

    app.dispatch = bounded_dispatch  # type: ignore[method-assign]

    @app.error
    def on_error(error: Exception, body: dict[str, Any], context: BoltContext) -> BoltResponse | None:
        """A listener or this middleware failed (database down…); Bolt's answer is 500.

        An event keeps the 500: Slack redelivers it (after about 1 and 5 minutes), and since the failed
        transaction wrote nothing, the redelivery does the work once — provided its dedupe claim is
        released. Slash commands and interactions are never redelivered, and a 500 shows the person a
        bare error: when the database failed they are answered 200 and told to try again (a modal
        keeps its 500: Slack then says so in the modal, which stays open with what was typed).
        An event its listener claims (``CLAIMED_BY_LISTENER``) needs no release: the claim was in the
        transaction that failed, or in one that committed its whole effect (then a retry must stay out).
        """
        kind = body.get("type")
        if isinstance(error, AlreadyDelivered):  # a listener found its event claimed: nothing was done
            return already_handled(body.get("event_id"))
        if database_unavailable(error):
            # One line, no traceback: during an outage every request fails the same way.
            log.warning("database unavailable for a Slack request (%s): %s", kind or "command",
                        type(error).__name__)
        else:  # a bug (a constraint, a bad statement, a listener's own error): its traceback is the clue
            log.error("listener failed: %s: %s", type(error).__name__, error, exc_info=error)
        if kind == "event_callback":
            event_id = body.get("event_id")
            if event_id and not context.get("delivery"):
                try:
                    with bounded(RELEASE_DB_SECONDS), svc.db.transaction() as session:
                        release_delivery(session, f"event:{event_id}")
                except (SQLAlchemyError, TimeoutError):  # the database is what failed: nothing was claimed
                    log.warning("could not release event %s for Slack's retry (database unavailable)", event_id)
            return None
        if not database_failed(error):
            return None
        if body.get("command"):  # a slash command: the answer is the ack itself
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": TRY_AGAIN})
        if kind in ("block_actions", "message_action", "shortcut"):
            if body.get("response_url"):
                svc.later(tell_to_try_again, str(body["response_url"]))
            return BoltResponse(status=200, body="")
        return None
