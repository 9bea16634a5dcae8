"""Benchmark ``/escalate``: how fast the real bot acks, next to a no-op Bolt app behind the same server.

Both targets are served by ``bot.web.HttpServer`` (waitress), each in its own process as in production,
and talk to the local Slack stand-in, which runs in this process (Slack's side). The load comes from
``--concurrency`` client threads, in a process of their own, sending signed text commands over plain,
keep-alive-free HTTP; each names a new customer, so every request opens a case. The targets take turns, burst by burst
(``--rounds``), so that a slow moment of the machine falls on both; each burst starts from quiet (the
real bot's earlier set-ups finished). The figures:

* ack latency: client-observed time to the HTTP response (Slack needs it within 3 s), over all bursts,
  and the p50 ratio of each round;
* CPU per request: the serving process's user + system time during the bursts, divided by requests;
* time to pinned: from sending the command until the stand-in pinned that case's summary (real bot);
* throughput: acks per second, and finished set-ups per second.

It prints figures and never asserts on them. Run from the repository root:

    python bench/escalate.py [--requests 200] [--rounds 3] [--concurrency 20] [--postgres postgresql://…]
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness import TOKEN, PreparingDriver, Request, Target, ms, percentile, real_database, spawn  # bench/
from sqlalchemy import func, select

from bot.config import load_config
from bot.sandbox.demo import RITA, SAMPLE_CONFIG, seed_workspace
from bot.sandbox.standin import SlackStandIn
from storage.db import Database
from storage.models import Case, Customer, OutboxItem

WARM_UP = 5
SETUP_TIMEOUT = 120.0  # seconds to wait for every set-up to finish before reporting what did
ACK_GOAL_RATIO, ACK_GOAL_P99_MS = 1.5, 100.0


@dataclass(frozen=True)
class Sent:
    customer: str
    started: float  # wall clock (time.time), comparable with the stand-in's call times
    latency: float  # seconds, perf_counter
    status: int


@dataclass
class Burst:
    sent: list[Sent]
    cpu: float  # seconds of the target's CPU while the burst ran


def escalations(standin: SlackStandIn, customers: Sequence[str]) -> list[Request]:
    driver = PreparingDriver(standin)
    for customer in customers:
        driver.command(RITA, "/escalate", f"{customer}: invoice charged twice after the upgrade p1 $12k")
    return driver.prepared


def send(url: str, customer: str, request: Request) -> Sent:
    """One POST on a fresh connection (no keep-alive, as Slack's deliveries are spread over many)."""
    parts = urlsplit(url)
    body, headers = request
    started, begin = time.time(), time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request("POST", parts.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        status = response.status
    finally:
        connection.close()
    return Sent(customer, started, time.perf_counter() - begin, status)


def fire_here(url: str, customers: Sequence[str], requests: Sequence[Request], concurrency: int) -> list[Sent]:
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="client") as pool:
        return list(pool.map(lambda pair: send(url, *pair), zip(customers, requests, strict=True)))


def fire(url: str, customers: Sequence[str], requests: Sequence[Request], concurrency: int) -> list[Sent]:
    """Send from a client process of its own, as Slack's deliveries come from elsewhere.

    In this process the clients' timing threads would share the GIL with the stand-in, which is busy
    answering the real bot's after-ack calls (never the no-op's): that would bill Slack's side to the bot.
    """
    job = {"url": url, "concurrency": concurrency,
           "requests": [[c, body.decode(), headers] for c, (body, headers) in zip(customers, requests, strict=True)]}
    done = subprocess.run([sys.executable, __file__, "--fire"], input=json.dumps(job), capture_output=True,
                          text=True, check=True)
    return [Sent(*row) for row in json.loads(done.stdout)]


def fire_from_stdin() -> int:
    job = json.load(sys.stdin)
    customers = [c for c, _, _ in job["requests"]]
    requests = [(body.encode(), headers) for _, body, headers in job["requests"]]
    sent = fire_here(job["url"], customers, requests, job["concurrency"])
    json.dump([[s.customer, s.started, s.latency, s.status] for s in sent], sys.stdout)
    return 0


def unfinished(db: Database, customers: Sequence[str]) -> int:
    """Escalations of ``customers`` whose case or set-up is not there yet."""
    with db.transaction() as session:
        ours = select(Case.id).join(Customer).where(Customer.name.in_(list(customers)))
        cases = session.scalar(select(func.count()).select_from(ours.subquery())) or 0
        pending = session.scalar(select(func.count()).where(OutboxItem.status == "pending",
                                                            OutboxItem.case_id.in_(ours)))
        return len(customers) - cases + (pending or 0)


def wait_for_setups(db: Database, customers: Sequence[str]) -> None:
    deadline = time.monotonic() + SETUP_TIMEOUT
    while unfinished(db, customers) and time.monotonic() < deadline:
        time.sleep(0.05)


def pin_times(db: Database, standin: SlackStandIn, sent: Sequence[Sent]) -> list[tuple[float, float]]:
    """(seconds from sending the command to its summary being pinned, when pinned), by stand-in call times."""
    with db.transaction() as session:
        rows = session.execute(select(Case.channel_id, Customer.name).join(Customer)
                               .where(Customer.name.in_([s.customer for s in sent]))).all()
    customer_of = {channel: name for channel, name in rows}
    started = {s.customer: s.started for s in sent}
    return [(call.at - started[customer_of[call.params["channel"]]], call.at) for call in standin.calls_to("pins.add")
            if call.ok and call.params.get("channel") in customer_of]


def report(label: str, seconds: Sequence[float], rate: float, extra: str = "") -> dict[str, float]:
    figures = {"p50": percentile(seconds, 50), "p99": percentile(seconds, 99), "max": max(seconds), "rate": rate}
    print(f"{label:<16}{ms(figures['p50'])}{ms(figures['p99'])}{ms(figures['max'])}{rate:9.0f}/s   {extra}")
    return figures


def warm_up(target: Target, standin: SlackStandIn, db: Database | None, names: str, concurrency: int) -> None:
    warm = [f"Warm-up {names} {i}" for i in range(WARM_UP)]
    fire(target.url, warm, escalations(standin, warm), concurrency)
    if db is not None:
        wait_for_setups(db, warm)


def burst(target: Target, standin: SlackStandIn, names: str, args: argparse.Namespace) -> Burst:
    customers = [f"Bench {names} {i}" for i in range(args.requests)]
    requests = escalations(standin, customers)
    cpu = target.cpu_seconds()
    sent = fire(target.url, customers, requests, args.concurrency)
    return Burst(sent, target.cpu_seconds() - cpu)


def ack_figures(label: str, bursts: Sequence[Burst]) -> dict[str, float]:
    sent = [s for b in bursts for s in b.sent]
    elapsed = sum(max(s.started + s.latency for s in b.sent) - min(s.started for s in b.sent) for b in bursts)
    errors = sum(s.status != 200 for s in sent)
    cpu = sum(b.cpu for b in bursts) / len(sent)
    figures = report(label, [s.latency for s in sent], len(sent) / elapsed,
                     f"{cpu * 1000:5.2f} ms   mean {statistics.fmean(s.latency for s in sent) * 1000:.1f} ms"
                     + (f"; NOT 200: {errors}" if errors else ""))
    return {**figures, "cpu": cpu}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="/escalate commands per burst")
    parser.add_argument("--rounds", type=int, default=3, help="bursts per target, the two targets taking turns")
    parser.add_argument("--concurrency", type=int, default=20, help="client threads sending at once")
    parser.add_argument("--postgres", metavar="URL", help="run the real bot on this PostgreSQL database")
    parser.add_argument("--fire", action="store_true", help=argparse.SUPPRESS)  # the client process
    args = parser.parse_args(argv)
    if args.fire:
        return fire_from_stdin()
    logging.basicConfig(level=logging.WARNING)  # the bot logs every case at INFO; figures are the output
    # waitress warns each time a request waits for a free thread: the latency figures already show that
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    run = secrets.token_hex(3)  # customer names unique per run, so an existing database opens new cases too

    with ExitStack() as stack:
        standin = SlackStandIn(bot_token=TOKEN).start()
        stack.callback(standin.stop)
        seed_workspace(standin, load_config(SAMPLE_CONFIG))
        noop = spawn(stack, "noop", standin.api_url)
        database_url, db = real_database(stack, args.postgres)
        real = spawn(stack, "real", standin.api_url, database_url)

        print(f"/escalate: {args.rounds} bursts of {args.requests} requests per target from {args.concurrency} "
              f"concurrent clients, the targets taking turns, each burst starting from quiet (the real bot's "
              f"set-ups finished); real bot on {'PostgreSQL' if args.postgres else 'SQLite'}")
        warm_up(noop, standin, None, f"{run} noop", args.concurrency)
        warm_up(real, standin, db, f"{run} real", args.concurrency)
        noop_bursts: list[Burst] = []
        real_bursts: list[Burst] = []
        for round_ in range(args.rounds):
            noop_bursts.append(burst(noop, standin, f"{run} noop {round_}", args))
            real_bursts.append(burst(real, standin, f"{run} real {round_}", args))
            wait_for_setups(db, [s.customer for s in real_bursts[-1].sent])
        ratios = [percentile([s.latency for s in r.sent], 50) / percentile([s.latency for s in n.sent], 50)
                  for n, r in zip(noop_bursts, real_bursts, strict=True)]
        sent = [s for b in real_bursts for s in b.sent]
        print(f"{'ack latency':<16}{'p50':>11}{'p99':>11}{'max':>11}{'rate':>11}{'CPU/req':>11}")
        noop_figures = ack_figures("no-op Bolt app", noop_bursts)
        real_figures = ack_figures("real bot", real_bursts)
        ratio = {k: real_figures[k] / noop_figures[k] for k in ("p50", "p99", "max", "cpu")}
        print(f"{'real / no-op':<16}" + "".join(f"{ratio[k]:10.2f}x" for k in ("p50", "p99", "max"))
              + f"{'':11}{ratio['cpu']:10.2f}x   p50 ratio by round: "
              + ", ".join(f"{r:.2f}x" for r in ratios))

        by_burst = [pin_times(db, standin, b.sent) for b in real_bursts]
        times = [t for b in by_burst for t in b]
        print(f"\n{'real bot: command sent -> summary pinned (set-up throughput)':<16}")
        if times:
            span = sum(max(at for _, at in b) - min(s.started for s in sent_b)
                       for b, sent_b in zip(by_burst, (b.sent for b in real_bursts), strict=True) if b)
            report("time to pinned", [seconds for seconds, _ in times], len(times) / span,
                   f"{len(times)}/{len(sent)} pinned")
        else:
            print("time to pinned: no summary was pinned")
        print(f"\nack p50 real/noop = {real_figures['p50'] / noop_figures['p50']:.2f}x (goal <= {ACK_GOAL_RATIO}x); "
              f"ack p99 real = {real_figures['p99'] * 1000:.1f} ms (goal < {ACK_GOAL_P99_MS:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
