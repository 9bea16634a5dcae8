"""Load: a mixed stream of signed Slack requests at a fixed rate against one replica, next to a no-op Bolt app.

The replica is ``advocacy-bot run`` as deployed (HTTP mode, its scheduler on, JSON logs to a file), in a process
of its own; the no-op Bolt app acknowledges the same kinds of request behind the same production server
(``bench/harness.py``), also in its own process. The Slack stand-in runs in this process and answers every
Web API call and response URL after ``--latency-ms`` (each value is one run of the real bot); the load
generator is a fourth process, so that neither Slack's side nor the client shares the served interpreter.

The load is open-loop: request i is sent at start + i / ``--rate`` whatever the answers so far (many in flight
when the target is slow), and its ack latency is counted from that scheduled time, so a client or a server
that falls behind shows as latency instead of hiding it (coordinated omission). Every request is signed at
the moment it is sent, on a connection of its own, as Slack's deliveries are. The mix, shuffled with a fixed
seed and built with SlackDriver from the stand-in's state, so shaped like Slack's:

* 5 % ``/escalate`` for a new customer each (a case each);
* 75 % thread replies by the head of billing in case channels (``message`` events: a timeline entry each);
* 10 % :white_check_mark: reactions by the owner on a reminder (``reaction_added``: a customer update each);
* 10 % clicks on a reminder's *Snooze 1h* button by the owner (``block_actions``: a snooze each).

Reactions and clicks need reminders nobody has answered yet: before the runs, one open p1 case per reminder
needed is written to the database (overdue by 30 minutes, billing asked), with its private channel in the
stand-in; the replica's first tick then posts every overdue reminder through its outbox, as it would.

After each run of the real bot the stand-in answers at once again, the backlog (case set-ups, after-ack
answers) drains, and every answered request's effect is looked up in the database: a request answered 200
whose effect is missing is **lost**; one whose effect is there twice is **doubled**. An **error** is any answer
but 200, no answer, or an answer after Slack's 3 s.

It prints figures and checks the goals (on 2 cores: ``--rate`` 200 with no error and no lost event; ack p99
under 300 ms with 300 ms Slack latency; ack p50 within 2x of the no-op app's); it asserts nothing. From the
repository root:

    python bench/load.py [--seconds 60] [--rate 200] [--latency-ms 0,300] [--postgres postgresql://…]
    python bench/load.py --quick            # a 5-second smoke run of the same

Options: ``--mix escalate=5,reply=75,reaction=10,click=10`` changes the shares (``--mix reply=1``: replies only,
to see what one kind costs); ``--profile DIR`` records each real run with py-spy as folded stacks (for
flamegraph.pl or speedscope): ``DIR/real-<latency>ms.gil.folded`` (the thread holding the GIL: where the CPU
goes) and ``….wall.folded`` (every thread not idle: where the time goes, waiting included). Sampling costs the
replica some CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter as Tally
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness import (  # bench/, the script's folder
    SECRET,
    TOKEN,
    PreparingDriver,
    Target,
    child_env,
    free_port,
    ms,
    percentile,
    spawn,
)
from sqlalchemy import create_engine, func, insert, make_url, select, text, update

from bot.blocks.reminders import SNOOZE_HOUR
from bot.config import TeamConfig, load_config
from bot.sandbox.demo import ADA, BILL, GRACE, RITA, SAMPLE_CONFIG, seed_workspace
from bot.sandbox.standin import SlackStandIn
from bot.settings import normalize_database_url
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Case, CaseDepartment, CaseEvent, Counter, Customer, OutboxItem, Reminder

MIX = {"escalate": 5, "reply": 75, "reaction": 10, "click": 10}  # percent of the requests
KINDS = tuple(MIX)
SLACK_ACK_LIMIT = 3.0  # seconds: Slack's limit; a later answer is an error (an event would be retried)
CLIENT_TIMEOUT = 10.0
GOAL_P99_AT_300 = 0.300
GOAL_P50_RATIO = 2.0
QUICK_SECONDS = 5
START_TIMEOUT = 60.0
POSTED_TIMEOUT = 300.0  # the seeded reminders posted by the replica's first ticks
DRAIN_TIMEOUT = 600.0  # the backlog after a run (mostly case set-ups)
CHUNK = 5_000
MIN_CASES = 200  # case channels the replies are spread over, at the least (replies to one case queue on its row)
OWNERS = (ADA, GRACE)
HEAD = BILL
CADENCE = "p1"  # every 2h: the seeded cases opened 2.5h ago are 30 minutes overdue
OPENED_AGO, OVERDUE_BY = timedelta(hours=2, minutes=30), timedelta(minutes=30)


# ================================================================================ Slack's side: latency
class SlowSlack(SlackStandIn):
    """The stand-in, answering every Web API call and response URL after ``latency`` seconds (outside its lock,
    so calls overlap as they do against Slack)."""

    latency = 0.0

    def handle_api(self, method_name: str, args: dict[str, Any], token: str | None) -> tuple[int, dict[str, str], Any]:
        if self.latency:
            time.sleep(self.latency)
        return super().handle_api(method_name, args, token)

    def _respond(self, url_id: str, body: dict[str, Any]) -> tuple[int, str]:  # POSTs to a response_url
        if self.latency:
            time.sleep(self.latency)
        return super()._respond(url_id, body)


# ================================================================================ the load generator (a process)
@dataclass(frozen=True)
class Result:
    kind: str
    lag: float  # seconds the client started the request after its scheduled time (its own lateness)
    latency: float  # seconds from the scheduled time to the whole answer: the ack latency
    status: int  # 0: no answer (connection error, timeout)
    error: str = ""


def _sign(body: bytes, timestamp: str) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()


async def _one(host: str, port: int, path: str, kind: str, body: bytes, headers: dict[str, str], at: float,
               loop: asyncio.AbstractEventLoop) -> Result:
    lag = loop.time() - at
    timestamp = str(int(time.time()))  # signed as it is sent, as Slack does
    fields = {**headers, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": _sign(body, timestamp),
              "Host": f"{host}:{port}", "Content-Length": str(len(body)), "Connection": "close"}
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    writer = None
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(head.encode() + body)
            await writer.drain()
            status_line = await reader.readline()
            rest = await reader.read()  # the rest, until the server closes (Connection: close)
        status = int(status_line.split()[1]) if status_line.startswith(b"HTTP/") else 0
        if b"\r\nx-advocacy-shed:" in b"\r\n" + rest.lower():  # answered "busy" without being handled
            return Result(kind, lag, loop.time() - at, 0, "shed (busy)")
        return Result(kind, lag, loop.time() - at, status, "" if status else "malformed answer")
    except (OSError, TimeoutError, ValueError, IndexError) as exc:
        return Result(kind, lag, loop.time() - at, 0, type(exc).__name__)
    finally:
        if writer is not None:
            writer.close()


async def _fire(url: str, rate: float, requests: Sequence[tuple[str, bytes, dict[str, str]]]) -> list[Result]:
    """Open loop: request i starts at start + i / rate, whatever became of the earlier ones."""
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    tasks = []
    for i, (kind, body, headers) in enumerate(requests):
        at = start + i / rate
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(host, port, path, kind, body, headers, at, loop)))
    return list(await asyncio.gather(*tasks))


def fire_from_file(path: str) -> int:
    job = json.loads(Path(path).read_text())
    requests = [(kind, body.encode(), headers) for kind, body, headers in job["requests"]]
    results = asyncio.run(_fire(job["url"], job["rate"], requests))
    json.dump([[r.kind, r.lag, r.latency, r.status, r.error] for r in results], sys.stdout)
    return 0


def fire(url: str, rate: float, requests: Sequence[tuple[str, bytes, dict[str, str]]], folder: Path) -> list[Result]:
    """Send from a process of its own: its timing must not wait for this process's GIL (the stand-in)."""
    job = folder / "job.json"
    job.write_text(json.dumps({"url": url, "rate": rate,
                               "requests": [[k, body.decode(), headers] for k, body, headers in requests]}))
    done = subprocess.run([sys.executable, __file__, "--fire", str(job)], capture_output=True, text=True,
                          env=child_env())
    if done.returncode:
        raise SystemExit(f"the load generator failed:\n{done.stderr}")
    return [Result(*row) for row in json.loads(done.stdout)]


# ================================================================================ the database and the seed
def database(stack: ExitStack, postgres: str | None) -> Database:
    """A fresh schema ``bench_load`` in the given PostgreSQL database (dropped afterwards), else a SQLite file."""
    if postgres:
        base = make_url(normalize_database_url(postgres))
        admin = create_engine(base)
        stack.callback(admin.dispose)

        def drop() -> None:
            with admin.begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS bench_load CASCADE"))

        drop()
        with admin.begin() as connection:
            connection.execute(text("CREATE SCHEMA bench_load"))
        stack.callback(drop)
        url = base.update_query_dict({"options": "-csearch_path=bench_load"}).render_as_string(hide_password=False)
    else:
        folder = tempfile.mkdtemp(prefix="advocacy-load-")
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        url = f"sqlite:///{Path(folder) / 'load.db'}"
    db = Database(url)
    stack.callback(db.dispose)
    upgrade(db.engine)
    return db


@dataclass(frozen=True)
class Seeded:
    case_id: int
    owner: str
    channel: str


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def seed(db: Database, standin: SlackStandIn, config: TeamConfig, cases: int, now: datetime) -> list[Seeded]:
    """``cases`` open p1 cases, 30 minutes overdue, billing asked, each with its private channel in the stand-in
    and its period's reminder steps (the overdue one due now: the replica's tick posts it)."""
    opened, due = now - OPENED_AGO, now - OVERDUE_BY
    rules = config.reminders
    steps = {"overdue": due, "escalate": due + rules.escalate_after_for(config.update_every(CADENCE)),
             "leadership": due + rules.leadership_after}
    respond_within = config.departments["billing"].respond_within
    stamp = due.strftime("%Y%m%dT%H%M%SZ")
    seeded = [Seeded(n, OWNERS[n % len(OWNERS)], f"CL{n:07d}") for n in range(1, cases + 1)]
    for case in seeded:
        standin.add_channel(f"case-{case.case_id}-load-{case.case_id}", channel_id=case.channel, is_private=True,
                            members=[standin.bot_user_id, case.owner, HEAD, RITA])
    tables = (
        (Customer, ({"id": s.case_id, "name": f"Load Customer {s.case_id}", "name_key": f"load customer {s.case_id}",
                     "timezone": None, "external_ref": None, "created_at": opened} for s in seeded)),
        (Case, ({"id": s.case_id, "number": s.case_id, "customer_id": s.case_id, "severity": CADENCE,
                 "summary": f"Load case {s.case_id}: invoice charged twice", "status": "investigating",
                 "owner_id": s.owner, "reporter_id": RITA, "channel_name": f"case-{s.case_id}-load-{s.case_id}",
                 "channel_id": s.channel, "created_at": opened, "updated_at": opened, "next_update_due": due}
                for s in seeded)),
        (CaseDepartment, ({"case_id": s.case_id, "department": "billing", "heads": [HEAD], "deputies": None,
                           "asked_at": opened, "nudge_at": opened + respond_within} for s in seeded)),
        (Reminder, ({"key": f"reminder:{s.case_id}:{stamp}:{step}", "case_id": s.case_id, "due_at": due,
                     "step": step, "fire_at": fire_at, "status": "scheduled", "created_at": opened}
                    for s in seeded for step, fire_at in steps.items())),
    )
    with db.transaction() as session:
        for table, rows in tables:
            for chunk in _chunks(rows):
                session.execute(insert(table.__table__), chunk)  # type: ignore[attr-defined]
        session.execute(update(Counter).where(Counter.name == "case").values(value=cases))
        if db.dialect == "postgresql":  # explicit ids: move the sequences past them
            for name in ("customers", "cases"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                     f"(SELECT max(id) FROM {name}))"))
    if db.dialect == "postgresql":
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return seeded


def posted_reminders(db: Database) -> dict[int, tuple[int, str]]:
    """case id -> (reminder id, message ts) of each overdue reminder the replica has posted."""
    with db.transaction() as session:
        rows = session.execute(select(Reminder.case_id, Reminder.id, Reminder.message_ts).where(
            Reminder.step == "overdue", Reminder.message_ts.is_not(None))).all()
    return {case_id: (reminder_id, ts) for case_id, reminder_id, ts in rows}


# ================================================================================ the replica (advocacy-bot run)
@dataclass
class Replica:
    target: Target
    process: subprocess.Popen[bytes]
    log: Path
    port: int

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise SystemExit(f"advocacy-bot run exited {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_levels(self) -> tuple[Tally[str], list[str]]:
        levels: Tally[str] = Tally()
        problems = []
        for line in self.log.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                levels["not JSON"] += 1
                problems.append(line[:200])
                continue
            levels[entry.get("level", "?")] += 1
            if entry.get("level") in ("WARNING", "ERROR", "CRITICAL"):
                problems.append(f"{entry.get('level')} {entry.get('logger')}: {str(entry.get('message'))[:100]}")
        return levels, problems


def start_replica(stack: ExitStack, api_url: str, db: Database, folder: Path) -> Replica:
    port, log = free_port(), folder / "replica.log"
    env = {k: v for k, v in child_env().items() if not k.startswith(("SLACK_", "DATABASE_URL", "ADVOCACY_", "PORT"))}
    env.update(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=api_url, PORT=str(port),
               DATABASE_URL=db.engine.url.render_as_string(hide_password=False),
               ADVOCACY_CONFIG=str(SAMPLE_CONFIG), LOG_FORMAT="json")
    with log.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=folder,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    replica = Replica(Target(f"http://127.0.0.1:{port}/slack/events", process.pid), process, log, port)
    stack.callback(replica.stop)
    wait_for(replica.ready, START_TIMEOUT, "advocacy-bot run to be ready")
    return replica


def wait_for(predicate: Any, timeout: float, what: str) -> float:
    """Seconds it took; gives up (and says so) after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            print(f"  (gave up waiting for {what} after {timeout:.0f} s)")
            break
        time.sleep(0.1)
    return time.monotonic() - started


# ================================================================================ one run
@dataclass
class Planned:
    """What one run sends, and the effect each request must leave."""

    requests: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)  # escalations: one case each
    replies: list[tuple[str, str]] = field(default_factory=list)  # (channel, ts): one timeline entry each
    reacted: list[int] = field(default_factory=list)  # reminder ids: answered "updated"
    clicked: list[int] = field(default_factory=list)  # reminder ids: answered "snoozed"


def counts(total: int, mix: dict[str, int]) -> dict[str, int]:
    """Requests of each kind, in proportion to ``mix``; the rounding goes to the largest share."""
    weight = sum(mix.values())
    out = {kind: total * mix.get(kind, 0) // weight for kind in KINDS}
    out[max(mix, key=lambda kind: mix[kind])] += total - sum(out.values())
    return out


def parse_mix(text: str) -> dict[str, int]:
    mix = {}
    for part in text.split(","):
        kind, _, share = part.partition("=")
        if kind.strip() not in KINDS or not share.strip().isdigit():
            raise SystemExit(f"--mix: write e.g. {','.join(f'{k}={v}' for k, v in MIX.items())}")
        mix[kind.strip()] = int(share)
    if not sum(mix.values()):
        raise SystemExit("--mix: the shares add up to nothing")
    return mix


def plan(standin: SlackStandIn, total: int, mix: dict[str, int], seeded: Sequence[Seeded],
         reminders: dict[int, tuple[int, str]], fresh: Iterator[Seeded], tag: str, seed_value: int) -> Planned:
    """``total`` requests in the mix, shuffled with a fixed seed; reactions and clicks on reminders from ``fresh``
    (each reminder answered once); replies spread over every seeded case channel, in its reminder's thread."""
    driver = PreparingDriver(standin)
    kinds = [kind for kind, n in counts(total, mix).items() for _ in range(n)]
    random.Random(seed_value).shuffle(kinds)
    out = Planned()
    replies = 0
    for kind in kinds:
        if kind == "escalate":
            customer = f"Load {tag} {len(out.customers)}"
            driver.command(RITA, "/escalate", f"{customer}: invoice charged twice after the upgrade p1 $12k")
            out.customers.append(customer)
        elif kind == "reply":
            case = seeded[replies % len(seeded)]
            replies += 1
            ts, _ = driver.say(HEAD, case.channel, f"Looking at it: ledger entry {replies} checked.",
                               thread_ts=reminders[case.case_id][1])
            out.replies.append((case.channel, ts))
        else:
            case = next(fresh)
            reminder_id, ts = reminders[case.case_id]
            if kind == "reaction":
                driver.react(case.owner, case.channel, ts, "white_check_mark")
                out.reacted.append(reminder_id)
            else:
                driver.block_action(case.owner, SNOOZE_HOUR, channel_id=case.channel, message_ts=ts)
                out.clicked.append(reminder_id)
        body, headers = driver.last()
        out.requests.append((kind, body, headers))
    return out


@dataclass
class Verified:
    lost: Tally[str] = field(default_factory=Tally)
    doubled: Tally[str] = field(default_factory=Tally)


def verify(db: Database, planned: Planned, answered: Sequence[bool]) -> Verified:
    """Each request answered 200 must have left its effect once; one not answered 200 is an error, not lost."""
    outcome = Verified()
    answered_of: dict[str, list[bool]] = {kind: [] for kind in KINDS}
    for (kind, _, _), was_ok in zip(planned.requests, answered, strict=True):
        answered_of[kind].append(was_ok)
    with db.transaction() as session:
        cases = Tally(session.scalars(select(Customer.name).join(Case).where(
            Customer.name.in_(planned.customers)))) if planned.customers else Tally()
        messages = Tally((str(channel), str(ts)) for channel, ts in session.execute(
            select(CaseEvent.channel_id, CaseEvent.slack_ts).where(CaseEvent.kind == "message")))
        targets = planned.reacted + planned.clicked
        answers = {reminder_id: answer for reminder_id, answer in session.execute(
            select(Reminder.id, Reminder.answer).where(Reminder.id.in_(targets)))} if targets else {}
    effects: dict[str, list[int]] = {
        "escalate": [cases[c] for c in planned.customers],
        "reply": [messages[r] for r in planned.replies],
        "reaction": [int(answers.get(r) == "updated") for r in planned.reacted],
        "click": [int(answers.get(r) == "snoozed") for r in planned.clicked],
    }
    for kind in KINDS:
        for found, was_ok in zip(effects[kind], answered_of[kind], strict=True):
            if was_ok and found == 0:
                outcome.lost[kind] += 1
            if found > 1:
                outcome.doubled[kind] += 1
    return outcome


def answered_customers(planned: Planned, results: Sequence[Result]) -> list[str]:
    """The customers of the escalations answered 200: those must become cases (the others were refused)."""
    escalations = [r for (kind, _, _), r in zip(planned.requests, results, strict=True) if kind == "escalate"]
    return [c for c, r in zip(planned.customers, escalations, strict=True) if r.status == 200]


def drained(db: Database, customers: Sequence[str]) -> bool:
    """Every escalation answered 200 has its case, and nothing in the outbox is due (the set-ups, the answers)."""
    with db.transaction() as session:
        pending = session.scalar(select(func.count()).select_from(OutboxItem).where(
            OutboxItem.status == "pending", OutboxItem.due_at <= datetime.now(UTC) + timedelta(seconds=5)))
        made = session.scalar(select(func.count()).select_from(Case).join(Customer).where(
            Customer.name.in_(list(customers)))) if customers else 0
    return not pending and made == len(customers)


@dataclass
class Run:
    label: str
    latency_ms: int | None  # None: the no-op app (it never calls Slack)
    results: list[Result]
    cpu: float  # seconds of the target's CPU during the run
    span: float  # seconds from the first scheduled send to the last answer
    verified: Verified | None = None
    drain: float = 0.0  # seconds the backlog took to drain after the run

    @property
    def ok(self) -> list[Result]:
        return [r for r in self.results if r.status == 200 and r.latency <= SLACK_ACK_LIMIT]

    @property
    def errors(self) -> Tally[str]:
        found: Tally[str] = Tally()
        for r in self.results:
            if r.status == 0:
                found[r.error or "no answer"] += 1
            elif r.status != 200:
                found[f"HTTP {r.status}"] += 1
            elif r.latency > SLACK_ACK_LIMIT:
                found["over 3 s"] += 1
        return found

    @property
    def throughput(self) -> float:
        return len(self.ok) / self.span

    def figures(self, kind: str | None = None) -> dict[str, float]:
        chosen = [r for r in self.results if kind is None or r.kind == kind]
        latencies = [r.latency for r in chosen]
        return {"n": len(chosen), "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                "max": max(latencies, default=float("nan")),
                "mean": statistics.fmean(latencies) if latencies else float("nan"),
                "lag99": percentile([r.lag for r in chosen], 99)}


def run_once(label: str, target: Target, rate: float, planned: Planned, latency_ms: int | None, folder: Path,
             profile: Path | None) -> Run:
    spies = []
    if profile is not None and latency_ms is not None:
        # Two views: who holds the GIL (where the CPU goes) and every thread not idle (where the time goes,
        # waiting on PostgreSQL included).
        for view, extra in (("gil", ["--gil"]), ("wall", [])):
            spies.append(subprocess.Popen(
                ["py-spy", "record", "-p", str(target.pid), "--format", "raw", "--threads", "--nonblocking",
                 "-r", "50", *extra, "-o", str(profile / f"real-{latency_ms}ms.{view}.folded")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    cpu = target.cpu_seconds()
    results = fire(target.url, rate, planned.requests, folder)
    # request i was scheduled at i / rate: the run spans from the first to the last answer
    run = Run(label, latency_ms, results, target.cpu_seconds() - cpu,
              max(i / rate + r.latency for i, r in enumerate(results)))
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    return run


# ================================================================================ report
def table(runs: Sequence[Run], rate: float) -> None:
    print(f"\n{'target':<22}{'sent':>7}{'errors':>8}{'lost':>6}{'doubled':>8}{'rate':>9}{'p50':>11}{'p99':>11}"
          f"{'max':>11}{'CPU/req':>10}{'CPU':>7}{'client lag p99':>16}")
    for run in runs:
        f = run.figures()
        lost = "-" if run.verified is None else str(sum(run.verified.lost.values()))
        doubled = "-" if run.verified is None else str(sum(run.verified.doubled.values()))
        print(f"{run.label:<22}{len(run.results):>7}{sum(run.errors.values()):>8}{lost:>6}{doubled:>8}"
              f"{run.throughput:>7.0f}/s{ms(f['p50'], 8)}{ms(f['p99'], 8)}{ms(f['max'], 8)}"
              f"{run.cpu / len(run.results) * 1000:>7.2f} ms{run.cpu / run.span:>6.2f}c{ms(f['lag99'], 13)}")
    print(f"(offered {rate:.0f}/s; rate = answers 200 within 3 s per second of the run; CPU = the target process's "
          f"cores over the run, c = cores; client lag = how late the generator started a request)")


def by_kind(runs: Sequence[Run]) -> None:
    print(f"\n{'ack p50 / p99 by kind':<22}" + "".join(f"{kind:>22}" for kind in KINDS))
    for run in runs:
        cells = []
        for kind in KINDS:
            f = run.figures(kind)
            cells.append(f"{f['p50'] * 1000:9.1f} /{f['p99'] * 1000:7.1f} ms" if f["n"] else f"{'-':>22}")
        print(f"{run.label:<22}" + "".join(f"{c:>22}" for c in cells))


def goals(noop: Run, reals: Sequence[Run], rate: float, target_rate: float, full: bool) -> None:
    base = noop.figures()
    print("\nreal / no-op:  " + "; ".join(
        f"{r.label}: p50 {r.figures()['p50'] / base['p50']:.2f}x, p99 {r.figures()['p99'] / base['p99']:.2f}x, "
        f"CPU/req {r.cpu / max(noop.cpu, 1e-9):.2f}x" for r in reals))
    print("\ngoals" + ("" if full else f" (a smoke run: the goals are for --rate {target_rate:.0f} for 60 s)") + ":")

    def say(met: bool, text: str) -> None:
        print(f"  [{'met' if met else 'NOT MET'}] {text}")

    for run in reals:
        lost = sum(run.verified.lost.values()) + sum(run.verified.doubled.values()) if run.verified else 0
        errors = sum(run.errors.values())
        throughput = run.throughput
        say(rate >= target_rate and errors == 0 and lost == 0 and throughput >= 0.98 * rate,
            f"{run.label}: {rate:.0f} requests/s offered, {throughput:.0f}/s answered; {errors} errors, "
            f"{lost} lost or doubled effects (goal: {target_rate:.0f}/s, none)")
    for run in reals:
        if run.latency_ms == 300:
            p99 = run.figures()["p99"]
            say(p99 < GOAL_P99_AT_300, f"{run.label}: ack p99 {p99 * 1000:.1f} ms (goal under "
                                        f"{GOAL_P99_AT_300 * 1000:.0f} ms with 300 ms Slack latency)")
    for run in reals:
        ratio = run.figures()["p50"] / base["p50"]
        say(ratio <= GOAL_P50_RATIO, f"{run.label}: ack p50 {run.figures()['p50'] * 1000:.1f} ms = {ratio:.2f}x "
                                     f"the no-op app's {base['p50'] * 1000:.1f} ms (goal within {GOAL_P50_RATIO:.0f}x)")


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"
    except OSError:
        return "unknown"


# ================================================================================ main
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run (default 60)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, open loop (default 200)")
    parser.add_argument("--latency-ms", default="0,300",
                        help="Slack's answer latency for each run of the real bot, comma-separated (default 0,300)")
    parser.add_argument("--mix", default=",".join(f"{k}={v}" for k, v in MIX.items()),
                        help="shares of each kind of request (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_SECONDS} s per run")
    parser.add_argument("--postgres", metavar="URL",
                        help="run the replica on this PostgreSQL database (in a schema bench_load, dropped after)")
    parser.add_argument("--profile", metavar="DIR", type=Path, help="record each real run with py-spy into DIR")
    parser.add_argument("--fire", metavar="JOB", help=argparse.SUPPRESS)  # the load generator process
    args = parser.parse_args(argv)
    if args.fire:
        return fire_from_file(args.fire)
    seconds = QUICK_SECONDS if args.quick else args.seconds
    latencies = [int(x) for x in args.latency_ms.split(",") if x.strip()]
    total = int(seconds * args.rate)
    mix = parse_mix(args.mix)
    per_run = counts(total, mix)
    answerable = per_run["reaction"] + per_run["click"]  # reminders one run answers
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    if args.profile:
        if shutil.which("py-spy") is None:
            raise SystemExit("--profile needs py-spy (pip install py-spy)")
        args.profile.mkdir(parents=True, exist_ok=True)

    with ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix="advocacy-load-run-"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        standin = SlowSlack(bot_token=TOKEN).start()
        stack.callback(standin.stop)
        config = load_config(SAMPLE_CONFIG)
        seed_workspace(standin, config)
        db = database(stack, args.postgres)
        print(f"load: {seconds:.0f} s per run at {args.rate:.0f} requests/s (open loop); per run "
              + ", ".join(f"{n} {kind}" for kind, n in per_run.items() if n)
              + f"; replica on {'PostgreSQL' if args.postgres else 'SQLite'}; load average {load_average()}")
        started = time.monotonic()
        seeded = seed(db, standin, config, max(MIN_CASES, answerable * len(latencies)), datetime.now(UTC))
        noop = spawn(stack, "noop", standin.api_url)
        replica = start_replica(stack, standin.api_url, db, folder)
        wait_for(lambda: len(posted_reminders(db)) == len(seeded), POSTED_TIMEOUT, "the seeded reminders")
        reminders = posted_reminders(db)
        print(f"seeded {len(seeded)} overdue cases; the replica's tick posted {len(reminders)} reminders "
              f"({time.monotonic() - started:.0f} s)")
        if len(reminders) < len(seeded):
            return 1
        tag = secrets.token_hex(3)

        # The no-op app first (it never calls Slack: one run serves every latency); its reactions and clicks
        # name the reminders of the first real run, which acts on them later (the no-op changed nothing).
        noop_plan = plan(standin, total, mix, seeded, reminders, iter(seeded), f"{tag} noop", 0)
        runs = [run_once("no-op Bolt app", noop, args.rate, noop_plan, None, folder, None)]
        fresh = iter(seeded)
        for n, latency in enumerate(latencies, start=1):
            planned = plan(standin, total, mix, seeded, reminders, fresh, f"{tag} {latency}ms", n)
            standin.latency = latency / 1000
            run = run_once(f"real bot, Slack {latency} ms", replica.target, args.rate, planned, latency, folder,
                           args.profile)
            standin.latency = 0.0  # the backlog drains at Slack's normal speed; the run is over
            accepted = answered_customers(planned, run.results)
            run.drain = wait_for(lambda done=accepted: drained(db, done), DRAIN_TIMEOUT, "the backlog")
            run.verified = verify(db, planned, [r.status == 200 for r in run.results])
            runs.append(run)
            print(f"  {run.label}: backlog drained {run.drain:.0f} s after the run; load average {load_average()}")

        table(runs, args.rate)
        by_kind(runs)
        for run in runs[1:]:
            found = run.verified or Verified()
            if run.errors or found.lost or found.doubled:
                print(f"  {run.label}: errors {dict(run.errors)}; lost {dict(found.lost)}; "
                      f"doubled {dict(found.doubled)}")
        if runs[0].errors:
            print(f"  no-op Bolt app: errors {dict(runs[0].errors)}")
        with db.transaction() as session:
            outbox = {status: n for status, n in session.execute(
                select(OutboxItem.status, func.count()).group_by(OutboxItem.status))}
        levels, problems = replica.log_levels()
        print(f"\nreplica: outbox {outbox} (failed = dead letters); log lines by level {dict(levels)}")
        for problem, n in Tally(problems).most_common(5):
            print(f"  {n} x {problem}")
        goals(runs[0], runs[1:], args.rate, 200.0, full=not args.quick and seconds >= 60)
        if args.profile:
            print(f"\npy-spy profiles in {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
