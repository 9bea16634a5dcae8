"""The history that ``bench/digest.py`` computes digests over: cases with their timelines, seeded in bulk.

Deterministic (``random.Random(seed)``): the same size, weekly load and seed give the same rows. ``size``
cases are spread evenly over the weeks that end with the digest week (the ISO week before ``NOW``, the
sample team's Monday run), ``per_week`` of them a week, so every size has the same digest-week load and
only the history behind it grows (at least ``MIN_WEEKS`` weeks: the digest week and the week before it).
Customers (``size / CASES_PER_CUSTOMER``; a third of them older than the history) come with a tier, an
annual revenue, an advocate for most, and a status history (created active; some turn at-risk, and of
those some churn and some recover; a few churn outright). Each case, as the domain would have written it:

* its customer (one created before it and not churned), a severity (p1 15 %, p2 50 %, p3 35 %), an impact
  for 40 %, an owner (the customer's advocate, else one of the team's);
* 1-3 departments asked (the first when it opened, others added later), 92 % answered by a head within
  hours (a message of theirs and a ``department_responded`` entry), the unanswered ones nudged;
* its timeline: ``opened``, 2-4 messages, ``status_changed`` (to investigating, to waiting-on-customer),
  ``customer_update``, ``reminder_snoozed``, ``resolved``, ``closed``, ``reopened`` (2 % of the resolved,
  with the old ``resolved_at``/``closed_at`` in its data, as ``resolution.reopen`` writes them),
  ``recurrence``/``recurred``, ``prevention_done``;
* its update periods: each due time with its reminder steps (heads-up, overdue, escalate, leadership)
  fired, answered, snoozed (5 %: a ``repeat`` step), cancelled or still scheduled, as the tick and
  ``record_customer_update`` leave them; up to ``MAX_UPDATES`` updates (88 % on time), then the case waits
  on the customer (70 %) or the last period runs to the resolution, its update late or missed;
* the resolution (time to resolve log-normal around 8 h, 2 d and 5 d by severity; a few run for months):
  the final customer update, resolution, root-cause category (a recurrence, linked as ``find_recurrence``
  would, for about 1 %; other categories avoid the customer's recent ones), credits for 10 %, 1-2
  prevention actions (85 % done, the rest open, reminded or overdue), closed a few days later for 60 %;
* a "did the fix hold?" follow-up check-in 14 days after the resolution, answered for most.

Per customer: cadence check-ins by tier (done, skipped, prompted, cancelled at churn, the next one
scheduled), feedback (NPS/CSAT) for 70 % of the done check-ins, and now and then a survey answer.
Cases opened near the end of the history are still open. Not seeded: outbox rows, escalation drafts,
deliveries (the digest reads none of them). Simplified: the cadence runs in calendar time (a business-hours
severity's "1d" is taken as 24 h); the period that ``resolve`` starts and at once cancels is left out;
times are whole seconds.

SQLite: the schema comes from the real migrations; the rows go in through the raw sqlite3 connection
(``journal_mode=OFF``, ``synchronous=OFF``, one transaction) with the migrations' indexes dropped first
and created again afterwards from their own SQL (the schema is checked to be the same), into a
``.partial`` file renamed when done. No ``ANALYZE`` (the product never runs it on SQLite). PostgreSQL:
migrated, then Core ``insert()`` executemany in one transaction, then ``ANALYZE`` (as autovacuum would).
Timestamps, JSON, numbers and booleans are stored in the forms SQLAlchemy gives them.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from bot.config import TeamConfig
from bot.domain.resolution import remind_at
from bot.domain.weeks import Week, latest_run
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base

SEED_VERSION = 1  # bump when the seeded rows change: cached databases of other versions are not used
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # a Monday, after the sample team's 09:00 digest run
PER_WEEK = 5_000  # cases opened per week of history
MIN_WEEKS = 2
CASES_PER_CUSTOMER = 50
MAX_UPDATES = 3  # customer updates between opening and resolution, at most
CHUNK = 20_000  # rows per executemany
HOUR, DAY = 3_600, 86_400

SEVERITY_WEIGHTS = {"p1": 0.15, "p2": 0.50, "p3": 0.35}
LIFE = {"p1": 8 * HOUR, "p2": 2 * DAY, "p3": 5 * DAY}  # median time to resolve, seconds
REPORTERS = tuple(f"U3{n}REQ" for n in range(20))
VIA = ("email", "call", "chat", "meeting", "other")
SOURCES = ("command", "modal", "reaction", "shortcut")
HOW = ("call", "meeting", "email", "chat")
TOPICS = ("invoice charged twice after the upgrade", "delivery late for the third time", "refund not received",
          "shipment damaged on arrival", "cannot log in since the migration", "billing address wrong on invoices",
          "export job fails every night", "order stuck in processing", "wrong items delivered",
          "API rate limit hit during peak")
MESSAGES = ("Looking into it now.", "Customer confirmed the order number.", "Found the failing job, fixing.",
            "Refund issued, waiting for the bank.", "Carrier says it left the depot.", "Can we get logs?",
            "Deployed a fix to staging.", "Asked the customer for a screenshot.")
UPDATES = ("We are on it and will update you by tomorrow.", "The fix is being tested.",
           "Your refund has been issued.", "The shipment is on its way.", "We found the cause.")
RESOLUTIONS = ("Refunded and fixed the billing rule.", "Re-shipped with express delivery.",
               "Patched the export job.", "Reset the account and confirmed with the customer.")
ACTIONS = ("Add a check to the billing run", "Alert on stuck orders", "Update the carrier SLA",
           "Write a runbook for this", "Add a regression test")
NPS_CUT = (0.01, 0.02, 0.03, 0.04, 0.07, 0.10, 0.16, 0.27, 0.45, 0.70, 1.0)  # cumulative, scores 0-10
CSAT_CUT = (0.05, 0.15, 0.30, 0.65, 1.0)  # scores 1-5


@dataclass(frozen=True)
class Plan:
    size: int
    per_week: int
    seed: int
    week: Week  # the digest week: the last week of the history
    weeks: int  # weeks of history, the digest week included
    start: int  # the history is [start, end), Unix seconds
    end: int

    @property
    def load(self) -> float:
        return self.size / self.weeks

    @property
    def key(self) -> str:
        return f"digest-v{SEED_VERSION}-{self.size}-w{self.per_week}-s{self.seed}"


def make_plan(size: int, config: TeamConfig, *, per_week: int = PER_WEEK, seed: int = 1) -> Plan:
    digest = config.digest
    weekday, clock = (digest.weekday, digest.time) if digest else (0, datetime.min.time())
    week, _ = latest_run(NOW, weekday, clock, config.zone)
    weeks = max(MIN_WEEKS, round(size / per_week))
    start, _ = week.shift(-(weeks - 1)).bounds(config.zone)
    _, end = week.bounds(config.zone)
    return Plan(size=size, per_week=per_week, seed=seed, week=week, weeks=weeks, start=int(start.timestamp()),
                end=int(end.timestamp()))


# ----------------------------------------------------------------------------------------------- storage forms
class Days(dict[int, str]):
    """Day number (Unix seconds // 86400) → that UTC date formatted, made on first use."""

    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.pattern = pattern

    def __missing__(self, day: int) -> str:
        value = (datetime(1970, 1, 1) + timedelta(days=day)).strftime(self.pattern)
        self[day] = value
        return value


TOD = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY)]
TOD_COMPACT = [t.replace(":", "") for t in TOD]
DATES, COMPACT = Days("%Y-%m-%d"), Days("%Y%m%d")


def stamp(s: int) -> str:
    """``%Y%m%dT%H%M%SZ``, as the domain's reminder and check-in keys carry a time."""
    return f"{COMPACT[s // DAY]}T{TOD_COMPACT[s % DAY]}Z"


def iso(s: int | None) -> str | None:
    """As the domain writes an instant into event data: ``isoformat()`` of an aware UTC datetime."""
    return None if s is None else f"{DATES[s // DAY]}T{TOD[s % DAY]}+00:00"


class Form:
    """How values are handed to the driver: SQLAlchemy's storage forms on SQLite, Python objects for Core."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite

    def ts(self, s: int | None) -> Any:
        if s is None:
            return None
        if self.sqlite:  # SQLAlchemy's SQLite DATETIME: naive UTC, always with microseconds
            return f"{DATES[s // DAY]} {TOD[s % DAY]}.000000"
        return datetime.fromtimestamp(s, UTC)

    def js(self, value: Any) -> Any:
        return json.dumps(value) if self.sqlite else value  # None is stored as JSON null, as the JSON type does

    def dec(self, value: Decimal | None) -> Any:
        return float(value) if self.sqlite and value is not None else value

    def day(self, value: date) -> Any:
        return value.isoformat() if self.sqlite else value

    def flag(self, value: bool | None) -> Any:
        return int(value) if self.sqlite and value is not None else value


COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("id", "name", "name_key", "timezone", "external_ref", "created_at", "tier", "preferred_hours",
                  "advocate_id", "annual_revenue", "status", "updated_at"),
    "customer_status_changes": ("id", "customer_id", "at", "from_status", "to_status", "by", "note"),
    "cases": ("id", "number", "customer_id", "summary", "severity", "status", "owner_id", "reporter_id", "impact",
              "channel_name", "channel_id", "summary_ts", "request_channel_id", "created_at", "updated_at",
              "next_update_due", "cadence_seconds", "last_customer_update_at", "resolved_at", "closed_at",
              "resolution", "root_cause_category", "root_cause", "losses", "credits", "recurrence_of_id",
              "reopened_at"),
    "case_departments": ("id", "case_id", "department", "heads", "deputies", "asked_at", "ask_ts", "answered_by",
                         "answered_at", "nudge_at", "nudged_at"),
    "case_events": ("id", "case_id", "at", "actor", "kind", "text", "permalink", "slack_ts", "channel_id",
                    "thread_ts", "deleted", "data"),
    "customer_updates": ("id", "case_id", "at", "by", "text", "via", "source", "due_at", "on_time", "message_ts"),
    "reminders": ("id", "key", "case_id", "due_at", "step", "fire_at", "status", "channel_id", "message_ts",
                  "answer", "answered_by", "answered_at", "snoozed_until", "created_at"),
    "prevention_actions": ("id", "case_id", "what", "owner_id", "due_on", "remind_at", "status", "reminded_at",
                           "done_at", "done_by", "created_by", "created_at"),
    "checkins": ("id", "key", "customer_id", "kind", "case_id", "due_at", "prompt_at", "status", "advocate_id",
                 "prompts", "prompted_at", "channel_id", "message_ts", "snoozed_until", "done_at", "done_by",
                 "skip_reason", "created_at"),
    "feedback": ("id", "key", "customer_id", "advocate_id", "at", "source", "channel", "nps", "csat", "problems",
                 "comment", "checkin_id", "case_id", "created_at"),
}
TABLES = tuple(COLUMNS)  # in foreign-key order: every chunk is written in this order

Writer = Callable[[str, list[tuple[Any, ...]]], None]


# ----------------------------------------------------------------------------------------------- the generator
@dataclass
class Client:
    id: int
    created: int
    tier: str | None
    advocate: str | None
    churned: int | None
    # the customer's last resolved cases: (resolved, category, case id, opened)
    recent: list[tuple[int, str, int, int]] = field(default_factory=list)


@dataclass
class Period:
    begin: int
    due: int
    ended: int
    how: str  # update | waiting | resolve | open


@dataclass
class State:
    """A case's row as its history leaves it."""

    status: str
    updated: int
    last_update: int | None = None
    next_update_due: int | None = None
    resolved_at: int | None = None
    closed_at: int | None = None
    reopened_at: int | None = None
    resolution: str | None = None
    category: str | None = None
    root_cause: str | None = None
    losses: Decimal | None = None
    credits: Decimal | None = None
    recurrence: int | None = None


class Generator:
    def __init__(self, plan: Plan, config: TeamConfig, form: Form, write: Writer) -> None:
        self.plan, self.config, self.f, self.write = plan, config, form, write
        self.r = random.Random(plan.seed)
        self.buffers: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
        self.ids: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.seq = 0
        self.advocates = [a for a in config.advocates if not a.startswith("S")] or ["U01ADV"]
        self.severities = list(config.severities)
        weights = [SEVERITY_WEIGHTS.get(s, 0.1) for s in self.severities]
        self.severity_cut = [sum(weights[: i + 1]) / sum(weights) for i in range(len(weights))]
        self.cadence = {s: int(config.update_every(s).total_seconds()) for s in self.severities}
        self.departments = list(config.departments)
        self.respond_within = {n: int(d.respond_within.total_seconds()) for n, d in config.departments.items()}
        rules = config.reminders
        self.remind_before = int(rules.remind_before.total_seconds())
        self.leadership_after = int(rules.leadership_after.total_seconds())
        self.escalate = {s: int(rules.escalate_after_for(config.update_every(s)).total_seconds())
                         for s in self.severities}
        self.after_resolution = (int(config.checkins.after_resolution.total_seconds())
                                 if config.checkins.after_resolution else None)
        self.end_date = datetime.fromtimestamp(plan.end, config.zone).date()
        self.remind_cache: dict[date, int] = {}
        week_start, week_end = plan.week.bounds(config.zone)
        self.week = (int(week_start.timestamp()), int(week_end.timestamp()))
        self.week_load = 0
        self.clients: list[Client] = []
        self.created: list[int] = []
        self.null = form.js(None)

    # -------------------------------------------------------------- plumbing
    def add(self, table: str, row: tuple[Any, ...]) -> None:
        buffer = self.buffers[table]
        buffer.append(row)
        if len(buffer) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        for table in TABLES:  # parents first, so foreign keys hold after every statement
            if self.buffers[table]:
                self.write(table, self.buffers[table])
                self.buffers[table] = []

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def ts_of(self, s: int) -> str:
        """A Slack message timestamp, unique across the seed."""
        self.seq += 1
        return f"{s}.{self.seq % 1_000_000:06d}"

    def between(self, a: int, b: int) -> int:
        return a + int(self.r.random() * max(0, b - a))

    def event(self, case: int, at: int, actor: str, kind: str, text: str | None = None,
              data: dict[str, Any] | None = None, *, channel: str | None = None, ts: str | None = None) -> None:
        permalink = f"https://bench.slack.com/archives/{channel}/p{ts.replace('.', '')}" if ts else None
        self.ids["case_events"] += 1
        self.add("case_events", (self.ids["case_events"], case, self.f.ts(at), actor, kind, text, permalink, ts,
                                 channel, None, self.f.flag(False), self.null if data is None else self.f.js(data)))

    # -------------------------------------------------------------- run
    def run(self) -> None:
        self.customers()
        start, span, size = self.plan.start, self.plan.end - self.plan.start, self.plan.size
        for i in range(size):
            self.case(i + 1, start + int(span * (i + self.r.random()) / size))
        self.flush()

    # -------------------------------------------------------------- customers, check-ins, surveys
    def customers(self) -> None:
        r, plan, f = self.r, self.plan, self.f
        count = max(10, plan.size // CASES_PER_CUSTOMER)
        span = plan.end - plan.start
        created = sorted(plan.start - int(r.random() * 180 * DAY) if k < count // 3
                         else plan.start + int(r.random() * span * 0.9) for k in range(count))
        tiers = self.config.checkins.tiers
        for n, at in enumerate(created, start=1):
            x = r.random()
            tier = "strategic" if x < 0.2 else "standard" if x < 0.7 else None
            tier = tier if tier in tiers else None
            advocate = self.advocates[n % len(self.advocates)] if r.random() < 0.7 else None
            revenue = Decimal(r.randrange(10, 5_000) * 1000) if r.random() < 0.9 else None
            changes: list[tuple[int, str | None, str, str]] = [
                (at, None, "active", "import" if at < plan.start else REPORTERS[n % len(REPORTERS)])]
            x = r.random()
            if x < 0.12:  # turns at-risk; then churns, recovers, or stays at risk
                risk = self.between(at, plan.end)
                changes.append((risk, "active", "at-risk", advocate or self.advocates[0]))
                y, later = r.random(), risk + int(r.uniform(7, 120) * DAY)
                if later < plan.end and y < 0.7:
                    changes.append((later, "at-risk", "churned" if y < 0.35 else "active", advocate or "bot"))
            elif x < 0.15:
                changes.append((self.between(at, plan.end), "active", "churned", advocate or self.advocates[0]))
            status = changes[-1][2]
            churned = changes[-1][0] if status == "churned" else None
            self.add("customers", (n, f"Bench Customer {n}", f"bench customer {n}",
                                   "America/New_York" if n % 7 == 0 else None, f"CRM-{n:07d}", f.ts(at), tier,
                                   "tue-thu 10:00-12:00" if n % 5 == 0 else None, advocate, f.dec(revenue), status,
                                   f.ts(changes[-1][0]) if len(changes) > 1 else None))
            for when, before, after, by in changes:
                self.add("customer_status_changes", (self.next_id("customer_status_changes"), n, f.ts(when), before,
                                                     after, by, None))
            client = Client(n, at, tier, advocate, churned)
            self.clients.append(client)
            self.created.append(at)
            self.cadence_checkins(client)
            self.surveys(client)
        self.ids["customers"] = count

    def cadence_checkins(self, c: Client) -> None:
        """One open cadence check-in at a time: the next is due one cadence after the last was answered."""
        cadence = self.config.checkins.cadence(c.tier)
        if cadence is None:
            return
        every, r, end, planned = int(cadence.total_seconds()), self.r, self.plan.end, c.created
        who = c.advocate or self.advocates[0]
        while True:
            due = planned + every
            ended = due + int(r.expovariate(1 / (2 * DAY)))
            if c.churned is not None and c.churned < min(ended, end):  # open when the customer churned
                self.checkin(c.id, "cadence", None, due, "cancelled", who if c.churned >= due else None, planned,
                             reason="the customer churned")
                return
            if due >= end:
                self.checkin(c.id, "cadence", None, due, "scheduled", None, planned)
                return
            if ended >= end:
                self.checkin(c.id, "cadence", None, due, "prompted", who, planned)
                return
            if r.random() < 0.88:
                self.checkin(c.id, "cadence", None, due, "done", who, planned, done=ended)
            else:
                self.checkin(c.id, "cadence", None, due, "skipped", who, planned, done=ended,
                             reason="the customer asked to talk next quarter")
            planned = ended

    def checkin(self, customer: int, kind: str, case: int | None, due: int, status: str, who: str | None,
                created: int, *, done: int | None = None, reason: str | None = None) -> None:
        f, n = self.f, self.next_id("checkins")
        key = f"checkin:{customer}:{stamp(due)}" if kind == "cadence" else f"followup:{case}"
        prompted = who is not None and status != "scheduled"
        dm = f"D{who}" if prompted else None
        self.add("checkins", (n, key, customer, kind, case, f.ts(due), f.ts(due), status, who if prompted else None,
                              int(prompted), f.ts(due) if prompted else None, dm, self.ts_of(due) if dm else None,
                              None, f.ts(done), who if done else None, reason, f.ts(created)))
        if status == "done" and done is not None and self.r.random() < 0.7:
            self.feedback(customer, who, done, f"checkin:{n}", "checkin", HOW[n % len(HOW)], n)

    def feedback(self, customer: int, who: str | None, at: int, key: str, source: str, channel: str,
                 checkin: int | None) -> None:
        r, f = self.r, self.f
        nps = bisect.bisect_left(NPS_CUT, r.random()) if r.random() < 0.9 else None
        csat = 1 + bisect.bisect_left(CSAT_CUT, r.random()) if nps is None or r.random() < 0.6 else None
        unhappy = (nps is not None and nps <= 6) or (csat is not None and csat <= 2)
        self.add("feedback", (self.next_id("feedback"), key, customer, who, f.ts(at), source, channel, nps, csat,
                              "Slow answers on the last case" if unhappy else None,
                              "Expected faster answers" if unhappy else "Happy with the follow-up",
                              checkin, None, f.ts(at)))

    def surveys(self, c: Client) -> None:
        """Now and then an imported survey answer (its key a hash, as ``import_feedback`` makes it)."""
        r, at = self.r, c.created + int(self.r.uniform(30, 120) * DAY)
        while at < self.plan.end and (c.churned is None or at < c.churned):
            if r.random() < 0.4:
                key = "import:" + hashlib.sha256(f"{c.id}:{at}".encode()).hexdigest()
                self.feedback(c.id, None, at, key, "survey", "survey", None)
            at += int(r.uniform(60, 120) * DAY)

    # -------------------------------------------------------------- cases
    def customer_at(self, opened: int) -> Client:
        r, known = self.r, max(1, bisect.bisect_right(self.created, opened))
        client = self.clients[int(r.random() * known)]
        for _ in range(4):
            if client.churned is None or client.churned > opened:
                break
            client = self.clients[int(r.random() * known)]
        return client

    def life(self, severity: str) -> int:
        r = self.r
        if r.random() < 0.003:
            return int(r.uniform(20, 120) * DAY)  # the odd case that runs for months
        return int(min(max(LIFE.get(severity, 2 * DAY) * r.lognormvariate(0, 0.9), 0.3 * HOUR), 60 * DAY))

    def case(self, cid: int, opened: int) -> None:
        r, f, end = self.r, self.f, self.plan.end
        if self.week[0] <= opened < self.week[1]:
            self.week_load += 1
        severity = self.severities[bisect.bisect_left(self.severity_cut, r.random())]
        cadence = self.cadence[severity]
        client = self.customer_at(opened)
        owner = client.advocate or self.advocates[cid % len(self.advocates)]
        reporter = REPORTERS[cid % len(REPORTERS)]
        impact = Decimal(int(r.uniform(5, 2_000)) * 100) if r.random() < 0.4 else None
        channel = f"C{cid:010d}"
        summary = f"{TOPICS[cid % len(TOPICS)]} (#{cid})"
        resolved = opened + self.life(severity)
        active_end = min(resolved, end)

        # departments, their answers, and the messages of the channel
        x = r.random()
        names = r.sample(self.departments, min(len(self.departments), 1 if x < 0.55 else 2 if x < 0.9 else 3))
        answers: list[tuple[int, str, str]] = []  # (when, who, department)
        for j, name in enumerate(names):
            department = self.config.departments[name]
            asked = opened if j == 0 else self.between(opened, opened + (active_end - opened) // 2)
            answer = asked + 60 + int(r.expovariate(1 / (2 * HOUR)))
            answered = answer if r.random() < 0.92 and answer < active_end else None
            nudge = asked + self.respond_within[name]
            nudged = nudge if nudge < (answered or active_end) else None
            pending = nudge if answered is None and nudged is None and resolved >= end else None
            who = department.deputies[0] if department.deputies and r.random() < 0.3 else department.heads[0]
            self.add("case_departments", (self.next_id("case_departments"), cid, name, f.js(list(department.heads)),
                                          f.js(list(department.deputies)), f.ts(asked), self.ts_of(asked),
                                          who if answered else None, f.ts(answered), f.ts(pending), f.ts(nudged)))
            if j > 0:
                self.event(cid, asked, owner, "department_added", data={"department": name})
            if answered is not None:
                answers.append((answered, who, name))
        self.event(cid, opened, reporter, "opened", summary, {
            "customer": f"Bench Customer {client.id}", "severity": severity, "departments": names,
            "routing": "keywords", "owner": owner, "impact": str(impact) if impact is not None else None})
        for when, who, name in answers:
            ts = self.ts_of(when)
            self.event(cid, when, who, "message", MESSAGES[cid % len(MESSAGES)], channel=channel, ts=ts)
            self.event(cid, when, who, "department_responded", data={"departments": [name], "ts": ts})
        for k in range(max(0, 2 + int(r.random() * 3) - len(answers))):
            when = self.between(opened, active_end)
            self.event(cid, when, owner, "message", MESSAGES[(cid + k) % len(MESSAGES)], channel=channel,
                       ts=self.ts_of(when))
        state = State(status="new", updated=opened)
        started = min(answers)[0] if answers else opened + 600 + int(r.random() * 6_600)
        if started < active_end:
            state.status, state.updated = "investigating", started
            self.event(cid, started, owner, "status_changed", data={"from": "new", "to": "investigating"})

        # the update cadence until the resolution (or the end of the history)
        periods = self.periods(opened, active_end, cadence, resolved < end)
        self.follow_cadence(cid, periods, severity, channel, owner, state)
        if resolved < end:
            self.resolve(cid, client, opened, resolved, periods, owner, state)
            closed = resolved + HOUR + int(r.random() * 5 * DAY) if r.random() < 0.6 else None
            reopened = None
            if r.random() < 0.02:
                reopened = (closed or resolved) + DAY + int(r.random() * 9 * DAY)
                reopened = reopened if reopened < end else None
            if closed is not None and closed < end:
                state.status, state.closed_at, state.updated = "closed", closed, closed
                self.event(cid, closed, owner, "closed", data={"archive": False})
            if reopened is not None:
                self.reopen(cid, client, opened, reopened, severity, channel, owner, state)
            else:
                client.recent = [*client.recent[-5:], (resolved, state.category or "", cid, opened)]
                self.follow_up(cid, client, resolved, owner, None)

        s = state
        self.add("cases", (cid, cid, client.id, summary, severity, s.status, owner, reporter, f.dec(impact),
                           f"case-{cid}-bench-customer-{client.id}", channel, self.ts_of(opened), "C0GENERAL",
                           f.ts(opened), f.ts(s.updated), f.ts(s.next_update_due), None, f.ts(s.last_update),
                           f.ts(s.resolved_at), f.ts(s.closed_at), s.resolution, s.category, s.root_cause,
                           f.dec(s.losses), f.dec(s.credits), s.recurrence, f.ts(s.reopened_at)))

    def periods(self, begin: int, stop: int, cadence: int, resolves: bool) -> list[Period]:
        """Due periods from ``begin`` until ``stop``: updates on time or late, up to ``MAX_UPDATES``; then the
        case waits on the customer, or the last period runs to ``stop``."""
        r, out, t = self.r, [], begin
        final = "resolve" if resolves else "open"
        for n in range(MAX_UPDATES + 1):
            due = t + cadence
            if n == MAX_UPDATES:
                if r.random() < 0.7:
                    waiting = t + int(cadence * r.uniform(0.2, 0.9))
                    if waiting < stop:
                        out.append(Period(t, due, waiting, "waiting"))
                        return out
                break
            if r.random() < 0.88:
                made = due - int(cadence * r.uniform(0.02, 0.5))
            else:
                made = due + int(cadence * r.uniform(0.05, 0.3))
            if made >= stop:
                break
            out.append(Period(t, due, made, "update"))
            t = made
        out.append(Period(t, t + cadence, stop, final))
        return out

    def follow_cadence(self, cid: int, periods: Sequence[Period], severity: str, channel: str, owner: str,
                       state: State) -> None:
        """Each period's reminder steps, the update that ended it, or the wait on the customer."""
        r = self.r
        steps = [("heads_up", -self.remind_before), ("overdue", 0), ("escalate", self.escalate[severity])]
        if self.config.leadership_channel:
            steps.append(("leadership", self.leadership_after))
        for p in periods:
            answered = p.how in ("update", "resolve")
            snooze = r.random() < 0.05
            for step, offset in steps:
                fire = p.due + offset
                if step == "heads_up" and (not self.remind_before or fire <= p.begin):
                    continue
                if step == "overdue" and snooze and fire + 600 < p.ended:
                    self.snooze(cid, p, fire, channel, owner, answered)
                    continue
                where = self.config.leadership_channel if step == "leadership" else channel
                self.reminder(cid, p, step, fire, where, owner, answered)
            if p.how == "update":
                self.customer_update(cid, p.ended, p.due, owner, SOURCES[int(r.random() * len(SOURCES))])
                state.last_update = state.updated = p.ended
            elif p.how == "waiting":
                self.event(cid, p.ended, owner, "status_changed", data={"from": state.status,
                                                                       "to": "waiting-on-customer"})
                state.status, state.updated = "waiting-on-customer", p.ended
            elif p.how == "open":
                state.next_update_due = p.due

    def reminder(self, cid: int, p: Period, step: str, fire: int, where: str | None, owner: str,
                 answered: bool, *, key: str | None = None, snoozed: tuple[int, int] | None = None) -> None:
        f = self.f
        fired = fire < p.ended
        status = "fired" if fired else "scheduled" if p.how == "open" else "cancelled"
        answer = by = at = None
        if snoozed is not None:
            answer, by, at = "snoozed", owner, snoozed[0]
        elif fired and answered:
            answer, by, at = "updated", owner, p.ended
        self.add("reminders", (self.next_id("reminders"), key or f"reminder:{cid}:{stamp(p.due)}:{step}", cid,
                               f.ts(p.due), step, f.ts(fire), status, where if fired else None,
                               self.ts_of(fire) if fired else None, answer, by, f.ts(at),
                               f.ts(snoozed[1]) if snoozed else None, f.ts(p.begin)))

    def snooze(self, cid: int, p: Period, fired: int, channel: str, owner: str, answered: bool) -> None:
        """The overdue reminder snoozed an hour: a ``repeat`` step for the owner (``cadence.snooze``)."""
        at, until = fired + 600, fired + HOUR
        self.reminder(cid, p, "overdue", fired, channel, owner, answered, snoozed=(at, until))
        self.reminder(cid, p, "repeat", until, channel, owner, answered,
                      key=f"reminder:{cid}:{stamp(p.due)}:repeat@{stamp(until)}")
        self.event(cid, at, owner, "reminder_snoozed", data={"until": iso(until)})

    def customer_update(self, cid: int, at: int, due: int | None, owner: str, source: str) -> None:
        f, r = self.f, self.r
        via, said = VIA[int(r.random() * len(VIA))], UPDATES[int(r.random() * len(UPDATES))]
        message = self.ts_of(at) if source in ("reaction", "shortcut") else None
        self.add("customer_updates", (self.next_id("customer_updates"), cid, f.ts(at), owner, said, via, source,
                                      f.ts(due), f.flag(None if due is None else at <= due), message))
        self.event(cid, at, owner, "customer_update", said, {"via": via, "source": source, "due_at": iso(due)})

    def resolve(self, cid: int, client: Client, opened: int, at: int, periods: Sequence[Period], owner: str,
                state: State) -> None:
        """The final update, the resolution fields, prevention actions and the recurrence link."""
        r = self.r
        reminding = periods[-1].how == "resolve"
        self.customer_update(cid, at, periods[-1].due if reminding else None, owner, "resolve")
        recent = [e for e in client.recent if at - 90 * DAY <= e[0] <= at and e[3] < opened]
        taken = {e[1] for e in recent}
        categories = [c for c in self.config.root_causes if c not in taken]
        earlier = None
        if recent and (not categories or r.random() < 0.012):
            earlier = max(recent)
            category = earlier[1]
        else:
            category = r.choice(categories or self.config.root_causes)
        credits = Decimal(int(r.uniform(50, 5_000))) if r.random() < 0.1 else None
        losses = Decimal(int(r.uniform(100, 50_000))) if r.random() < 0.05 else None
        resolution = RESOLUTIONS[cid % len(RESOLUTIONS)]
        actions = [self.prevention(cid, at, owner) for _ in range(1 if r.random() < 0.7 else 2)]
        state.status, state.resolved_at, state.resolution, state.category = "resolved", at, resolution, category
        state.root_cause, state.losses, state.credits = f"{category}: see the timeline", losses, credits
        state.recurrence = earlier[2] if earlier else None
        state.next_update_due, state.last_update, state.updated = None, at, at
        self.event(cid, at, owner, "resolved", resolution, {
            "category": category, "root_cause": state.root_cause, "update_id": self.ids["customer_updates"],
            "via": "email", "losses": str(losses) if losses is not None else None,
            "credits": str(credits) if credits is not None else None, "actions": actions,
            "recurrence_of": earlier[2] if earlier else None})
        if earlier is not None:
            self.event(cid, at, "bot", "recurrence", data={"of": earlier[2], "case_id": earlier[2],
                                                           "category": category})
            self.event(earlier[2], at, "bot", "recurred", data={"in": cid, "case_id": cid, "category": category})

    def prevention(self, cid: int, resolved: int, owner: str) -> int:
        r, f, n = self.r, self.f, self.next_id("prevention_actions")
        due_on = datetime.fromtimestamp(resolved + (3 + int(r.random() * 28)) * DAY, self.config.zone).date()
        if due_on not in self.remind_cache:
            self.remind_cache[due_on] = int(remind_at(due_on, self.config).timestamp())
        morning, end = self.remind_cache[due_on], self.plan.end
        finished = resolved + HOUR + int(r.random() * max(0, morning - resolved + 10 * DAY))
        done = finished if r.random() < 0.85 and finished < end else None
        what = ACTIONS[n % len(ACTIONS)]
        if done is not None:
            status, reminded = "done", (morning if morning < done else None)
            self.event(cid, done, owner, "prevention_done", what,
                       {"action_id": n, "owner": owner, "due_on": due_on.isoformat(),
                        "late": datetime.fromtimestamp(done, self.config.zone).date() > due_on})
        else:
            reminded = morning if morning < end else None
            status = "open" if reminded is None else "overdue" if due_on < self.end_date else "reminded"
        self.add("prevention_actions", (n, cid, what, owner, f.day(due_on), f.ts(morning), status, f.ts(reminded),
                                        f.ts(done), owner if done else None, owner, f.ts(resolved)))
        return n

    def reopen(self, cid: int, client: Client, opened: int, at: int, severity: str, channel: str, owner: str,
               state: State) -> None:
        """Back to investigating (``resolution.reopen``); resolved again later, or still open at the end."""
        end = self.plan.end
        self.event(cid, at, owner, "reopened", "The customer says it happened again", {
            "from": state.status, "reopen": 1, "channel_id": channel, "resolved_at": iso(state.resolved_at),
            "closed_at": iso(state.closed_at)})
        first = state.resolved_at or at
        state.status, state.resolved_at, state.closed_at, state.reopened_at, state.updated = (
            "investigating", None, None, at, at)
        again = at + self.life(severity)
        periods = self.periods(at, min(again, end), self.cadence[severity], again < end)
        self.follow_cadence(cid, periods, severity, channel, owner, state)
        if again < end:
            self.resolve(cid, client, opened, again, periods, owner, state)
            client.recent = [*client.recent[-5:], (again, state.category or "", cid, opened)]
            self.follow_up(cid, client, again, owner, None)
        else:
            self.follow_up(cid, client, first, owner, "the case was reopened")

    def follow_up(self, cid: int, client: Client, resolved: int, owner: str, reopened: str | None) -> None:
        """"Did the fix hold?" ``after_resolution`` after the (last) resolution."""
        after = self.after_resolution
        if after is None or (client.churned is not None and client.churned <= resolved):
            return
        r, end, due = self.r, self.plan.end, resolved + after
        who = client.advocate or owner
        if client.churned is not None and client.churned < min(due, end):
            self.checkin(client.id, "follow_up", cid, due, "cancelled", None, resolved, reason="the customer churned")
        elif due >= end:
            self.checkin(client.id, "follow_up", cid, due, "scheduled", None, resolved)
        elif reopened:  # cancelled when it came due: the case was open again
            self.checkin(client.id, "follow_up", cid, due, "cancelled", None, resolved, reason=reopened)
        else:
            done = due + int(r.expovariate(1 / DAY))
            x = r.random()
            if done >= end or x >= 0.85:
                self.checkin(client.id, "follow_up", cid, due, "prompted", who, resolved)
            elif x < 0.7:
                self.checkin(client.id, "follow_up", cid, due, "done", who, resolved, done=done)
            else:
                self.checkin(client.id, "follow_up", cid, due, "skipped", who, resolved, done=done,
                             reason="could not reach them")


# ----------------------------------------------------------------------------------------------- seeding
@dataclass(frozen=True)
class Seeded:
    rows: dict[str, int]
    week_load: int  # cases opened in the digest week
    seconds: float


def _schema(connection: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return sorted(connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall(),
                  key=lambda row: [str(v) for v in row])


def _progress(plan: Plan, written: dict[str, int], started: float, last: list[float],
              progress: Callable[[str], None]) -> None:
    if time.perf_counter() - last[0] > 30:
        last[0] = time.perf_counter()
        progress(f"  … {written['cases']:,} of {plan.size:,} cases, {sum(written.values()):,} rows, "
                 f"{last[0] - started:.0f} s")


def seed_sqlite(path: Path, plan: Plan, config: TeamConfig, progress: Callable[[str], None] = print) -> Seeded:
    """A fresh SQLite file at ``path``: migrated, then the history (written to ``path.partial`` first)."""
    started = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    db = Database(f"sqlite:///{partial}")
    upgrade(db.engine)
    db.dispose()
    connection = sqlite3.connect(partial, isolation_level=None)
    try:
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1048576", "temp_store=MEMORY",
                       "locking_mode=EXCLUSIVE"):
            connection.execute(f"PRAGMA {pragma}")
        schema = _schema(connection)
        indexes = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
        connection.execute("BEGIN")
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        statements = {t: f"INSERT INTO {t} ({', '.join(c)}) VALUES ({', '.join('?' * len(c))})"
                      for t, c in COLUMNS.items()}
        written, last = dict.fromkeys(TABLES, 0), [started]

        def write(table: str, rows: list[tuple[Any, ...]]) -> None:
            connection.executemany(statements[table], rows)
            written[table] += len(rows)
            _progress(plan, written, started, last, progress)

        generator = Generator(plan, config, Form(sqlite=True), write)
        generator.run()
        progress(f"  {sum(written.values()):,} rows written in {time.perf_counter() - started:.0f} s; "
                 f"creating the {len(indexes)} indexes")
        for _, sql in indexes:
            connection.execute(sql)
        connection.execute("UPDATE counters SET value = ? WHERE name = 'case'", (plan.size,))
        connection.execute("COMMIT")
        if _schema(connection) != schema:
            raise RuntimeError("the schema after seeding differs from the migrated one")
    finally:
        connection.close()
    partial.replace(path)
    return Seeded(rows=written, week_load=generator.week_load, seconds=time.perf_counter() - started)


def seed_core(db: Database, plan: Plan, config: TeamConfig, progress: Callable[[str], None] = print) -> Seeded:
    """Into a migrated, empty database through SQLAlchemy Core (PostgreSQL), one transaction; ANALYZE after."""
    started = time.perf_counter()
    written, last = dict.fromkeys(TABLES, 0), [started]
    tables = Base.metadata.tables
    with Session(db.engine) as session, session.begin():

        def write(table: str, rows: list[tuple[Any, ...]]) -> None:
            columns = COLUMNS[table]
            session.execute(insert(tables[table]), [dict(zip(columns, row, strict=True)) for row in rows])
            written[table] += len(rows)
            _progress(plan, written, started, last, progress)

        generator = Generator(plan, config, Form(sqlite=False), write)
        generator.run()
        session.execute(text("UPDATE counters SET value = :n WHERE name = 'case'"), {"n": plan.size})
        if db.dialect == "postgresql":  # explicit ids: move the sequences past them
            for table in TABLES:
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT coalesce(max(id), 1) FROM {table}))"))
    if db.dialect == "postgresql":
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return Seeded(rows=written, week_load=generator.week_load, seconds=time.perf_counter() - started)
