"""Business hours: the config model, deadlines counted in business time, and DST in awkward zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.domain.business_hours import (
    BusinessHours,
    add_business_time,
    business_time_between,
    due_after,
    local_instant,
    next_business_morning,
    parse_days,
    windows,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NEW_YORK = ZoneInfo("America/New_York")
HAVANA = ZoneInfo("America/Havana")
SANTIAGO = ZoneInfo("America/Santiago")
OFFICE = BusinessHours()  # mon-fri 09:00-17:00
ALL_DAY = BusinessHours(days="mon-sun", start="00:00", end="24:00")
H = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: ZoneInfo, *args: int) -> datetime:
    """A local wall time (first occurrence if ambiguous) as a UTC instant."""
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def exists(zone: ZoneInfo, naive: datetime) -> bool:
    return wall(naive.replace(tzinfo=zone).astimezone(UTC), zone) == naive


# --- the model -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("tue-thu", {1, 2, 3}),
        ("mon,wed,fri", {0, 2, 4}),
        ("sat-sun", {5, 6}),
        ("mon-fri,sun", {0, 1, 2, 3, 4, 6}),
        ("fri-mon", {4, 5, 6, 0}),
        ("sun-sat", {0, 1, 2, 3, 4, 5, 6}),
        ("wed-wed", {2}),
        (" Mon - Wed , SAT ", {0, 1, 2, 5}),
    ],
)
def test_parse_days(text: str, days: set[int]) -> None:
    assert parse_days(text) == frozenset(days)
    assert BusinessHours(days=text).days == frozenset(days)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mon-frx", "'frx' is not a day (in 'mon-frx'); use mon, tue, wed, thu, fri, sat, sun"),
        ("monday", "'monday' is not a day; use mon, tue, wed, thu, fri, sat, sun"),
        ("mon,,fri", "'' is not a day (in 'mon,,fri')"),
        ("mon-tue-wed", "'tue-wed' is not a day (in 'mon-tue-wed')"),
        ("  ", "days is empty; write e.g. mon-fri or mon,wed,fri"),
    ],
)
def test_parse_days_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_days(text)


def test_defaults_and_parsed_inputs() -> None:
    assert OFFICE.days == frozenset(range(5))
    assert (OFFICE.start, OFFICE.end) == (time(9), time(17))
    assert BusinessHours(days=[0, 2, 4], start=time(8, 30), end="24:00") == BusinessHours(
        days="mon,wed,fri", start="08:30", end=time(0)
    )
    assert BusinessHours.model_validate(ALL_DAY.model_dump()) == ALL_DAY


def test_unquoted_yaml_times_read_as_base_60_integers() -> None:
    # PyYAML turns `end: 17:00` into 1020 and `24:00` into 1440; `08:30` stays a string
    data = yaml.safe_load("days: mon-fri\nstart: 08:30\nend: 17:00")
    assert data["end"] == 1020
    assert BusinessHours.model_validate(data) == BusinessHours(start="08:30", end="17:00")
    assert BusinessHours.model_validate(yaml.safe_load("start: 00:00\nend: 24:00")).end == time(0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start": "09:00", "end": "08:00"}, "end 08:00 must be after start 09:00"),
        ({"start": "09:00", "end": "09:00"}, "end 09:00 must be after start 09:00"),
        ({"end": "00:00"}, "end 00:00 is the start of a day; write 24:00 for midnight at the end of the day"),
        ({"start": "24:00"}, "start '24:00' is not a time of day"),
        ({"end": "17:60"}, "end '17:60' is not a time of day"),
        ({"start": "9am"}, "start '9am' is not a time; write HH:MM"),
        ({"days": []}, "days [] must name at least one day"),
        ({"days": [7]}, "days [7] must name at least one day"),
        ({"days": "mon-frx"}, "'frx' is not a day"),
    ],
)
def test_validation_errors(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BusinessHours(**fields)
    assert caught.value.errors()[0]["msg"].removeprefix("Value error, ").startswith(message)


def test_model_is_strict_and_frozen() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        BusinessHours(timezone="UTC")
    with pytest.raises(ValidationError):
        OFFICE.start = time(8)  # type: ignore[misc]


# --- worked examples (Stockholm office, mon-fri 09-17) --------------------------------------------------


def test_friday_afternoon_plus_two_hours_is_monday_morning() -> None:
    friday = local(STOCKHOLM, 2026, 11, 20, 16)
    assert add_business_time(friday, 2 * H, STOCKHOLM, OFFICE) == local(STOCKHOLM, 2026, 11, 23, 10)


def test_weekend_start_counts_from_monday_opening() -> None:
    saturday = local(STOCKHOLM, 2026, 11, 21, 12)
    assert add_business_time(saturday, H, STOCKHOLM, OFFICE) == local(STOCKHOLM, 2026, 11, 23, 10)
    assert add_business_time(saturday, timedelta(0), STOCKHOLM, OFFICE) == local(STOCKHOLM, 2026, 11, 23, 9)


def test_one_day_is_24_business_hours_or_three_working_days() -> None:
    monday = local(STOCKHOLM, 2026, 11, 23, 9)
    wednesday_close = local(STOCKHOLM, 2026, 11, 25, 17)
    assert add_business_time(monday, timedelta(days=1), STOCKHOLM, OFFICE) == wednesday_close
    assert business_time_between(monday, wednesday_close, STOCKHOLM, OFFICE) == 24 * H


def test_zero_duration() -> None:
    inside = local(STOCKHOLM, 2026, 11, 23, 11, 17)
    assert add_business_time(inside, timedelta(0), STOCKHOLM, OFFICE) == inside
    at_close = local(STOCKHOLM, 2026, 11, 23, 17)
    assert add_business_time(at_close, timedelta(0), STOCKHOLM, OFFICE) == local(STOCKHOLM, 2026, 11, 24, 9)


def test_due_after() -> None:
    friday = local(STOCKHOLM, 2026, 11, 20, 16)
    assert due_after(friday, 2 * H, STOCKHOLM, None) == friday + 2 * H
    assert due_after(friday, 2 * H, STOCKHOLM, OFFICE) == local(STOCKHOLM, 2026, 11, 23, 10)
    # round the clock is plain UTC arithmetic, whatever the zone's DST does
    before_dst = local(STOCKHOLM, 2026, 3, 28, 12)
    assert due_after(before_dst, timedelta(days=1), STOCKHOLM, None) == before_dst + 24 * H


@pytest.mark.parametrize(
    ("now", "morning"),
    [
        ((2026, 11, 20, 20), (2026, 11, 23, 9)),  # Friday evening → Monday
        ((2026, 11, 23, 7), (2026, 11, 24, 9)),  # Monday before opening → Tuesday, not today
        ((2026, 11, 23, 12), (2026, 11, 24, 9)),
        ((2026, 11, 22, 23, 59), (2026, 11, 23, 9)),  # Sunday night
    ],
)
def test_next_business_morning(now: tuple[int, ...], morning: tuple[int, ...]) -> None:
    assert next_business_morning(local(STOCKHOLM, *now), STOCKHOLM, OFFICE) == local(STOCKHOLM, *morning)


def test_between_is_zero_backwards_and_outside_hours() -> None:
    monday = local(STOCKHOLM, 2026, 11, 23, 10)
    assert business_time_between(monday, monday - H, STOCKHOLM, OFFICE) == timedelta(0)
    assert business_time_between(monday, monday, STOCKHOLM, OFFICE) == timedelta(0)
    weekend = local(STOCKHOLM, 2026, 11, 21, 0), local(STOCKHOLM, 2026, 11, 23, 0)
    assert business_time_between(*weekend, STOCKHOLM, OFFICE) == timedelta(0)


def test_bad_inputs() -> None:
    naive = datetime(2026, 11, 23, 9)
    for call in (
        lambda: add_business_time(naive, H, STOCKHOLM, OFFICE),
        lambda: business_time_between(naive, naive, STOCKHOLM, OFFICE),
        lambda: next_business_morning(naive, STOCKHOLM, OFFICE),
        lambda: next(windows(naive, STOCKHOLM, OFFICE)),
        lambda: due_after(naive, H, STOCKHOLM, None),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()
    with pytest.raises(ValueError, match="negative"):
        add_business_time(utc(2026, 11, 23), -H, STOCKHOLM, OFFICE)


def test_no_business_days_fails_instead_of_looping() -> None:
    never = BusinessHours.model_construct(days=frozenset(), start=time(9), end=time(17))
    with pytest.raises(ValueError, match="no business hours within 3700 days"):
        add_business_time(utc(2026, 11, 23), H, STOCKHOLM, never)
    with pytest.raises(ValueError, match="no business hours"):
        next_business_morning(utc(2026, 11, 23), STOCKHOLM, never)
    assert business_time_between(utc(2026, 1, 1), utc(2027, 1, 1), STOCKHOLM, never) == timedelta(0)


# --- DST -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "length"),
    [
        (STOCKHOLM, date(2026, 3, 29), 23 * H),
        (STOCKHOLM, date(2026, 10, 25), 25 * H),
        (NEW_YORK, date(2026, 3, 8), 23 * H),
        (NEW_YORK, date(2026, 11, 1), 25 * H),
        (HAVANA, date(2026, 3, 8), 23 * H),  # clocks jump at midnight
        (HAVANA, date(2026, 11, 1), 25 * H),  # midnight happens twice
        (SANTIAGO, date(2026, 9, 6), 23 * H),
        (SANTIAGO, date(2026, 4, 4), 25 * H),
    ],
)
def test_all_day_hours_are_real_elapsed_time_on_dst_days(zone: ZoneInfo, day: date, length: timedelta) -> None:
    midnight = local_instant(day, time(0), zone)
    next_midnight = local_instant(day + timedelta(days=1), time(0), zone)
    assert next_midnight - midnight == length
    assert business_time_between(midnight, next_midnight, zone, ALL_DAY) == length
    assert add_business_time(midnight, length, zone, ALL_DAY) == next_midnight
    # a week around the transition: business time is exactly UTC time
    start = midnight - timedelta(days=3, hours=5)
    assert add_business_time(start, timedelta(days=7), zone, ALL_DAY) == start + timedelta(days=7)
    assert business_time_between(start, start + timedelta(days=7), zone, ALL_DAY) == timedelta(days=7)


def test_office_hours_keep_local_wall_time_across_spring_forward() -> None:
    friday = local(STOCKHOLM, 2026, 3, 27, 16)  # 15:00 UTC (CET)
    monday = add_business_time(friday, 2 * H, STOCKHOLM, OFFICE)
    assert monday == utc(2026, 3, 30, 8)  # 10:00 CEST
    assert monday - friday == 65 * H  # not 66: the weekend was an hour short
    assert business_time_between(friday, monday, STOCKHOLM, OFFICE) == 2 * H


def test_new_york_window_across_fall_back_is_an_hour_longer() -> None:
    night = BusinessHours(days="sun", start="00:00", end="03:00")
    assert list(islice(windows(utc(2026, 10, 31), NEW_YORK, night), 2)) == [
        (utc(2026, 11, 1, 4), utc(2026, 11, 1, 8)),  # 00:00 EDT to 03:00 EST: four hours
        (utc(2026, 11, 8, 5), utc(2026, 11, 8, 8)),
    ]


def test_nonexistent_local_times_become_the_transition() -> None:
    # Stockholm springs forward at 02:00 CET (01:00 UTC) to 03:00 CEST
    assert local_instant(date(2026, 3, 29), time(2, 30), STOCKHOLM) == utc(2026, 3, 29, 1)
    assert local_instant(date(2026, 3, 29), time(2, 0), STOCKHOLM) == utc(2026, 3, 29, 1)
    assert local_instant(date(2026, 3, 29), time(3, 0), STOCKHOLM) == utc(2026, 3, 29, 1)
    assert local_instant(date(2026, 3, 29), time(1, 59), STOCKHOLM) == utc(2026, 3, 29, 0, 59)
    assert local_instant(date(2026, 3, 8), time(2, 30), NEW_YORK) == utc(2026, 3, 8, 7)
    # Lord Howe moves only 30 minutes, at 02:00 (+10:30) to 02:30 (+11)
    assert local_instant(date(2026, 10, 4), time(2, 15), ZoneInfo("Australia/Lord_Howe")) == utc(2026, 10, 3, 15, 30)


def test_ambiguous_local_times_take_the_first_occurrence() -> None:
    assert local_instant(date(2026, 10, 25), time(2, 30), STOCKHOLM) == utc(2026, 10, 25, 0, 30)  # CEST
    assert local_instant(date(2026, 11, 1), time(1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)  # EDT


def test_window_opening_in_the_gap_opens_at_the_transition() -> None:
    early = BusinessHours(days="mon-sun", start="02:30", end="05:00")
    assert list(islice(windows(utc(2026, 3, 28), STOCKHOLM, early), 3)) == [
        (utc(2026, 3, 28, 1, 30), utc(2026, 3, 28, 4)),  # CET
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 3)),  # 03:00-05:00 CEST: two hours
        (utc(2026, 3, 30, 0, 30), utc(2026, 3, 30, 3)),  # CEST
    ]


def test_window_closing_in_the_gap_closes_at_the_transition_and_empty_windows_are_skipped() -> None:
    closing = BusinessHours(days="sun", start="01:00", end="02:30")
    assert next(windows(utc(2026, 3, 28), STOCKHOLM, closing)) == (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1))
    swallowed = BusinessHours(days="sun", start="02:00", end="02:45")
    assert next(windows(utc(2026, 3, 28), STOCKHOLM, swallowed)) == (utc(2026, 4, 5, 0), utc(2026, 4, 5, 0, 45))
    assert business_time_between(utc(2026, 3, 28), utc(2026, 3, 30), STOCKHOLM, swallowed) == timedelta(0)


def test_window_starting_at_an_ambiguous_time() -> None:
    # 02:00 happens twice on 2026-10-25: the window opens at the first, and 03:00 comes only after the second
    hours = BusinessHours(days="sun", start="02:00", end="03:00")
    assert next(windows(utc(2026, 10, 24), STOCKHOLM, hours)) == (utc(2026, 10, 25, 0), utc(2026, 10, 25, 2))


def test_midnight_gap_in_havana() -> None:
    # the tz data really has Havana jumping from 00:00 CST to 01:00 CDT on 2026-03-08
    assert exists(HAVANA, datetime(2026, 3, 7, 23, 59))
    assert not exists(HAVANA, datetime(2026, 3, 8, 0, 0))
    assert not exists(HAVANA, datetime(2026, 3, 8, 0, 59))
    assert exists(HAVANA, datetime(2026, 3, 8, 1, 0))
    transition = utc(2026, 3, 8, 5)
    assert local_instant(date(2026, 3, 8), time(0), HAVANA) == transition
    assert wall(transition, HAVANA) == datetime(2026, 3, 8, 1)
    assert list(islice(windows(utc(2026, 3, 7, 12), HAVANA, ALL_DAY), 2)) == [
        (utc(2026, 3, 7, 12), transition),  # Saturday ends where Sunday starts: at 01:00 CDT
        (transition, utc(2026, 3, 9, 4)),
    ]
    mornings = BusinessHours(days="mon-sun", start="00:00", end="09:00")
    assert next_business_morning(local(HAVANA, 2026, 3, 7, 20), HAVANA, mornings) == transition


def test_midnight_gap_in_santiago() -> None:
    assert exists(SANTIAGO, datetime(2026, 9, 5, 23, 59))
    assert not exists(SANTIAGO, datetime(2026, 9, 6, 0, 30))
    assert local_instant(date(2026, 9, 6), time(0, 30), SANTIAGO) == utc(2026, 9, 6, 4)  # 01:00 -03
    sunday = BusinessHours(days="sun", start="00:00", end="02:00")
    assert business_time_between(utc(2026, 9, 5), utc(2026, 9, 7), SANTIAGO, sunday) == H


# --- properties ------------------------------------------------------------------------------------------

ZONES = [
    "Europe/Stockholm",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Santiago",
    "UTC",
]


def _transition_days(name: str) -> list[date]:
    """Local dates around each offset change in 2024-2030, so examples hit DST often."""
    zone, days = ZoneInfo(name), []
    instant, offset = utc(2024, 1, 1), utc(2024, 1, 1).astimezone(zone).utcoffset()
    while instant.year < 2031:
        instant += timedelta(days=1)
        if (now := instant.astimezone(zone).utcoffset()) != offset:
            offset = now
            days += [instant.astimezone(zone).date() + timedelta(days=k) for k in (-2, -1, 0)]
    return days or [date(2026, 3, 29)]


NEAR_TRANSITIONS = {name: _transition_days(name) for name in ZONES}
QUARTERS = st.integers(0, 96)  # quarter hours of the day, 96 = 24:00


def _hhmm(quarter: int) -> str:
    return f"{quarter // 4:02d}:{quarter % 4 * 15:02d}"


@st.composite
def cases(draw: st.DrawFn) -> tuple[ZoneInfo, BusinessHours, datetime]:
    name = draw(st.sampled_from(ZONES))
    first = draw(st.integers(0, 95))
    last = draw(st.integers(first + 1, 96))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    hours = BusinessHours(days=days, start=_hhmm(first), end=_hhmm(last))
    near = draw(st.sampled_from(NEAR_TRANSITIONS[name]))
    start = draw(
        st.one_of(
            st.datetimes(datetime(2024, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)),
            st.timedeltas(timedelta(0), timedelta(days=3)).map(
                lambda offset: datetime.combine(near, time(0), tzinfo=UTC) + offset
            ),
        )
    )
    return ZoneInfo(name), hours, start


DURATIONS = st.timedeltas(timedelta(0), timedelta(days=30))


@settings(max_examples=200, deadline=None)
@given(cases(), DURATIONS, DURATIONS)
def test_add_business_time_properties(
    case: tuple[ZoneInfo, BusinessHours, datetime], duration: timedelta, other: timedelta
) -> None:
    zone, hours, start = case
    result = add_business_time(start, duration, zone, hours)
    assert result.tzinfo is UTC
    assert result >= start
    assert business_time_between(start, result, zone, hours) == duration
    other_result = add_business_time(start, other, zone, hours)
    assert (result <= other_result) if duration <= other else (result >= other_result)
    if duration > timedelta(0):
        # inside a window or at its close: open < result <= close, i.e. the instant just before is in [open, close)
        just_before = result - timedelta(microseconds=1)
        assert next(windows(just_before, zone, hours))[0] == just_before


@settings(max_examples=200, deadline=None)
@given(cases(), DURATIONS)
def test_round_the_clock_is_utc_time(case: tuple[ZoneInfo, BusinessHours, datetime], duration: timedelta) -> None:
    zone, _, start = case
    assert add_business_time(start, duration, zone, ALL_DAY) == start + duration
    assert business_time_between(start, start + duration, zone, ALL_DAY) == duration


@settings(max_examples=200, deadline=None)
@given(cases())
def test_windows_are_ordered_and_disjoint(case: tuple[ZoneInfo, BusinessHours, datetime]) -> None:
    zone, hours, start = case
    previous_close = start
    for opens, closes in islice(windows(start, zone, hours), 20):
        assert previous_close <= opens < closes
        assert opens.tzinfo is UTC and closes.tzinfo is UTC
        previous_close = closes


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ZONES), st.datetimes(datetime(2024, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)))
def test_local_instant_round_trips_existing_times(name: str, instant: datetime) -> None:
    zone = ZoneInfo(name)
    instant = instant.replace(microsecond=0)
    shown = instant.astimezone(zone)
    found = local_instant(shown.date(), shown.time(), zone)
    assert wall(found, zone) == shown.replace(tzinfo=None)
    # fold=1 is the second showing of an ambiguous time; local_instant gives the first
    assert (found == instant) if shown.fold == 0 else (found < instant)


@st.composite
def local_times(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    name = draw(st.sampled_from(ZONES))
    day = draw(st.one_of(st.sampled_from(NEAR_TRANSITIONS[name]), st.dates(date(2024, 1, 1), date(2030, 12, 31))))
    minute = draw(st.integers(0, 24 * 60 - 1))
    return ZoneInfo(name), datetime.combine(day, time(minute // 60, minute % 60))


@settings(max_examples=200, deadline=None)
@given(local_times())
def test_local_instant_is_the_first_instant_showing_that_time_or_later(case: tuple[ZoneInfo, datetime]) -> None:
    zone, naive = case
    found = local_instant(naive.date(), naive.time(), zone)
    assert wall(found, zone) >= naive
    assert wall(found - timedelta(seconds=1), zone) < naive
    assert (wall(found, zone) == naive) == exists(zone, naive)
