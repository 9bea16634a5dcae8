"""Whether Slack still accepts the bot token, recorded in the database so that every replica sees it.

Slack says a token is gone with a ``tokens_revoked`` or ``app_uninstalled`` event, or by answering a call
``invalid_auth``, ``token_revoked``, ``account_inactive``…. From then on the tick's jobs and the outbox
leave Slack alone — no retries against a token that will not work again, and no dead letters for work
that can still be done once the app is installed again: outbox rows stay pending — and ``/readyz`` says
why it is not ready. The process keeps running (no crash loop). A successful ``auth.test`` with the token
(at start) clears the record.

Rows are keyed by a fingerprint of the token (a hash prefix: the token cannot be recovered from it), so
a replica started with the new token a reinstall gives is not held back by the old token's row.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from bot.slack_client import AUTH_ERRORS
from storage.db import Database
from storage.models import RevokedToken

__all__ = ["AUTH_ERRORS", "Revocation", "TokenState", "fingerprint"]

log = logging.getLogger(__name__)


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Revocation:
    reason: str
    since: datetime

    def describe(self) -> str:
        return (f"Slack no longer accepts the bot token ({self.reason}, {self.since:%Y-%m-%d %H:%M} UTC): install "
                "the app again and restart with its new SLACK_BOT_TOKEN")


class TokenState:
    """The revocation record of this process's bot token; ``paused()`` is what jobs and the outbox ask."""

    def __init__(self, db: Database, token: str | None) -> None:
        self.db = db
        self.key = fingerprint(token) if token else None
        self._seen_paused = False  # this process has said it paused: said once, not at every tick
        self._lock = threading.Lock()

    def revoked(self) -> Revocation | None:
        if self.key is None:
            return None
        with self.db.transaction() as session:
            row = session.get(RevokedToken, self.key)
            return Revocation(row.reason, row.revoked_at) if row is not None else None

    def mark(self, reason: str, now: datetime) -> bool:
        """Record that Slack rejected the token; True for the first to notice (the others change nothing)."""
        if self.key is None:
            return False
        with self.db.transaction() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            recorded = session.execute(
                insert(RevokedToken).values(fingerprint=self.key, reason=reason[:80], revoked_at=now)
                .on_conflict_do_nothing(index_elements=["fingerprint"])
                .returning(RevokedToken.fingerprint)
            ).scalar_one_or_none()
        if recorded is not None:
            log.error("Slack no longer accepts the bot token (%s): jobs and the outbox stop calling Slack; work "
                      "waits until the app is installed again and the bot restarted with its new token", reason)
        return recorded is not None

    def clear(self) -> bool:
        """Slack accepted the token (auth.test): forget the record. True if there was one."""
        if self.key is None:
            return False
        with self.db.transaction() as session:
            cleared = bool(session.execute(delete(RevokedToken).where(RevokedToken.fingerprint == self.key))
                           .rowcount)  # type: ignore[attr-defined]
        if cleared:
            log.warning("Slack accepts the bot token again: jobs and the outbox resume")
        return cleared

    def paused(self) -> Revocation | None:
        """The revocation, if any, saying so once when this process first finds it (and when it ends)."""
        state = self.revoked()
        with self._lock:
            if state is not None and not self._seen_paused:
                self._seen_paused = True
                log.warning("%s; until then no job or outbox row calls Slack", state.describe())
            elif state is None and self._seen_paused:
                self._seen_paused = False
                log.info("the bot token is accepted again: jobs and the outbox call Slack")
        return state
