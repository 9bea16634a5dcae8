"""Benchmark the tick: the due scan among few and many open cases, and delivering reminders through the outbox.

Two figures, each with a baseline measured in the same run:

* due scan: one tick with ``--due`` cases due among ``--cases-small`` and among ``--cases-large`` open cases.
  The figure is the tick's reminders job (``fire_reminders``: claims the due steps through
  ``ix_reminders_due`` and writes their outbox rows), which keeps Slack out of it; the whole tick (the jobs,
  then ``send_due`` posting the reminders to the stand-in) is printed next to it. The two populations take
  turns, ``--repeat`` times after one warm-up each, and each run starts from the same state: the claimed
  steps are marked scheduled again and the outbox rows and timeline entries the tick wrote are deleted.
  Goal: the median of the large population at most 1.5 times that of the small one. The plan of the
  claiming statement, as the product sent it, is printed too.
* delivery: ``--deliver`` cases with one due step each, every case channel in the stand-in with the bot a
  member: the ticks it takes (each sends at most ``TICK_SEND_LIMIT``) and the time from the first call of
  ``tick`` until every post is in the stand-in. The baseline: the same messages (text, blocks, metadata)
  posted again, bare, with the same client, into as many fresh channels.

Customers, cases (open, severities of the sample team, ``next_update_due`` set) and their period's scheduled
steps (heads-up, overdue, escalate, and leadership as the sample team has a leadership channel) go in as bulk
Core inserts; seeding time is printed and not measured. Due cases are spread evenly over the table; every
other case's steps lie in the future. Each population has its own database: a SQLite file in a temporary
folder, or with ``--postgres`` a schema of that database (``bench_tick_<population>``, dropped before and
after the run; nothing else in the database is touched; ``ANALYZE`` after seeding, as autovacuum would).
The Slack stand-in runs in this process, sharing the interpreter with the bot.

It prints figures and never asserts on them. Run from the repository root:

    python bench/tick.py [--cases-small 1000] [--cases-large 100000] [--due 100] [--deliver 1000] [--repeat 7]
                         [--postgres postgresql://…]
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, event, insert, make_url, select, text, update

from bot.app import create_app
from bot.clock import FixedClock
from bot.config import TeamConfig, load_config
from bot.sandbox.demo import ADA, GRACE, RITA, SAMPLE_CONFIG, seed_workspace
from bot.sandbox.standin import SlackStandIn
from bot.services import Services
from bot.settings import Settings, normalize_database_url
from bot.slack_client import make_client
from jobs.outbox import send_due
from jobs.reminders import fire_reminders
from jobs.tick import JOBS, TICK_SEND_LIMIT, tick
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Case, CaseEvent, Counter, Customer, OutboxItem, Reminder

TOKEN = "xoxb-bench-token"
T = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday noon: "now" of every tick
OPENED = T - timedelta(days=4)
CHUNK = 5_000  # rows per bulk insert
CASES_PER_CUSTOMER = 5
OWNERS = (ADA, GRACE)
GOAL_RATIO = 1.5
SPREAD = timedelta(days=3)  # the due times of cases not due are spread over this much future


@dataclass
class Population:
    label: str
    tag: str  # channel ids and names of this population start with it
    cases: int
    due: int
    db: Database
    svc: Services
    due_reminders: list[int] = field(default_factory=list)
    due_channels: list[str] = field(default_factory=list)
    seed_seconds: float = 0.0


@dataclass
class Run:
    """One tick, taken apart as ``jobs.tick.tick`` runs it: each job, then the outbox."""

    reminders: float  # seconds in fire_reminders (the due scan and its outbox rows)
    tick: float  # seconds for the whole tick
    fired: int
    sent: int
    statements: int  # SQL statements fire_reminders sent


class Recorder:
    """Counts the SQL statements sent while on, and keeps the due scan's claiming statement as sent."""

    def __init__(self, db: Database) -> None:
        self.on = False
        self.count = 0
        self.claim: tuple[str, Any] | None = None
        event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if not self.on:
            return
        self.count += 1
        flat = " ".join(statement.split())
        if self.claim is None and flat.startswith("UPDATE reminders") and "fire_at <=" in flat:
            self.claim = (statement, parameters)

    @contextmanager
    def counting(self) -> Iterator[None]:
        self.on, self.count = True, 0
        try:
            yield
        finally:
            self.on = False


# ----------------------------------------------------------------------------------------------- databases
def database(stack: ExitStack, folder: Path, postgres: str | None, label: str) -> Database:
    if postgres:
        schema = f"bench_tick_{label}"
        base = make_url(normalize_database_url(postgres))
        admin = create_engine(base)
        stack.callback(admin.dispose)
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))

        def drop() -> None:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))

        stack.callback(drop)
        url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{folder / f'{label}.db'}"
    db = Database(url)
    stack.callback(db.dispose)
    upgrade(db.engine)
    return db


def services(stack: ExitStack, db: Database, standin: SlackStandIn, config: TeamConfig) -> Services:
    settings = Settings(slack_bot_token=TOKEN, slack_signing_secret=secrets.token_hex(16),  # type: ignore[call-arg]
                        slack_api_url=standin.api_url, database_url=db.url, advocacy_config=SAMPLE_CONFIG,
                        _env_file=None)
    svc = create_app(settings, make_client(TOKEN, standin.api_url, timeout=10), config=config, db=db,
                     clock=FixedClock(T)).services
    stack.callback(svc.close)
    return svc


# ----------------------------------------------------------------------------------------------- seeding
def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def due_numbers(cases: int, due: int) -> set[int]:
    """Which case numbers are due: ``due`` of them, spread evenly over the table."""
    due = min(due, cases)
    return {1 + (k * cases) // due for k in range(due)} if due else set()


def seed(pop: Population, config: TeamConfig) -> None:
    """Customers, open cases and each case's scheduled steps; only the due cases have a step at or before T."""
    started = time.perf_counter()
    due = due_numbers(pop.cases, pop.due)
    severities = list(config.severities)
    rules = config.reminders
    customers = max(1, pop.cases // CASES_PER_CUSTOMER)
    future = int(SPREAD.total_seconds())
    first_future = rules.remind_before + timedelta(minutes=1)  # even the heads-up of a case not due is to come

    def customer_rows() -> Iterator[dict[str, Any]]:
        for n in range(1, customers + 1):
            yield {"id": n, "name": f"Bench Customer {n}", "name_key": f"bench customer {n}", "timezone": None,
                   "external_ref": None, "created_at": OPENED}

    def due_at(n: int, k: int) -> datetime:
        if n in due:  # overdue by a few minutes: the overdue step has come, the escalation not yet
            return T - timedelta(minutes=5, seconds=k)
        return T + first_future + timedelta(seconds=(n * 7_919) % future)  # pseudo-random, not in id order

    def case_severity(n: int) -> str:
        return severities[n % len(severities)]

    periods = {n: due_at(n, k) for k, n in enumerate(sorted(range(1, pop.cases + 1), key=lambda n: n not in due))}

    def case_rows() -> Iterator[dict[str, Any]]:
        for n in range(1, pop.cases + 1):
            yield {"id": n, "number": n, "customer_id": 1 + (n - 1) % customers,
                   "summary": f"Bench case {n}: invoice charged twice after the upgrade",
                   "severity": case_severity(n), "status": "investigating" if n % 2 else "new",
                   "owner_id": OWNERS[n % len(OWNERS)], "reporter_id": RITA, "channel_name": f"{pop.tag}-case-{n}",
                   "channel_id": channel_of(pop.tag, n), "created_at": OPENED, "updated_at": OPENED,
                   "next_update_due": periods[n]}

    def reminder_rows() -> Iterator[dict[str, Any]]:
        for n in range(1, pop.cases + 1):
            period = periods[n]
            steps = {"heads_up": period - rules.remind_before, "overdue": period,
                     "escalate": period + rules.escalate_after_for(config.update_every(case_severity(n)))}
            if config.leadership_channel:
                steps["leadership"] = period + rules.leadership_after
            for step, fire_at in steps.items():
                # a due case's heads-up went out in an earlier tick
                status = "fired" if fire_at <= T and step == "heads_up" else "scheduled"
                yield {"key": f"reminder:{n}:{_stamp(period)}:{step}", "case_id": n, "due_at": period, "step": step,
                       "fire_at": fire_at, "status": status, "created_at": OPENED}

    with pop.db.transaction() as session:
        for table, rows in ((Customer, customer_rows()), (Case, case_rows()), (Reminder, reminder_rows())):
            for chunk in _chunks(rows):
                session.execute(insert(table.__table__), chunk)
        session.execute(update(Counter).where(Counter.name == "case").values(value=pop.cases))
        if pop.db.dialect == "postgresql":  # explicit ids: move the sequences past them
            for name in ("customers", "cases", "reminders"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                     f"(SELECT max(id) FROM {name}))"))
        pop.due_reminders = list(session.scalars(
            select(Reminder.id).where(Reminder.status == "scheduled", Reminder.fire_at <= T)))
    if pop.db.dialect == "postgresql":
        with pop.db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    pop.due_channels = [channel_of(pop.tag, n) for n in sorted(due)]
    pop.seed_seconds = time.perf_counter() - started


def channel_of(tag: str, number: int) -> str:
    return f"C{tag}{number:07d}"


def open_channels(standin: SlackStandIn, tag: str, channels: Sequence[str]) -> None:
    for channel in channels:
        standin.add_channel(f"{tag.lower()}-{channel.lower()}", channel_id=channel, is_private=True,
                            members=[standin.bot_user_id, *OWNERS])


# ----------------------------------------------------------------------------------------------- measurement A
def reset(pop: Population) -> None:
    """Back to the seeded state: the due steps scheduled again, and nothing the tick wrote."""
    with pop.db.transaction() as session:
        session.execute(update(Reminder).where(Reminder.id.in_(pop.due_reminders))
                        .values(status="scheduled", channel_id=None, message_ts=None))
        session.execute(delete(OutboxItem))
        session.execute(delete(CaseEvent))


def one_tick(pop: Population, recorder: Recorder) -> Run:
    """``jobs.tick.tick`` as it runs (each job, then the outbox), timing fire_reminders on its own."""
    svc = pop.svc
    gc.collect()
    started = time.perf_counter()
    reminders, fired, statements = 0.0, 0, 0
    for _name, job in JOBS:
        if job is fire_reminders:
            begin = time.perf_counter()
            with recorder.counting():
                fired = fire_reminders(svc, T)
            reminders = time.perf_counter() - begin
            statements = recorder.count
        else:
            job(svc, T)
    sent = send_due(svc, now=T, worker=svc.worker, limit=TICK_SEND_LIMIT)
    return Run(reminders, time.perf_counter() - started, fired, sent.done, statements)


def query_plan(db: Database, claim: tuple[str, Any] | None) -> list[str]:
    if claim is None:
        return ["(the claiming statement was not seen)"]
    statement, parameters = claim
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
        connection.rollback()
    if db.dialect == "sqlite":  # (id, parent, notused, detail): indent by depth
        depth: dict[int, int] = {0: -1}
        lines = []
        for row in rows:
            depth[row[0]] = depth.get(row[1], -1) + 1
            lines.append("  " * depth[row[0]] + str(row[3]))
        return lines
    return [str(row[0]) for row in rows]


def load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"
    except OSError:
        return "unknown"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def due_scan(pops: Sequence[Population], recorders: dict[str, Recorder], repeat: int) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {p.label: [] for p in pops}
    for pop in pops:  # warm-up: statement caches, connections, pages
        one_tick(pop, recorders[pop.label])
        reset(pop)
    for round_ in range(repeat):
        for pop in pops if round_ % 2 == 0 else reversed(pops):  # take turns, each going first half the time
            runs[pop.label].append(one_tick(pop, recorders[pop.label]))
            reset(pop)
    return runs


def report_due_scan(pops: Sequence[Population], runs: dict[str, list[Run]]) -> None:
    print(f"{'population':<26}{'reminders job (fire_reminders)':>34}{'whole tick':>26}{'fired':>7}{'sent':>6}"
          f"{'SQL':>6}")
    print(f"{'':<26}{'median':>12}{'min':>11}{'max':>11}{'median':>13}{'min':>13}")
    for pop in pops:
        r = runs[pop.label]
        jobs, whole = [x.reminders for x in r], [x.tick for x in r]
        print(f"{pop.due:,} due of {pop.cases:,} open".ljust(26) + ms(statistics.median(jobs)) + ms(min(jobs))
              + ms(max(jobs)) + "  " + ms(statistics.median(whole)) + "  " + ms(min(whole))
              + f"{r[0].fired:>7}{r[0].sent:>6}{r[0].statements:>6}")


# ----------------------------------------------------------------------------------------------- measurement B
def reminder_key(metadata: Any) -> str:
    key = ((metadata or {}).get("event_payload") or {}).get("key", "") if isinstance(metadata, dict) else ""
    return str(key) if str(key).startswith("reminder:") else ""


def reminder_posts(standin: SlackStandIn, channels: Sequence[str]) -> list[Any]:
    return [m for c in channels for m in standin.messages(c) if m.bot_id and reminder_key(m.metadata)]


def deliver(pop: Population, standin: SlackStandIn) -> None:
    svc, limit = pop.svc, 2 + pop.due // 10  # more ticks than that means no progress
    gc.collect()
    since, started = time.time(), time.perf_counter()
    ticks: list[tuple[float, int, int]] = []  # (seconds, fired, posted)
    while sum(t[2] for t in ticks) < pop.due and len(ticks) < limit:
        begin = time.perf_counter()
        report = tick(svc, T)
        ticks.append((time.perf_counter() - begin, int(report.jobs.get("reminders") or 0), report.outbox.done))
        if report.errors:
            print(f"tick errors: {report.errors}")
        if not report.outbox.total:
            break
    total = time.perf_counter() - started
    calls = [c for c in standin.calls_to("chat.postMessage") if c.at >= since and c.ok]
    anywhere = [reminder_key(c.params.get("metadata")) for c in calls]
    posts = reminder_posts(standin, pop.due_channels)
    keys = {reminder_key(m.metadata) for m in posts}
    print(f"{len(ticks)} tick(s) at the same now: " + "; ".join(
        f"#{i + 1}: {seconds:.2f} s, fired {fired}, posted {done}" for i, (seconds, fired, done) in enumerate(ticks)))

    baseline_channels = [f"CB{n:07d}" for n in range(1, len(posts) + 1)]
    open_channels(standin, "B", baseline_channels)
    client = make_client(TOKEN, standin.api_url, timeout=10)
    gc.collect()
    begin = time.perf_counter()
    for channel, message in zip(baseline_channels, posts, strict=True):
        client.chat_postMessage(channel=channel, text=message.text, blocks=message.blocks, metadata=message.metadata,
                                unfurl_links=False, unfurl_media=False)
    bare = time.perf_counter() - begin
    print(f"{'delivery':<34}{'seconds':>9}{'posts/s':>10}{'per post':>12}")
    print(f"{'ticks until all posted':<34}{total:9.2f}{len(posts) / total:10.0f}{ms(total / max(1, len(posts)))}")
    print(f"{'bare chat.postMessage (baseline)':<34}{bare:9.2f}{len(posts) / max(bare, 1e-9):10.0f}"
          f"{ms(bare / max(1, len(posts)))}")
    print(f"{'ticks / baseline':<34}{total / max(bare, 1e-9):8.2f}x")
    print(f"posted with a reminder key: {len(posts):,} messages in {len({m.channel for m in posts}):,} of "
          f"{len(pop.due_channels):,} case channels, {len(keys):,} distinct keys (expected {pop.due:,} each); "
          f"chat.postMessage accepted during the ticks: {len(calls):,}, {sum(map(bool, anywhere)):,} with a "
          f"reminder key, {len(set(filter(None, anywhere))):,} distinct")


# ----------------------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases-small", type=int, default=1_000, help="open cases of the small population")
    parser.add_argument("--cases-large", type=int, default=100_000, help="open cases of the large population")
    parser.add_argument("--due", type=int, default=100, help="cases due at the tick, in each population")
    parser.add_argument("--deliver", type=int, default=1_000, help="due reminders to deliver through the outbox")
    parser.add_argument("--repeat", type=int, default=7, help="measured ticks per population (after a warm-up)")
    parser.add_argument("--postgres", metavar="URL", help="run on this PostgreSQL database (schemas bench_tick_*)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)  # the bot logs at INFO; figures are the output
    config = load_config(SAMPLE_CONFIG)

    with ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix="advocacy-bench-tick-"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        standin = SlackStandIn(bot_token=TOKEN).start()
        stack.callback(standin.stop)
        seed_workspace(standin, config)

        pops: list[Population] = []
        for label, tag, cases, due in (("small", "S", args.cases_small, args.due),
                                       ("large", "L", args.cases_large, args.due),
                                       ("deliver", "D", args.deliver, args.deliver)):
            db = database(stack, folder, args.postgres, label)
            pop = Population(label, tag, cases, due, db, services(stack, db, standin, config))
            seed(pop, config)
            open_channels(standin, tag, pop.due_channels)
            pops.append(pop)
            size = "" if args.postgres else f", {(folder / f'{label}.db').stat().st_size / 2**20:.0f} MiB"
            print(f"seeded {label}: {cases:,} open cases, {len(pop.due_reminders):,} due steps "
                  f"in {pop.seed_seconds:.1f} s{size}")
        small, large, delivery = pops
        engine = "PostgreSQL" if args.postgres else "SQLite"
        print(f"load average {load()} (other work on this machine makes the figures noisy)")

        print(f"\nDue scan on {engine}: {args.repeat} ticks per population at the same now, taking turns, "
              f"after one warm-up each")
        recorders = {p.label: Recorder(p.db) for p in (small, large)}
        runs = due_scan([small, large], recorders, args.repeat)
        report_due_scan([small, large], runs)
        for pop in (small, large):
            print(f"\nplan of the claiming statement ({pop.cases:,} open cases):")
            for line in query_plan(pop.db, recorders[pop.label].claim):
                print(f"  {line}")
        if (claim := recorders["large"].claim) is not None:
            print(f"  statement: {' '.join(claim[0].split())}")

        print(f"\nDelivery on {engine}: {args.deliver:,} due reminders, one per case channel, "
              f"through the outbox to the stand-in (in this process)")
        deliver(delivery, standin)

        ratio = (statistics.median(r.reminders for r in runs["large"])
                 / statistics.median(r.reminders for r in runs["small"]))
        whole = statistics.median(r.tick for r in runs["large"]) / statistics.median(r.tick for r in runs["small"])
        print(f"\nreminders job median {args.cases_large:,}/{args.cases_small:,} open = {ratio:.2f}x "
              f"(goal <= {GOAL_RATIO}x); whole tick {whole:.2f}x; load average {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
