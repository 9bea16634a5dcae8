"""Preferred contact hours and the suggested contact time, across zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.business_hours import BusinessHours
from bot.domain.contact_hours import format_contact_hours, next_open, parse_contact_hours, suggest_contact_time

STOCKHOLM, NEW_YORK, TOKYO = ZoneInfo("Europe/Stockholm"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")
OFFICE = BusinessHours()  # mon-fri 09:00-17:00


@pytest.mark.parametrize(("text", "days", "start", "end"), [
    ("tue-thu 10:00-12:00", {1, 2, 3}, time(10), time(12)),
    ("mon,wed 14:00-16:30", {0, 2}, time(14), time(16, 30)),
    ("  fri-mon 8:00 - 24:00 ", {4, 5, 6, 0}, time(8), time(0)),
])
def test_contact_hours_are_parsed(text: str, days: set[int], start: time, end: time) -> None:
    hours = parse_contact_hours(text)
    assert (set(hours.days), hours.start, hours.end) == (days, start, end)
    assert parse_contact_hours(format_contact_hours(hours)) == hours


@pytest.mark.parametrize(("text", "message"), [
    ("", "write days and times like tue-thu 10:00-12:00"),
    ("10:00-12:00", "write days and times"),
    ("tue-thu", "write days and times"),
    ("tus-thu 10:00-12:00", "'tus' is not a day"),
    ("tue-thu 12:00-10:00", "must be after start"),
    ("tue-thu 10:00-25:00", "not a time of day"),
])
def test_bad_contact_hours_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_contact_hours(text)


def test_the_suggestion_falls_in_both_parties_hours() -> None:
    # Monday 2026-11-23 08:00 UTC; the customer in New York wants tue-thu 10:00-12:00 (15:00-17:00 UTC);
    # the advocate in Stockholm works 09:00-17:00 (08:00-16:00 UTC): the overlap is Tuesday 15:00-16:00 UTC.
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    got = suggest_contact_time(now, NEW_YORK, parse_contact_hours("tue-thu 10:00-12:00"), STOCKHOLM, OFFICE)
    assert got == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert got.astimezone(NEW_YORK).hour == 10 and got.astimezone(STOCKHOLM).hour == 16


def test_without_an_overlap_the_customers_hours_win() -> None:
    # Tokyo 10:00-12:00 is 01:00-03:00 UTC; the Stockholm advocate never works then.
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    got = suggest_contact_time(now, TOKYO, parse_contact_hours("mon-fri 10:00-12:00"), STOCKHOLM, OFFICE)
    assert got == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 10:00 in Tokyo


def test_preferred_hours_follow_the_customers_dst() -> None:
    # New York leaves DST on Sunday 2026-11-01: 10:00 local is 14:00 UTC before, 15:00 UTC after.
    hours = parse_contact_hours("mon-sun 10:00-11:00")
    before = suggest_contact_time(datetime(2026, 10, 31, 0, 0, tzinfo=UTC), NEW_YORK, hours, NEW_YORK, hours)
    after = suggest_contact_time(datetime(2026, 11, 1, 12, 0, tzinfo=UTC), NEW_YORK, hours, NEW_YORK, hours)
    assert (before, after) == (datetime(2026, 10, 31, 14, 0, tzinfo=UTC), datetime(2026, 11, 1, 15, 0, tzinfo=UTC))


def test_inside_the_hours_now_is_the_time() -> None:
    now = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)  # Tuesday 11:30 in Stockholm
    assert next_open(now, STOCKHOLM, OFFICE) == now
    assert next_open(datetime(2026, 11, 28, 10, 0, tzinfo=UTC), STOCKHOLM, OFFICE) == datetime(
        2026, 11, 30, 8, 0, tzinfo=UTC)  # Saturday → Monday 09:00 local
