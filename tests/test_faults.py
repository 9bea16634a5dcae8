"""Faults (issue 7): the database unreachable at start and mid-run, Slack slow, Slack failing in bursts, and
the bot token revoked — each through the entry points people and operators hit: the ``advocacy-bot``
command in a subprocess, signed HTTP requests to the served bot, and the tick.

How the database fails depends on the backend (``TEST_DATABASE_URL`` selects PostgreSQL):

- PostgreSQL goes away the way a restart or failover takes it: a TCP proxy between the bot and the server
  resets every connection and refuses new ones, then listens again.
- SQLite has no server to lose: what makes it unavailable to a running bot is another process holding its
  write lock (an operator's ``sqlite3`` shell with an open transaction, a long import). Making the file
  unreadable would change nothing for connections already open, and root ignores permissions anyway.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from bot.app import create_app
from bot.blocks.reminders import SNOOZE_HOUR
from bot.cli import _authenticate
from bot.clock import FixedClock
from bot.config import TeamConfig
from bot.domain.cases import enqueue
from bot.sandbox.driver import SlackDriver
from bot.sandbox.standin import SlackStandIn
from bot.services import Services
from bot.settings import Settings
from bot.slack_client import make_client
from bot.web import HttpServer, make_wsgi
from handlers.middleware import log_not_done
from handlers.views import DATABASE_DOWN
from jobs.outbox import Done, Item, effect, send_due
from jobs.tick import tick
from storage.db import Database
from storage.models import Case, CaseEvent, EscalationDraft, OutboxItem, RevokedToken
from storage.patience import DatabaseBusy
from tests.cli_helpers import bot_env, cli, free_port, write_config
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, Bot, wait_until
from tests.helpers import all_cases, outbox, setup_settled, timeline

SLACK_ACK_LIMIT = 3.0  # Slack's protocol limit for an answer, not a speed target
PG = "postgresql"


# ---------------------------------------------------------------- serving the bot on a database of our choosing


@contextmanager
def serve(settings: Settings, config: TeamConfig, db: Database, standin: SlackStandIn, clock: FixedClock, *,
          client_timeout: int | None = 2) -> Iterator[Bot]:
    """The ``bot`` fixture's app and server, on ``db``. ``client_timeout=None``: the production client (10 s)."""
    client = make_client(BOT_TOKEN, standin.api_url, timeout=client_timeout) if client_timeout else None
    app = create_app(settings, client, config=config, db=db, clock=clock)
    server = HttpServer(make_wsgi(app), host="127.0.0.1", port=0).start()
    driver = SlackDriver(f"{server.url}/slack/events", signing_secret=SIGNING_SECRET, standin=standin)
    try:
        yield Bot(app=app, server=server, driver=driver, standin=standin, clock=clock)
    finally:
        server.stop()
        app.services.close()


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    answer = call()
    return answer, time.perf_counter() - started


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:  # not listening (yet)
        return 0, {}


def escalate(bot: Bot, text: str, user: str = "U30REQ") -> Case:
    before = len(all_cases(bot.db))
    assert bot.driver.command(user, "/escalate", text).status == 200
    wait_until(lambda: len(all_cases(bot.db)) > before and setup_settled(bot.db), message="the case set-up")
    return all_cases(bot.db)[-1]


def bot_posts(standin: SlackStandIn) -> list[Any]:
    """Every message the bot posted, in every channel and DM."""
    return [m for c in standin.channels for m in standin.messages(c.id) if m.bot_id]


def count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# ---------------------------------------------------------------- the database going away


class TcpProxy:
    """A TCP forwarder between the bot and PostgreSQL that a test can cut (every connection reset, new ones
    refused: the server restarting or failing over) and restore (listening again on the same port)."""

    def __init__(self, target: tuple[str, int], port: int | None = None) -> None:
        self.target = target
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._acceptor: threading.Thread | None = None

    def start(self) -> TcpProxy:
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the port comes back at once
        listener.settimeout(0.05)
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), name="db-proxy", daemon=True)
        self._acceptor.start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._acceptor is not None:
            # The port stays in LISTEN until the acceptor's poll returns (a closed socket lives on while a call
            # uses it): wait for it, or a restore right after a cut cannot listen there again.
            self._acceptor.join(timeout=2)
            self._acceptor = None
        with self._lock:
            ends, self._sockets = self._sockets, set()
        for end in ends:
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def restore(self) -> None:
        self.start()


class Outage:
    """The database becoming unavailable to a running bot, and coming back (see the module docstring)."""

    def __init__(self, database_url: str) -> None:
        self.kind = PG if database_url.startswith(PG) else "sqlite"
        self.proxy: TcpProxy | None = None
        self._holder: sqlite3.Connection | None = None
        if self.kind == PG:
            url = make_url(database_url)
            self.proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
            self.url = url.set(host="127.0.0.1", port=self.proxy.port).render_as_string(hide_password=False)
        else:
            self.url = database_url
            self.path = make_url(database_url).database or ""

    def begin(self) -> None:
        if self.proxy is not None:
            self.proxy.cut()
        else:
            self._holder = sqlite3.connect(self.path, isolation_level=None, timeout=5)
            self._holder.execute("BEGIN EXCLUSIVE")  # every writer (and every BEGIN IMMEDIATE) now waits

    def end(self) -> None:
        if self.proxy is not None:
            self.proxy.restore()
        elif self._holder is not None:
            self._holder.rollback()
            self._holder.close()
            self._holder = None

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.cut()
        else:
            self.end()


@pytest.fixture
def outage(database_url: str) -> Iterator[Outage]:
    fault = Outage(database_url)
    yield fault
    fault.close()


def dead_port_url(password: str = "pg-secret-pw") -> tuple[str, int]:
    port = free_port()  # nothing listens there: connections are refused, as with a server that is down
    return f"postgresql://advocacy:{password}@127.0.0.1:{port}/advocacy", port


@pytest.mark.parametrize("command", ["run", "migrate", "tick"])
def test_an_unreachable_database_at_start_is_retried_with_backoff_then_exits_3(
        command: str, tmp_path: Path, team: dict) -> None:
    url, port = dead_port_url()
    env = bot_env(DATABASE_URL=url, DATABASE_START_WAIT="4", SLACK_BOT_TOKEN=BOT_TOKEN,
                  SLACK_SIGNING_SECRET=SIGNING_SECRET, PORT=str(free_port()),
                  ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)))
    result = cli(command, env=env, cwd=tmp_path, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "Traceback" not in output and "pg-secret-pw" not in output
    lines = [line for line in result.stderr.splitlines() if line.startswith("advocacy-bot: database")]
    where = f"database unreachable at postgresql+psycopg://advocacy:***@127.0.0.1:{port}/advocacy: "
    assert lines and all(line.startswith(f"advocacy-bot: {where}") for line in lines), lines
    assert all("Connection refused" in line for line in lines)
    # 1 s, then 2 s; the next wait (4 s) would pass DATABASE_START_WAIT=4, so it gives up with one last line
    assert [int(d) for d in re.findall(r"trying again in (\d+) s$", "\n".join(lines), re.M)] == [1, 2]
    assert lines[-1].endswith("(gave up after 3 attempt(s) in 3 s; DATABASE_START_WAIT=4)")


def test_a_database_that_comes_up_during_the_retries_lets_run_start(
        tmp_path: Path, team: dict, standin: SlackStandIn, database_url: str) -> None:
    """PostgreSQL starts listening (a proxy to it, opened late); SQLite's directory appears (a volume mounted
    late). Either way only after ``run`` has said it will try again."""
    proxy: TcpProxy | None = None
    if database_url.startswith(PG):
        url = make_url(database_url)
        proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
        bot_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    else:
        volume = tmp_path / "volume"
        bot_url = f"sqlite:///{volume / 'advocacy.db'}"
    port = free_port()
    env = bot_env(DATABASE_URL=bot_url, DATABASE_START_WAIT="60", SLACK_BOT_TOKEN=BOT_TOKEN,
                  SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=standin.api_url, PORT=str(port),
                  ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)))
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    retrying = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if "trying again in" in line:
                retrying.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert retrying.wait(30), "\n".join(lines)
        if proxy is not None:
            proxy.start()
        else:
            volume.mkdir()
        wait_until(lambda: process.poll() is not None or get(f"http://127.0.0.1:{port}/readyz")[0] == 200,
                   timeout=30, message="the bot to be ready")
        assert process.poll() is None, "\n".join(lines)
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=5)
        if proxy is not None:
            proxy.cut()
    unreachable = [line for line in lines if "database unreachable" in line]
    assert unreachable and "Traceback" not in "\n".join(lines)
    assert any(line.startswith("advocacy-bot: database reachable at") for line in lines)


def test_database_down_mid_run_requests_are_told_to_try_again_and_work_again_after(
        outage: Outage, settings: Settings, config: TeamConfig, standin: SlackStandIn, clock: FixedClock) -> None:
    db = Database(outage.url)
    with serve(settings, config, db, standin, clock) as bot:
        bot.svc.directory.identity()  # what `run` does at start
        case = escalate(bot, "Acme: refund stuck p1")
        clock.advance(hours=2)  # the p1 update is overdue: a reminder with buttons
        tick(bot.svc, clock())
        reminder = wait_until(lambda: [m for m in standin.messages(case.channel_id) if m.bot_id and m.blocks
                                       and SNOOZE_HOUR in json.dumps(m.blocks)], message="the reminder")[0]
        events_before, rows_before = count(db, CaseEvent), count(db, OutboxItem)
        said = standin.add_message(case.channel_id, "U10BILL", "Billing here: the refund is issued")
        message = {"type": "message", "user": "U10BILL", "text": "Billing here: the refund is issued", "ts": said,
                   "channel": case.channel_id, "channel_type": "group", "event_ts": said}

        outage.begin()
        try:
            answer, seconds = timed(lambda: bot.driver.command("U30REQ", "/escalate", "Globex: printer on fire"))
            assert answer.status == 200 and seconds < SLACK_ACK_LIMIT
            assert "try again" in answer.text and "Nothing was created" in answer.text

            answer, seconds = timed(lambda: bot.driver.command("U01ADV", "/case", "note Called the carrier",
                                                               channel_id=case.channel_id))
            assert answer.status == 200 and seconds < SLACK_ACK_LIMIT and "try again" in answer.text

            # A button: acknowledged (200, not an error in the person's Slack), then told to try again.
            answer, seconds = timed(lambda: bot.driver.block_action(
                "U01ADV", SNOOZE_HOUR, channel_id=case.channel_id, message_ts=reminder.ts))
            assert answer.status == 200 and seconds < SLACK_ACK_LIMIT
            wait_until(lambda: [r for r in standin.responses if "try again" in (r.text or "")
                                and r.response_type == "ephemeral"], message="the ephemeral 'try again'")

            # An event is answered 500: Slack delivers it again later, and nothing was written meanwhile.
            answer, seconds = timed(lambda: bot.driver.event(message, event_id="Ev0DBDOWN"))
            assert answer.status >= 500 and seconds < SLACK_ACK_LIMIT

            status, ready = get(f"{bot.server.url}/readyz")
            assert status == 503 and ready["database"] is False
            assert "the database does not answer" in ready["reasons"]
            with urllib.request.urlopen(f"{bot.server.url}/metrics", timeout=SLACK_ACK_LIMIT) as scrape:
                assert "advocacy_state_scrape_ok 0.0" in scrape.read().decode()  # answered, the gauges left out
        finally:
            outage.end()

        # Nothing half-written: no escalation row, no note, no message, no snooze.
        assert count(db, CaseEvent) == events_before and count(db, OutboxItem) == rows_before
        assert [c.number for c in all_cases(db)] == [case.number]

        # Back without a restart: the same requests work, and Slack's redelivery of the event counts once.
        assert bot.driver.event(message, event_id="Ev0DBDOWN", retry_num=1).status == 200
        assert bot.driver.event(message, event_id="Ev0DBDOWN", retry_num=2).status == 200
        recorded = [e for e in timeline(db, case.id) if e.kind == "message" and e.slack_ts == said]
        assert len(recorded) == 1
        answer = bot.driver.command("U01ADV", "/case", "note Called the carrier", channel_id=case.channel_id)
        assert answer.status == 200 and "try again" not in answer.text
        second = escalate(bot, "Globex: printer on fire")
        assert second.customer.name == "Globex" and second.channel_id
        status, ready = get(f"{bot.server.url}/readyz")
        assert ready["database"] is True
        # Every case has its set-up rows and every row its case: each was written in one transaction.
        with db.transaction() as session:
            for number in (case.number, second.number):
                found = session.scalar(select(Case).where(Case.number == number))
                assert found is not None
                kinds = set(session.scalars(select(OutboxItem.kind).where(OutboxItem.case_id == found.id)))
                assert {"case.create_channel", "case.post_summary", "case.pin_summary"} <= kinds
    db.dispose()


def test_an_escalation_form_submitted_while_the_database_is_down_stays_open_and_works_after(
        outage: Outage, settings: Settings, config: TeamConfig, standin: SlackStandIn, clock: FixedClock,
        caplog: pytest.LogCaptureFixture) -> None:
    db = Database(outage.url)
    with serve(settings, config, db, standin, clock) as bot:
        bot.svc.directory.identity()  # what `run` does at start
        assert bot.driver.command("U30REQ", "/escalate", "", channel_id="C0GENERAL").status == 200
        [view_id] = wait_until(lambda: standin.open_views("U30REQ"), message="the escalation form")
        form = standin.views[view_id]
        typed = {"customer": "Initech", "summary": "stapler missing", "severity": "p1"}
        rows_before = (count(db, OutboxItem), count(db, EscalationDraft), count(db, Case))

        outage.begin()
        caplog.clear()
        try:
            answer, seconds = timed(lambda: bot.driver.view_submission("U30REQ", view_id, typed))
            # Answered in time with the form's own errors: Slack keeps it open with what was typed and shows
            # "try again" under the summary (a plain ack would close it and lose the text).
            assert answer.status == 200 and seconds < SLACK_ACK_LIMIT
            assert answer.json() == {"response_action": "errors", "errors": {"summary": DATABASE_DOWN}}
            assert "try again" in DATABASE_DOWN
        finally:
            outage.end()
        # One warning line, no traceback: during an outage every submission fails alike.
        [line] = [r for r in caplog.records if r.name == "handlers.views"]
        assert line.levelno == logging.WARNING and line.exc_info is None
        assert line.getMessage().startswith("could not record an escalation (database unavailable: ")
        assert standin.open_views("U30REQ") == [view_id]
        assert standin.views[view_id] == form  # not replaced by an update or a pushed view
        # Nothing written: no escalation row (whose key would make the retry a duplicate), draft or case.
        assert (count(db, OutboxItem), count(db, EscalationDraft), count(db, Case)) == rows_before
        assert not [m for m in bot_posts(standin) if "Initech" in (m.text or "")]

        # The same submission, once the database is back: the form closes and the case opens, once.
        answer = bot.driver.view_submission("U30REQ", view_id, typed)
        assert answer.status == 200 and standin.open_views("U30REQ") == []
        wait_until(lambda: all_cases(db) and setup_settled(db), message="the case set-up")
        [case] = all_cases(db)
        assert (case.customer.name, case.summary, case.severity) == ("Initech", "stapler missing", "p1")
        assert case.channel_id and len([m for m in standin.messages(case.channel_id) if m.bot_id]) == 1
    db.dispose()


def test_the_database_lost_while_slack_creates_the_channel_leaves_nothing_half_done_or_doubled(
        outage: Outage, settings: Settings, config: TeamConfig, standin: SlackStandIn, clock: FixedClock,
        caplog: pytest.LogCaptureFixture) -> None:
    """Slack creates the channel, then the bot cannot record it. PostgreSQL: the transaction fails, the step
    keeps its lease, and after the lease the tick finds the channel it created (no second one). SQLite: the
    write waits for the lock and goes on. Either way one channel, one summary, one pin."""
    db = Database(outage.url)
    with serve(settings, config, db, standin, clock) as bot:
        bot.svc.directory.identity()
        standin.fail("conversations.create", delay=1.5)
        assert bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck").status == 200
        wait_until(lambda: not standin.faults_pending("conversations.create"), message="the create to be in flight")
        outage.begin()
        try:
            wait_until(lambda: len(standin.channels) == 3, message="Slack to create the channel")
            if outage.kind == PG:
                wait_until(lambda: "drive failed" in caplog.text, message="the drive to fail on the database")
        finally:
            outage.end()
        if outage.kind != PG:
            # SQLite: the drive waited for the lock and goes on. The ticks below jump the clock past its leases:
            # on a slow machine they would take over steps the drive is still running (a real lease is minutes).
            wait_until(lambda: setup_settled(db), timeout=20, message="the drive to finish the set-up")
        tick(bot.svc, clock() + timedelta(minutes=1))  # within the lease: nobody takes the step over
        tick(bot.svc, clock() + timedelta(minutes=3))
        wait_until(lambda: setup_settled(db), message="the set-up to finish")
        [case] = all_cases(db)
        case_channels = [c for c in standin.channels if c.name.startswith("case-")]
        assert [c.id for c in case_channels] == [case.channel_id]
        assert len(standin.calls_to("conversations.create")) == (2 if outage.kind == PG else 1)
        summaries = [m for m in standin.messages(case.channel_id) if m.bot_id]
        assert len(summaries) == 1 and standin.pins(case.channel_id) == [case.summary_ts]
        assert all(item.status == "done" for item in outbox(db))
    db.dispose()


# ---------------------------------------------------------------- Slack slow


def test_slack_answering_every_call_after_5_s_does_not_delay_any_ack(
        settings: Settings, config: TeamConfig, db: Database, standin: SlackStandIn, clock: FixedClock) -> None:
    with serve(settings, config, db, standin, clock, client_timeout=None) as bot:
        bot.svc.directory.identity()  # at start, as `run` does
        first = escalate(bot, "Acme: refund stuck")
        # Two escalation forms open before Slack slows down (opening one is itself a Slack call).
        for _ in range(2):
            bot.driver.command("U30REQ", "/escalate", "")
        forms = wait_until(lambda: list(standin.views) if len(standin.views) == 2 else None, message="two forms")
        calls_before = len(standin.calls)

        standin.fail("*", delay=5, times=None)
        acks: dict[str, float] = {}
        answer, acks["/escalate"] = timed(lambda: bot.driver.command("U30REQ", "/escalate", "Globex: printer on fire"))
        assert answer.status == 200 and "Escalating" in answer.text
        answer, acks["/case note"] = timed(lambda: bot.driver.command(
            "U01ADV", "/case", "note Called the carrier", channel_id=first.channel_id))
        assert answer.status == 200 and "try again" not in answer.text
        answer, acks["view_submission (new customer)"] = timed(lambda: bot.driver.view_submission(
            "U30REQ", forms[0], {"customer": "Initech", "summary": "stapler missing"}))
        assert answer.status == 200
        answer, acks["view_submission (choice)"] = timed(lambda: bot.driver.view_submission(
            "U30REQ", forms[1], {"customer": "acme", "summary": "charged twice"}))
        body = answer.json()
        assert answer.status == 200 and body["response_action"] == "update"
        value = next(e["value"] for b in body["view"]["blocks"] if b["type"] == "actions" for e in b["elements"]
                     if e["action_id"] == "escalation_open_new")
        answer, acks["button"] = timed(lambda: bot.driver.block_action(
            "U30REQ", "escalation_open_new", value=value, view_id=forms[1]))
        assert answer.status == 200
        assert all(seconds < SLACK_ACK_LIMIT for seconds in acks.values()), acks

        # The work goes on behind the acks, at Slack's pace: the first channel appears 5 s later.
        wait_until(lambda: len([c for c in standin.channels if c.name.startswith("case-")]) >= 2, timeout=30,
                   message="a channel created while Slack is slow")
        assert all(call.ok for call in standin.calls[calls_before:])  # slow, not failing: nothing to retry
        standin.clear_faults()
        wait_until(lambda: len(all_cases(db)) == 4 and setup_settled(db), timeout=60, message="all the set-ups")
        for case in all_cases(db):
            assert len([m for m in standin.messages(case.channel_id) if m.bot_id
                        and "post_summary" in json.dumps(m.metadata or {})]) == 1
        notes = [m for m in standin.messages(first.channel_id) if "Called the carrier" in (m.text or "")]
        assert len(notes) == 1


# ---------------------------------------------------------------- Slack failing


def test_bursts_of_429_and_5xx_back_off_recover_and_post_each_message_once(bot: Bot) -> None:
    """Extends test_setup_failures (one fault each) to bursts over several cases and methods at once."""
    standin, start = bot.standin, bot.clock()
    standin.fail("conversations.create", status=500, times=2)
    standin.fail("chat.postMessage", status=429, retry_after=20, times=3)
    standin.fail("chat.postMessage", status=503, times=2)
    for text in ("Acme: refund stuck", "Globex: printer on fire", "Initech: stapler missing"):
        assert bot.driver.command("U30REQ", "/escalate", text).status == 200
    # Until the burst's 429 was met and no row is held. (Rows that failed earlier, with a 500, showed a moment
    # between two drive passes with no lease and an error, but no 429 yet.)
    wait_until(lambda: len(all_cases(bot.db)) == 3 and all(i.lease_owner is None for i in outbox(bot.db)) and any(
        i.status == "pending" and i.last_error == "ratelimited" for i in outbox(bot.db)),
        message="the after-ack drive to meet the burst")
    limited = [i for i in outbox(bot.db) if i.status == "pending" and i.last_error == "ratelimited"]
    assert limited and all(i.due_at == start + timedelta(seconds=20) for i in limited)

    posts_before = len(standin.calls_to("chat.postMessage"))
    tick(bot.svc, start + timedelta(seconds=19))  # Slack said 20 s: not one post before that
    assert len(standin.calls_to("chat.postMessage")) == posts_before
    for seconds in range(21, 16 * 60, 60):  # then a tick a minute until the burst is long over
        tick(bot.svc, start + timedelta(seconds=seconds))
    assert all(i.status == "done" for i in outbox(bot.db)), [(i.kind, i.status, i.last_error) for i in outbox(bot.db)]
    assert standin.faults_pending("chat.postMessage") == standin.faults_pending("conversations.create") == 0

    cases = all_cases(bot.db)
    assert len({c.channel_id for c in cases}) == 3
    assert len([c for c in standin.channels if c.name.startswith("case-")]) == 3  # 500s created nothing twice
    for case in cases:
        assert len([m for m in standin.messages(case.channel_id) if m.bot_id]) == 1
        assert standin.pins(case.channel_id) == [case.summary_ts]
    # every accepted post is one message: nothing was posted twice, and nobody was told of a failure
    accepted = [c for c in standin.calls_to("chat.postMessage") if c.ok]
    assert len(accepted) == len(bot_posts(standin))
    assert not any("could not" in (m.text or "") for m in bot_posts(standin))


def test_slack_unreachable_at_start_serves_not_ready_until_a_background_auth_test_succeeds(
        tmp_path: Path, team: dict, standin: SlackStandIn, database_url: str) -> None:
    api_url, slack_port = standin.api_url, int(standin.url.rsplit(":", 1)[1].strip("/"))
    standin.stop()  # nothing listens at SLACK_API_URL: connections are refused, as when Slack is unreachable
    port = free_port()
    # PYTHONPATH: this tree's code, whichever checkout an editable install of the package points at.
    env = bot_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=api_url,
                  DATABASE_URL=database_url, PORT=str(port), PYTHONPATH=str(Path(__file__).resolve().parent.parent),
                  ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)))
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr or []), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: process.poll() is not None or any("did not answer auth.test" in line for line in lines),
                   timeout=30, message="the failed auth.test at start")
        wait_until(lambda: process.poll() is not None or _listening(port), timeout=30, message="the bot to serve")
        assert process.poll() is None, "".join(lines)  # serving, not exiting into a restart loop
        status, ready = get(f"{url}/readyz")
        assert status == 503 and ready["slack_auth"] is False and ready["database"] is True
        assert get(f"{url}/healthz")[0] == 200

        standin.start(slack_port)  # Slack answers again; the retry (AUTH_RETRY_SECONDS: 5 s first) finds it
        wait_until(lambda: get(f"{url}/readyz")[0] == 200, timeout=20, message="ready without a restart")
        assert process.poll() is None
        assert get(f"{url}/readyz")[1]["slack_auth"] is True
        assert [c.method for c in standin.calls if c.method == "auth.test"] == ["auth.test"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=5)
    assert len([line for line in lines if "authenticated as bot user U0BOT" in line]) == 1, "".join(lines)
    assert "Traceback" not in "".join(lines)


# ---------------------------------------------------------------- the token revoked


@effect("test.lookup_then_done")
def lookup_then_done(ctx: Services, item: Item) -> Done:
    """An effect that can do without what Slack would tell it (and says so by catching the error)."""
    with suppress(SlackApiError):
        ctx.client.users_info(user="U01ADV")
    return Done({"ok": True})


def revoked(db: Database) -> list[RevokedToken]:
    with db.transaction() as session:
        return list(session.scalars(select(RevokedToken)))


def test_tokens_revoked_stops_jobs_and_the_outbox_once_and_a_successful_auth_resumes_them(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    standin = bot.standin
    bot.svc.directory.identity()
    case = escalate(bot, "Acme: refund stuck p1")
    # Slack revokes the token: the event, then every call with it answered token_revoked.
    event = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["U0BOT"]}}
    assert bot.driver.event(event).status == 200
    standin.fail("*", error="token_revoked", times=None)
    [row] = revoked(bot.db)
    assert row.reason == "tokens_revoked" and BOT_TOKEN not in row.fingerprint

    calls, posted = len(standin.calls), len(standin.messages(case.channel_id))
    assert bot.driver.command("U30REQ", "/escalate", "Globex: printer on fire").status == 200  # still recorded
    for hours in (2, 3, 4):  # reminders come due; nothing calls Slack, tick after tick
        tick(bot.svc, bot.clock() + timedelta(hours=hours))
    assert len(standin.calls) == calls
    pending = [i for i in outbox(bot.db) if i.status == "pending"]
    assert [i.kind for i in pending] == ["escalation.open"] and pending[0].attempts == 0
    paused = [r for r in caplog.records if r.name == "bot.slack_auth" and "no job or outbox row" in r.getMessage()]
    assert len(paused) == 1  # logged once, not per tick
    status, ready = get(f"{bot.server.url}/readyz")
    assert status == 503 and ready["slack_token"] is False
    assert any("tokens_revoked" in reason and "install the app again" in reason for reason in ready["reasons"])

    # Reinstalled: at start, auth.test with the token succeeds and clears the record; the held work runs once.
    standin.clear_faults()
    assert _authenticate(bot.svc, logging.getLogger("test"))
    assert revoked(bot.db) == []
    tick(bot.svc, bot.clock() + timedelta(hours=5))
    wait_until(lambda: setup_settled(bot.db), message="the held escalation")
    [_, second] = all_cases(bot.db)
    assert len([m for m in standin.messages(second.channel_id) if m.bot_id]) == 1
    # what came due while paused is caught up once (one overdue reminder, the department's nudge), not per tick
    caught_up = standin.messages(case.channel_id)[posted:]
    assert len([m for m in caught_up if "is overdue since" in m.text]) == 1
    tick(bot.svc, bot.clock() + timedelta(hours=5, minutes=1))
    assert standin.messages(case.channel_id)[posted:] == caught_up
    assert get(f"{bot.server.url}/readyz")[1]["slack_token"] is True


def test_a_rejected_token_during_delivery_holds_the_outbox_instead_of_failing_it(bot: Bot) -> None:
    standin = bot.standin
    standin.fail("chat.postMessage", error="invalid_auth", times=None)
    assert bot.driver.command("U30REQ", "/escalate", "Acme: refund stuck").status == 200
    wait_until(lambda: revoked(bot.db), message="the rejection to be recorded")
    wait_until(lambda: all(i.lease_owner is None for i in outbox(bot.db)), message="the drive to stop")
    rows = {i.kind: i for i in outbox(bot.db)}
    summary = rows["case.post_summary"]
    assert summary.status == "pending" and summary.attempts == 0 and summary.last_error == "invalid_auth"
    assert not [i for i in outbox(bot.db) if i.status == "failed"]  # no dead letters, no DM about them
    assert len(standin.calls_to("chat.postMessage")) == 1  # the run stopped at the first rejection
    standin.clear_faults()
    assert _authenticate(bot.svc, logging.getLogger("test"))
    tick(bot.svc, bot.clock() + timedelta(minutes=1))
    wait_until(lambda: setup_settled(bot.db), message="the set-up to finish")
    [case] = all_cases(bot.db)
    assert len([m for m in standin.messages(case.channel_id) if m.bot_id]) == 1
    assert all(i.status == "done" for i in outbox(bot.db))


def test_an_effect_that_catches_the_rejection_is_held_too(bot: Bot) -> None:
    """What an effect did without Slack's answer may be incomplete: it runs again once the token works."""
    bot.standin.fail("users.info", error="token_revoked", times=None)
    with bot.db.transaction() as session:
        enqueue(session, key="lookup:1", kind="test.lookup_then_done", now=bot.clock())
    report = send_due(bot.svc, now=bot.clock(), worker="w")
    [lookup] = outbox(bot.db)
    assert report.done == 0 and lookup.status == "pending" and lookup.attempts == 0
    assert [r.reason for r in revoked(bot.db)] == ["token_revoked"]
    bot.standin.clear_faults()
    assert _authenticate(bot.svc, logging.getLogger("test"))
    assert send_due(bot.svc, now=bot.clock(), worker="w").done == 1


def test_app_uninstalled_keeps_run_up_not_ready_across_restarts_until_a_new_token(
        tmp_path: Path, team: dict, standin: SlackStandIn, db: Database, database_url: str) -> None:
    port = free_port()
    env = bot_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=standin.api_url,
                  DATABASE_URL=database_url, PORT=str(port),
                  ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)))
    url = f"http://127.0.0.1:{port}"

    @contextmanager
    def running(**overrides: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env={**env, **overrides},
                                   cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stderr or []), daemon=True)
        reader.start()
        try:
            wait_until(lambda: process.poll() is not None or _listening(port), timeout=30, message="the bot to serve")
            assert process.poll() is None, "".join(lines)
            yield process, lines
        finally:
            process.terminate()
            process.wait(timeout=10)
            reader.join(timeout=5)

    driver = SlackDriver(f"{url}/slack/events", signing_secret=SIGNING_SECRET, standin=standin)
    with running() as (process, lines):
        wait_until(lambda: get(f"{url}/readyz")[0] == 200, timeout=30, message="ready")
        # An escalation whose set-up waits for a retry (Slack said 429) when the app is uninstalled.
        standin.fail("conversations.create", status=429, retry_after=1)
        assert driver.command("U30REQ", "/escalate", "Acme: refund stuck").status == 200
        wait_until(lambda: [i for i in outbox(db) if i.kind == "case.create_channel" and i.last_error],
                   message="the set-up to wait for its retry")
        assert driver.event({"type": "app_uninstalled"}).status == 200
        standin.bot_token = "xoxb-after-reinstall"  # the old token is refused from now on (invalid_auth)
        uninstalled = len(standin.calls)
        status, ready = get(f"{url}/readyz")
        assert status == 503 and ready["slack_token"] is False
        assert any("app_uninstalled" in reason for reason in ready["reasons"])
        assert process.poll() is None and get(f"{url}/healthz")[0] == 200
    assert "Traceback" not in "".join(lines)

    with running() as (process, lines):  # restarted with the revoked token: up and not ready, not exiting
        wait_until(lambda: any("serving (not ready)" in line for line in lines), timeout=30, message="the log")
        wait_until(lambda: any("job housekeeping" in line for line in lines), timeout=30, message="the tick at start")
        assert process.poll() is None and get(f"{url}/healthz")[0] == 200
        status, ready = get(f"{url}/readyz")
        assert status == 503 and ready["slack_token"] is False
    [case] = all_cases(db)
    assert case.channel_id is None and not setup_settled(db)
    # After the uninstall the old token was used for nothing but the one auth.test at the restart.
    assert [c.method for c in standin.calls[uninstalled:]] == ["auth.test"]

    with running(SLACK_BOT_TOKEN="xoxb-after-reinstall") as (process, lines):  # ready; the held work is done
        wait_until(lambda: get(f"{url}/readyz")[0] == 200, timeout=30, message="ready with the new token")
        wait_until(lambda: setup_settled(db), timeout=30, message="the held set-up")
    [case] = all_cases(db)
    assert case.channel_id and len([m for m in standin.messages(case.channel_id) if m.bot_id]) == 1
    assert len([c for c in standin.channels if c.name.startswith("case-")]) == 1
    assert "xoxb-after-reinstall" not in "".join(lines)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_database_error_that_is_not_an_outage_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("handlers.test")
    for error in (IntegrityError("INSERT …", {}, Exception("duplicate key")),
                  OperationalError("SELECT 1", {}, Exception("connection refused")), DatabaseBusy("pool busy")):
        try:
            raise error
        except (SQLAlchemyError, TimeoutError):
            log_not_done(logger, "could not record %s", "a thing")
    bug, outage, busy = caplog.records
    assert (bug.levelno, bug.getMessage()) == (logging.ERROR, "could not record a thing")
    assert bug.exc_info is not None  # a constraint or a bad statement is a bug: its traceback is the clue
    assert (outage.levelno, outage.exc_info) == (logging.WARNING, None)
    assert outage.getMessage() == "could not record a thing (database unavailable: OperationalError)"
    assert busy.getMessage() == "could not record a thing (database unavailable: DatabaseBusy)"


def test_a_listener_failing_on_a_database_bug_logs_its_traceback_and_tells_the_person_to_try_again(
        bot: Bot, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """The error handler, unlike an outage's one line, keeps a bug's traceback; the person is answered alike."""
    def constraint_bug(*args: object, **kwargs: object) -> None:
        raise IntegrityError("INSERT INTO outbox …", {}, Exception("duplicate key value violates unique constraint"))

    monkeypatch.setattr("bot.update_flow.queue_snooze", constraint_bug)
    caplog.set_level(logging.INFO)
    answer = bot.driver.block_action("U01ADV", SNOOZE_HOUR, value="1", channel_id="C0GENERAL",
                                     message_ts="1700000000.000100")
    assert answer.status == 200  # never a bare error in the person's Slack
    wait_until(lambda: [r for r in bot.standin.responses if "try again" in (r.text or "")], message="the answer")
    [line] = [r for r in caplog.records if r.name == "handlers.middleware" and r.levelno >= logging.WARNING]
    assert (line.levelno, line.getMessage()) == (logging.ERROR, "listener failed: IntegrityError: "
                                                 + str(line.exc_info[1] if line.exc_info else ""))
    assert line.exc_info is not None and line.exc_info[0] is IntegrityError
