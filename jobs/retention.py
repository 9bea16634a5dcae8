"""The retention job: the words people wrote are kept ``retention.message_text_days`` (365 by default).

Once per UTC day (the first tick of the day on any replica claims it: ``privacy.claim_day``), every free
text older than that and no longer in use becomes ``[removed after the retention period]``; rows, times,
kinds, statuses, scores and amounts stay, so every digest figure stays the same (see
``bot/domain/privacy.py`` for what "older" means for each text). It needs no Slack, so it also runs while
the bot token is rejected.

Work is done in batches of ``privacy.BATCH`` rows, each its own short transaction, with requests let
through between them; only ids are read. A crash midway leaves the rest for the next day's run, which
finds only what is still to do (a removed text is never removed again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain import privacy
from bot.logs import FIELDS
from bot.services import Services
from storage.db import Database

log = logging.getLogger(__name__)


def purge_expired_texts(svc: Services, now: datetime) -> int:
    """The tick's job: the number of rows whose text was removed now (0 on every run but the day's first)."""
    with svc.db.transaction() as session:
        if not privacy.claim_day(session, now):
            return 0
    days = svc.config.retention.message_text_days
    erased = purge(svc.db, cutoff=now - timedelta(days=days), now=now, between=svc.in_flight.wait_quiet)
    total = sum(erased.values())
    if total:
        log.info("retention: removed %s text(s) older than %s days: %s", total, days,
                 ", ".join(f"{what} {count}" for what, count in erased.items() if count),
                 extra={FIELDS: {"days": days, **{what.replace(" ", "_"): n for what, n in erased.items()}}})
    return total


def purge(db: Database, *, cutoff: datetime, now: datetime,
          between: Callable[[], None] = lambda: None) -> dict[str, int]:
    """Remove every text written before ``cutoff`` that is no longer in use; counts by what they were.

    ``between`` runs before each batch: the scheduler passes the wait for a moment without Slack requests.
    """
    erased: dict[str, int] = {}
    for rule in privacy.retention_rules(cutoff, now):
        erased[rule.label], after, more = 0, None, True
        while more:
            between()
            with db.transaction() as session:
                batch = privacy.erase_batch(session, rule, privacy.PURGED, after=after)
            erased[rule.label] += batch.changed
            after, more = batch.last, batch.more
    return erased
