"""ISO weeks in the team's timezone: what "the week just ended" means, as UTC bounds for the figures.

A week runs from Monday 00:00 to the next Monday 00:00 on the team's wall clock, so a DST week is 167
or 169 hours long. Bounds are half-open ``[start, end)`` UTC instants. No Slack, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.business_hours import local_instant

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, order=True)
class Week:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """``2026-W47`` → the week; a ValueError says how to write one."""
        match = _WEEK.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not an ISO week; write it like 2026-W47")
        year, number = int(match[1]), int(match[2])
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            raise ValueError(f"{year} has no week {number}") from None
        return cls(year, number)

    @classmethod
    def of(cls, moment: datetime, zone: ZoneInfo) -> Week:
        """The week ``moment`` falls in, on the team's calendar."""
        year, number, _ = moment.astimezone(zone).isocalendar()
        return cls(year, number)

    def __str__(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    def shift(self, weeks: int) -> Week:
        year, number, _ = (self.monday + timedelta(weeks=weeks)).isocalendar()
        return Week(year, number)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """``[Monday 00:00, next Monday 00:00)`` in ``zone``, as UTC instants."""
        return (local_instant(self.monday, time(0), zone),
                local_instant(self.monday + timedelta(weeks=1), time(0), zone))

    def at(self, weekday: int, clock: time, zone: ZoneInfo) -> datetime:
        """The UTC instant of ``weekday`` (0 = Monday) at ``clock`` in this week, in ``zone``."""
        return local_instant(self.monday + timedelta(days=weekday), clock, zone)


def last_weeks(week: Week, count: int) -> list[Week]:
    """``count`` weeks ending with ``week``, oldest first."""
    return [week.shift(-i) for i in reversed(range(count))]


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def latest_run(now: datetime, weekday: int, clock: time, zone: ZoneInfo) -> tuple[Week, datetime]:
    """The last weekly run at or before ``now`` (``weekday`` at ``clock`` in ``zone``), and the week it
    reports on: the ISO week before the run's own week."""
    this = Week.of(now, zone)
    run = this.at(weekday, clock, zone)
    if run > now:
        this = this.shift(-1)
        run = this.at(weekday, clock, zone)
    return this.shift(-1), run
