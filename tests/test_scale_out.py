"""Scale out, proven: two real ``advocacy-bot run`` processes on one PostgreSQL database.

What the README's "Scaling out" promises, checked end to end on the product as deployed: two replicas (HTTP
mode, each its own port, the same ``DATABASE_URL``, Slack at the in-test stand-in), with signed requests sent
alternately to each and some at the same time, the same event delivered to both (once plainly, once as Slack's
retry), and both schedulers running over the same due work.

* Phase 1 (the real time): ``/escalate`` commands, half to each replica, ten one after the other and the rest
  eight at a time, each for a new customer; then department heads reply in the threads of some case summaries,
  each reply's event delivered to both replicas (at once, or the second as Slack's retry with its headers).
  The digest of the week before is due at start: both schedulers see it.
* Phase 2 (a deploy, three hours later): both replicas are restarted with ``ADVOCACY_CLOCK_OFFSET=3h``, so every
  case's customer update (p1: every 2h) is overdue and this week's digest has come due; both schedulers claim
  and post at once. Owners then answer some reminders with a reaction, each delivered to both replicas.

Checked against the stand-in and the database: one case per escalation with distinct numbers, one channel
each; each reply and each reaction has one effect; each reminder and each digest is posted exactly once; every
outbox row is done (nothing pending, no dead letter); and, from the replicas' JSON logs, each due step and each
digest was claimed by exactly one of them, every request was answered 200 and nothing was logged as an error.

On SQLite (one process only, as the README says) it is skipped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import bot
from bot.config import parse_config
from bot.domain.weeks import latest_run
from bot.sandbox.driver import DriverResponse, SlackDriver
from bot.sandbox.standin import SlackStandIn
from storage.db import Database
from storage.models import Case, CaseDepartment, CaseEvent, CustomerUpdate, OutboxItem, Reminder
from tests.cli_helpers import bot_env, free_port, write_config
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, wait_until

ESCALATIONS = 80  # half to each replica
SEQUENTIAL = 10  # the first ones one after the other, the rest CONCURRENCY at a time
CONCURRENCY = 8
REPLIES = 16  # thread replies by a department head, each event delivered to both replicas
REACTIONS = 16  # ✅ on reminders by the owner, each event delivered to both replicas
OFFSET = timedelta(hours=3)  # phase 2: p1 updates (every 2h) are overdue; escalations (due + 2h) not yet
REQUESTER, HEAD = "U30REQ", "U10BILL"
START_TIMEOUT = 30.0
SETTLE_TIMEOUT = 40.0  # bounds a hang; the work takes seconds
RETRY_HEADERS = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
# The replicas run this checkout's code, whichever checkout the package was last installed from.
CODE_ROOT = Path(bot.__file__).resolve().parents[1]


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def lines(self) -> list[dict[str, Any]]:
        """The replica's stderr: with LOG_FORMAT=json every line is one JSON object."""
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"replica {self.name} exited {self.process.returncode}:\n{self.log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_replicas(env: dict[str, str], folder: Path, phase: str) -> list[Replica]:
    replicas = []
    for name in ("a", "b"):
        port, log = free_port(), folder / f"replica-{phase}-{name}.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env={**env, "PORT": str(port)},
                                       cwd=folder, stdout=subprocess.DEVNULL, stderr=stderr)
        replicas.append(Replica(f"{phase}-{name}", port, process, log))
    for replica in replicas:
        wait_until(replica.ready, timeout=START_TIMEOUT, message=f"replica {replica.name} to be ready")
    return replicas


@pytest.fixture
def running() -> Iterator[list[Replica]]:
    """Every replica the test starts; whatever the outcome, none outlives it."""
    started: list[Replica] = []
    yield started
    for replica in started:
        replica.stop()


class Capturing(SlackDriver):
    """Builds and signs a request as SlackDriver does (the stand-in's state included), without sending it:
    the test then delivers the same body to both replicas."""

    def __init__(self, standin: SlackStandIn) -> None:
        super().__init__("http://unused/", signing_secret=SIGNING_SECRET, standin=standin)
        self.body = ""

    def post(self, body: str, content_type: str, headers: dict[str, str] | None = None) -> DriverResponse:
        self.body = body
        return DriverResponse(0, "", {})


def deliver_to_both(drivers: list[SlackDriver], body: str, index: int) -> list[DriverResponse]:
    """The same event to both replicas, the first taking turns: at once for even ``index`` (a retry that
    overtakes a slow first delivery), else one after the other, the second as Slack's retry."""
    first, second = drivers[index % 2], drivers[(index + 1) % 2]
    if index % 2 == 0:
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = [pool.submit(first.post, body, "application/json"),
                       pool.submit(second.post, body, "application/json", RETRY_HEADERS)]
            return [answer.result() for answer in answers]
    return [first.post(body, "application/json"), second.post(body, "application/json", RETRY_HEADERS)]


def count(db: Database, statement: Any) -> int:
    with db.transaction() as session:
        return int(session.scalar(statement) or 0)


def outbox_settled(db: Database) -> bool:
    return count(db, select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending")) == 0


def settle(db: Database, also: Callable[[], bool] = lambda: True, what: str = "the outbox to settle") -> None:
    wait_until(lambda: also() and outbox_settled(db), timeout=SETTLE_TIMEOUT, message=what)


def posted_key(message: Any) -> str:
    return str(((message.metadata or {}).get("event_payload") or {}).get("key", ""))


def turned_away(replicas: list[Replica], event_ids: list[str]) -> Tally[str]:
    """How many times each event was acknowledged as already handled (the middleware's dedupe by event id)."""
    said = {f"event {event_id} already handled; acknowledging the retry": event_id for event_id in event_ids}
    return Tally(said[line["message"]] for r in replicas for line in r.lines() if line.get("message") in said)


def job_counts(replicas: list[Replica], job: str) -> list[int]:
    """Per replica, the total its ticks reported for ``job`` (one JSON line per job per tick)."""
    return [sum(int(line.get("count", 0)) for line in r.lines() if line.get("logger") == "jobs.tick"
                and line.get("job") == job) for r in replicas]


def test_two_replicas_share_requests_and_schedulers_with_one_effect_each(
        database_url: str, db: Database, standin: SlackStandIn, team: dict[str, Any], tmp_path: Path,
        running: list[Replica]) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (set TEST_DATABASE_URL): several replicas share one PostgreSQL database; "
                    "SQLite is for one process only")
    # The weekly digest comes due between the phases: phase 1 finds last week's run missed (posted late, on
    # start), phase 2 this week's. UTC keeps the schedule clear of daylight-saving changes.
    started = datetime.now(UTC)
    run_at = (started + OFFSET / 2).replace(second=0, microsecond=0)
    team.update(timezone="UTC", digest={"day": run_at.strftime("%A").lower(), "time": run_at.strftime("%H:%M")})
    config = parse_config(team)
    assert config.digest is not None
    weeks = [str(latest_run(at, config.digest.weekday, config.digest.time, config.zone)[0])
             for at in (started, started + OFFSET)]
    assert weeks[0] != weeks[1]
    env = bot_env(ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)), SLACK_BOT_TOKEN=BOT_TOKEN,
                  SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=standin.api_url, DATABASE_URL=database_url,
                  LOG_FORMAT="json",
                  PYTHONPATH=os.pathsep.join(p for p in (str(CODE_ROOT), os.environ.get("PYTHONPATH", "")) if p))

    # ---------------------------------------------------------------- phase 1: requests to both replicas
    phase1 = start_replicas(env, tmp_path, "1")
    running.extend(phase1)
    drivers = [SlackDriver(r.events_url, signing_secret=SIGNING_SECRET, standin=standin) for r in phase1]
    customers = [f"Scale {n:03d}" for n in range(ESCALATIONS)]

    def escalate(n: int) -> DriverResponse:
        return drivers[n % 2].command(REQUESTER, "/escalate", f"{customers[n]}: invoice charged twice p1 +billing")

    answers = [escalate(n) for n in range(SEQUENTIAL)]
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        answers += list(pool.map(escalate, range(SEQUENTIAL, ESCALATIONS)))
    assert [a.status for a in answers] == [200] * ESCALATIONS, [a.text for a in answers if a.status != 200]
    settle(db, lambda: count(db, select(func.count()).select_from(Case)) == ESCALATIONS, "every case set up")

    with db.transaction() as session:
        cases = list(session.scalars(select(Case).order_by(Case.number)))
        names = {case.id: case.customer.name for case in cases}
    # One case per escalation, numbered 1…N without a gap or a double, each with its own channel and summary.
    assert sorted(names.values()) == customers
    assert [case.number for case in cases] == list(range(1, ESCALATIONS + 1))
    assert len({case.channel_id for case in cases}) == ESCALATIONS and all(case.summary_ts for case in cases)
    assert len([c for c in standin.channels if c.name.startswith("case-")]) == ESCALATIONS
    assert sum(call.ok for call in standin.calls_to("conversations.create")) == ESCALATIONS
    for case in cases:
        assert standin.pins(case.channel_id or "") == [case.summary_ts], case.number

    # A head answers in the summary's thread; Slack delivers the event to one replica and retries to the other.
    capture = Capturing(standin)
    replies: dict[int, str] = {}
    events: list[str] = []
    for index, case in enumerate(cases[:REPLIES]):
        event_id = f"Ev0REPLY{index:04d}"
        replies[case.id], _ = capture.say(HEAD, case.channel_id or "", f"Looking into it ({index}).",
                                          thread_ts=case.summary_ts, event_id=event_id)
        events.append(event_id)
        assert [a.status for a in deliver_to_both(drivers, capture.body, index)] == [200, 200]
    settle(db)
    with db.transaction() as session:
        for case in cases[:REPLIES]:
            recorded = session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id,
                                                                    CaseEvent.actor == HEAD)).all()
            assert Tally(recorded) == {"message": 1, "department_responded": 1}, case.number
            assert session.scalar(select(CaseEvent.slack_ts).where(
                CaseEvent.case_id == case.id, CaseEvent.kind == "message")) == replies[case.id]
            department = session.scalars(select(CaseDepartment).where(CaseDepartment.case_id == case.id)).one()
            assert (department.department, department.answered_by) == ("billing", HEAD)
        assert session.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.kind == "message", CaseEvent.case_id.not_in(list(replies)))) == 0

    for replica in phase1:
        assert replica.stop() == 0, replica.log.read_text()
    # Each duplicated event was turned away by its event id on exactly one replica, whichever came second.
    assert turned_away(phase1, events) == dict.fromkeys(events, 1)

    # ---------------------------------------------------------------- phase 2: both schedulers, three hours on
    phase2 = start_replicas({**env, "ADVOCACY_CLOCK_OFFSET": "3h"}, tmp_path, "2")
    running.extend(phase2)
    drivers = [SlackDriver(r.events_url, signing_secret=SIGNING_SECRET, standin=standin) for r in phase2]

    def reminders_posted() -> bool:
        return count(db, select(func.count()).select_from(Reminder).where(
            Reminder.status == "fired", Reminder.message_ts.is_not(None))) == ESCALATIONS

    def digest_sent() -> bool:
        return count(db, select(func.count()).select_from(OutboxItem).where(
            OutboxItem.key.in_([f"digest:{weeks[1]}", f"digest:{weeks[1]}:chart"]), OutboxItem.status == "done")) == 2

    settle(db, lambda: reminders_posted() and digest_sent(), "both schedulers to post the reminders and the digest")

    # Owners answer reminders with ✅; each event reaches both replicas.
    with db.transaction() as session:
        overdue = {r.case_id: r for r in session.scalars(select(Reminder).where(Reminder.status == "fired"))}
        owners = {case.id: case.owner_id for case in session.scalars(select(Case))}
    answered = [case.id for case in cases[-REACTIONS:]]
    reactions: list[str] = []
    for index, case_id in enumerate(answered):
        reminder = overdue[case_id]
        event_id = f"Ev0REACT{index:04d}"
        capture.react(owners[case_id], reminder.channel_id or "", reminder.message_ts or "", "white_check_mark",
                      event_id=event_id)
        reactions.append(event_id)
        assert [a.status for a in deliver_to_both(drivers, capture.body, index)] == [200, 200]
    settle(db)
    for replica in phase2:
        assert replica.stop() == 0, replica.log.read_text()

    # ---------------------------------------------------------------- what Slack saw, and what the database holds
    with db.transaction() as session:
        reminders = list(session.scalars(select(Reminder)))
        updates = Tally(session.scalars(select(CustomerUpdate.case_id)))
        outbox_rows = list(session.scalars(select(OutboxItem)))
    fired = [r for r in reminders if r.status == "fired"]
    # After three hours each case is overdue once: one reminder (the overdue step), the heads-up skipped.
    assert sorted(r.case_id for r in fired) == sorted(names) and {r.step for r in fired} == {"overdue"}
    channel_of = {case.id: case.channel_id for case in cases}
    posted: Tally[str] = Tally()
    for channel in standin.channels:
        keys = [posted_key(m) for m in standin.messages(channel.id) if m.bot_id]
        posted.update(key for key in keys if key.startswith(("reminder:", "digest:")))
    # Each reminder in its case's channel exactly once, none anywhere else; each week's digest once.
    assert posted == {**dict.fromkeys((r.key for r in fired), 1), **dict.fromkeys((f"digest:{w}" for w in weeks), 1)}
    for reminder in fired:
        assert reminder.channel_id == channel_of[reminder.case_id]
        assert [posted_key(m) for m in standin.messages(reminder.channel_id or "") if m.ts == reminder.message_ts] \
            == [reminder.key]
    digests = [posted_key(m) for m in standin.messages("C0LEAD") if m.bot_id and not m.files]
    assert sorted(digests) == sorted(f"digest:{w}" for w in weeks)  # the charts are files in their threads
    assert sorted(f["name"] for f in standin.files().values()) == sorted(f"advocacy-digest-{w}.png" for w in weeks)
    # Each reaction recorded one customer update, on its own case; nobody else's case changed.
    assert updates == dict.fromkeys(answered, 1)
    # Nothing lost, nothing dead: every outbox row ran to completion, claimed once (Slack never failed here, so
    # a second attempt would mean two replicas ran the same row).
    assert Tally((row.status, row.attempts, row.lease_owner) for row in outbox_rows) == {
        ("done", 1, None): len(outbox_rows)}

    # From the replicas' own logs: each due step and each digest claimed by exactly one of them; requests
    # spread evenly and all answered 200; nothing logged as an error.
    print("phase 2, per replica: reminders claimed", job_counts(phase2, "reminders"), "outbox rows run",
          job_counts(phase2, "outbox"))
    assert sum(job_counts(phase1, "reminders")) == 0 and sum(job_counts(phase2, "reminders")) == ESCALATIONS
    assert sum(job_counts(phase1, "digest")) == 1 and sum(job_counts(phase2, "digest")) == 1
    assert turned_away(phase2, reactions) == dict.fromkeys(reactions, 1)
    for replica in phase1:
        requests = [line for line in replica.lines() if line.get("logger") == "bot.web"]
        assert sum(line.get("name") == "/escalate" for line in requests) == ESCALATIONS // 2, replica.name
    for replica in phase1 + phase2:
        lines = replica.lines()
        assert [line for line in lines if line.get("logger") == "bot.web" and line.get("status") != 200] == []
        assert [line["message"] for line in lines if line["level"] in ("ERROR", "CRITICAL")] == [], replica.name
    # The clock offset was in force in phase 2 only, and each replica said so at start.
    assert [any("ADVOCACY_CLOCK_OFFSET is set" in line["message"] for line in r.lines()) for r in phase1 + phase2] \
        == [False, False, True, True]


def test_the_clock_offset_is_a_checked_setting_that_shifts_only_the_run_clock() -> None:
    from bot.cli import run_clock
    from bot.clock import system_clock
    from bot.settings import SettingsError, load_settings

    assert run_clock(load_settings(_env_file=None)) is system_clock  # unset: the system's own clock
    before = datetime.now(UTC)
    shifted = run_clock(load_settings(advocacy_clock_offset="3h", _env_file=None))()
    after = datetime.now(UTC)
    assert before + OFFSET <= shifted <= after + OFFSET
    assert load_settings(advocacy_clock_offset="-1d", _env_file=None).advocacy_clock_offset == timedelta(days=-1)
    with pytest.raises(SettingsError, match=r"^ADVOCACY_CLOCK_OFFSET: 'soon' is not a duration"):
        load_settings(advocacy_clock_offset="soon", _env_file=None)
