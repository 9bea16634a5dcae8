"""What handlers and jobs share: settings, team config, database, Slack client, clock and metrics.

Built once by the CLI or a test and passed down explicitly; nothing here runs at import time.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from slack_sdk import WebClient

from bot.clock import Clock, system_clock
from bot.config import TeamConfig
from bot.directory import Directory
from bot.observability import Metrics
from bot.settings import Settings
from bot.slack_auth import TokenState
from jobs.drive import AfterAck, Kicker, RequestsInFlight
from storage.db import Database


def worker_name() -> str:
    """Lease owner name: unique per process, readable in the outbox table."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Services:
    settings: Settings
    config: TeamConfig
    db: Database
    client: WebClient
    clock: Clock = system_clock
    worker: str = field(default_factory=worker_name)
    metrics: Metrics = field(default_factory=Metrics)  # this app's own registry, served at GET /metrics
    directory: Directory = field(init=False)
    token: TokenState = field(init=False)  # whether Slack still accepts the bot token (all replicas see it)
    kicker: Kicker = field(init=False)
    later: AfterAck = field(init=False)  # svc.later(fn, *args): run fn after the ack, off the request thread
    in_flight: RequestsInFlight = field(init=False)  # Slack requests being answered; background work yields

    def __post_init__(self) -> None:
        self.directory = Directory(self.client)
        self.token = TokenState(self.db, self.client.token)  # the token calls are made with
        self.kicker = Kicker(self._drive)
        self.later = AfterAck()
        self.in_flight = RequestsInFlight()
        # Read at each scrape through a lambda: the clock is injected and may be replaced (tests).
        self.metrics.watch_state(self.db, lambda: self.clock())

    def close(self) -> None:
        """Finish after-ack work and stop the pools (tests and shutdown: nothing may outlive us)."""
        self.later.shutdown(wait=True)
        self.kicker.shutdown(wait=True)

    def kick(self) -> None:
        """Run the outbox rows a handler just wrote, right after its ack, off Bolt's threads."""
        self.kicker.kick()

    def _drive(self) -> bool:
        """One bounded run of everything due; True when it stopped at its bound with more to do."""
        from jobs.outbox import DRIVE_LIMIT, send_due  # jobs depend on services, not the other way round

        return send_due(self, now=self.clock(), worker=self.worker, limit=DRIVE_LIMIT).total >= DRIVE_LIMIT
