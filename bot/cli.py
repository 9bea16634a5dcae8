"""The ``advocacy-bot`` command: run, migrate, config check, tick, export, feedback import, sandbox."""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.clock import parse_instant, system_clock
from bot.config import ConfigError, TeamConfig, load_config
from bot.domain.weeks import Week
from bot.settings import Settings, SettingsError, load_settings
from bot.slack_client import is_transient, slack_error
from storage.db import Database

if TYPE_CHECKING:
    from bot.services import Services


class CliError(Exception):
    """A problem to report in one line, without a stack trace."""


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
        print(message, file=sys.stderr)


def _embedded_schema(db: Database) -> None:
    """The embedded default (SQLite) migrates itself; PostgreSQL is upgraded by `advocacy-bot migrate`."""
    from storage.migrate import upgrade

    if db.dialect == "sqlite":
        upgrade(db.engine)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    db = Database(settings.database_url)
    upgrade(db.engine)
    print(f"database is at the latest schema ({db.engine.url.render_as_string(hide_password=True)})")
    return 0


AUTH_RETRY_SECONDS = (5, 10, 30, 60, 120, 300)  # then every 300 s


def _authenticate(svc: Services, log: logging.Logger) -> bool:
    """auth.test, cached for the process. A rejected token stops start-up with one line; Slack being
    unreachable or failing (5xx, 429) is logged and answered False, to be retried."""
    try:
        identity = svc.directory.identity()
    except SlackApiError as exc:
        if not is_transient(exc):
            raise CliError(f"Slack rejected SLACK_BOT_TOKEN at auth.test: {slack_error(exc)}") from None
        reason = slack_error(exc)
    except OSError as exc:  # connection refused, DNS, timeout (URLError is an OSError)
        reason = type(exc).__name__
    else:
        log.info("authenticated as bot user %s in team %s", identity.bot_user_id, identity.team_id)
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


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.app import create_app
    from bot.web import HttpServer, make_wsgi
    from jobs.scheduler import start_scheduler

    settings.require_for_run()
    config = load_config(settings.advocacy_config)
    app = create_app(settings, config=config)
    svc = app.services
    _embedded_schema(svc.db)
    log = logging.getLogger("advocacy-bot")
    if not _authenticate(svc, log):
        # A Slack incident must not keep every replica from starting: serve (requests are verified by their
        # signatures, work waits in the outbox), say "not ready" on /readyz, and keep asking in the background.
        threading.Thread(target=_authenticate_later, args=(svc, log), name="slack-auth", daemon=True).start()
    scheduler = start_scheduler(svc)
    server = HttpServer(make_wsgi(app, scheduler_running=lambda: scheduler.running), port=settings.port)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            assert settings.slack_app_token is not None
            server.start()  # /healthz and /readyz still answer in Socket Mode
            log.info("Socket Mode; health checks on port %s", server.port)
            SocketModeHandler(app.bolt, settings.slack_app_token.get_secret_value()).start()
        else:
            log.info("HTTP mode: POST /slack/events on port %s", server.port)
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=False)
        server.stop()
        svc.close()
    return 0


def cmd_tick(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import create_app
    from jobs.tick import tick

    if settings.slack_bot_token is None:
        raise CliError("SLACK_BOT_TOKEN is required: the tick talks to Slack")
    app = create_app(settings)
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

def iso_date(value: str) -> date:
    """``--since 2026-11-01``: a calendar date, read as the start of that day in UTC."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def cmd_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from bot.sandbox.demo import run_demo

    # JSON log lines are for a collector, not the terminal: keep them (on stderr, apart from the transcript).
    return run_demo(script=args.script, db_path=args.db, config_path=args.config,
                    quiet_logs=settings.log_format != "json")


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
    sandbox = sub.add_parser("sandbox", help="try the bot against a local Slack stand-in, no credentials")
    sandbox.add_argument("--script", default="demo", choices=["demo"], help="the story to play")
    sandbox.add_argument("--db", metavar="PATH", help="SQLite file (default: a temporary one)")
    sandbox.add_argument("--config", metavar="PATH", help="team config (default: the sample team)")
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
    try:
        return COMMANDS[args.command](settings, args)
    except (SettingsError, ConfigError, CliError) as exc:
        _report(settings, f"advocacy-bot: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
