"""Business hours: when a team is at work, and deadlines counted only in that time.

No Slack and no database here. Every instant in and out is an aware datetime in UTC; the business
windows themselves are drawn on the team's LOCAL calendar (so 09:00 stays 09:00 across DST) and
then converted to UTC, where all elapsed-time arithmetic happens.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A bound on the search for the next window: a bit over ten years, so bad hours fail instead of hanging.
MAX_DAYS = 3700

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _day(word: str, text: str) -> int:
    try:
        return DAY_NAMES.index(word.strip())
    except ValueError:
        where = "" if word.strip() == text.strip().lower() else f" (in {text!r})"
        raise ValueError(f"{word.strip()!r} is not a day{where}; use {', '.join(DAY_NAMES)}") from None


def parse_days(text: str) -> frozenset[int]:
    """``mon-fri``, ``mon,wed,fri``, ``mon-fri,sun``, ``fri-mon`` (wraps) → weekday numbers, 0 = Monday."""
    if not text.strip():
        raise ValueError("days is empty; write e.g. mon-fri or mon,wed,fri")
    days: set[int] = set()
    for item in text.lower().split(","):
        first, dash, last = item.partition("-")
        a = _day(first, text)
        b = _day(last, text) if dash else a
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))  # % 7 lets fri-mon run over the weekend
    return frozenset(days)


def _clock(value: object, field: str) -> time:
    if isinstance(value, time) and value.tzinfo is None:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 24 * 60:
        # YAML 1.1 reads an unquoted 17:00 as the base-60 integer 1020; take it back to what was written
        value = f"{value // 60:02d}:{value % 60:02d}"
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{field} {value!r} is not a time; write HH:MM (24-hour), e.g. 09:00")
    hour, minute = int(match[1]), int(match[2])
    if field == "end" and (hour, minute) == (24, 0):
        return time(0)  # end 00:00 stands for 24:00: a time object cannot say 24:00
    if field == "end" and (hour, minute) == (0, 0):
        raise ValueError("end 00:00 is the start of a day; write 24:00 for midnight at the end of the day")
    if hour > 23 or minute > 59:
        raise ValueError(f"{field} {value.strip()!r} is not a time of day; use 00:00 to 23:59 (end may be 24:00)")
    return time(hour, minute)


def parse_clock(value: object, field: str = "time") -> time:
    """``"09:00"`` (or YAML's base-60 reading of an unquoted 09:00) → a time of day; errors name ``field``."""
    return _clock(value, field)


def _hhmm(t: time, *, end: bool = False) -> str:
    return "24:00" if end and t == time(0) else t.strftime("%H:%M")


class BusinessHours(BaseModel):
    """When the team works, in its own timezone. ``end == time(0)`` means 24:00 (the end of the day)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: frozenset[int] = frozenset(range(5))
    start: time = time(9)
    end: time = time(17)

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: object) -> frozenset[int]:
        if isinstance(value, str):
            return parse_days(value)
        if (
            isinstance(value, set | frozenset | list | tuple)
            and value
            and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in value)
        ):
            return frozenset(value)
        raise ValueError(f"days {value!r} must name at least one day, e.g. mon-fri or mon,wed,fri")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _times(cls, value: object, info: ValidationInfo) -> time:
        return _clock(value, str(info.field_name))

    @model_validator(mode="after")
    def _order(self) -> Self:
        end = timedelta(days=1) if self.end == time(0) else _since_midnight(self.end)
        if end <= _since_midnight(self.start):
            raise ValueError(f"end {_hhmm(self.end, end=True)} must be after start {_hhmm(self.start)}")
        return self


def _since_midnight(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def local_instant(day: date, t: time, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the wall clock in ``zone`` shows ``t`` on ``day``.

    Ambiguous times (clocks going back) give the first occurrence; times skipped by clocks going
    forward give the first instant after the gap, i.e. the transition itself.
    """
    wanted = datetime.combine(day, t, tzinfo=zone)
    if wanted.fold:
        wanted = wanted.replace(fold=0)  # fold=0 reads an ambiguous time as its first occurrence
    first = wanted.astimezone(UTC)
    # datetimes sharing a tzinfo compare by wall clock: this differs only when the wall time was skipped
    if first.astimezone(zone) == wanted:
        return first
    # In a gap the two folds read the wall time with the offsets either side of the transition, so
    # they bracket it. Transitions fall on whole seconds: bisect over integer seconds for an exact answer.
    lo_at, hi_at = sorted((first, wanted.replace(fold=1).astimezone(UTC)))
    lo, hi = (lo_at - _EPOCH) // _SECOND, -((_EPOCH - hi_at) // _SECOND)
    before = lo_at.astimezone(zone).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (_EPOCH + mid * _SECOND).astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return _EPOCH + hi * _SECOND


def _day_window(day: date, zone: ZoneInfo, hours: BusinessHours) -> tuple[datetime, datetime] | None:
    """The UTC window for one local date, or None (not a working day, or swallowed by a DST gap)."""
    if day.weekday() not in hours.days:
        return None
    opens = local_instant(day, hours.start, zone)
    if hours.end == time(0):
        closes = local_instant(day + timedelta(days=1), time(0), zone)
    else:
        closes = local_instant(day, hours.end, zone)
    return (opens, closes) if opens < closes else None


def windows(start: datetime, zone: ZoneInfo, hours: BusinessHours) -> Iterator[tuple[datetime, datetime]]:
    """UTC (open, close) windows from ``start`` on; the first is clipped to open no earlier than ``start``."""
    start = _utc(start, "start")
    # the day before too: a window is tied to its local date, which can differ around odd transitions
    day = start.astimezone(zone).date() - timedelta(days=1)
    empty = 0
    while empty < MAX_DAYS:
        window = _day_window(day, zone, hours)
        day += timedelta(days=1)
        if window is None or window[1] <= start:
            empty += 1
            continue
        empty = 0
        yield max(window[0], start), window[1]
    raise ValueError(f"no business hours within {MAX_DAYS} days of {start.isoformat()}; check days, start and end")


def add_business_time(start: datetime, duration: timedelta, zone: ZoneInfo, hours: BusinessHours) -> datetime:
    """The instant at which ``duration`` of business time has passed since ``start``."""
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative, got {duration}")
    remaining = duration
    for opens, closes in windows(start, zone, hours):
        if remaining <= closes - opens:
            return opens + remaining
        remaining -= closes - opens
    raise AssertionError("unreachable: windows() raises rather than ending")


def business_time_between(a: datetime, b: datetime, zone: ZoneInfo, hours: BusinessHours) -> timedelta:
    """Business time between two instants (zero if ``b`` is not after ``a``): a plain per-day sum."""
    a, b = _utc(a, "a"), _utc(b, "b")
    total = timedelta(0)
    if b <= a:
        return total
    day, last = a.astimezone(zone).date() - timedelta(days=1), b.astimezone(zone).date()
    while day <= last:
        window = _day_window(day, zone, hours)
        if window is not None:
            total += max(timedelta(0), min(window[1], b) - max(window[0], a))
        day += timedelta(days=1)
    return total


def next_business_morning(now: datetime, zone: ZoneInfo, hours: BusinessHours) -> datetime:
    """The opening of the first window on a local date after today's ("snooze until tomorrow")."""
    day = _utc(now, "now").astimezone(zone).date()
    for _ in range(MAX_DAYS):
        day += timedelta(days=1)
        window = _day_window(day, zone, hours)
        if window is not None:
            return window[0]
    raise ValueError(f"no business hours within {MAX_DAYS} days of {now.isoformat()}; check days, start and end")


def due_after(start: datetime, cadence: timedelta, zone: ZoneInfo, hours: BusinessHours | None) -> datetime:
    """When something is due ``cadence`` after ``start``: round the clock without hours, else in business time."""
    if hours is None:
        return _utc(start, "start") + cadence
    return add_business_time(start, cadence, zone, hours)
