"""The one way we build Slack Web API clients, and what we know about Slack's errors."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

# Errors worth another try later: Slack's side had a problem, or asked us to slow down.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"}
)
# Answers that mean "already so": treat as success (DESIGN: Slack details 5).
ALREADY_DONE = frozenset({"already_in_channel", "already_pinned", "already_reacted", "already_archived"})


def make_client(token: str | None, base_url: str, *, timeout: int = 10) -> WebClient:
    """A WebClient without slack_sdk's automatic retries.

    Its connection-error retry can post a message twice; the outbox retries instead, and reconciles
    posts by the idempotency key they carry in message metadata.
    """
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


def slack_error(exc: SlackApiError) -> str:
    data = exc.response.data if exc.response is not None else None
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"http_{exc.response.status_code}" if exc.response is not None else "unknown_error"


def retry_after(exc: SlackApiError) -> int | None:
    """Seconds Slack asked us to wait (429 ``Retry-After``), if it did."""
    if exc.response is None or exc.response.status_code != 429:
        return None
    headers = {k.lower(): v for k, v in (exc.response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(1, int(value)) if value is not None else 1
    except (TypeError, ValueError):
        return 1


def is_transient(exc: SlackApiError) -> bool:
    if exc.response is None:
        return True
    return exc.response.status_code == 429 or exc.response.status_code >= 500 or slack_error(exc) in TRANSIENT_ERRORS
