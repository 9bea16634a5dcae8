"""The after-ack drive: new outbox rows run at once, on a small pool of our own.

Handlers write rows and ``kick``; the pool runs everything due. Bolt's listener threads stay free to
ack the next request within Slack's 3 seconds, and the pool is small on purpose: it bounds how much
CPU background work takes from the acks. Whatever it does not finish (a crash, a retry later), the
tick does.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class RequestsInFlight:
    """Tracks requests a person is waiting on, so background work can step aside while they come in.

    Python runs one thread at a time: a drive busy with set-up steps takes the interpreter from the
    threads that must ack within Slack's 3 s. Before each outbox row the drive waits for a quiet
    moment (no request in a listener, none begun for ``quiet`` seconds: between two requests of a
    burst the count alone drops to zero), but never longer than ``max_wait``, so under sustained
    load it still runs a row per wait. Requests never wake the waiting drive (that would cost every
    request a thread switch); the drive looks again every ``quiet`` seconds.
    """

    def __init__(self, *, quiet: float = 0.05, max_wait: float = 1.0) -> None:
        self.quiet = quiet
        self.max_wait = max_wait
        self._count = 0
        self._last_begun = -math.inf
        self._lock = threading.Lock()

    def __enter__(self) -> RequestsInFlight:
        with self._lock:
            self._count += 1
            self._last_begun = time.monotonic()
        return self

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._count -= 1

    def wait_quiet(self) -> None:
        deadline = time.monotonic() + self.max_wait
        while True:
            now = time.monotonic()
            quiet_at = self._last_begun + self.quiet  # read without the lock: a stale value only waits longer
            if (not self._count and now >= quiet_at) or now >= deadline:
                return
            time.sleep(min(deadline, max(quiet_at, now + self.quiet / 5)) - now)


class AfterAck:
    """Work a listener hands over after its ack (open a modal, publish a Home tab), on a pool of ours.

    Cheaper than Bolt's lazy listeners, which deep-copy the whole request for every call: on the
    hot path (``/escalate``) that copy cost more than everything else we do before the ack.
    """

    def __init__(self, *, workers: int = 4) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="after-ack")

    def __call__(self, function: Callable[..., object], /, *args: object, **kwargs: object) -> None:
        def run() -> None:
            try:
                function(*args, **kwargs)
            except Exception:  # nobody waits for this thread: log it, with the listener's name
                log.exception("after-ack work %s failed", getattr(function, "__name__", function))

        self._executor.submit(run)

    def shutdown(self, *, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)


class Kicker:
    def __init__(self, run: Callable[[], bool], *, workers: int = 2) -> None:
        self._run = run
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drive")
        self._queued = 0
        self._lock = threading.Lock()

    def kick(self) -> None:
        """Run due work soon. A run that has not started yet will see the new rows: no need for two."""
        with self._lock:
            if self._queued:
                return
            self._queued += 1
        self._executor.submit(self._drive)

    def _drive(self) -> None:
        with self._lock:
            self._queued -= 1  # rows written from now on need another run
        try:
            more = self._run()
        except Exception:  # the rows stay pending; the tick retries them
            log.exception("drive failed; the tick will resume its work")
            return
        if more:  # the run stopped at its bound: go on in a fresh run (with a fresh clock)
            self.kick()

    def shutdown(self, *, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
