"""The outbox: every scheduled or retryable Slack effect, claimed under a lease and run once.

Rows are written by the domain in the same transaction as the state they belong to. Workers (the
after-ack drive, the tick on every replica) claim due rows atomically — ``UPDATE … RETURNING`` on
SQLite, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL — call Slack outside any transaction, and then apply
the result and mark the row done in one transaction. A crash leaves the lease to expire; a 429, a 5xx
or a timeout reschedules the row; an error that will not go away marks it failed and tells a person.
A token Slack no longer accepts (``bot/slack_auth.py``) is none of these: the row stays pending, unspent,
and no row runs until the token works again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import bindparam, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from bot.logs import FIELDS
from bot.services import Services
from bot.slack_client import AUTH_ERRORS, auth_rejection, is_transient, retry_after, slack_error
from storage.models import Case, OutboxItem

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
DRIVE_LIMIT = 100  # rows per after-ack run; a busy drive goes on in another run with a fresh clock


@dataclass(frozen=True)
class Item:
    """A claimed outbox row, detached from any session, with the time of the run that claimed it."""

    id: int
    key: str
    kind: str
    case_id: int | None
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    now: datetime  # handlers use this, never the wall clock: rows they add are due within this run
    case_number: int | None = None  # for the log line


@dataclass
class Done:
    """What an effect handler returns: a result to keep, and changes to apply with marking it done."""

    result: dict[str, Any] | None = None
    apply: Callable[[Session], None] | None = None


class Skip(Exception):
    """The effect no longer applies (e.g. its channel was never created): mark it cancelled."""


class Defer(Exception):
    """Not yet: run the row again at ``until`` (e.g. a DM held for the recipient's working hours).

    No attempt is used up and nothing is logged as an error: the effect chose the time.
    """

    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason


class _LeaseLost(Exception):
    """Another worker took the row over (our lease expired): our outcome must not be written."""


class PermanentFailure(Exception):
    """The effect cannot succeed by retrying; ``error`` is Slack's code or our reason."""

    def __init__(self, error: str, detail: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.detail = detail


@dataclass
class RunReport:
    done: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    deferred: int = 0

    @property
    def total(self) -> int:
        return self.done + self.retried + self.failed + self.cancelled + self.deferred



Handler = Callable[[Services, Item], Done]
FailureHook = Callable[[Session, Item, str, datetime], None]
_HANDLERS: dict[str, Handler] = {}
_ON_FAILURE: dict[str, FailureHook] = {}


def effect(kind: str, *, on_failure: FailureHook | None = None) -> Callable[[Handler], Handler]:
    """Register the function that performs outbox rows of ``kind`` (and what to do if it fails)."""

    def register(function: Handler) -> Handler:
        _HANDLERS[kind] = function
        if on_failure is not None:
            _ON_FAILURE[kind] = on_failure
        return function

    return register


def _claim_statement() -> Any:
    """``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING id``.

    Building this statement costs more than running it, so it is built once with bound parameters.
    SQLite ignores FOR UPDATE: its BEGIN IMMEDIATE already serializes writers.
    """
    before = aliased(OutboxItem)
    now = bindparam("now")
    ready = (
        select(OutboxItem.id)
        .where(
            OutboxItem.status == "pending",
            OutboxItem.due_at <= now,
            or_(OutboxItem.lease_until.is_(None), OutboxItem.lease_until < now),
            or_(
                OutboxItem.after_id.is_(None),
                exists().where(before.id == OutboxItem.after_id, before.status != "pending"),
            ),
        )
        .order_by(OutboxItem.due_at, OutboxItem.id)
        .limit(bindparam("limit"))
        .with_for_update(of=OutboxItem, skip_locked=True)
    )
    return (
        update(OutboxItem)
        .where(OutboxItem.id.in_(ready.scalar_subquery()))
        .values(
            lease_owner=bindparam("p_worker"),
            lease_until=bindparam("p_lease_until"),
            attempts=OutboxItem.attempts + 1,
        )
        .returning(OutboxItem.id)
        .execution_options(synchronize_session=False)
    )


_CLAIM = _claim_statement()


def claim(session: Session, *, now: datetime, worker: str, limit: int = 10) -> list[Item]:
    """Lease up to ``limit`` due rows whose predecessor has settled; returns them, oldest first."""
    params = {"now": now, "limit": limit, "p_worker": worker, "p_lease_until": now + LEASE}
    ids = list(session.execute(_CLAIM, params).scalars())
    if not ids:
        return []
    rows = session.execute(select(OutboxItem, Case.number).outerjoin(Case, Case.id == OutboxItem.case_id)
                           .where(OutboxItem.id.in_(ids)).order_by(OutboxItem.id)).all()
    return [
        Item(
            id=row.id,
            key=row.key,
            kind=row.kind,
            case_id=row.case_id,
            payload=dict(row.payload or {}),
            attempts=row.attempts,
            created_at=row.created_at,
            now=now,
            case_number=number,
        )
        for row, number in rows
    ]


def _settle(session: Session, item_id: int, worker: str, **values: Any) -> bool:
    """Write the outcome, but only while we still hold the lease (another worker may have taken over)."""
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.lease_owner == worker, OutboxItem.status == "pending")
        .values(lease_owner=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * (2 ** max(0, attempts - 1)), BACKOFF_MAX)


def _hold(ctx: Services, item: Item, error: str, *, worker: str) -> str:
    """Slack rejected the token: record it for every replica, and put the row back as it was (pending, due,
    the attempt not counted) to run once the token works again — neither retried now nor dead-lettered."""
    ctx.token.mark(error, item.now)
    with ctx.db.transaction() as session:
        _settle(session, item.id, worker, due_at=item.now, attempts=OutboxItem.attempts - 1, last_error=error)
    return "held"


def _release(ctx: Services, items: list[Item], *, worker: str) -> None:
    """Give back rows claimed but not run (the run stopped): claimable again at once, the attempt not counted."""
    if not items:
        return
    with ctx.db.transaction() as session:
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_([i.id for i in items]), OutboxItem.lease_owner == worker,
                   OutboxItem.status == "pending")
            .values(lease_owner=None, lease_until=None, attempts=OutboxItem.attempts - 1)
            .execution_options(synchronize_session=False)
        )


# Slack ids an effect's result may name, for its log line
_RESULT_IDS = ("channel", "ts", "file_id")


def run_item(ctx: Services, item: Item, *, worker: str) -> str:
    """Perform one claimed row. Returns its new status: done, pending (retry), deferred, failed, cancelled, or
    held (Slack rejected the token: nothing more runs until it works again). One log line per run, with the
    case number and the Slack ids the effect reported."""
    started = time.perf_counter()
    result: dict[str, Any] = {}
    status = _run_item(ctx, item, worker=worker, result=result)
    ms = round((time.perf_counter() - started) * 1000, 1)
    fields: dict[str, Any] = {"outbox_item": item.id, "effect": item.kind, "status": status, "attempt": item.attempts,
                              "duration_ms": ms}
    if item.case_number is not None:
        fields["case"] = item.case_number
    fields.update({key: result[key] for key in _RESULT_IDS if isinstance(result.get(key), str)})
    described = "".join(f" {key} {value}" for key, value in fields.items() if key in ("case", *_RESULT_IDS))
    log.info("outbox %s #%s: %s in %.0f ms%s", item.kind, item.id, status, ms, described, extra={FIELDS: fields})
    return status


def _run_item(ctx: Services, item: Item, *, worker: str, result: dict[str, Any]) -> str:
    db, now = ctx.db, item.now
    handler = _HANDLERS.get(item.kind)
    rejected_before, _ = auth_rejection()
    try:
        if handler is None:
            raise PermanentFailure("unknown_effect", f"no handler for {item.kind}")
        outcome = handler(ctx, item)
        result.update(outcome.result or {})
    except (SlackApiError, PermanentFailure) as exc:
        error = slack_error(exc) if isinstance(exc, SlackApiError) else exc.error
        if error in AUTH_ERRORS:
            return _hold(ctx, item, error, worker=worker)
        return _failed(ctx, item, exc, worker=worker)
    except Skip as skip:
        with db.transaction() as session:
            _settle(session, item.id, worker, status="cancelled", last_error=str(skip), done_at=now)
        return "cancelled"
    except Defer as defer:
        with db.transaction() as session:
            _settle(session, item.id, worker, due_at=max(defer.until, now), attempts=OutboxItem.attempts - 1,
                    last_error=f"deferred: {defer.reason}")
        return "deferred"
    except (SlackClientError, OSError) as exc:
        return _failed(ctx, item, exc, worker=worker)
    rejected, error = auth_rejection()
    if rejected != rejected_before:
        # The effect caught a token error and went on (e.g. a lookup it can do without): what it did
        # without Slack cannot be trusted to be complete. Run it again once the token works.
        return _hold(ctx, item, error or "invalid_auth", worker=worker)
    try:
        with db.transaction() as session:
            # apply first: it may add to the result; settling last checks we still hold the lease,
            # and if we do not, raising rolls the apply back too.
            if outcome.apply is not None:
                outcome.apply(session)
            if not _settle(session, item.id, worker, status="done", result=outcome.result, done_at=now,
                           last_error=None):
                raise _LeaseLost
    except _LeaseLost:
        log.warning("outbox item %s (%s) lost its lease before finishing", item.id, item.kind)
        return "pending"
    return "done"


def _failed(ctx: Services, item: Item, exc: BaseException, *, worker: str) -> str:
    now = item.now
    if isinstance(exc, PermanentFailure):
        error, transient, wait = exc.error, False, None
    elif isinstance(exc, SlackApiError):
        error, transient, wait = slack_error(exc), is_transient(exc), retry_after(exc)
    else:  # connection error or timeout: Slack may or may not have acted; retry and reconcile
        error, transient, wait = type(exc).__name__, True, None
    log.info("outbox item %s (%s) attempt %s failed: %s", item.id, item.kind, item.attempts, error)
    with ctx.db.transaction() as session:
        if transient and item.attempts < MAX_ATTEMPTS:
            delay = timedelta(seconds=wait) if wait is not None else backoff(item.attempts)
            _settle(session, item.id, worker, due_at=now + delay, last_error=error)
            return "pending"
        if _settle(session, item.id, worker, status="failed", last_error=error, done_at=now):
            hook = _ON_FAILURE.get(item.kind)
            if hook is not None:
                hook(session, item, error, now)
    return "failed"


def send_due(ctx: Services, *, now: datetime, worker: str, limit: int = 500) -> RunReport:
    """Run due rows until none is left or ``limit`` rows ran. The tick and the after-ack drive call this.

    Nothing runs while Slack rejects the bot token (see ``bot/slack_auth.py``); a row that finds it
    rejected stops the run, and the rows claimed with it are given back.
    """
    report = RunReport()
    if ctx.token.paused() is not None:
        return report
    while report.total < limit:
        with ctx.db.transaction() as session:
            items = claim(session, now=now, worker=worker, limit=min(10, limit - report.total))
        if not items:
            break
        for n, item in enumerate(items):
            ctx.in_flight.wait_quiet()  # acks first: a person is waiting on those, nobody on this row
            status = run_item(ctx, item, worker=worker)
            if status == "held":
                report.retried += 1
                _release(ctx, items[n + 1:], worker=worker)
                return report
            if status == "done":
                report.done += 1
            elif status == "pending":
                report.retried += 1
            elif status == "cancelled":
                report.cancelled += 1
            elif status == "deferred":
                report.deferred += 1
            else:
                report.failed += 1
    return report
