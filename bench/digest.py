"""Benchmark the weekly digest: the same week's digest over a short and a long history, time and peak memory.

For each ``--sizes`` (default 10,000 and 1,000,000 cases) a database holds a history of that many cases
with their timelines (``bench/digest_seed.py``: customers and their status history, departments, events,
customer updates, reminder steps, resolutions, prevention actions, check-ins, feedback). The cases are
spread evenly over weeks ending with the digest week, ``--per-week`` a week (default 5,000: the 1M
history spans 200 weeks, the 10k one 2), so the digest week has the same load at every size and only the
history behind it grows: the figures say how the digest scales with history. The seeded databases are
cached under ``--data-dir`` (default ``bench/.data/``, ignored by git), keyed by size, weekly load, seed
and ``SEED_VERSION``, so a rerun skips seeding; ``--reseed`` seeds again. With ``--database-url`` (a
PostgreSQL URL) each size gets a schema of that database instead (``bench_digest_<key>``, kept as the cache).

The digest is ``bot.domain.digest.digest(session, week, config, now=…)`` for the latest full ISO week of
the sample team (``advocacy.example.yaml``), called as ``advocacy-bot digest`` calls it (in
``Database.transaction()``). Each size is measured in a fresh process of its own
(``python bench/digest.py --measure <url> …``), so that it has its own peak memory:

* cold: the first digest in that process (empty SQLite page cache, SQLAlchemy's statement cache cold; the
  operating system's file cache is whatever it is);
* warm: the median (and min–max) of ``--repeat`` digests after it;
* RSS Δ: the process's peak resident set over the cold and warm digests minus its resident set just before
  them. The peak is ``VmHWM``, reset right before (``/proc/self/clear_refs``), because ``ru_maxrss`` starts
  at the parent's peak (Linux carries it across fork and exec); ``maxrss Δ`` is the ``ru_maxrss`` figure,
  shown too (seeding runs in a process of its own, so the parent stays small and the two mostly agree);
* traced: the peak of Python allocations (``tracemalloc``) during one more digest;
* SQL: statements per digest.

Goals (from the issue): warm(1M) / warm(10k) ≤ 2, and at 1M on SQLite under 2 s and under 200 MB.
``--profile N`` also profiles one more digest per size: its top N functions by cumulative time (cProfile,
overall and in ``bot/domain``), its N costliest SQL statements by total execute time (for SQLite, where most
of a query's work happens), and the query plans of the first ``PLANS`` of them, with the parameters of their
slowest run. ``--code DIR`` measures another tree's ``bot``/``storage`` (say the commit before a change,
exported with ``git archive``) on the same databases, for a before/after.

It prints figures and never asserts on them. Run from the repository root:

    python bench/digest.py [--sizes 10000,1000000] [--repeat 3] [--per-week 5000] [--data-dir bench/.data]
                           [--reseed] [--profile 10] [--code DIR] [--timeout 3600] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import inspect
import io
import json
import logging
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from digest_seed import (  # bench/, the script's folder
    MIN_WEEKS,
    NOW,
    PER_WEEK,
    SEED_VERSION,
    Plan,
    make_plan,
    seed_core,
    seed_sqlite,
)
from sqlalchemy import create_engine, event, func, make_url, select, text

from bot.config import TeamConfig, load_config
from bot.domain.digest import digest
from bot.domain.weeks import Week
from bot.settings import normalize_database_url
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Case, CaseEvent

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "advocacy.example.yaml"
DATA = Path(__file__).resolve().parent / ".data"
GOAL_RATIO, GOAL_SECONDS, GOAL_MB, GOAL_SIZE = 2.0, 2.0, 200.0, 1_000_000
PLANS = 3  # with --profile: the query plans of this many of the costliest statements
MiB = 2**20


# ----------------------------------------------------------------------------------------------- the databases
@dataclass
class Prepared:
    plan: Plan
    url: str
    seed: str  # "seeded in 12.3 s" or "cached"
    where: str  # the file or the schema


def label(size: int) -> str:
    for unit, name in ((1_000_000, "M"), (1_000, "k")):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{name}"
    return f"{size:,}"


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def say(line: str) -> None:
    print(line, flush=True)


def progress(line: str) -> None:
    """The seeding child's progress: on stderr, as its stdout carries the result."""
    print(line, file=sys.stderr, flush=True)


def prepare_sqlite(plan: Plan, config: TeamConfig, folder: Path, reseed: bool) -> Prepared:
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# seeded databases of bench/digest.py\n*\n")
    path = folder / f"{plan.key}.db"
    url = f"sqlite:///{path}"
    if path.exists() and not reseed:
        return Prepared(plan, url, "cached", str(path))
    for old in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        old.unlink(missing_ok=True)
    progress(f"seeding {plan.size:,} cases into {path} …")
    seeded = seed_sqlite(path, plan, config, progress=progress)
    return Prepared(plan, url, f"seeded in {seeded.seconds:.1f} s ({sum(seeded.rows.values()):,} rows)", str(path))


def prepare_postgres(plan: Plan, config: TeamConfig, base_url: str, reseed: bool) -> Prepared:
    schema = "bench_" + plan.key.replace("-", "_")
    base = make_url(normalize_database_url(base_url))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    admin = create_engine(base)
    try:
        with admin.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
                                       {"s": schema})
            complete = exists and connection.scalar(text(
                f"SELECT value FROM {schema}.counters WHERE name = 'case'")) == plan.size  # committed with the rows
        if complete and not reseed:
            return Prepared(plan, url, "cached", f"schema {schema}")
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    finally:
        admin.dispose()
    db = Database(url)
    try:
        upgrade(db.engine)
        progress(f"seeding {plan.size:,} cases into schema {schema} …")
        seeded = seed_core(db, plan, config, progress=progress)
    finally:
        db.dispose()
    return Prepared(plan, url, f"seeded in {seeded.seconds:.1f} s ({sum(seeded.rows.values()):,} rows)",
                    f"schema {schema}")


def storage_size(prepared: Prepared) -> str:
    if prepared.url.startswith("sqlite"):
        path = Path(prepared.where)
        total = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        return f"{total / MiB:,.0f} MiB"
    schema = prepared.where.removeprefix("schema ")
    db = Database(prepared.url)
    try:
        with db.engine.connect() as connection:
            total = connection.scalar(text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = :s AND c.relkind = 'r'"), {"s": schema})
    finally:
        db.dispose()
    return f"{int(total or 0) / MiB:,.0f} MiB"


def counts(prepared: Prepared, config: TeamConfig) -> tuple[int, int, int]:
    """Cases, timeline entries, and cases opened in the digest week, as the database has them."""
    start, end = prepared.plan.week.bounds(config.zone)
    db = Database(prepared.url)
    try:
        with db.sessions() as session:
            cases = session.scalar(select(func.count()).select_from(Case)) or 0
            events = session.scalar(select(func.count()).select_from(CaseEvent)) or 0
            load = session.scalar(select(func.count()).select_from(Case)
                                  .where(Case.created_at >= start, Case.created_at < end)) or 0
    finally:
        db.dispose()
    return int(cases), int(events), int(load)


# ----------------------------------------------------------------------------------------------- measuring (child)
def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def proc_status_kib(field: str) -> int | None:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, from /proc (Linux), in KiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its RSS now (Linux ≥ 4.0: ``clear_refs`` 5).

    Needed because ``ru_maxrss`` carries the parent's peak across fork and exec: a child started by a
    parent that once held 300 MB reports a 300 MB peak before it has done anything.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return proc_status_kib("VmHWM") is not None


def query_plan(db: Database, statement: str, params: Any) -> list[str]:
    """The plan of a statement as it was sent, with the parameters of its slowest run."""
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    try:
        with db.engine.connect() as connection:
            rows = connection.exec_driver_sql(prefix + statement, params).all()
            connection.rollback()
    except Exception as exc:  # a plan is a nicety: say why there is none
        return [f"(no plan: {exc.__class__.__name__}: {str(exc)[:200]})"]
    if db.dialect != "sqlite":
        return [str(row[0]) for row in rows]
    depth: dict[int, int] = {0: -1}  # (id, parent, notused, detail): indent by depth
    lines = []
    for row in rows:
        depth[row[0]] = depth.get(row[1], -1) + 1
        lines.append("  " * depth[row[0]] + str(row[3]))
    return lines


def measure(args: argparse.Namespace) -> int:
    """One size, in this process: a cold digest, ``--repeat`` warm ones, one traced, one profiled. JSON out."""
    logging.basicConfig(level=logging.WARNING)
    config = load_config(args.config)
    week, now = Week.parse(args.week), datetime.fromisoformat(args.now)
    db = Database(args.measure)
    sent: list[tuple[str, Any, float]] = []  # (statement, parameters, execute seconds) while timing is on
    timing: dict[str, Any] = {"on": False, "started": 0.0}

    def before(_conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any, _many: bool) -> None:
        timing["started"] = time.perf_counter()

    def after(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> None:
        seconds = time.perf_counter() - timing["started"]
        sent.append((statement, params, seconds) if timing["on"] else ("", None, 0.0))

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    takes_now = "now" in inspect.signature(digest).parameters

    def once() -> dict[str, Any]:
        with db.transaction() as session:
            return digest(session, week, config, now=now) if takes_now else digest(session, week, config)

    def timed() -> float:
        gc.collect()
        started = time.perf_counter()
        once()
        return time.perf_counter() - started

    gc.collect()
    reset = reset_peak_rss()
    rss_before, maxrss_before = proc_status_kib("VmRSS"), peak_rss_kib()  # right before the digests
    sent.clear()
    started = time.perf_counter()
    data = once()
    cold = time.perf_counter() - started
    statements = len(sent)
    warm = [timed() for _ in range(args.repeat)]
    hwm_after, maxrss_after = proc_status_kib("VmHWM"), peak_rss_kib()
    if reset and hwm_after is not None and rss_before is not None:
        rss_delta, how = hwm_after - rss_before, "VmHWM"
    else:
        rss_delta, how = maxrss_after - maxrss_before, "ru_maxrss"
    result: dict[str, Any] = {
        "cold": cold, "warm": warm, "statements": statements, "rss_delta_kib": rss_delta, "rss_how": how,
        "rss_before_kib": rss_before, "maxrss_before_kib": maxrss_before, "maxrss_after_kib": maxrss_after,
        "traced_peak": None,
        "figures": {k: data.get(k) for k in ("cases_opened", "cases_resolved", "cases_reopened", "open_at_end",
                                             "update_compliance", "nps", "csat", "checkins", "retention",
                                             "recurrence", "prevention_overdue", "revenue_at_risk",
                                             "updates_overdue_now")},
        "digest_sha256": hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest(),
    }
    if args.tracemalloc:
        gc.collect()
        tracemalloc.start()
        once()
        result["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if args.profile:
        gc.collect()
        profile = cProfile.Profile()
        sent.clear()
        timing["on"] = True
        profile.enable()
        once()
        profile.disable()
        timing["on"] = False
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).sort_stats("cumulative")
        stats.print_stats(args.profile)
        stats.print_stats(r"bot[/\\]domain[/\\]", args.profile)  # the digest's own functions
        result["profile"] = out.getvalue()
        by_statement: dict[str, list[tuple[float, Any]]] = {}
        for statement, params, seconds in sent:
            by_statement.setdefault(statement, []).append((seconds, params))
        ranked = sorted(by_statement.items(), key=lambda item: -sum(s for s, _ in item[1]))
        result["sql"] = [[" ".join(st.split()), len(runs), sum(s for s, _ in runs)] for st, runs in ranked]
        result["sql_total"] = sum(seconds for _, _, seconds in sent)
        result["plans"] = [[" ".join(st.split()), query_plan(db, st, max(runs, key=lambda r: r[0])[1])]
                           for st, runs in ranked[:PLANS]]
    db.dispose()
    json.dump(result, sys.stdout)
    return 0


# ----------------------------------------------------------------------------------------------- the run (parent)
def prepare(args: argparse.Namespace) -> int:
    """The child that seeds (or finds cached) one size's database: progress on stderr, the result as JSON."""
    logging.basicConfig(level=logging.WARNING)
    config = load_config(args.config)
    plan = make_plan(args.prepare, config, per_week=args.per_week, seed=args.seed)
    if args.database_url:
        prepared = prepare_postgres(plan, config, args.database_url, args.reseed)
    else:
        prepared = prepare_sqlite(plan, config, args.data_dir, args.reseed)
    json.dump({"url": prepared.url, "seed": prepared.seed, "where": prepared.where}, sys.stdout)
    return 0


def run_prepare(size: int, config: TeamConfig, args: argparse.Namespace) -> Prepared:
    """Seeding in a process of its own keeps this one small: a measuring child inherits its peak RSS."""
    command = [sys.executable, str(Path(__file__).resolve()), "--prepare", str(size), "--per-week",
               str(args.per_week), "--seed", str(args.seed), "--data-dir", str(args.data_dir), "--config",
               str(args.config)] + (["--reseed"] if args.reseed else []) + (
        ["--database-url", args.database_url] if args.database_url else [])
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, cwd=ROOT)
    found = json.loads(done.stdout)
    plan = make_plan(size, config, per_week=args.per_week, seed=args.seed)
    return Prepared(plan, found["url"], found["seed"], found["where"])


@dataclass
class Measured:
    prepared: Prepared
    result: dict[str, Any] | None  # None: it failed or timed out
    note: str
    cases: int = 0
    events: int = 0
    load: int = 0

    @property
    def warm(self) -> float | None:
        return statistics.median(self.result["warm"]) if self.result and self.result["warm"] else None

    @property
    def rss_mb(self) -> float | None:
        return self.result["rss_delta_kib"] / 1024 if self.result else None

    @property
    def maxrss_mb(self) -> float | None:
        return (self.result["maxrss_after_kib"] - self.result["maxrss_before_kib"]) / 1024 if self.result else None


def run_child(prepared: Prepared, args: argparse.Namespace) -> Measured:
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", prepared.url, "--week",
               str(prepared.plan.week), "--now", NOW.isoformat(), "--repeat", str(args.repeat), "--config",
               str(args.config), "--profile", str(args.profile),
               "--tracemalloc" if args.tracemalloc else "--no-tracemalloc"]
    say(f"measuring {label(prepared.plan.size)} in a fresh process …")
    started = time.perf_counter()
    env = dict(os.environ)
    if args.code:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.code.resolve()), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=args.timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return Measured(prepared, None, f"timed out after {args.timeout:.0f} s (killed)")
    if done.returncode != 0:
        return Measured(prepared, None, f"failed (exit {done.returncode}) after {time.perf_counter() - started:.0f} s")
    return Measured(prepared, json.loads(done.stdout), f"measured in {time.perf_counter() - started:.0f} s")


def git_state(code: Path | None) -> str:
    """Which digest code was measured (read-only git)."""
    if code is not None:
        return f"{code} (--code)"
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "bot/domain/metrics.py",
                                "bot/domain/digest.py"], cwd=ROOT).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with local changes to metrics.py/digest.py" if dirty else "")


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"
    except OSError:
        return "unknown"


def fmt(value: float | None, pattern: str = "{:.3f}") -> str:
    return "—" if value is None else pattern.format(value)


def yes(condition: bool) -> str:
    return "yes" if condition else "no"


def report(measured: list[Measured], engine: str, args: argparse.Namespace) -> None:
    print(f"\nDigest of {measured[0].prepared.plan.week} on {engine}: one cold digest, then the median of "
          f"{args.repeat} warm ones, each size in a fresh process; load average {load_average()}")
    print(f"{'size':<6}{'cases':>11}{'events':>12}{'week load':>11}{'weeks':>7}{'cold s':>9}{'warm s':>9}"
          f"{'min–max s':>19}{'RSS Δ MB':>10}{'maxrss Δ':>10}{'traced MB':>11}{'SQL':>6}")
    for m in measured:
        r, plan = m.result, m.prepared.plan
        if r is None:
            print(f"{label(plan.size):<6}{m.cases:>11,}{m.events:>12,}{m.load:>11,}{plan.weeks:>7}  {m.note}")
            continue
        traced = r["traced_peak"] / MiB if r["traced_peak"] is not None else None
        spread = f"{min(r['warm']):.3f}–{max(r['warm']):.3f}" if r["warm"] else "—"
        print(f"{label(plan.size):<6}{m.cases:>11,}{m.events:>12,}{m.load:>11,}{plan.weeks:>7}{r['cold']:>9.3f}"
              f"{fmt(m.warm):>9}{spread:>19}{fmt(m.rss_mb, '{:.1f}'):>10}{fmt(m.maxrss_mb, '{:.1f}'):>10}"
              f"{fmt(traced, '{:.1f}'):>11}{r['statements']:>6}")
    how = next((m.result["rss_how"] for m in measured if m.result), "VmHWM")
    per_week = measured[0].prepared.plan.per_week
    print(f"week load: cases opened in the digest week ({per_week:,} a week of history: the same at every size of "
          f"{MIN_WEEKS * per_week:,} cases or more); RSS Δ: peak RSS over the cold and warm "
          f"digests ({how}) minus RSS right before them; maxrss Δ: the same from ru_maxrss, which starts at the "
          "parent's peak; traced: tracemalloc peak of one more digest; SQL: statements per digest")
    for m in measured:
        r = m.result
        if r is None:
            continue
        f = r["figures"]
        compliance, nps, retention = f.get("update_compliance") or {}, f.get("nps") or {}, f.get("retention") or {}
        print(f"{label(m.prepared.plan.size)}: opened {f.get('cases_opened')}, resolved {f.get('cases_resolved')}, "
              f"reopened {f.get('cases_reopened')}, open at end {f.get('open_at_end')}; updates on time "
              f"{compliance.get('on_time')} of {compliance.get('due')} ({compliance.get('missed')} missed); NPS "
              f"{nps.get('score')} (n {nps.get('n')}); retention {fmt(retention.get('ratio'))}; digest JSON sha256 "
              f"{r['digest_sha256'][:12]}; RSS before the digests {(r['rss_before_kib'] or 0) / 1024:.0f} MB; "
              f"{m.note}")

    ok = [m for m in measured if m.warm is not None]
    if len(ok) >= 2:
        small, large = ok[0], ok[-1]
        ratio = (large.warm or 0.0) / (small.warm or 1.0)
        cold = large.result["cold"] / small.result["cold"]  # type: ignore[index]
        print(f"\nwarm({label(large.prepared.plan.size)})/warm({label(small.prepared.plan.size)}) = {ratio:.2f}x "
              f"(cold {cold:.2f}x; RSS Δ {fmt(large.rss_mb, '{:.1f}')} vs {fmt(small.rss_mb, '{:.1f}')} MB)")
        print(f"ratio ≤ {GOAL_RATIO:g}: {yes(ratio <= GOAL_RATIO)}")
    largest = measured[-1]
    name = label(largest.prepared.plan.size)
    aside = "" if largest.prepared.plan.size == GOAL_SIZE else f" (the goals are stated at {label(GOAL_SIZE)})"
    if engine != "SQLite":
        aside += " (the goals are stated for SQLite)"
    if largest.warm is None or largest.result is None:
        print(f"{name} under {GOAL_SECONDS:g} s: no ({largest.note}){aside}")
        print(f"{name} under {GOAL_MB:g} MB: unknown ({largest.note}){aside}")
    else:
        print(f"{name} under {GOAL_SECONDS:g} s: {yes(largest.warm < GOAL_SECONDS)} (warm {largest.warm:.3f} s, "
              f"cold {largest.result['cold']:.3f} s){aside}")
        mb = largest.rss_mb or 0.0
        print(f"{name} under {GOAL_MB:g} MB: {yes(mb < GOAL_MB)} (RSS Δ {mb:.1f} MB){aside}")
    for m in measured:
        if not (m.result and m.result.get("profile")):
            continue
        print(f"\nProfile of one more digest at {label(m.prepared.plan.size)}: top {args.profile} by cumulative "
              "time, overall and in bot/domain")
        print("\n".join(line for line in m.result["profile"].splitlines() if line.strip()))
        sql = m.result["sql"]
        print(f"SQL of that digest: {sum(n for _, n, _ in sql)} statements, {m.result['sql_total'] * 1000:.0f} ms "
              f"executing (cursor.execute: for SQLite most of a query's work); the top {args.profile} by total:")
        for statement, n, seconds in sql[: args.profile]:
            print(f"  {seconds * 1000:8.1f} ms {n:>3}x  {statement[:400]}")
        for statement, plan in m.result["plans"]:
            print(f"plan of: {statement[:1500]}")
            print("\n".join(f"    {line}" for line in plan))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000",
                        help="history sizes in cases, comma-separated (10k and 1M work too); the smallest is the "
                             "baseline of the ratio, the largest is held to the goals")
    parser.add_argument("--repeat", type=int, default=3, help="warm digests per size (the median is reported)")
    parser.add_argument("--per-week", type=int, default=PER_WEEK, help="cases opened per week of history")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the history")
    parser.add_argument("--data-dir", type=Path, default=DATA, help="where the seeded SQLite files are cached")
    parser.add_argument("--reseed", action="store_true", help="seed again even if a cached database exists")
    parser.add_argument("--database-url", metavar="URL",
                        help="PostgreSQL: seed and measure in schemas of this database instead of SQLite files")
    parser.add_argument("--config", type=Path, default=CONFIG, help="the team config (default: the sample's)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed to each size's measuring")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile one more digest per size: its top N functions and SQL statements")
    parser.add_argument("--code", type=Path, metavar="DIR",
                        help="measure the bot and storage packages of this tree instead (e.g. an earlier commit, "
                             "exported with git archive): it goes first on the measuring process's PYTHONPATH")
    parser.add_argument("--tracemalloc", action=argparse.BooleanOptionalAction, default=True,
                        help="trace Python allocations during one more digest (slower)")
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)  # the child: seed this size
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)  # the child: measure this database
    parser.add_argument("--week", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.data_dir, args.config = args.data_dir.resolve(), args.config.resolve()  # the children run in ROOT
    if args.measure:
        return measure(args)
    if args.prepare:
        return prepare(args)
    logging.basicConfig(level=logging.WARNING)
    config = load_config(args.config)
    sizes = sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
    engine = "PostgreSQL" if args.database_url else "SQLite"
    say(f"bench/digest.py: sizes {', '.join(label(s) for s in sizes)} on {engine}; seed version {SEED_VERSION}; "
        f"digest code at {git_state(args.code)}")

    measured: list[Measured] = []
    for size in sizes:
        prepared = run_prepare(size, config, args)
        plan = prepared.plan
        say(f"{label(size)}: {plan.weeks} weeks of history ending {plan.week}, {plan.load:,.0f} cases a week; "
            f"seed: {prepared.seed}; {prepared.where}, {storage_size(prepared)}")
        m = run_child(prepared, args)
        m.cases, m.events, m.load = counts(prepared, config)
        measured.append(m)
    report(measured, engine, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
