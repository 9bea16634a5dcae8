"""The after-ack drive: a case's fresh outbox rows run at once, on a small pool of our own.

Bolt's listener threads must stay free to ack the next request within Slack's 3 seconds, so the
Slack calls of a set-up never run on them. The pool is small on purpose: it bounds how much CPU the
background takes from the acks. Whatever it does not finish (a crash, a retry later), the tick does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class DriveQueue:
    def __init__(self, run: Callable[[int], object], *, workers: int = 2) -> None:
        self._run = run
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drive")
        self._queued: set[int] = set()
        self._lock = threading.Lock()

    def submit(self, case_id: int) -> None:
        """Drive this case's due rows soon; a case already waiting in the queue is not queued twice."""
        with self._lock:
            if case_id in self._queued:
                return
            self._queued.add(case_id)
        self._executor.submit(self._drive, case_id)

    def _drive(self, case_id: int) -> None:
        with self._lock:
            self._queued.discard(case_id)  # rows added from now on need another drive
        try:
            self._run(case_id)
        except Exception:  # the rows stay pending; the tick retries them
            log.exception("drive of case %s failed; the tick will resume it", case_id)

    def shutdown(self, *, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
