"""ISO weeks on the team's calendar, and when the weekly digest runs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.weeks import Week, last_weeks, latest_run

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def test_a_week_is_monday_to_monday_on_the_teams_clock() -> None:
    start, end = Week.parse("2026-W47").bounds(STOCKHOLM)
    assert (start, end) == (datetime(2026, 11, 15, 23, 0, tzinfo=UTC), datetime(2026, 11, 22, 23, 0, tzinfo=UTC))
    assert str(Week.of(datetime(2026, 11, 22, 22, 59, tzinfo=UTC), STOCKHOLM)) == "2026-W47"  # Sunday 23:59
    assert str(Week.of(datetime(2026, 11, 22, 23, 0, tzinfo=UTC), STOCKHOLM)) == "2026-W48"  # Monday 00:00


def test_dst_weeks_are_an_hour_shorter_or_longer() -> None:
    spring = Week.parse("2026-W13").bounds(STOCKHOLM)  # clocks go forward on Sunday 29 March
    autumn = Week.parse("2026-W43").bounds(STOCKHOLM)  # and back on Sunday 25 October
    assert spring[1] - spring[0] == timedelta(hours=167) and autumn[1] - autumn[0] == timedelta(hours=169)


def test_weeks_cross_years() -> None:
    assert str(Week.parse("2026-W01").shift(-1)) == "2025-W52"
    assert str(Week.parse("2026-W53").shift(1)) == "2027-W01"  # 2026 has 53 ISO weeks
    assert [str(w) for w in last_weeks(Week.parse("2026-W02"), 3)] == ["2025-W52", "2026-W01", "2026-W02"]


@pytest.mark.parametrize("text", ["2026-47", "2026-W4", "W47", "2025-W53"])
def test_bad_weeks_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Week.parse(text)


def test_the_digest_runs_monday_0900_for_the_week_just_ended() -> None:
    monday_0900 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 09:00 in Stockholm
    week, run = latest_run(monday_0900, 0, time(9), STOCKHOLM)
    assert (str(week), run) == ("2026-W47", monday_0900)
    week, run = latest_run(monday_0900 - timedelta(seconds=1), 0, time(9), STOCKHOLM)
    assert (str(week), run) == ("2026-W46", monday_0900 - timedelta(weeks=1))
    week, run = latest_run(monday_0900 + timedelta(days=3), 0, time(9), STOCKHOLM)  # down till Thursday
    assert (str(week), run) == ("2026-W47", monday_0900)
