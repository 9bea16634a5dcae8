"""The tick: run all due work once. APScheduler calls it every 30 s; so do ``advocacy-bot tick`` and tests.

Scheduled jobs are plain functions of (services, now); later features add theirs to ``JOBS``.
While Slack rejects the bot token (``bot/slack_auth.py``) only the jobs that need no Slack run; when the
database does not answer, the tick is skipped with one line instead of every job failing on its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.logs import FIELDS
from bot.services import Services
from jobs.case_room import nudge_departments
from jobs.checkins import ensure_checkins, prompt_checkins
from jobs.digest import queue_digest
from jobs.outbox import RunReport, send_due
from jobs.prevention import remind_prevention
from jobs.reminders import fire_reminders
from jobs.retention import purge_expired_texts
from jobs.review import queue_review
from storage.queries import forget_deliveries

log = logging.getLogger(__name__)

Job = Callable[[Services, datetime], object]
TICK_SEND_LIMIT = 5000


def housekeeping(svc: Services, now: datetime) -> int:
    """Forget delivery keys older than a day: Slack stops retrying an event within the hour."""
    with svc.db.transaction() as session:
        return forget_deliveries(session, now - timedelta(days=1))


# Jobs that decide what is due and write outbox rows; the outbox sender runs after them.
JOBS: list[tuple[str, Job]] = [
    ("housekeeping", housekeeping),
    ("reminders", fire_reminders),
    ("nudges", nudge_departments),
    ("prevention", remind_prevention),
    ("checkins", ensure_checkins),  # plan and cancel check-ins, before prompting the due ones
    ("checkin_prompts", prompt_checkins),
    ("review", queue_review),
    ("digest", queue_digest),
    ("retention", purge_expired_texts),  # once a UTC day, after the jobs that queue work for Slack
]
# Jobs that neither call Slack nor queue work for it: they run while the bot token is rejected. The others
# wait, so that a reinstall brings one reminder per overdue case (their catch-up rule), not a backlog.
OFFLINE_JOBS = frozenset({"housekeeping", "retention"})


@dataclass
class TickReport:
    now: datetime
    outbox: RunReport = field(default_factory=RunReport)
    jobs: dict[str, object] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _job_ran(name: str, count: object, started: float, error: str | None = None,
             details: dict[str, object] | None = None) -> None:
    """One log line per job run: what it did (when it returns a count) and how long it took."""
    ms = round((time.perf_counter() - started) * 1000, 1)
    fields: dict[str, object] = {"job": name, "duration_ms": ms, **(details or {})}
    if isinstance(count, int):
        fields["count"] = count
    if error is not None:
        fields["error"] = error
    log.info("job %s: %s in %.0f ms", name, error or (count if isinstance(count, int) else "done"), ms,
             extra={FIELDS: fields})


def tick(svc: Services, now: datetime | None = None) -> TickReport:
    """Run every job, then the outbox. Timed and counted in ``svc.metrics`` whoever calls it (the CLI's
    ``tick``, the scheduler, tests)."""
    started = time.perf_counter()
    outcome = "error"  # until the outbox run has returned: an exception out of it is a failed tick
    try:
        now = now or svc.clock()
        report = TickReport(now=now)
        try:
            paused = svc.token.paused() is not None  # says so once per process, not at every tick
        except (SQLAlchemyError, TimeoutError) as exc:
            log.warning("tick skipped: the database is unavailable (%s); the next tick tries again", type(exc).__name__)
            report.errors["database"] = f"{type(exc).__name__}: database unavailable"
            return report
        for name, job in JOBS:
            if paused and name not in OFFLINE_JOBS:
                continue
            job_started = time.perf_counter()
            try:
                report.jobs[name] = job(svc, now)
            except Exception as exc:  # one broken job must not stop the others or the outbox
                log.exception("job %s failed", name)
                report.errors[name] = f"{type(exc).__name__}: {exc}"
                _job_ran(name, None, job_started, report.errors[name])
            else:
                _job_ran(name, report.jobs[name], job_started)
        # Everything due, up to a bound that keeps one tick from running for ever under a flood.
        job_started = time.perf_counter()
        report.outbox = send_due(svc, now=now, worker=svc.worker, limit=TICK_SEND_LIMIT)
        _job_ran("outbox", report.outbox.total, job_started, details=asdict(report.outbox))
        outcome = "error" if report.errors else "ok"
        return report
    finally:
        svc.metrics.tick_seconds.observe(time.perf_counter() - started)
        svc.metrics.tick_runs.labels(outcome=outcome).inc()
