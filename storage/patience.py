"""How long a thread may wait for the database: a request Slack needs answered in 3 s, not for ever."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class DatabaseBusy(TimeoutError):
    """The database did not answer within the time this thread may wait for it (see :func:`bounded`)."""


_patience = threading.local()


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Every wait for the database in this thread, together, ends ``seconds`` from now.

    A request that Slack needs answered within 3 s must not sit out SQLite's 30 s busy timeout or a
    PostgreSQL server that does not answer: it fails with :class:`DatabaseBusy` (or the driver's
    "database is locked") in time to tell the person to try again. Work nobody waits for (the tick, the
    after-ack drive) is not bounded: it waits as long as the database needs. Nested bounds keep the nearer.
    """
    outer: float | None = getattr(_patience, "deadline", None)
    deadline = time.monotonic() + seconds
    _patience.deadline = deadline if outer is None else min(outer, deadline)
    try:
        yield
    finally:
        _patience.deadline = outer


def time_left() -> float | None:
    """Seconds this thread may still wait for the database; None when it is not bounded."""
    deadline: float | None = getattr(_patience, "deadline", None)
    return None if deadline is None else deadline - time.monotonic()


def still_time() -> float | None:
    """Like :func:`time_left`, but a bounded thread whose time is up gets DatabaseBusy instead of 0."""
    left = time_left()
    if left is not None and left <= 0:
        raise DatabaseBusy("the database did not answer in time")
    return left
