"""``advocacy-bot sandbox``: the real bot, a local Slack workspace and a web page, on one port.

One waitress server answers both the page (``GET /``, ``/static/…``, the JSON API under ``/sandbox/…``)
and the bot (``POST /slack/events``, ``/healthz``, ``/readyz``, ``/metrics``): one address to open, and
the driver signs its requests to the bot's real endpoint on the same server, so nothing on the bot's
side knows it is in a sandbox. The Slack stand-in listens on a free port of its own (only the bot and
this process talk to it).

The first start seeds the sample team (the demo's people, #general and #leadership) and imports the
sample customers; every later start with the same database resumes the workspace from the file beside
it (:mod:`bot.sandbox.snapshot`) and the clock from where it stood.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
import socket
import threading
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import AdvocacyApp, create_app
from bot.clock import Clock, system_clock
from bot.config import TeamConfig, load_config
from bot.sandbox import snapshot
from bot.sandbox.demo import seed_workspace
from bot.sandbox.observed import SandboxDriver, SandboxStandIn
from bot.sandbox.timetravel import TravelClock
from bot.settings import Settings
from bot.slack_client import make_client
from bot.web import HttpServer, make_wsgi
from storage.db import Database

log = logging.getLogger(__name__)

DEFAULT_DB = "advocacy-sandbox.db"
TEAM_CONFIG = Path(__file__).with_name("workspace_team.yaml")
SAMPLE_CUSTOMERS = Path(__file__).with_name("sample_customers.csv")
CUSTOMERS_IMPORTED_AGO = timedelta(days=27)  # strategic customers (30d) then come due for a check-in soon
SAVE_DEBOUNCE_SECONDS = 0.2  # a burst of Slack calls (a case's set-up) is written once


class Workspace:
    """The running sandbox: build with the paths, :meth:`start`, then :meth:`stop` (saves the workspace)."""

    def __init__(self, db_path: Path, *, config_path: Path | None = None, host: str = "127.0.0.1",
                 port: int = 3000, real_now: Clock = system_clock, tick_seconds: int | None = 30) -> None:
        self.db_path = db_path.resolve()
        self.state_file = snapshot.state_path(self.db_path)
        self.config_path = config_path or TEAM_CONFIG
        self.host, self.port = host, port
        self.real_now = real_now
        self.tick_seconds = tick_seconds  # the scheduler's interval, as in `run`; None: ticks only on jumps
        self._jump_lock = threading.Lock()
        self._stopping = threading.Event()
        self._saver: threading.Thread | None = None
        self._scheduler: Any = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Workspace:
        from bot.sandbox.page import sandbox_wsgi
        from jobs.scheduler import start_scheduler
        from storage.migrate import upgrade  # alembic logs at import: after the CLI set logging up

        self.config: TeamConfig = load_config(self.config_path)
        saved = snapshot.read(self.state_file)
        _check_free(self.host, self.port)
        self.clock = TravelClock(saved[0] if saved else self.real_now().replace(microsecond=0))
        # A fresh token and signing secret per run: the sandbox has no credentials to leak.
        token, secret = f"xoxb-sandbox-{secrets.token_hex(8)}", secrets.token_hex(16)
        self.standin = SandboxStandIn(bot_token=token, clock=self.clock.epoch).start()
        db: Database | None = None
        try:
            if saved:
                snapshot.load(self.standin, saved[1])
            else:
                seed_workspace(self.standin, self.config)
            self.db = db = Database(f"sqlite:///{self.db_path}")
            upgrade(db.engine)
            if not saved:
                self._refuse_orphaned_database(db)
                self.seed_customers(self.clock() - CUSTOMERS_IMPORTED_AGO)
            settings = Settings(slack_bot_token=token, slack_signing_secret=secret,  # type: ignore[call-arg]
                                slack_api_url=self.standin.api_url, database_url=self.db.url,
                                advocacy_config=self.config_path, _env_file=None)
            self.app: AdvocacyApp = create_app(settings, make_client(token, self.standin.api_url, timeout=10),
                                               config=self.config, db=self.db, clock=self.clock)
            self.app.services.directory.identity()  # auth.test once at start, as `run` does (/readyz needs it)
            running = (lambda: self._scheduler is not None and self._scheduler.running) if self.tick_seconds else None
            bot = make_wsgi(self.app, scheduler_running=running)
            # Threads for the pages' long polls, besides the bot's requests (the driver's included).
            self.server = HttpServer(sandbox_wsgi(self, bot), host=self.host, port=self.port, threads=32)  # binds
            self.driver = SandboxDriver(f"{self.server.url}/slack/events", signing_secret=secret,
                                        standin=self.standin, clock=self.clock.epoch)
            self.server.start()
        except BaseException:  # e.g. the port is taken: leave nothing running behind
            self.standin.stop()
            if db is not None:
                db.dispose()
            raise
        if self.tick_seconds:
            self._scheduler = start_scheduler(self.app.services, seconds=self.tick_seconds)
        self.save()
        self._saver = threading.Thread(target=self._keep_saved, name="sandbox-save", daemon=True)
        self._saver.start()
        return self

    @property
    def url(self) -> str:
        return f"{self.server.url}/"

    def stop(self) -> None:
        """Stop serving, let the bot finish what it started, and write the workspace a last time (once)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self.standin.changes.close()  # long polls return at once
        self.server.stop()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
        self.app.services.close()
        if self._saver is not None:
            self._saver.join(timeout=5)
        self.save()
        self.standin.stop()
        self.db.dispose()

    def save(self) -> None:
        snapshot.save(self.state_file, self.standin, self.clock())

    def _keep_saved(self) -> None:
        saved = self.standin.changes.version
        while not self._stopping.is_set():
            version = self.standin.changes.wait(saved, timeout=5.0)
            if version == saved or self._stopping.is_set():
                continue
            self._stopping.wait(SAVE_DEBOUNCE_SECONDS)
            saved = self.standin.changes.version
            try:
                self.save()
            except OSError:  # a full disk must not end the sandbox; the next change tries again
                log.exception("could not write %s", self.state_file)

    def changed(self) -> None:
        self.standin.changes.bump()

    # ----------------------------------------------------------------- seeding
    def _refuse_orphaned_database(self, db: Database) -> None:
        """Cases without the workspace they were opened in would point at channels a fresh workspace reuses."""
        from sqlalchemy import func, select

        from storage.models import Case

        with db.transaction() as session:
            cases = session.scalar(select(func.count()).select_from(Case)) or 0
        if cases:
            raise ValueError(f"{self.db_path} holds {cases} case(s) but {self.state_file.name} is missing: restore "
                             "it, or pass another --db to start afresh")

    def seed_customers(self, now: datetime) -> int:
        """The sample customers, through the CSV import (``advocacy-bot customers import``'s code).

        With ``--config``, tiers and advocates the team config does not know are left out of the rows.
        """
        from bot.domain.customer_csv import import_customers

        tiers = self.config.checkins.tiers
        advocates = None if any(a.startswith("S") for a in self.config.advocates) else self.config.advocates
        rows = list(csv.DictReader(io.StringIO(SAMPLE_CUSTOMERS.read_text(encoding="utf-8"))))
        for row in rows:
            if row.get("tier") not in tiers:
                row["tier"] = ""
            if advocates is not None and row.get("advocate") not in advocates:
                row["advocate"] = ""
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        with self.db.transaction() as session:
            imported = import_customers(session, io.StringIO(text.getvalue()), now=now, tiers=tiers,
                                        advocates=advocates)
        return imported.created

    # ----------------------------------------------------------------- time
    def jump(self, kind: str) -> dict[str, Any]:
        """Move the clock (see ``timetravel.JUMPS``) and run the tick there, as ``advocacy-bot tick`` does."""
        from jobs.tick import tick

        with self._jump_lock:  # two jumps at once would each tick at the other's time
            moment = self.clock.jump(kind, self.config.zone)
            report = tick(self.app.services, moment)
        self.app.services.kick()  # whatever the tick's outbox run left (follow-up rows), at once
        self.changed()
        return {"now": moment.isoformat(), "jobs": {k: v for k, v in report.jobs.items() if isinstance(v, int)},
                "outbox": asdict(report.outbox), "errors": report.errors}


def _check_free(host: str, port: int) -> None:
    """OSError when the port is taken, before anything starts: waitress starts its worker threads before it
    binds, and leaves them running when the bind fails."""
    if port:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds
            probe.bind((host, port))


class SandboxUnavailable(Exception):
    """The sandbox cannot start (the port is taken, the workspace file is unreadable); one line says why."""


def serve(*, db_path: Path, config_path: Path | None, port: int, quiet_logs: bool = True) -> int:
    """``advocacy-bot sandbox``: serve the page until Ctrl-C or SIGTERM, then save the workspace."""
    import signal

    if not 0 <= port <= 65535:
        raise SandboxUnavailable(f"--port {port} is not a port number (0-65535; 0 picks a free one)")
    if quiet_logs:  # the page is the interface; warnings and errors still reach the terminal
        logging.getLogger().setLevel(logging.WARNING)
    workspace = Workspace(db_path, config_path=config_path, port=port)
    try:
        workspace.start()
    except OSError as exc:
        raise SandboxUnavailable(f"cannot serve on 127.0.0.1:{port} ({exc.strerror or exc}); "
                                 "pass --port with a free port") from None
    except ValueError as exc:  # an unreadable workspace file, or a database without its workspace
        raise SandboxUnavailable(str(exc)) from None
    stop = threading.Event()
    # Ctrl-C by its own handler rather than KeyboardInterrupt: a shell script's background job starts with
    # SIGINT ignored, and Python keeps an inherited "ignore", so Ctrl-C (or kill -INT) would do nothing.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"advocacy-bot sandbox: open {workspace.url} (Ctrl-C stops; the workspace is kept in {db_path})",
          flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        workspace.stop()
    print("advocacy-bot sandbox: stopped; start it again with the same --db to resume", flush=True)
    return 0
