"""The browser sandbox's clock: real time that flows, plus whatever the person jumped forward.

The bot, the Slack stand-in and the tick all read this one clock (it is injected, like ``system_clock``),
so a jump of a day is a day for everything: due reminders, expired response URLs, the digest's week.
Between jumps it runs at real speed, so the page feels alive (a trigger ID still expires in 3 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

JUMPS = ("hour", "day", "monday")  # what the page offers: +1 h, +1 day, next Monday 09:00 (team timezone)
MONDAY_AT = clock_time(9)


class TravelClock:
    """``now = start + (real time elapsed since start) + jumps``; thread-safe; never goes backwards."""

    def __init__(self, start: datetime, *, real: Callable[[], float] = time.monotonic) -> None:
        # Only the real time elapsed counts: a monotonic clock, so that the system clock being set back
        # (NTP) cannot move the sandbox's time backwards.
        if start.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware start time")
        self._real = real
        self._lock = threading.Lock()
        self._base = start.astimezone(UTC)  # sandbox time at real time _anchor
        self._anchor = real()

    def __call__(self) -> datetime:
        with self._lock:
            return self._base + timedelta(seconds=max(0.0, self._real() - self._anchor))

    def epoch(self) -> float:
        """Seconds since the epoch, for the stand-in (Slack's ``ts`` values are made from it)."""
        return self().timestamp()

    def jump_to(self, moment: datetime) -> datetime:
        """Move to ``moment``; a moment in the past is refused (times already handed out stay in order)."""
        moment = moment.astimezone(UTC)
        with self._lock:
            now = self._base + timedelta(seconds=max(0.0, self._real() - self._anchor))
            if moment < now:
                raise ValueError(f"the sandbox clock only moves forward ({moment.isoformat()} is before now)")
            self._base, self._anchor = moment, self._real()
            return moment

    def jump(self, kind: str, zone: ZoneInfo) -> datetime:
        """One of ``JUMPS``: an hour on, a day on, or to the next Monday 09:00 in ``zone``."""
        now = self()
        if kind == "hour":
            return self.jump_to(now + timedelta(hours=1))
        if kind == "day":
            return self.jump_to(now + timedelta(days=1))
        if kind == "monday":
            return self.jump_to(next_monday_morning(now, zone))
        raise ValueError(f"unknown jump {kind!r}; one of {', '.join(JUMPS)}")


def next_monday_morning(now: datetime, zone: ZoneInfo) -> datetime:
    """The first Monday 09:00 in ``zone`` strictly after ``now`` (wall clock, so DST is handled per day)."""
    local = now.astimezone(zone)
    day = local.date() + timedelta(days=(7 - local.weekday()) % 7)
    moment = datetime.combine(day, MONDAY_AT, tzinfo=zone)
    if moment <= now:
        moment = datetime.combine(day + timedelta(days=7), MONDAY_AT, tzinfo=zone)
    return moment.astimezone(UTC)
