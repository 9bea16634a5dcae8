"""Prometheus metrics (``GET /metrics``) and what the per-request log line says about a Slack request.

Every app owns one :class:`Metrics` with its own ``CollectorRegistry``: tests and the sandbox build many
apps in one process, and the global default registry would refuse the second app's metrics (or mix
their counts). Nothing here runs at import time.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from storage.db import Database
from storage.models import OutboxItem, Reminder

log = logging.getLogger(__name__)

# Slack gives up on an ack after 3 s: the buckets resolve the fast path finely and end at the deadline.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0)
# A tick runs every 30 s; one that takes longer than that delays the next (max_instances=1).
TICK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# The Slack surfaces, as the ``kind`` label: a fixed set whatever a request claims to be.
KINDS = frozenset({"command", "event", "block_actions", "view_submission", "view_closed", "shortcut",
                   "message_action", "block_suggestion", "options", "unknown"})
# Label values taken from a request body must stay few: command names and event types look like this;
# anything else (or anything from a request that failed its signature check) becomes "other".
_COMMAND_NAME = re.compile(r"/[a-z0-9_\-]{1,32}")
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]{0,47}")
_CALLBACK_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,48}")
# Case channels are named case-<number>-<customer> (jobs/case_setup.py): the number is free to read.
_CASE_CHANNEL = re.compile(r"case-(\d+)(?:-|$)")
# Events carry no channel name: their listener puts the case's number in the request context under this key.
CASE = "case_number"


class Metrics:
    """The app's metrics, registered in its own registry. Counters and histograms are thread-safe."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "advocacy_slack_requests", "Slack requests answered, by surface, command or event type, and outcome",
            ["kind", "name", "outcome"], registry=self.registry)
        self.ack_seconds = Histogram(
            "advocacy_ack_seconds", "Time from receiving a Slack request to having its answer (Slack waits 3 s)",
            ["kind"], buckets=ACK_BUCKETS, registry=self.registry)
        self.api_calls = Counter(
            "advocacy_slack_api_calls", "Slack Web API calls, by method and outcome (ok, error, ratelimited)",
            ["method", "outcome"], registry=self.registry)
        self.api_ratelimited = Counter(
            "advocacy_slack_api_ratelimited", "Slack Web API calls answered 429 (rate limited), by method",
            ["method"], registry=self.registry)
        self.tick_seconds = Histogram(
            "advocacy_tick_seconds", "Duration of one tick (all due jobs, then the outbox)",
            buckets=TICK_BUCKETS, registry=self.registry)
        self.tick_runs = Counter(
            "advocacy_tick_runs", "Ticks run, by outcome (error: a job or the outbox run failed)",
            ["outcome"], registry=self.registry)
        self._state: StateCollector | None = None
        self._lock = threading.Lock()

    def watch_state(self, db: Database, clock: Callable[[], datetime]) -> None:
        """Read the outbox and reminder gauges from ``db`` at each scrape (once per app)."""
        with self._lock:
            if self._state is None:
                self._state = StateCollector(db, clock)
                self.registry.register(self._state)

    def api_call(self, method: str, outcome: str) -> None:
        self.api_calls.labels(method=method, outcome=outcome).inc()
        if outcome == "ratelimited":
            self.api_ratelimited.labels(method=method).inc()

    def request(self, seen: SlackRequest, outcome: str, seconds: float) -> None:
        self.requests.labels(kind=seen.kind, name=seen.name, outcome=outcome).inc()
        self.ack_seconds.labels(kind=seen.kind).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The text format body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class StateCollector(Collector):
    """Gauges computed at scrape time from the database: cheap counts on the (status, …) indexes.

    A scrape must answer even when the database does not: these gauges are then left out (and
    ``advocacy_state_scrape_ok`` is 0), so an alert on them sees a gap, not a stale value.
    """

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily("advocacy_state_scrape_ok",
                               "1 when the database gauges below could be read at this scrape, else 0")
        try:
            now = self.clock()
            # A read-only transaction; on SQLite it queues behind writes like any other (acks go first).
            with self.db.transaction() as session:
                counts: dict[str, int] = {status: count for status, count in session.execute(
                    select(OutboxItem.status, func.count())
                    .where(OutboxItem.status.in_(("pending", "failed")))
                    .group_by(OutboxItem.status))}
                oldest = session.scalar(select(func.min(Reminder.fire_at))
                                        .where(Reminder.status == "scheduled", Reminder.fire_at < now))
        except Exception as exc:  # any driver error: the scrape still answers with everything else
            log.warning("metrics: could not read the outbox and reminder gauges: %s: %s", type(exc).__name__, exc)
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        yield ok
        yield GaugeMetricFamily("advocacy_outbox_pending",
                                "Outbox rows waiting to run or to be retried (the backlog)",
                                value=counts.get("pending", 0))
        yield GaugeMetricFamily("advocacy_outbox_failed",
                                "Outbox rows that failed for good (dead letters; a person was told)",
                                value=counts.get("failed", 0))
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily("advocacy_oldest_overdue_reminder_seconds",
                                "Age of the oldest reminder step past its time and not yet fired (0: none); "
                                "grows when the tick is not running",
                                value=age)


# ---------------------------------------------------------------- what a Slack request is


@dataclass(frozen=True)
class SlackRequest:
    """A Slack request as the metrics and the request log see it: low-cardinality labels and Slack ids."""

    kind: str
    name: str = ""
    team: str | None = None
    user: str | None = None
    channel: str | None = None
    case: int | None = None

    def log_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"kind": self.kind, "name": self.name}
        for key in ("team", "user", "channel", "case"):
            value = getattr(self, key)
            if value is not None:
                fields[key] = value
        return fields


def _label(value: object, pattern: re.Pattern[str]) -> str:
    return value if isinstance(value, str) and pattern.fullmatch(value) else "other"


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def classify(body: dict[str, Any], context: dict[str, Any] | None = None) -> SlackRequest:
    """Kind, name and ids of a parsed request body (Bolt's ``BoltRequest.body`` and ``.context``).

    Only verified bodies should be trusted with the ``name`` label; callers drop it for rejected ones.
    """
    context = context or {}
    payload_type = body.get("type")
    name = ""
    if "command" in body:
        kind, name = "command", _label(body.get("command"), _COMMAND_NAME)
    elif payload_type == "event_callback":
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        kind, name = "event", _label(event.get("type"), _EVENT_TYPE)
    elif payload_type == "url_verification":
        kind, name = "event", "url_verification"
    elif payload_type in ("shortcut", "message_action"):
        # Callback ids of shortcuts are the manifest's few; action ids are not labels (they carry values).
        kind, name = str(payload_type), _label(body.get("callback_id"), _CALLBACK_ID)
    elif payload_type in ("block_actions", "view_submission", "view_closed", "block_suggestion"):
        kind = str(payload_type)
    elif payload_type in ("dialog_suggestion", "interactive_message", "dialog_submission"):
        kind = "options" if payload_type == "dialog_suggestion" else "unknown"
    else:
        kind = "unknown"
    channel_name = body.get("channel_name")
    if channel_name is None and isinstance(body.get("channel"), dict):
        channel_name = body["channel"].get("name")
    found = _CASE_CHANNEL.match(channel_name) if isinstance(channel_name, str) else None
    return SlackRequest(
        kind=kind,
        name=name,
        team=_str(context.get("team_id")),
        user=_str(context.get("user_id")),
        channel=_str(context.get("channel_id")),
        case=int(found.group(1)) if found else _number(context.get(CASE)),
    )


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def outcome_of(status: int) -> str:
    """ok: answered; rejected: Slack's signature or timestamp did not check out; error: we failed."""
    if status in (401, 403):
        return "rejected"
    return "ok" if status < 400 else "error"
