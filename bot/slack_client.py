"""The one way we build Slack Web API clients, and what we know about Slack's errors."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

if TYPE_CHECKING:
    from bot.observability import Metrics

# Errors worth another try later: Slack's side had a problem, or asked us to slow down.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"}
)
# Answers that mean "already so": treat as success (DESIGN: Slack details 5).
ALREADY_DONE = frozenset({"already_in_channel", "already_pinned", "already_reacted", "already_archived"})
# Answers that mean the token itself is no good (revoked, app uninstalled, bot deactivated): see bot/slack_auth.py.
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})
# The last token error a call in this thread met, even when the caller caught it (see auth_rejection).
_rejected = threading.local()


def auth_rejection() -> tuple[int, str | None]:
    """(how many calls in this thread Slack answered with a token error, the last such error).

    An outbox effect may catch a Slack error and go on; compared before and after it runs, this tells
    the outbox that the token was rejected all the same.
    """
    return getattr(_rejected, "count", 0), getattr(_rejected, "error", None)


class SlackClient(WebClient):
    """A WebClient that counts every Web API call by method and outcome in the app's metrics.

    ``api_call`` is where every method ends up (``files_upload_v2``'s steps too), so one override counts
    them all. ``metrics`` may be attached after construction: clients built before their app (tests, the
    sandbox) are counted by the app they serve.
    """

    def __init__(self, *args: Any, metrics: Metrics | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    def api_call(  # type: ignore[override]
        self, api_method: str, *, http_verb: str = "POST", files: dict | None = None, data: dict | None = None,
        params: dict | None = None, json: dict | None = None, headers: dict | None = None,
        auth: dict | None = None,
    ) -> SlackResponse:
        try:
            response = super().api_call(api_method, http_verb=http_verb, files=files, data=data, params=params,
                                        json=json, headers=headers, auth=auth)
        except SlackApiError as exc:
            self._count(api_method, call_outcome(exc))
            if slack_error(exc) in AUTH_ERRORS:
                _rejected.count, _rejected.error = auth_rejection()[0] + 1, slack_error(exc)
            raise
        except Exception:  # timeouts and connection errors: Slack may or may not have acted
            self._count(api_method, "error")
            raise
        self._count(api_method, "ok")
        return response

    def _count(self, method: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.api_call(method, outcome)


def call_outcome(exc: SlackApiError) -> str:
    """The ``outcome`` label of a failed call: ratelimited (429), ok for "already so" answers, else error."""
    if exc.response is not None and exc.response.status_code == 429:
        return "ratelimited"
    # Slack says ok:false, but we treat these as success (DESIGN: Slack details 5): not an error to alert on.
    return "ok" if slack_error(exc) in ALREADY_DONE else "error"


def make_client(token: str | None, base_url: str, *, timeout: int = 10, metrics: Metrics | None = None) -> WebClient:
    """A WebClient without slack_sdk's automatic retries, counting its calls in ``metrics`` when given.

    Its connection-error retry can post a message twice; the outbox retries instead, and reconciles
    posts by the idempotency key they carry in message metadata.
    """
    return SlackClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[], metrics=metrics)


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
