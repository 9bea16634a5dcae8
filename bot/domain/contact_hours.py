"""When to reach a customer: their preferred contact hours, and a time that suits the advocate too.

Preferred hours are written like business hours on one line, in the customer's zone:
``tue-thu 10:00-12:00``, ``mon,wed 14:00-16:30``, ``mon-fri 09:00-17:00``. No Slack here; instants in
and out are aware UTC datetimes, windows are drawn on each party's own local calendar.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from bot.domain.business_hours import DAY_NAMES, BusinessHours, windows

_HOURS = re.compile(r"^\s*(?P<days>[a-zA-Z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")
SEARCH_DAYS = 21  # how far ahead a time that suits both is looked for, before the customer's hours alone win


def parse_contact_hours(text: str) -> BusinessHours:
    """``tue-thu 10:00-12:00`` → the days and hours; a ValueError says what is wrong and how to write it."""
    match = _HOURS.match(text or "")
    if match is None:
        raise ValueError(f"{text!r} is not contact hours; write days and times like tue-thu 10:00-12:00")
    try:
        return BusinessHours(days=match["days"].replace(" ", ""), start=match["start"], end=match["end"])
    except ValidationError as exc:
        reason = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise ValueError(f"{text!r}: {reason}") from None


def format_contact_hours(hours: BusinessHours) -> str:
    days = sorted(hours.days)
    runs: list[str] = []
    i = 0
    while i < len(days):
        j = i
        while j + 1 < len(days) and days[j + 1] == days[j] + 1:
            j += 1
        runs.append(DAY_NAMES[days[i]] if i == j else f"{DAY_NAMES[days[i]]}-{DAY_NAMES[days[j]]}")
        i = j + 1
    end = "24:00" if hours.end.hour == 0 and hours.end.minute == 0 else hours.end.strftime("%H:%M")
    return f"{','.join(runs)} {hours.start.strftime('%H:%M')}-{end}"


def next_open(now: datetime, zone: ZoneInfo, hours: BusinessHours) -> datetime:
    """``now`` if it falls inside the hours, else the next time they open."""
    opens, _ = next(windows(now, zone, hours))
    return opens


def suggest_contact_time(now: datetime, customer_zone: ZoneInfo, preferred: BusinessHours | None,
                         advocate_zone: ZoneInfo, advocate_hours: BusinessHours) -> datetime:
    """The first moment from ``now`` inside the customer's preferred hours that is also inside the
    advocate's working hours; if none comes within ``SEARCH_DAYS``, the customer's first preferred time
    (their hours are the promise; the advocate can make an exception). Without preferred hours, the
    first time both are at work, the customer's working day taken as the advocate's hours in their zone.
    """
    preferred = preferred or advocate_hours
    horizon = now + timedelta(days=SEARCH_DAYS)
    theirs = windows(now, customer_zone, preferred)
    ours = windows(now, advocate_zone, advocate_hours)
    a, b = next(theirs), next(ours)
    first = a[0]
    while a[0] < horizon and b[0] < horizon:
        start, end = max(a[0], b[0]), min(a[1], b[1])
        if start < end:
            return start
        if a[1] <= b[1]:
            a = next(theirs)
        else:
            b = next(ours)
    return first
