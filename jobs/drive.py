"""The after-ack drive: new outbox rows run at once, on a small pool of our own.

Handlers write rows and ``kick``; the pool runs everything due. Bolt's listener threads stay free to
ack the next request within Slack's 3 seconds, and the pool is small on purpose: it bounds how much
CPU background work takes from the acks. Whatever it does not finish (a crash, a retry later), the
tick does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


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
