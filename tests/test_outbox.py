"""The outbox machinery on its own: concurrent workers, leases, chains, the timer."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from bot.app import create_app
from bot.clock import FixedClock
from bot.domain.cases import enqueue
from bot.services import Services
from jobs.outbox import Done, Item, claim, effect, send_due
from jobs.scheduler import start_scheduler
from tests.conftest import wait_until
from tests.helpers import outbox

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
RAN: list[str] = []
_lock = threading.Lock()


@effect("test.record")
def record(ctx: Services, item: Item) -> Done:
    time.sleep(0.002)  # long enough for workers to overlap
    with _lock:
        RAN.append(item.key)
    return Done({"ok": True})


def services(settings, config, db) -> Services:  # type: ignore[no-untyped-def]
    return create_app(settings, config=config, db=db, clock=FixedClock(NOW)).services


def test_concurrent_workers_run_each_item_exactly_once(settings, config, db) -> None:  # type: ignore[no-untyped-def]
    svc = services(settings, config, db)
    RAN.clear()
    with db.transaction() as session:
        for n in range(120):
            enqueue(session, key=f"record:{n}", kind="test.record", now=NOW)
    workers = [threading.Thread(target=send_due, args=(svc,), kwargs={"now": NOW, "worker": f"w{i}"})
               for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(RAN) == sorted(f"record:{n}" for n in range(120))
    assert all(item.status == "done" and item.attempts == 1 for item in outbox(db))


def test_a_lease_keeps_others_off_until_it_expires(settings, config, db) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        enqueue(session, key="record:leased", kind="test.record", now=NOW)
    with db.transaction() as session:
        assert claim(session, now=NOW, worker="crashed") != []  # claimed, then the worker dies
    with db.transaction() as session:
        assert claim(session, now=NOW + timedelta(minutes=1), worker="other") == []
    with db.transaction() as session:
        assert claim(session, now=NOW + timedelta(minutes=3), worker="other") != []
    [item] = outbox(db)
    assert item.attempts == 2 and item.lease_owner == "other"


def test_a_chained_item_waits_for_its_predecessor(settings, config, db) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        first = enqueue(session, key="first", kind="test.record", now=NOW, due_at=NOW + timedelta(hours=1))
        enqueue(session, key="second", kind="test.record", now=NOW, after=first)
    svc = services(settings, config, db)
    RAN.clear()
    assert send_due(svc, now=NOW, worker="w").total == 0
    assert send_due(svc, now=NOW + timedelta(hours=1), worker="w").done == 2
    assert RAN == ["first", "second"]


def test_unknown_kinds_fail_instead_of_looping(settings, config, db) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        enqueue(session, key="mystery", kind="no.such.effect", now=NOW)
    report = send_due(services(settings, config, db), now=NOW, worker="w")
    assert report.failed == 1 and outbox(db)[0].last_error == "unknown_effect"


def test_the_scheduler_ticks_at_start(settings, config, db) -> None:  # type: ignore[no-untyped-def]
    svc = services(settings, config, db)
    svc.clock = lambda: datetime.now(UTC)
    with db.transaction() as session:
        enqueue(session, key="record:timer", kind="test.record", now=datetime.now(UTC) - timedelta(seconds=1))
    scheduler = start_scheduler(svc)
    try:
        job = scheduler.get_job("tick")
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, None)
        assert job.trigger.interval == timedelta(seconds=30)
        wait_until(lambda: outbox(db)[0].status == "done", message="the first tick")
    finally:
        scheduler.shutdown(wait=True)
