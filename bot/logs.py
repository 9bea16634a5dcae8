"""Log lines as text or JSON, and secrets kept out of both.

``bot.cli._setup_logging`` is the one place that configures logging; this module holds the pieces it
installs: :class:`JsonFormatter` (``LOG_FORMAT=json``) and :class:`RedactingFilter` (always).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings

REDACTED = "[redacted]"
# Slack tokens by shape: bot (xoxb-), user (xoxp-), refresh (xoxe-, xoxe.xoxp-), app-level (xapp-), and the
# other xox?- kinds. Matched anywhere, so a token glued to other text (``token=xoxb-…``) is caught too.
TOKEN = re.compile(r"(?:xox[a-z](?:\.xox[a-z])?|xapp)-[A-Za-z0-9\-]*")
# Shorter "secrets" are settings typed by hand in tests and demos (``x``): replacing every such
# substring would mangle log lines and hide nothing; a real signing secret is 32 characters.
MIN_SECRET_LENGTH = 8
# What every LogRecord has; anything else on a record came from ``extra=`` and is a field of its JSON line.
# The extra that carries a line's own fields: ``log.info(..., extra={FIELDS: {"name": …}})``.
FIELDS = "fields"
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class RedactingFilter(logging.Filter):
    """Takes Slack tokens and the configured secrets out of a record's message, args, extras and traceback.

    Installed on the root handler(s), so it sees every record that is written, whichever logger made it
    (a filter on a logger would miss records propagated from its children).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        with self._lock:
            known = set(self._secrets) | {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
            # longest first: a secret that contains another is replaced whole
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN.sub(REDACTED, text)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it for logging to report as it always does
            return True
        # The message is formatted once here and the args dropped: an arg's str() is where a token hides.
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                setattr(record, key, self._clean(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key == FIELDS and isinstance(value, dict):
                # ``extra={"fields": {...}}``: may use names a LogRecord reserves for itself (``name``)
                entry.update({k: v for k, v in value.items() if k not in entry})
            elif key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def secrets_of(settings: Settings) -> list[str]:
    return [value.get_secret_value() for value in
            (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token) if value is not None]


def redact_secrets_of(settings: Settings) -> None:
    """Tell the installed redacting filters about ``settings``' secrets (the sandbox makes its own).

    Does nothing where logging was not set up by the CLI (tests): this never configures logging.
    """
    secrets = secrets_of(settings)
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, RedactingFilter):
                found.add(*secrets)
