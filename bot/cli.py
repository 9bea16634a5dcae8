"""The ``advocacy-bot`` command: run, migrate, config check, tick, digest, export, feedback import, customers,
forget-customer, sandbox."""

from __future__ import annotations

import argparse
import faulthandler
import itertools
import json
import logging
import signal
import sys
import threading
import time as time_module
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.clock import Clock, parse_instant, system_clock
from bot.config import ConfigError, TeamConfig, load_config
from bot.domain.weeks import Week
from bot.settings import Settings, SettingsError, load_settings
from bot.slack_client import is_transient, slack_error
from storage.db import Database

if TYPE_CHECKING:
    from bot.services import Services
    from bot.socket_mode import AdvocacySocketMode


class CliError(Exception):
    """A problem to report in one line, without a stack trace."""

    exit_code = 2


class DatabaseUnreachable(CliError):
    """The database did not answer at start within DATABASE_START_WAIT: exit 3, which an orchestrator retries."""

    exit_code = 3


def _setup_logging(settings: Settings) -> None:
    """The one place logging is configured: the format (``LOG_FORMAT``) and the redaction of secrets."""
    from bot.logs import JsonFormatter, RedactingFilter, secrets_of

    handler = logging.StreamHandler()  # stderr: stdout is the commands' output (exports, tick summaries)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json"
                         else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # On the handler, not a logger: handler filters see every record written, from any logger.
    handler.addFilter(RedactingFilter(secrets_of(settings)))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # Warnings and uncaught exceptions go through the same handler: formatted, and redacted.
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = lambda args: _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)
    # urllib3/slack_sdk DEBUG lines would include request bodies and headers; keep them quiet.
    for noisy in ("slack_sdk", "urllib3", "apscheduler.executors", "waitress.queue"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _log_uncaught(kind: type[BaseException], value: BaseException | None, trace: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        return
    logging.getLogger("advocacy-bot").critical("uncaught %s", kind.__name__, exc_info=(kind, value, trace))


def _report(settings: Settings, message: str, level: int = logging.ERROR) -> None:
    """A line for the person at the terminal (stderr), or, with LOG_FORMAT=json, a log line: a log
    collector reading stderr gets JSON only."""
    if settings.log_format == "json":
        logging.getLogger("advocacy-bot").log(level, message)
    else:
        # One write, newline included: print() writes the text and the newline apart, and a scheduler thread's log
        # line could land between them.
        sys.stderr.write(f"{message}\n")
        sys.stderr.flush()


def _embedded_schema(db: Database) -> None:
    """The embedded default (SQLite) migrates itself; PostgreSQL is upgraded by `advocacy-bot migrate`."""
    from storage.migrate import upgrade

    if db.dialect == "sqlite":
        upgrade(db.engine)


# Waits between attempts to reach the database at start (then the last one again), until DATABASE_START_WAIT.
DATABASE_RETRY_SECONDS = (1, 2, 4, 8, 15)


def _database_problem(exc: BaseException, db: Database) -> str:
    """The driver's own words, first line only (psycopg adds a hint line), never the password."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    reason = lines[0].strip() if lines else type(original).__name__
    password = db.engine.url.password
    return (reason.replace(password, "***") if password else reason)[:300]


def wait_for_database(settings: Settings, db: Database, *, sleep: Callable[[float], None] = time_module.sleep,
                      monotonic: Callable[[], float] = time_module.monotonic) -> None:
    """Start-up's first contact with the database, retried with backoff (1, 2, 4, 8, then every 15 s) for
    DATABASE_START_WAIT seconds, each attempt bounded by DATABASE_CONNECT_TIMEOUT. One line per failed
    attempt naming the server (password hidden) and the driver's reason, then :class:`DatabaseUnreachable`.

    A database that comes up a little after the bot (compose, a failover, a volume mounted late) is
    waited for instead of failing the start.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import bounded

    where = db.engine.url.render_as_string(hide_password=True)
    started = monotonic()
    for attempt in itertools.count(1):
        try:
            with bounded(settings.database_connect_timeout):
                db.ping()
        except (SQLAlchemyError, TimeoutError, OSError) as exc:
            problem = _database_problem(exc, db)
            delay = DATABASE_RETRY_SECONDS[min(attempt, len(DATABASE_RETRY_SECONDS)) - 1]
            waited = monotonic() - started
            if waited + delay > settings.database_start_wait:
                raise DatabaseUnreachable(
                    f"database unreachable at {where}: {problem} (gave up after {attempt} attempt(s) in "
                    f"{waited:.0f} s; DATABASE_START_WAIT={settings.database_start_wait:g})") from None
            _report(settings, f"advocacy-bot: database unreachable at {where}: {problem}; trying again in {delay} s",
                    logging.WARNING)
            sleep(delay)
        else:
            if attempt > 1:
                _report(settings, f"advocacy-bot: database reachable at {where} (attempt {attempt})", logging.INFO)
            return


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    db = Database(settings.database_url)
    wait_for_database(settings, db)
    upgrade(db.engine)
    print(f"database is at the latest schema ({db.engine.url.render_as_string(hide_password=True)})")
    return 0


AUTH_RETRY_SECONDS = (5, 10, 30, 60, 120, 300)  # then every 300 s


def _authenticate(svc: Services, log: logging.Logger) -> bool:
    """auth.test, cached for the process; False when it is to be retried. A rejected token stops start-up
    with one line, unless Slack revoked it while the bot ran (tokens_revoked, app_uninstalled: recorded in
    the database): then the bot serves, not ready, calling Slack no more, rather than exit into a restart
    loop; a new token comes with a restart. Slack being unreachable or failing (5xx, 429) is logged and
    answered False, to be retried. Success clears a revocation of this token (see bot/slack_auth.py)."""
    try:
        identity = svc.directory.identity()
    except SlackApiError as exc:
        if not is_transient(exc):
            revoked = svc.token.revoked()
            if revoked is not None:
                log.error("%s; serving (not ready) instead of exiting", revoked.describe())
                return True  # nothing to retry: a revoked token does not come back
            raise CliError(f"Slack rejected SLACK_BOT_TOKEN at auth.test: {slack_error(exc)}") from None
        reason = slack_error(exc)
    except OSError as exc:  # connection refused, DNS, timeout (URLError is an OSError)
        reason = type(exc).__name__
    else:
        log.info("authenticated as bot user %s in team %s", identity.bot_user_id, identity.team_id)
        svc.token.clear()
        return True
    log.warning("Slack did not answer auth.test (%s): serving anyway, /readyz says not ready until it does",
                reason)
    return False


def _authenticate_later(svc: Services, log: logging.Logger) -> None:
    for attempt in itertools.count():
        threading.Event().wait(AUTH_RETRY_SECONDS[min(attempt, len(AUTH_RETRY_SECONDS) - 1)])
        try:
            if _authenticate(svc, log):
                return
        except CliError as exc:  # the token was rejected after all: nothing will work, say so loudly
            log.error("%s; the bot cannot act in Slack until the token is fixed", exc)
            return


def run_clock(settings: Settings) -> Clock:
    """The clock ``run`` acts by: the system's, or shifted by ``ADVOCACY_CLOCK_OFFSET`` (tests, rehearsals)."""
    from bot.durations import format_duration

    offset = settings.advocacy_clock_offset
    if not offset:
        return system_clock
    logging.getLogger("advocacy-bot").warning(
        "ADVOCACY_CLOCK_OFFSET is set: acting as if it were %s %s (tests and rehearsals only, never production)",
        format_duration(abs(offset)), "later" if offset > timedelta(0) else "earlier")

    def shifted() -> datetime:
        return system_clock() + offset

    return shifted


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.app import create_app
    from bot.web import HttpServer, make_wsgi
    from jobs.scheduler import start_scheduler

    settings.require_for_run()
    config = load_config(settings.advocacy_config)
    app = create_app(settings, config=config, clock=run_clock(settings))
    svc = app.services
    wait_for_database(settings, svc.db)
    _embedded_schema(svc.db)
    log = logging.getLogger("advocacy-bot")
    if not _authenticate(svc, log):
        # A Slack incident must not keep every replica from starting: serve (requests are verified by their
        # signatures, work waits in the outbox), say "not ready" on /readyz, and keep asking in the background.
        threading.Thread(target=_authenticate_later, args=(svc, log), name="slack-auth", daemon=True).start()
    scheduler = start_scheduler(svc)
    socket_mode = None
    if settings.socket_mode:
        from bot.socket_mode import AdvocacySocketMode

        assert settings.slack_app_token is not None
        # Through the app's own WebClient: apps.connections.open honours SLACK_API_URL like every other call.
        socket_mode = AdvocacySocketMode(app, settings.slack_app_token.get_secret_value())
    server = HttpServer(make_wsgi(app, scheduler_running=lambda: scheduler.running,
                                  socket_connected=socket_mode.connected if socket_mode else None), port=settings.port)
    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()
        server.stop()

    signal.signal(signal.SIGTERM, stop)
    try:
        if socket_mode is not None:
            server.start()  # /healthz and /readyz still answer in Socket Mode
            log.info("Socket Mode; health checks on port %s", server.port)
            _open_socket_link(socket_mode, stopping)
            while not stopping.wait(1.0):  # a timed wait: SIGTERM's handler runs between waits
                pass
        else:
            log.info("HTTP mode: POST /slack/events on port %s", server.port)
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()
        if socket_mode is not None:
            socket_mode.close()
        scheduler.shutdown(wait=False)
        server.stop()
        svc.close()
    return 0


def _open_socket_link(socket_mode: AdvocacySocketMode, stopping: threading.Event) -> None:
    """The first Socket Mode link. A rejected app token stops start-up with one line; Slack unreachable
    keeps the process serving (not ready) while a thread tries again."""
    from bot.socket_mode import AppTokenRejected

    try:
        opened = socket_mode.open_link()
    except AppTokenRejected as exc:
        raise CliError(f"Slack rejected SLACK_APP_TOKEN at apps.connections.open: {exc}") from None
    if not opened:
        threading.Thread(target=socket_mode.keep_opening, args=(stopping,), name="socket-mode-open",
                         daemon=True).start()


def cmd_tick(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import create_app
    from jobs.tick import tick

    if settings.slack_bot_token is None:
        raise CliError("SLACK_BOT_TOKEN is required: the tick talks to Slack")
    app = create_app(settings)
    wait_for_database(settings, app.services.db)
    _embedded_schema(app.services.db)
    now = parse_instant(args.now) if args.now else None
    report = tick(app.services, now)
    out = report.outbox
    # every job's count, by the job's name (reminders fired, departments nudged, …), then the outbox
    jobs = ", ".join(f"{name} {count}" for name, count in report.jobs.items() if isinstance(count, int))
    print(f"tick at {report.now.isoformat()}: {jobs}; outbox done {out.done}, retried {out.retried}, "
          f"deferred {out.deferred}, failed {out.failed}, cancelled {out.cancelled}")
    for name, error in report.errors.items():
        _report(settings, f"job {name} failed: {error}")
    return 1 if report.errors else 0


def print_routing(config: TeamConfig, route_text: str | None) -> None:
    from bot.domain.escalation import EscalationError, parse_escalate_text, route

    print(f"timezone: {config.timezone}   case channels: {config.case_channels}")
    print(f"advocates: {', '.join(config.advocates)}")
    from bot.durations import format_duration

    print("severities: " + ", ".join(
        f"{name} (update every {format_duration(s.update_every)}{', business hours' if s.business_hours else ''})"
        + (" [default]" if name == config.default_severity else "")
        for name, s in config.severities.items()))
    hours, rules = config.business_hours, config.reminders
    days = ",".join(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in sorted(hours.days))
    end = "24:00" if hours.end.hour == hours.end.minute == 0 else f"{hours.end:%H:%M}"
    print(f"business hours: {days} {hours.start:%H:%M}-{end}"
          f"   reminders: heads-up {format_duration(rules.remind_before)} before due, advocates "
          + (f"{format_duration(rules.escalate_after)}" if rules.escalate_after else "one cadence (>= 1h)")
          + f" after, leadership {format_duration(rules.leadership_after)} after"
          + ("" if config.leadership_channel else " (no leadership_channel: not posted)"))
    print(f"{'department':<16} {'heads':<28} keywords")
    for name, department in config.departments.items():
        label = name + (" (triage)" if name == config.triage_department else "")
        print(f"{label:<16} {', '.join(department.heads):<28} {', '.join(department.keywords) or '-'}")
    if route_text is not None:
        try:
            request = parse_escalate_text(route_text, config)
        except EscalationError as exc:
            print(f"route: {exc}")
            return
        routed = route(request.summary, request.departments, config)
        print(f"route: {', '.join(routed.departments)} ({routed.reason}"
              + (f": {routed.matched}" if routed.matched else "") + ")"
              + f"; severity {request.severity or config.default_severity}")


def check_against_slack(settings: Settings, config: TeamConfig) -> list[str]:
    """Every configured user exists, user groups resolve, and the bot is in the configured channels."""
    from bot.slack_client import make_client, slack_error

    settings.require_for_run()
    assert settings.slack_bot_token is not None
    client = make_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    problems: list[str] = []
    try:
        client.auth_test()
    except SlackApiError as exc:
        return [f"auth.test: {slack_error(exc)} (check SLACK_BOT_TOKEN)"]
    people = {("advocates", a) for a in config.advocates}
    people |= {(f"departments.{n}.heads", h) for n, d in config.departments.items() for h in d.heads}
    for where, entry in sorted(people):
        try:
            if entry.startswith("S"):
                client.usergroups_users_list(usergroup=entry)
            else:
                user = client.users_info(user=entry)["user"]
                if user.get("deleted"):
                    problems.append(f"{where}: {entry} is deactivated")
        except SlackApiError as exc:
            problems.append(f"{where}: {entry}: {slack_error(exc)}")
    for where, channel in (("leadership_channel", config.leadership_channel),):
        if channel:
            try:
                if not client.conversations_info(channel=channel)["channel"].get("is_member"):
                    problems.append(f"{where}: the bot is not a member of {channel}; invite it there")
            except SlackApiError as exc:
                problems.append(f"{where}: {channel}: {slack_error(exc)}")
    return problems


def cmd_config_check(settings: Settings, args: argparse.Namespace) -> int:
    config = load_config(settings.advocacy_config)
    print(f"{settings.advocacy_config}: OK")
    print_routing(config, args.route)
    if args.slack:
        problems = check_against_slack(settings, config)
        for problem in problems:
            print(f"slack: {problem}")
        print("slack: OK" if not problems else f"slack: {len(problems)} problem(s)")
        return 1 if problems else 0
    return 0


def cmd_digest(settings: Settings, args: argparse.Namespace) -> int:
    """``digest [--week 2026-W47] [--format text|json]``: the weekly figures (default: the week just ended)."""
    from bot.domain.digest import digest, digest_text

    config = load_config(settings.advocacy_config)
    now = system_clock()
    try:
        week = Week.parse(args.week) if args.week else Week.of(now, config.zone).shift(-1)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    db = Database(settings.database_url)
    _embedded_schema(db)
    with db.transaction() as session:
        data = digest(session, week, config, now=now)
    db.dispose()
    if args.format == "json":
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print(digest_text(data))
    return _post_digest(settings, week) if args.post else 0


def _post_digest(settings: Settings, week: Week) -> int:
    """``--post``: the same outbox row the schedule writes (key ``digest:<week>``), so a week posts once."""
    from bot.app import create_app
    from jobs.digest import queue_week
    from jobs.outbox import send_due

    if settings.slack_bot_token is None:
        raise CliError("SLACK_BOT_TOKEN is required to --post")
    app = create_app(settings)
    svc = app.services
    if not svc.config.leadership_channel:
        raise CliError("leadership_channel is not set in the team config: nowhere to post")
    now = svc.clock()
    if not queue_week(svc, week, now):
        _report(settings, f"the digest of {week} was posted (or queued) before; not posting it again")
        return 1
    report = send_due(svc, now=now, worker=svc.worker, limit=1000)
    svc.close()
    _report(settings, f"posted the digest of {week} to {svc.config.leadership_channel}: outbox done "
                      f"{report.done}, retried {report.retried}, failed {report.failed}",
            logging.ERROR if report.failed else logging.INFO)
    return 0 if not report.failed else 1


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    import csv

    from bot.domain import export, feedback

    exporter, csv_rows = ((feedback.export_feedback, feedback.csv_rows) if args.what == "feedback"
                          else (export.export_cases, export.csv_rows))
    db = Database(settings.database_url)
    _embedded_schema(db)
    since = datetime.combine(args.since, time(0), UTC) if args.since else None
    with db.transaction() as session:
        data = exporter(session, since=since)
    db.dispose()
    if args.format == "csv":
        csv.writer(sys.stdout).writerows(csv_rows(data))
        return 0
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


BAD_ROWS_SHOWN = 100


def import_file(settings: Settings, path: str, run: Callable[[Session, TextIO], object]) -> int:
    """Run an all-or-nothing CSV import of ``path`` in one transaction; bad rows are listed with their
    line numbers on stderr and nothing is imported (exit 1)."""
    from bot.domain.csv_import import ImportRefused

    db = Database(settings.database_url)
    _embedded_schema(db)
    try:
        with open(path, newline="", encoding="utf-8-sig") as lines, db.transaction() as session:
            imported = run(session, lines)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None
    except ImportRefused as refused:
        for bad in refused.bad[:BAD_ROWS_SHOWN]:
            _report(settings, f"{path}: {bad}")
        if len(refused.bad) > BAD_ROWS_SHOWN:
            _report(settings, f"… and {len(refused.bad) - BAD_ROWS_SHOWN} more bad row(s)")
        _report(settings, f"nothing imported: {len(refused.bad)} bad row(s)")
        return 1
    finally:
        db.dispose()
    print(f"{path}: {imported}")
    return 0


def cmd_feedback(settings: Settings, args: argparse.Namespace) -> int:
    """``feedback import FILE.csv``: all or nothing; bad rows are listed with their line numbers (exit 1)."""
    from bot.domain.feedback import import_feedback

    return import_file(settings, args.file, lambda session, lines: import_feedback(session, lines,
                                                                                   now=system_clock()))


def cmd_customers(settings: Settings, args: argparse.Namespace) -> int:
    """``customers import FILE.csv`` (all or nothing; bad rows listed with their line numbers, exit 1) and
    ``customers export [--format csv|json]``."""
    import csv

    from bot.domain.customer_csv import csv_rows, export_customers, import_customers

    if args.customers_command == "export":
        db = Database(settings.database_url)
        _embedded_schema(db)
        with db.transaction() as session:
            data = export_customers(session)
        db.dispose()
        if args.format == "csv":
            csv.writer(sys.stdout).writerows(csv_rows(data))
        else:
            json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
            print()
        return 0
    config = load_config(settings.advocacy_config)  # tiers and advocates are checked against it
    # advocates given as user groups can only be expanded by Slack: then any user ID is accepted
    team = None if any(a.startswith("S") for a in config.advocates) else config.advocates
    return import_file(settings, args.file, lambda session, lines: import_customers(
        session, lines, now=system_clock(), tiers=config.checkins.tiers, advocates=team))

def cmd_forget_customer(settings: Settings, args: argparse.Namespace) -> int:
    """``forget-customer NAME [--id ID] [--yes]``: erase a customer's name and every stored text about them;
    the figures stay. Asks first, unless --yes (required when the input is not a terminal)."""
    from bot.domain.privacy import ForgetError, find_customer_to_forget, forget_customer, scope_of
    from storage.models import Customer

    db = Database(settings.database_url)
    _embedded_schema(db)
    try:
        # Look in one short transaction and ask outside any: nothing is locked while a person reads the question.
        with db.transaction() as session:
            customer = find_customer_to_forget(session, args.name, args.id)
            scope, churned = scope_of(session, customer), customer.status == "churned"
        print(f"to forget: {scope}")
        if not args.yes and not _confirmed(f"Erase the name of customer #{scope.customer_id} and every text "
                                           "stored about them? This cannot be undone. Type yes to go on: "):
            print("nothing erased")
            return 1
        with db.transaction() as session:
            forgotten = forget_customer(session, session.get_one(Customer, customer.id), now=system_clock())
    except ForgetError as exc:
        raise CliError(str(exc)) from None
    finally:
        db.dispose()
    for line in forgotten.lines():
        print(line)
    print("Slack messages already posted (case channels, DMs, the digest) are not changed: Slack keeps them "
          "for as long as the workspace's retention says.")
    if not churned:
        print(f"The customer's status is not churned: their check-ins go on under {forgotten.label!r}.")
    # the audit line: who was forgotten by number, never by name
    logging.getLogger("advocacy-bot").info("forget-customer: customer #%s forgotten, %s", forgotten.customer_id,
                                           ", ".join(f"{what} {n}" for what, n in forgotten.erased.items()))
    return 0


def _confirmed(question: str) -> bool:
    """A person typed yes at the terminal. Piped or scripted input never confirms: that needs --yes."""
    if not sys.stdin.isatty():
        raise CliError("forget-customer asks for confirmation, and its input is not a terminal: add --yes "
                       "(nothing erased)")
    try:
        return input(question).strip().lower() == "yes"
    except EOFError:
        return False


def iso_date(value: str) -> date:
    """``--since 2026-11-01``: a calendar date, read as the start of that day in UTC."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def cmd_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    """The browser sandbox (a page on 127.0.0.1, until Ctrl-C), or with ``--script`` a headless story."""
    # JSON log lines are for a collector, not the terminal: keep them (on stderr, apart from the output).
    quiet = settings.log_format != "json"
    if args.script:
        from bot.sandbox.demo import run_demo

        return run_demo(script=args.script, db_path=args.db, config_path=args.config, quiet_logs=quiet)
    from pathlib import Path

    from bot.sandbox.workspace import DEFAULT_DB, SandboxUnavailable, serve

    try:
        return serve(db_path=Path(args.db or DEFAULT_DB), config_path=Path(args.config) if args.config else None,
                     port=args.port if args.port is not None else settings.port, quiet_logs=quiet)
    except SandboxUnavailable as exc:
        raise CliError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="advocacy-bot", description="Customer advocacy cases in Slack.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve Slack (HTTP or Socket Mode) and run the scheduler")
    sub.add_parser("migrate", help="upgrade the database schema (Alembic upgrade head)")
    config = sub.add_parser("config", help="team config tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate the team config and print the routing table")
    check.add_argument("--route", metavar="TEXT", help="show where an /escalate text would be routed")
    check.add_argument("--slack", action="store_true", help="also check users and channels against Slack")
    tick = sub.add_parser("tick", help="run all due work once and exit")
    tick.add_argument("--now", metavar="ISO-8601", help="the time to run at (default: now)")
    export = sub.add_parser("export", help="print stored data")
    export.add_argument("what", choices=["cases", "feedback"], help="what to export")
    export.add_argument("--format", default="json", choices=["json", "csv"],
                        help="cases: json is each case's whole record, csv one row per case (scalar fields and "
                             "counts); feedback: one answer per item or row")
    export.add_argument("--since", metavar="YYYY-MM-DD", type=iso_date,
                        help="only cases created (answers given) on or after this date (UTC)")
    digest = sub.add_parser("digest", help="the weekly metric digest's figures")
    digest.add_argument("--week", metavar="YYYY-Www", help="the ISO week, e.g. 2026-W47 (default: the week just "
                                                         "ended, in the team's timezone)")
    digest.add_argument("--format", default="text", choices=["text", "json"])
    digest.add_argument("--post", action="store_true",
                        help="also post it to leadership_channel now (once per week, as the schedule would)")
    feedback = sub.add_parser("feedback", help="customer feedback (NPS, CSAT)")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True)
    feedback_import = feedback_sub.add_parser(
        "import", help="import survey answers from CSV: customer,date,nps,csat,comment,source (all or nothing)")
    feedback_import.add_argument("file", metavar="FILE.csv", help="the CSV file (UTF-8, header on line 1)")
    customers = sub.add_parser("customers", help="import or export customers (CSV)")
    customers_sub = customers.add_subparsers(dest="customers_command", required=True)
    customers_import = customers_sub.add_parser(
        "import", help="create or update customers by name from CSV: name,tier,timezone,preferred_hours,advocate,"
                       "annual_revenue,status,external_ref (only name required; all or nothing)")
    customers_import.add_argument("file", metavar="FILE.csv", help="the CSV file (UTF-8, header on line 1)")
    customers_export = customers_sub.add_parser("export", help="print every customer (re-importable CSV, or JSON "
                                                               "with the status history)")
    customers_export.add_argument("--format", default="csv", choices=["csv", "json"])
    forget = sub.add_parser("forget-customer", help="erase a customer's name and every text stored about them "
                                                    "(the figures stay)")
    forget.add_argument("name", metavar="NAME", help="the customer's exact name (any case)")
    forget.add_argument("--id", type=int, help="the customer's id, when several customers' names match NAME")
    forget.add_argument("--yes", action="store_true",
                        help="do not ask (required when the input is not a terminal)")
    sandbox = sub.add_parser("sandbox", help="try the bot in a local Slack workspace in your browser, no credentials")
    sandbox.add_argument("--port", type=int, metavar="PORT", help="the page's port on 127.0.0.1 (default: PORT, 3000)")
    sandbox.add_argument("--db", metavar="PATH", help="SQLite file; the workspace is kept beside it (default: "
                                                      "./advocacy-sandbox.db; with --script, a temporary one)")
    sandbox.add_argument("--config", metavar="PATH", help="team config (default: the sample team)")
    sandbox.add_argument("--script", choices=["demo"], help="play a story headless and print it, instead of the page")
    return parser


COMMANDS = {
    "run": cmd_run,
    "migrate": cmd_migrate,
    "config": cmd_config_check,
    "tick": cmd_tick,
    "export": cmd_export,
    "digest": cmd_digest,
    "feedback": cmd_feedback,
    "customers": cmd_customers,
    "forget-customer": cmd_forget_customer,
    "sandbox": cmd_sandbox,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:  # before logging: LOG_FORMAT itself may be what is wrong
        print(f"advocacy-bot: {exc}", file=sys.stderr)
        return 2
    _setup_logging(settings)
    if hasattr(signal, "SIGUSR1"):
        # `kill -USR1 <pid>` prints every thread's stack to stderr: what a stuck process is doing, in production
        # or in a test that timed out, without stopping it.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        return COMMANDS[args.command](settings, args)
    except (SettingsError, ConfigError, CliError) as exc:
        _report(settings, f"advocacy-bot: {exc}")
        return exc.exit_code if isinstance(exc, CliError) else 2


if __name__ == "__main__":
    sys.exit(main())
