"""APScheduler as a timer only: one in-memory interval job that calls the tick.

The truth lives in our tables (due rows claimed under a lease), so every replica may run this;
a shared SQLAlchemyJobStore would double-fire or drop jobs, and misfire_grace_time=1 would drop ticks.
"""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler

from bot.services import Services
from jobs.tick import tick

log = logging.getLogger(__name__)

TICK_SECONDS = 30


def start_scheduler(svc: Services, *, seconds: int = TICK_SECONDS) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")

    def run_tick() -> None:
        try:
            report = tick(svc)
            if report.outbox.total:
                log.info("tick: outbox done=%s retried=%s failed=%s", report.outbox.done,
                         report.outbox.retried, report.outbox.failed)
        except Exception:  # the timer must keep going; the next tick retries whatever is due
            log.exception("tick failed")

    scheduler.add_job(
        run_tick,
        "interval",
        seconds=seconds,
        id="tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=datetime.now(scheduler.timezone),  # at start: resume what a restart left
    )
    scheduler.start()
    return scheduler
