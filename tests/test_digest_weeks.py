"""The weekly digest over known histories, every figure checked: the JSON of ``advocacy-bot digest``.

These pin what ``bot.domain.digest.digest`` returns, never how it is computed (the figures were first
computed in Python, now by SQL aggregates; these histories give the same numbers for both). The
definitions are in the README, "Figures and their definitions". Histories are written straight into the
database, shaped as the domain functions write them: ``customers.create_customer``/``update_customer``
for customers and their status rows, and what ``resolution.resolve``/``close``/``reopen`` and ``cadence``
write on a case (a reopen clears ``resolved_at`` and keeps the resolution it undid in its ``reopened``
event). The team's clock is Europe/Stockholm unless a test says otherwise; every expected number has its
reason in a comment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from bot.config import TeamConfig, parse_config
from bot.domain.customers import create_customer, update_customer
from bot.domain.digest import digest
from bot.domain.records import add_event
from bot.domain.resolution import remind_at, reopen_count
from bot.domain.weeks import Week
from storage.db import Database
from storage.models import Case, CaseDepartment, CheckIn, Customer, CustomerUpdate, Feedback, PreventionAction, Reminder

STOCKHOLM = ZoneInfo("Europe/Stockholm")
W45, W46, W47, W48 = (Week(2026, n) for n in (45, 46, 47, 48))  # W47: Monday 16 to Monday 23 November 2026
EARLY = datetime(2026, 1, 5, 9, tzinfo=UTC)  # long before every week here
TICK = timedelta(microseconds=1)


@pytest.fixture
def team_config(team: dict[str, Any]) -> TeamConfig:
    """The test team (Europe/Stockholm) with a weekly digest: P1s open longer than 3 days need attention."""
    team["digest"] = {"day": "monday", "time": "09:00", "attention_after": "3d"}
    return parse_config(team)


# ---------------------------------------------------------------- time


def local(day: date, hour: int = 0, minute: int = 0, zone: ZoneInfo = STOCKHOLM) -> datetime:
    """A wall-clock time in ``zone`` as an aware UTC instant."""
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def t(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Stockholm wall-clock time ``day`` days after Monday 16 November 2026, W47's first day (negative: before)."""
    return local(date(2026, 11, 16) + timedelta(days=day), hour, minute)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def bounds(week: Week, zone: ZoneInfo = STOCKHOLM) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 on the team's wall clock, worked out here independently."""
    monday = date.fromisocalendar(week.year, week.number, 1)
    return local(monday, zone=zone), local(monday + timedelta(weeks=1), zone=zone)


# ---------------------------------------------------------------- expected figures


def flow(open_at_start: int, opened: int, resolved: int, reopened: int, open_at_end: int) -> dict[str, int]:
    return {"open_at_start": open_at_start, "opened": opened, "resolved": resolved, "reopened": reopened,
            "open_at_end": open_at_end}


def hours(p50: float | None, p90: float | None, n: int) -> dict[str, Any]:
    return {"p50": p50, "p90": p90, "n": n}


def compliance(*, on_time: int, late: int, missed: int, ratio: float | None) -> dict[str, Any]:
    return {"on_time": on_time, "late": late, "missed": missed, "due": on_time + late + missed, "ratio": ratio}


def nps(score: int | None, promoters: int, passives: int, detractors: int, n: int) -> dict[str, Any]:
    return {"score": score, "promoters": promoters, "passives": passives, "detractors": detractors, "n": n}


def csat(score: int | None, satisfied: int, n: int) -> dict[str, Any]:
    return {"score": score, "satisfied": satisfied, "n": n}


def retention(active_at_start: int, churned: int, turned_at_risk: int, ratio: float | None) -> dict[str, Any]:
    return {"active_at_start": active_at_start, "churned": churned, "turned_at_risk": turned_at_risk,
            "ratio": ratio}


def recurrence(recurrences: int, resolved: int, ratio: float | None) -> dict[str, Any]:
    return {"recurrences": recurrences, "resolved": resolved, "ratio": ratio}


def blank(week: Week, zone: ZoneInfo = STOCKHOLM) -> dict[str, Any]:
    """The figures of a week in which nothing happened and nothing was open or at risk."""
    start, end = bounds(week, zone)
    return {
        "week": str(week), "start": iso(start), "end": iso(end),
        "cases_opened": 0, "cases_resolved": 0, "cases_reopened": 0, "open_at_end": 0,
        "by_severity": {}, "by_department": {},
        "time_to_resolution_hours": hours(None, None, 0),
        "first_response_hours": {},
        "update_compliance": compliance(on_time=0, late=0, missed=0, ratio=None),
        "nps": nps(None, 0, 0, 0, 0),
        "csat": csat(None, 0, 0),
        "checkins": {"done": 0, "due": 0},
        "retention": retention(0, 0, 0, None),
        "recurrence": recurrence(0, 0, None),
        "prevention_overdue": 0,
        "revenue_at_risk": "0.00",
        "at_risk_customer_revenue": "0.00",
        "credits_issued": "0.00",
    }


NO_ATTENTION: dict[str, list[Any]] = {"p1_open_long": [], "escalated_to_leadership": [], "detractors": [],
                                      "customers_turned": []}


def ref(number: int, severity: str, impact: str | None = None, customer: str = "Acme") -> dict[str, Any]:
    """A case as the digest lists it (top cases, attention)."""
    return {"number": number, "channel_id": f"C0CASE{number}", "customer": customer, "severity": severity,
            "impact": impact}


def whole(figures: dict[str, Any], previous: dict[str, Any], *, top_cases: list[dict[str, Any]] | None = None,
          attention: dict[str, Any] | None = None, overdue_now: int = 0) -> dict[str, Any]:
    """A digest: the week's figures, what it adds to them, and the week before's figures."""
    return {**figures, "updates_overdue_now": overdue_now, "top_cases": top_cases or [],
            "attention": attention or NO_ATTENTION, "previous": previous}


def read(db: Database, week: Week, config: TeamConfig, now: datetime | None = None) -> dict[str, Any]:
    """The digest of ``week`` as ``advocacy-bot digest --format json`` prints it."""
    with db.transaction() as session:
        data = digest(session, week, config, now=now)
    assert json.loads(json.dumps(data)) == data  # JSON as it is, no Decimal or datetime left in it
    return data


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


def assert_flow_adds_up(data: dict[str, Any]) -> None:
    """open at end = open at start + opened - resolved + reopened, in total (open at start being the week
    before's open at end) and for each severity and department; severities add up to the total."""
    prev = data["previous"]
    assert data["open_at_end"] == (prev["open_at_end"] + data["cases_opened"] - data["cases_resolved"]
                                   + data["cases_reopened"])
    for counts in [*data["by_severity"].values(), *data["by_department"].values()]:
        assert counts["open_at_end"] == (counts["open_at_start"] + counts["opened"] - counts["resolved"]
                                         + counts["reopened"])
    severities = data["by_severity"].values()
    assert [sum(c[k] for c in severities) for k in ("open_at_start", "opened", "resolved", "reopened", "open_at_end")
            ] == [prev["open_at_end"], data["cases_opened"], data["cases_resolved"], data["cases_reopened"],
                  data["open_at_end"]]


# ---------------------------------------------------------------- writing histories


def customer(session: Session, name: str, created: datetime = EARLY, *changes: tuple[datetime, str],
             revenue: str | None = None) -> Customer:
    """A customer created at ``created`` (its first status row), then each (time, status) change in order."""
    row = create_customer(session, {"name": name, "annual_revenue": Decimal(revenue) if revenue else None},
                          by="import", now=created)
    for at, status in changes:
        update_customer(session, row, {"status": status}, by="U01ADV", now=at)
    session.flush()
    return row


def case(session: Session, number: int, who: Customer, created: datetime, *, severity: str = "p2",
         impact: str | None = None, departments: Mapping[str, datetime | None] | None = None) -> Case:
    """An open case; each department is asked when it is opened and answers at the time given (None: not yet)."""
    row = Case(number=number, customer_id=who.id, summary=f"case {number}", severity=severity, status="new",
               owner_id="U01ADV", reporter_id="U30REQ", impact=Decimal(impact) if impact else None,
               channel_id=f"C0CASE{number}", created_at=created, updated_at=created)
    session.add(row)
    session.flush()
    for department, answered in (departments or {}).items():
        session.add(CaseDepartment(case_id=row.id, department=department, heads=["U10BILL"], asked_at=created,
                                   answered_by="U10BILL" if answered else None, answered_at=answered))
    add_event(session, row, at=created, actor="U30REQ", kind="opened")
    session.flush()
    return row


def resolve(session: Session, row: Case, at: datetime, *, credits: str | None = None,
            recurrence_of: Case | None = None) -> None:
    """What ``resolution.resolve`` writes on the case (its final update and actions are added apart)."""
    row.status, row.resolved_at, row.closed_at = "resolved", at, None
    row.resolution, row.root_cause_category, row.root_cause = "fixed", "product-defect", "a bug"
    row.credits = Decimal(credits) if credits else None
    row.recurrence_of_id = recurrence_of.id if recurrence_of is not None else None
    row.next_update_due, row.updated_at = None, at
    add_event(session, row, at=at, actor="U01ADV", kind="resolved", text="fixed")
    session.flush()


def close(session: Session, row: Case, at: datetime) -> None:
    """What ``resolution.close`` writes: the resolution stays."""
    row.status, row.closed_at, row.updated_at = "closed", at, at
    add_event(session, row, at=at, actor="U01ADV", kind="closed", data={"archive": False})
    session.flush()


def reopen(session: Session, row: Case, at: datetime) -> None:
    """What ``resolution.reopen`` writes: the event keeps the resolution it undoes; the case is open again."""
    data = {"from": row.status, "reopen": reopen_count(session, row) + 1, "channel_id": row.channel_id,
            "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
            "closed_at": row.closed_at.isoformat() if row.closed_at else None}
    row.status, row.reopened_at, row.updated_at = "investigating", at, at
    row.resolved_at = row.closed_at = None
    add_event(session, row, at=at, actor="U01ADV", kind="reopened", text="it came back", data=data)
    session.flush()


def updated(session: Session, row: Case, due: datetime, at: datetime) -> None:
    """A customer update made at ``at`` for the due time ``due`` (as ``cadence.record_customer_update``)."""
    session.add(CustomerUpdate(case_id=row.id, at=at, by="U01ADV", text="news", via="email", source="command",
                               due_at=due, on_time=at <= due))
    session.flush()


def step(session: Session, row: Case, due: datetime, name: str, fire_at: datetime, status: str) -> None:
    """One reminder step of the period (case, ``due``), in the state the tick left it."""
    session.add(Reminder(key=f"reminder:{row.id}:{due.isoformat()}:{name}@{fire_at.isoformat()}", case_id=row.id,
                         due_at=due, step=name, fire_at=fire_at, status=status, created_at=due - timedelta(days=1)))
    session.flush()


def answer(session: Session, who: Customer, at: datetime, *, nps: int | None = None,
           csat: int | None = None) -> None:
    session.add(Feedback(key=f"{who.id}:{at.isoformat()}:{nps}:{csat}", customer_id=who.id, advocate_id="U01ADV",
                         at=at, source="survey", channel="survey", nps=nps, csat=csat, created_at=at))
    session.flush()


def checkin(session: Session, who: Customer, due: datetime, status: str, *, done: datetime | None = None) -> None:
    session.add(CheckIn(key=f"checkin:{who.id}:{due.isoformat()}", customer_id=who.id, kind="cadence", due_at=due,
                        prompt_at=due, status=status, advocate_id="U01ADV", prompts=1, done_at=done,
                        done_by="U01ADV" if done else None, created_at=due - timedelta(days=30)))
    session.flush()


def action(session: Session, row: Case, due_on: date, created: datetime, config: TeamConfig, *,
           status: str = "open", done: datetime | None = None) -> None:
    """A prevention action of the case, added when it was resolved (``created``)."""
    session.add(PreventionAction(case_id=row.id, what="a fix", owner_id="U01ADV", due_on=due_on,
                                 remind_at=remind_at(due_on, config), status=status, done_at=done,
                                 done_by="U01ADV" if done else None, created_by="U01ADV", created_at=created))
    session.flush()


# ---------------------------------------------------------------- 1. empty


def test_an_empty_database_gives_an_empty_week_and_week_before(db: Database, team_config: TeamConfig) -> None:
    data = read(db, W47, team_config)
    assert data == {
        "week": "2026-W47", "start": "2026-11-15T23:00:00Z", "end": "2026-11-22T23:00:00Z",
        "cases_opened": 0, "cases_resolved": 0, "cases_reopened": 0, "open_at_end": 0,
        "by_severity": {}, "by_department": {},
        "time_to_resolution_hours": {"p50": None, "p90": None, "n": 0},
        "first_response_hours": {},
        "update_compliance": {"on_time": 0, "due": 0, "late": 0, "missed": 0, "ratio": None},
        "nps": {"score": None, "promoters": 0, "passives": 0, "detractors": 0, "n": 0},
        "csat": {"score": None, "satisfied": 0, "n": 0},
        "checkins": {"done": 0, "due": 0},
        "retention": {"active_at_start": 0, "churned": 0, "turned_at_risk": 0, "ratio": None},
        "recurrence": {"recurrences": 0, "resolved": 0, "ratio": None},
        "prevention_overdue": 0,
        "revenue_at_risk": "0.00",
        "at_risk_customer_revenue": "0.00",
        "credits_issued": "0.00",
        "updates_overdue_now": 0,
        "top_cases": [],
        "attention": {"p1_open_long": [], "escalated_to_leadership": [], "detractors": [], "customers_turned": []},
        "previous": {**blank(W46), "start": "2026-11-08T23:00:00Z", "end": "2026-11-15T23:00:00Z"},
    }
    # the helper the other tests use
    assert without(data, "updates_overdue_now", "top_cases", "attention", "previous") == blank(W47)


def test_everything_at_the_weeks_end_belongs_to_the_next_week(db: Database, team_config: TeamConfig) -> None:
    end = t(7)  # Monday 23 November 00:00 in Stockholm: W47's end, W48's first instant
    with db.transaction() as session:
        # Acme is created at the end and turns at-risk at once (after the creation row)
        acme = customer(session, "Acme", end, (end, "at-risk"), revenue="1000")
        # #1: a P1 opened at the end, billing answering at once; its update due then made then (on time);
        # its overdue and leadership steps fired then; a prevention action long overdue, but added then
        one = case(session, 1, acme, end, severity="p1", impact="100", departments={"billing": end})
        updated(session, one, end, end)
        step(session, one, end, "overdue", end, "fired")
        step(session, one, end, "leadership", end, "fired")
        action(session, one, date(2026, 11, 1), end, team_config)
        # #2: opened at the end, resolved an hour later with credits
        two = case(session, 2, acme, end, severity="p3")
        resolve(session, two, end + timedelta(hours=1), credits="5")
        answer(session, acme, end, nps=2, csat=5)
        checkin(session, acme, end, "done", done=end)
        acme_id = acme.id

    # W47 saw none of it, nor did W46
    assert read(db, W47, team_config) == whole(blank(W47), blank(W46))
    # W48 has all of it
    assert read(db, W48, team_config) == {
        **blank(W48),
        "cases_opened": 2, "cases_resolved": 1, "open_at_end": 1,  # #1 and #2 opened, #2 resolved
        "by_severity": {"p1": flow(0, 1, 0, 0, 1), "p3": flow(0, 1, 1, 0, 0)},
        "by_department": {"billing": flow(0, 1, 0, 0, 1)},
        "time_to_resolution_hours": hours(1.0, 1.0, 1),
        "first_response_hours": {"billing": hours(0.0, 0.0, 1)},
        "update_compliance": compliance(on_time=1, late=0, missed=0, ratio=1.0),
        "nps": nps(-100, 0, 0, 1, 1),
        "csat": csat(100, 1, 1),
        "checkins": {"done": 1, "due": 1},
        # Acme was not a customer yet at the start (new, out of the ratio), and turned at-risk in the week
        "retention": retention(0, 0, 1, None),
        "recurrence": recurrence(0, 1, 0.0),
        "prevention_overdue": 1,
        "revenue_at_risk": "100.00",
        "at_risk_customer_revenue": "1000.00",
        "credits_issued": "5.00",
        "updates_overdue_now": 0,
        "top_cases": [ref(1, "p1", "100.00")],
        "attention": {"p1_open_long": [ref(1, "p1", "100.00")],  # open for the whole week: longer than 3 days
                      "escalated_to_leadership": [ref(1, "p1", "100.00")],
                      "detractors": [{"customer_id": acme_id, "customer": "Acme", "nps": 2}],
                      "customers_turned": [{"customer_id": acme_id, "customer": "Acme", "status": "at-risk"}]},
        "previous": blank(W47),
    }


# ---------------------------------------------------------------- 2. cases spanning weeks


def spanning_history(db: Database) -> None:
    with db.transaction() as session:
        acme = customer(session, "Acme")
        # #1 P2 asked of billing and logistics: opened Wed W46, open through W47, resolved Tue W48 (13 days = 312 h)
        one = case(session, 1, acme, t(-5, 10), departments={"billing": None, "logistics": None})
        resolve(session, one, t(8, 10))
        # #2 P1 asked of billing, $1000 at stake: opened Thu W46 and never resolved
        case(session, 2, acme, t(-4, 15), severity="p1", impact="1000", departments={"billing": None})
        # #3 P3 asked of logistics, $500: opened Wed W47, resolved Thu W47 (36 h), never open at a week's end
        three = case(session, 3, acme, t(2, 9), severity="p3", impact="500", departments={"logistics": None})
        resolve(session, three, t(3, 21))


ACME_ALL_ALONG = retention(1, 0, 0, 1.0)  # Acme, a customer all along
SPANNING_WEEKS = {
    W45: {**blank(W45), "retention": ACME_ALL_ALONG},
    W46: {
        **blank(W46), "retention": ACME_ALL_ALONG,
        "cases_opened": 2, "open_at_end": 2,  # #1 and #2
        "by_severity": {"p1": flow(0, 1, 0, 0, 1), "p2": flow(0, 1, 0, 0, 1)},
        "by_department": {"billing": flow(0, 2, 0, 0, 2), "logistics": flow(0, 1, 0, 0, 1)},
        "revenue_at_risk": "1000.00",  # #2
    },
    W47: {
        **blank(W47), "retention": ACME_ALL_ALONG,
        "cases_opened": 1, "cases_resolved": 1, "open_at_end": 2,  # #3 opened and resolved; #1 and #2 open
        "by_severity": {"p1": flow(1, 0, 0, 0, 1), "p2": flow(1, 0, 0, 0, 1), "p3": flow(0, 1, 1, 0, 0)},
        "by_department": {"billing": flow(2, 0, 0, 0, 2), "logistics": flow(1, 1, 1, 0, 1)},
        "time_to_resolution_hours": hours(36.0, 36.0, 1),
        "recurrence": recurrence(0, 1, 0.0),
        "revenue_at_risk": "1000.00",
    },
    W48: {
        **blank(W48), "retention": ACME_ALL_ALONG,
        "cases_resolved": 1, "open_at_end": 1,  # #1 resolved, #2 still open
        # P3 had a case (#3) but nothing to count in the week: it is not listed
        "by_severity": {"p1": flow(1, 0, 0, 0, 1), "p2": flow(1, 0, 1, 0, 0)},
        "by_department": {"billing": flow(2, 0, 1, 0, 1), "logistics": flow(1, 0, 1, 0, 0)},
        "time_to_resolution_hours": hours(312.0, 312.0, 1),
        "recurrence": recurrence(0, 1, 0.0),
        "revenue_at_risk": "1000.00",
    },
}


def test_cases_spanning_weeks_are_counted_in_each_week(db: Database, team_config: TeamConfig) -> None:
    spanning_history(db)
    # #2 is a P1 open longer than 3 days at the end of each week, and the only open case with an impact
    two = ref(2, "p1", "1000.00")
    for week in (W46, W47, W48):
        data = read(db, week, team_config)
        assert data == whole(SPANNING_WEEKS[week], SPANNING_WEEKS[week.shift(-1)], top_cases=[two],
                             attention={**NO_ATTENTION, "p1_open_long": [two]})
        assert_flow_adds_up(data)


def test_a_week_so_far_is_cut_at_now(db: Database, team_config: TeamConfig) -> None:
    spanning_history(db)
    now = t(3, 12)  # Thursday noon of W47: #3 is open, not resolved yet
    assert read(db, W47, team_config, now=now) == whole(
        {**blank(W47), "end": iso(now), "retention": ACME_ALL_ALONG,
         "cases_opened": 1, "open_at_end": 3,
         "by_severity": {"p1": flow(1, 0, 0, 0, 1), "p2": flow(1, 0, 0, 0, 1), "p3": flow(0, 1, 0, 0, 1)},
         "by_department": {"billing": flow(2, 0, 0, 0, 2), "logistics": flow(1, 1, 0, 0, 2)},
         "revenue_at_risk": "1500.00"},  # #2 and #3
        SPANNING_WEEKS[W46],  # the week before is taken whole
        top_cases=[ref(2, "p1", "1000.00"), ref(3, "p3", "500.00")],
        attention={**NO_ATTENTION, "p1_open_long": [ref(2, "p1", "1000.00")]})


# ---------------------------------------------------------------- 3. reopened cases


def reopen_history(db: Database) -> None:
    with db.transaction() as session:
        acme = customer(session, "Acme")
        # A #1 P1, billing and logistics, $50k: opened Mon W46 10:00; resolved Tue W47, reopened Wed W47,
        # resolved again Thu W47 with $150 credits: two resolutions and one reopen in W47, closed at its end;
        # time to resolution from its opening to the last resolution: 10 days = 240 h
        a = case(session, 1, acme, t(-7, 10), severity="p1", impact="50000",
                 departments={"billing": None, "logistics": None})
        resolve(session, a, t(1, 10))
        reopen(session, a, t(2, 10))
        resolve(session, a, t(3, 10), credits="150")
        # B #2 P2 $2000: opened W45, resolved W46, reopened Fri W47: open at W47's end
        b = case(session, 2, acme, t(-14, 10), impact="2000")
        resolve(session, b, t(-4, 10))
        reopen(session, b, t(4, 10))
        # C #3 P2 $7000: opened W45, resolved Sat W46, reopened Tue W48: not open during W47 though open now
        c = case(session, 3, acme, t(-14, 10), impact="7000")
        resolve(session, c, t(-2, 10))
        reopen(session, c, t(8, 10))
        # D #4 P3 logistics $300: opened W46, resolved, closed, reopened (from closed) Sat W47: open at its end
        d = case(session, 4, acme, t(-6, 10), severity="p3", impact="300", departments={"logistics": None})
        resolve(session, d, t(-5, 10))
        close(session, d, t(-3, 10))
        reopen(session, d, t(5, 10))
        # E #5 P3 $900: opened at W47's first instant, resolved at Sun 23:59, reopened Wed W48:
        # a resolution of W47 (the reopen event keeps it) but no time to resolution (not resolved now)
        e = case(session, 5, acme, t(0), severity="p3", impact="900")
        resolve(session, e, t(6, 23, 59))
        reopen(session, e, t(9, 10))


W46_OF_REOPENS = {
    **blank(W46), "retention": retention(1, 0, 0, 1.0),
    # open at start: B, C; opened A, D; resolved B, C, D (their reopen events keep those resolutions); open at
    # the end: A (E is opened at the end itself, W47's)
    "cases_opened": 2, "cases_resolved": 3, "open_at_end": 1,
    "by_severity": {"p1": flow(0, 1, 0, 0, 1), "p2": flow(2, 0, 2, 0, 0), "p3": flow(0, 1, 1, 0, 0)},
    "by_department": {"billing": flow(0, 1, 0, 0, 1), "logistics": flow(0, 2, 1, 0, 1)},
    # B, C and D were reopened since: none of them is resolved in W46 now
    "time_to_resolution_hours": hours(None, None, 0),
    "revenue_at_risk": "50000.00",  # A
}
W47_OF_REOPENS = {
    **blank(W47), "retention": retention(1, 0, 0, 1.0),
    # open at start: A; opened: E; resolved: A twice, E; reopened: A, B, D; open at the end: B, D
    "cases_opened": 1, "cases_resolved": 3, "cases_reopened": 3, "open_at_end": 2,
    "by_severity": {"p1": flow(1, 0, 2, 1, 0), "p2": flow(0, 0, 0, 1, 1), "p3": flow(0, 1, 1, 1, 1)},
    "by_department": {"billing": flow(1, 0, 2, 1, 0), "logistics": flow(1, 0, 2, 2, 1)},
    "time_to_resolution_hours": hours(240.0, 240.0, 1),  # A only: E is not resolved now
    "recurrence": recurrence(0, 1, 0.0),  # cases resolved in the week now: A
    "revenue_at_risk": "2300.00",  # B $2000 + D $300; C and E are open now but were not then
    "credits_issued": "150.00",  # A
}


def test_reopened_cases(db: Database, team_config: TeamConfig) -> None:
    reopen_history(db)
    data = read(db, W47, team_config)
    # the top cases are those open at the end (B and D), not those open now (B, C, D, E)
    assert data == whole(W47_OF_REOPENS, W46_OF_REOPENS, top_cases=[ref(2, "p2", "2000.00"), ref(4, "p3", "300.00")])
    assert_flow_adds_up(data)
    # W48: C and E come back; B, C, D, E are all open at its end
    data = read(db, W48, team_config)
    assert data == whole(
        {**blank(W48), "retention": retention(1, 0, 0, 1.0),
         "cases_reopened": 2, "open_at_end": 4,
         # A (P1, billing) has nothing to count in W48: neither is listed
         "by_severity": {"p2": flow(1, 0, 0, 1, 2), "p3": flow(1, 0, 0, 1, 2)},
         "by_department": {"logistics": flow(1, 0, 0, 0, 1)},
         "revenue_at_risk": "10200.00"},
        W47_OF_REOPENS,
        top_cases=[ref(3, "p2", "7000.00"), ref(2, "p2", "2000.00"), ref(5, "p3", "900.00"), ref(4, "p3", "300.00")])
    assert_flow_adds_up(data)


def test_p1s_open_long_are_those_open_at_the_end_of_the_week(db: Database, team_config: TeamConfig) -> None:
    with db.transaction() as session:
        acme = customer(session, "Acme")
        # #1 P1: opened Mon W46, resolved in W48: open for 13 days at W47's end
        resolve(session, case(session, 1, acme, t(-7, 10), severity="p1"), t(8, 10))
        # #2 P1: opened W44, resolved W45, reopened in W48: not open at W47's end, though open now
        two = case(session, 2, acme, t(-21, 10), severity="p1")
        resolve(session, two, t(-14, 10))
        reopen(session, two, t(9, 10))
        # #3 P1 opened a microsecond more than 3 days before the end (listed); #4 a microsecond less (not)
        case(session, 3, acme, t(4) - TICK, severity="p1")
        case(session, 4, acme, t(4) + TICK, severity="p1")
    assert read(db, W47, team_config)["attention"]["p1_open_long"] == [ref(1, "p1"), ref(3, "p1")]


def test_a_p1_opened_exactly_attention_after_before_the_end_is_not_listed(db: Database,
                                                                          team_config: TeamConfig) -> None:
    with db.transaction() as session:
        case(session, 1, customer(session, "Acme"), t(4), severity="p1")  # Friday 00:00: exactly 3 days
    assert read(db, W47, team_config)["attention"]["p1_open_long"] == []


def test_without_a_digest_schedule_p1s_need_attention_after_the_default_3_days(db: Database,
                                                                             team: dict[str, Any]) -> None:
    """The CLI and /advocacy digest show the figures even when no weekly post is configured."""
    team.pop("digest", None)
    config = parse_config(team)
    assert config.digest is None
    with db.transaction() as session:
        acme = customer(session, "Acme")
        case(session, 1, acme, t(4) - TICK, severity="p1")
        case(session, 2, acme, t(4) + TICK, severity="p1")
    assert read(db, W47, config)["attention"]["p1_open_long"] == [ref(1, "p1")]


# ---------------------------------------------------------------- 4. week boundaries in the team's zone


@pytest.mark.parametrize(("zone", "w46_start", "w47_start", "w47_end"), [
    ("Europe/Stockholm", "2026-11-08T23:00:00Z", "2026-11-15T23:00:00Z", "2026-11-22T23:00:00Z"),
    ("America/New_York", "2026-11-09T05:00:00Z", "2026-11-16T05:00:00Z", "2026-11-23T05:00:00Z"),
    ("Asia/Kolkata", "2026-11-08T18:30:00Z", "2026-11-15T18:30:00Z", "2026-11-22T18:30:00Z"),
])
def test_the_week_starts_at_monday_midnight_in_the_teams_zone(db: Database, team: dict[str, Any], zone: str,
                                                              w46_start: str, w47_start: str, w47_end: str) -> None:
    config = parse_config({**team, "timezone": zone, "digest": {"attention_after": "3d"}})
    s = local(date(2026, 11, 16), zone=ZoneInfo(zone))  # W47's first instant
    b = s - TICK  # W46's last instant
    assert (iso(s), iso(s + timedelta(days=7))) == (w47_start, w47_end)
    with db.transaction() as session:
        acme = customer(session, "Acme")
        # status changes: K1 turns at-risk at b (W46), K2 at s (W47); K5 churns at b, K6 at s;
        # K4 is created at b (a customer at W47's start), K3 at s (not yet)
        customer(session, "K1", EARLY, (b, "at-risk"), revenue="1000")
        k2 = customer(session, "K2", EARLY, (s, "at-risk"), revenue="20000")
        customer(session, "K3", s)
        customer(session, "K4", b)
        customer(session, "K5", EARLY, (b, "churned"))
        k6 = customer(session, "K6", EARLY, (s, "churned"))
        # c1 opened at s ($100); c2 at b ($10); c3 opened in W46 and resolved at s after 2 h ($1000, credits,
        # a recurrence of c4); c4 opened in W46 and resolved at b after 10 h
        case(session, 1, acme, s, impact="100")
        case(session, 2, acme, b, impact="10")
        c4 = case(session, 4, acme, b - timedelta(hours=10))
        resolve(session, c4, b, credits="10")
        c3 = case(session, 3, acme, s - timedelta(hours=2), impact="1000")
        resolve(session, c3, s, credits="25.50", recurrence_of=c4)
        # X (W46): billing answers at s after 50 h; its update due at s is made before it (on time),
        # the one due at b after s (late)
        x = case(session, 10, acme, s - timedelta(hours=50), departments={"billing": s})
        updated(session, x, s, s - timedelta(hours=1))
        updated(session, x, b, s + timedelta(hours=1))
        # Y (W46): logistics answers at b after 30 h; its updates due at b and at s are missed
        y = case(session, 11, acme, b - timedelta(hours=30), departments={"logistics": b})
        step(session, y, b, "overdue", b, "fired")
        step(session, y, s, "overdue", s, "fired")
        # two old cases escalated to leadership, at s (W47) and at b (W46)
        for number, fired in ((20, s), (21, b)):
            old = case(session, number, acme, EARLY)
            resolve(session, old, EARLY + timedelta(days=1))
            step(session, old, EARLY + timedelta(hours=2), "leadership", fired, "fired")
        # feedback: a promoter at s, a detractor at b
        answer(session, acme, s, nps=10, csat=5)
        answer(session, acme, b, nps=0, csat=1)
        # check-ins: due at s; due and done at b; due in W46 and done at s
        checkin(session, acme, s, "scheduled")
        checkin(session, acme, b, "done", done=b)
        checkin(session, acme, s - timedelta(days=2), "done", done=s)
        # prevention actions of c4, added at b: due the last day of W46, the last day of W47, the day of W47's
        # end; and one due in W47 done at its very end (not before it: still overdue then)
        for due_on in (date(2026, 11, 15), date(2026, 11, 22), date(2026, 11, 23)):
            action(session, c4, due_on, b, config)
        action(session, c4, date(2026, 11, 20), b, config, status="done", done=s + timedelta(days=7))
        k2_id, k6_id = k2.id, k6.id

    data = read(db, W47, config)
    w46 = {
        **blank(W46, ZoneInfo(zone)), "start": w46_start, "end": w47_start,
        # opened c2, c3, c4, X, Y; resolved c4; open at the end c2, c3 (resolved at s, not before it), X, Y
        "cases_opened": 5, "cases_resolved": 1, "open_at_end": 4,
        "by_severity": {"p2": flow(0, 5, 1, 0, 4)},
        "by_department": {"billing": flow(0, 1, 0, 0, 1), "logistics": flow(0, 1, 0, 0, 1)},
        "time_to_resolution_hours": hours(10.0, 10.0, 1),
        "first_response_hours": {"logistics": hours(30.0, 30.0, 1)},
        "update_compliance": compliance(on_time=0, late=1, missed=1, ratio=0.0),
        "nps": nps(-100, 0, 0, 1, 1),
        "csat": csat(0, 0, 1),
        "checkins": {"done": 1, "due": 2},
        # Acme K1 K2 K5 K6 at the start; K5 churned; K1 turned at-risk
        "retention": retention(5, 1, 1, 0.8),
        "recurrence": recurrence(0, 1, 0.0),
        "prevention_overdue": 1,  # due 15 Nov, before the end's date (16 Nov)
        "revenue_at_risk": "1010.00",  # c2 and c3
        "at_risk_customer_revenue": "1000.00",  # K1 (K2 turns at the end itself)
        "credits_issued": "10.00",
    }
    assert data == {
        **blank(W47, ZoneInfo(zone)), "start": w47_start, "end": w47_end,
        # open at start c2, c3, X, Y; opened c1; resolved c3
        "cases_opened": 1, "cases_resolved": 1, "open_at_end": 4,
        "by_severity": {"p2": flow(4, 1, 1, 0, 4)},
        "by_department": {"billing": flow(1, 0, 0, 0, 1), "logistics": flow(1, 0, 0, 0, 1)},
        "time_to_resolution_hours": hours(2.0, 2.0, 1),
        "first_response_hours": {"billing": hours(50.0, 50.0, 1)},
        "update_compliance": compliance(on_time=1, late=0, missed=1, ratio=0.5),
        "nps": nps(100, 1, 0, 0, 1),
        "csat": csat(100, 1, 1),
        "checkins": {"done": 1, "due": 1},
        # Acme K1 (at-risk) K2 K4 K6 at the start; K6 churned; K2 turned at-risk
        "retention": retention(5, 1, 1, 0.8),
        "recurrence": recurrence(1, 1, 1.0),
        "prevention_overdue": 3,  # due 15, 22 and 20 (done at the end) Nov; not 23 Nov, the end's own date
        "revenue_at_risk": "110.00",  # c1 and c2
        "at_risk_customer_revenue": "21000.00",  # K1 and K2
        "credits_issued": "25.50",
        "updates_overdue_now": 0,
        "top_cases": [ref(1, "p2", "100.00"), ref(2, "p2", "10.00")],
        "attention": {**NO_ATTENTION, "escalated_to_leadership": [ref(20, "p2")],
                      "customers_turned": [{"customer_id": k2_id, "customer": "K2", "status": "at-risk"},
                                           {"customer_id": k6_id, "customer": "K6", "status": "churned"}]},
        "previous": w46,
    }
    assert_flow_adds_up(data)


# ---------------------------------------------------------------- 5. DST weeks


def test_the_spring_dst_week_is_167_hours(db: Database, team_config: TeamConfig) -> None:
    w12, w13, w14 = Week(2026, 12), Week(2026, 13), Week(2026, 14)
    # Stockholm springs forward on Sunday 29 March 2026 at 02:00: W13 ends at Monday 00:00 CEST = 22:00Z
    with db.transaction() as session:
        acme = customer(session, "Acme")
        # #1 opened Sat 28 Mar 12:00 CET, resolved Sun 29 Mar 12:00 CEST: 23 calendar hours
        one = case(session, 1, acme, local(date(2026, 3, 28), 12))
        resolve(session, one, local(date(2026, 3, 29), 12))
        # #2 ($50) opened Sun 23:30 CEST (21:30Z): W13's; #3 opened Mon 00:30 CEST (22:30Z): W14's, though
        # still Sunday 23:30 by the winter offset
        case(session, 2, acme, datetime(2026, 3, 29, 21, 30, tzinfo=UTC), impact="50")
        case(session, 3, acme, datetime(2026, 3, 29, 22, 30, tzinfo=UTC))
        # a promoter at W13's last instant, a detractor at W14's first
        answer(session, acme, datetime(2026, 3, 29, 22, tzinfo=UTC) - TICK, nps=9)
        answer(session, acme, datetime(2026, 3, 29, 22, tzinfo=UTC), nps=0)
        acme_id = acme.id

    a_customer = retention(1, 0, 0, 1.0)
    w13_figures = {
        **blank(w13), "retention": a_customer,
        "cases_opened": 2, "cases_resolved": 1, "open_at_end": 1,
        "by_severity": {"p2": flow(0, 2, 1, 0, 1)},
        "time_to_resolution_hours": hours(23.0, 23.0, 1),
        "nps": nps(100, 1, 0, 0, 1),
        "recurrence": recurrence(0, 1, 0.0),
        "revenue_at_risk": "50.00",
    }
    data = read(db, w13, team_config)
    assert (data["start"], data["end"]) == ("2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z")
    assert datetime.fromisoformat(data["end"]) - datetime.fromisoformat(data["start"]) == timedelta(hours=167)
    assert data == whole(w13_figures, {**blank(w12), "retention": a_customer, "start": "2026-03-15T23:00:00Z",
                                       "end": "2026-03-22T23:00:00Z"}, top_cases=[ref(2, "p2", "50.00")])
    data = read(db, w14, team_config)
    assert data == whole(
        {**blank(w14), "retention": a_customer, "start": "2026-03-29T22:00:00Z", "end": "2026-04-05T22:00:00Z",
         "cases_opened": 1, "open_at_end": 2,
         "by_severity": {"p2": flow(1, 1, 0, 0, 2)},
         "nps": nps(-100, 0, 0, 1, 1),
         "revenue_at_risk": "50.00"},
        w13_figures, top_cases=[ref(2, "p2", "50.00")],
        attention={**NO_ATTENTION, "detractors": [{"customer_id": acme_id, "customer": "Acme", "nps": 0}]})
    assert_flow_adds_up(data)


def test_the_autumn_dst_week_is_169_hours(db: Database, team_config: TeamConfig) -> None:
    w42, w43, w44 = Week(2026, 42), Week(2026, 43), Week(2026, 44)
    # Stockholm falls back on Sunday 25 October 2026 at 03:00: W43 runs from 18 Oct 22:00Z to 25 Oct 23:00Z
    with db.transaction() as session:
        acme = customer(session, "Acme")
        # #1 opened Sat 24 Oct 12:00 CEST, resolved Sun 25 Oct 12:00 CET: 25 calendar hours
        one = case(session, 1, acme, local(date(2026, 10, 24), 12))
        resolve(session, one, local(date(2026, 10, 25), 12))
        # #2 opened Sun 23:30 CET (22:30Z): W43's, though Monday 00:30 by the summer offset
        case(session, 2, acme, datetime(2026, 10, 25, 22, 30, tzinfo=UTC))
        # #3 opened Mon 26 Oct 00:00 CET (23:00Z): W44's
        case(session, 3, acme, datetime(2026, 10, 25, 23, tzinfo=UTC))
        # #4 opened Mon 19 Oct 00:00 CEST (18 Oct 22:00Z): W43's; #5 a microsecond before: W42's
        case(session, 4, acme, datetime(2026, 10, 18, 22, tzinfo=UTC))
        case(session, 5, acme, datetime(2026, 10, 18, 22, tzinfo=UTC) - TICK)

    a_customer = retention(1, 0, 0, 1.0)
    w42_figures = {**blank(w42), "retention": a_customer, "start": "2026-10-11T22:00:00Z",
                   "end": "2026-10-18T22:00:00Z", "cases_opened": 1, "open_at_end": 1,  # #5
                   "by_severity": {"p2": flow(0, 1, 0, 0, 1)}}
    w43_figures = {
        **blank(w43), "retention": a_customer,
        # open at start #5; opened #1, #2, #4; resolved #1
        "cases_opened": 3, "cases_resolved": 1, "open_at_end": 3,
        "by_severity": {"p2": flow(1, 3, 1, 0, 3)},
        "time_to_resolution_hours": hours(25.0, 25.0, 1),
        "recurrence": recurrence(0, 1, 0.0),
    }
    data = read(db, w43, team_config)
    assert (data["start"], data["end"]) == ("2026-10-18T22:00:00Z", "2026-10-25T23:00:00Z")
    assert datetime.fromisoformat(data["end"]) - datetime.fromisoformat(data["start"]) == timedelta(hours=169)
    assert data == whole(w43_figures, w42_figures)
    assert_flow_adds_up(data)
    data = read(db, w44, team_config)
    assert data == whole({**blank(w44), "retention": a_customer, "start": "2026-10-25T23:00:00Z",
                          "end": "2026-11-01T23:00:00Z", "cases_opened": 1, "open_at_end": 4,  # #3
                          "by_severity": {"p2": flow(3, 1, 0, 0, 4)}}, w43_figures)


# ---------------------------------------------------------------- 6. a rich week, figure by figure


def test_a_rich_week_figure_by_figure(db: Database, team_config: TeamConfig) -> None:
    config = team_config
    with db.transaction() as session:
        # ---- customers (retention, revenue of at-risk customers)
        acme = customer(session, "Acme", EARLY, (t(2, 10), "at-risk"), revenue="250000")  # turns at-risk Wed
        globex = customer(session, "Globex", EARLY, (t(1, 15), "churned"), revenue="90000")  # churns Tue
        initech = customer(session, "Initech", EARLY, (t(1, 16), "churned"), (t(3, 9), "active"))  # won back
        umbrella = customer(session, "Umbrella", EARLY, (local(date(2026, 10, 2)), "at-risk"))  # no revenue
        hooli = customer(session, "Hooli", EARLY, (local(date(2026, 10, 5)), "churned"))  # gone before
        # Vandelay turns at-risk at the week's first instant (in the week) and is active again on Friday
        vandelay = customer(session, "Vandelay", EARLY, (t(0), "at-risk"), (t(4, 9), "active"), revenue="40000")
        soylent = customer(session, "Soylent", t(2, 12))  # new in the week

        # ---- cases (n: customer, severity, departments; history)
        # 99 Umbrella P2: opened and resolved in October; 104 recurs it
        c99 = case(session, 99, umbrella, local(date(2026, 10, 1), 10))
        resolve(session, c99, local(date(2026, 10, 8), 10), credits="77")
        close(session, c99, local(date(2026, 10, 9), 10))
        # 101 Acme P1 $40k, billing (answers after 96 h, in W47): opened Thu W46, open: a P1 open long
        c101 = case(session, 101, acme, t(-4, 10), severity="p1", impact="40000", departments={"billing": t(0, 10)})
        # 102 Globex P1 $15k, logistics (0.5 h): opened Sat W47 12:00, waiting on the customer: open, not long
        c102 = case(session, 102, globex, t(5, 12), severity="p1", impact="15000",
                    departments={"logistics": t(5, 12, 30)})
        # 103 Initech P2 $5000, billing (1 h) and logistics (24 h): opened Mon W47, resolved Wed (48 h), $200
        c103 = case(session, 103, initech, t(0, 9), impact="5000",
                    departments={"billing": t(0, 10), "logistics": t(1, 9)})
        # 104 Umbrella P2 $2500, billing (1 h, in W46): opened Fri W46 08:00, resolved Tue W47 20:00 (108 h),
        # $1000.50, a recurrence of 99; closed Thu
        c104 = case(session, 104, umbrella, t(-3, 8), impact="2500", departments={"billing": t(-3, 9)})
        # 105 Vandelay P3, no impact, advocacy (not answered): opened Thu W47
        c105 = case(session, 105, vandelay, t(3, 0), severity="p3", departments={"advocacy": None})
        # 106 Acme P3, no impact, advocacy (not answered): opened Tue W47 00:00, resolved 06:00 (6 h)
        c106 = case(session, 106, acme, t(1, 0), severity="p3", departments={"advocacy": None})
        # 107 Acme P2 $3000 and 108 Globex P2 $3000 (a tie: by number), billing (2.5 h and 4 h): opened Wed W47
        c107 = case(session, 107, acme, t(2, 0), impact="3000", departments={"billing": t(2, 2, 30)})
        c108 = case(session, 108, globex, t(2, 1), impact="3000", departments={"billing": t(2, 5)})
        # 109 Initech P3 $700 and 110 Hooli P3 $800: opened in W45, open
        c109 = case(session, 109, initech, t(-10, 10), severity="p3", impact="700")
        c110 = case(session, 110, hooli, t(-9, 10), severity="p3", impact="800")
        # 111 Soylent P1 $999,999: opened in W48, after the week
        c111 = case(session, 111, soylent, t(7, 10), severity="p1", impact="999999")
        c111.next_update_due = t(8, 10)
        # 112 Vandelay P2 $100, logistics (answered in W45): opened W45, resolved W46, reopened Thu W47
        c112 = case(session, 112, vandelay, t(-8, 10), impact="100", departments={"logistics": t(-8, 11)})
        resolve(session, c112, t(-5, 10))
        reopen(session, c112, t(3, 10))

        # ---- customer updates and reminder steps (due times picked for the test)
        updated(session, c101, t(-1, 10), t(-1, 9))  # W46: on time
        updated(session, c101, t(1, 10), t(1, 9))  # on time
        step(session, c101, t(1, 10), "heads_up", t(1, 9, 30), "fired")
        step(session, c101, t(1, 10), "overdue", t(1, 10), "cancelled")
        step(session, c101, t(2, 10), "overdue", t(2, 10), "fired")
        updated(session, c101, t(2, 10), t(2, 11))  # late
        # due Thu 11:00 and never updated: overdue, escalation and leadership fired: missed, escalated
        step(session, c101, t(3, 11), "overdue", t(3, 11), "fired")
        step(session, c101, t(3, 11), "escalate", t(3, 12), "fired")
        step(session, c101, t(3, 11), "leadership", t(3, 13), "fired")
        updated(session, c103, t(1, 9), t(1, 8))  # on time
        resolve(session, c103, t(2, 9), credits="200")
        updated(session, c103, t(2, 8), t(2, 9))  # the final update at resolving: late
        # 104: due in W46, overdue and leadership fired then; updated only by the final update: late in W46
        step(session, c104, t(-2, 8), "overdue", t(-2, 8), "fired")
        step(session, c104, t(-2, 8), "leadership", t(-2, 10), "fired")
        resolve(session, c104, t(1, 20), credits="1000.50", recurrence_of=c99)
        updated(session, c104, t(-2, 8), t(1, 20))
        close(session, c104, t(3, 0))
        resolve(session, c106, t(1, 6))
        updated(session, c106, t(4, 0), t(1, 6))  # the final update, well before its due time: on time
        # 108: the heads-up snoozed past the due time, the repeat fired after it: missed; then waiting on the
        # customer (the rest cancelled), back the next day; the next due time met to the second: on time
        step(session, c108, t(3, 1), "heads_up", t(3, 0, 30), "fired")
        step(session, c108, t(3, 1), "overdue", t(3, 1), "cancelled")
        step(session, c108, t(3, 1), "repeat", t(3, 3), "fired")
        step(session, c108, t(3, 1), "escalate", t(3, 5), "cancelled")
        updated(session, c108, t(6, 12), t(6, 12))
        # 105: due Sun 00:00, overdue fired, updated on Tuesday of W48: late (counted in W47)
        step(session, c105, t(6, 0), "overdue", t(6, 0), "fired")
        updated(session, c105, t(6, 0), t(7, 2))
        # 107: the current period, due Sun 23:00, its overdue step still scheduled: missed
        step(session, c107, t(6, 23), "heads_up", t(6, 22, 30), "fired")
        step(session, c107, t(6, 23), "overdue", t(6, 23), "scheduled")
        # 109: a tick after downtime: heads-up and overdue skipped, escalation posted: missed
        step(session, c109, t(5, 9), "heads_up", t(5, 8, 30), "skipped")
        step(session, c109, t(5, 9), "overdue", t(5, 9), "skipped")
        step(session, c109, t(5, 9), "escalate", t(5, 13), "fired")
        # 110: due in W46, missed; its leadership step fired on Monday of W47: escalated in W47
        step(session, c110, t(-1, 20), "overdue", t(-1, 20), "fired")
        step(session, c110, t(-1, 20), "leadership", t(0, 2), "fired")
        # 102: waiting on the customer before its due time: the period ended, not due
        step(session, c102, t(6, 0), "heads_up", t(5, 23, 30), "fired")
        for name, fire_at in (("overdue", t(6, 0)), ("escalate", t(6, 4)), ("leadership", t(6, 6))):
            step(session, c102, t(6, 0), name, fire_at, "cancelled")
        c102.status = "waiting-on-customer"
        c109.status = c110.status = c107.status = c108.status = c101.status = "investigating"
        # the next update due of the open cases now (102 waits on the customer: none)
        for row, due in ((c101, t(3, 11)), (c107, t(6, 23)), (c109, t(5, 9)), (c110, t(-1, 20)), (c112, t(4, 10)),
                         (c108, t(7, 12)), (c105, t(9, 0))):
            row.next_update_due = due

        # ---- feedback: NPS 10 9 | 8 7 | 3 6 0 in W47; CSAT 5 4 5 of 5 4 3 1 2 5 2 3
        answer(session, acme, t(1, 12), nps=10, csat=5)
        answer(session, acme, t(2, 12), nps=9, csat=4)
        answer(session, globex, t(1, 13), nps=8, csat=3)
        answer(session, initech, t(3, 12), nps=7)
        answer(session, umbrella, t(2, 14), nps=3, csat=1)
        answer(session, vandelay, t(4, 12), nps=6, csat=2)
        answer(session, hooli, t(0), nps=0)  # at the week's first instant
        answer(session, soylent, t(5, 12), csat=5)
        answer(session, acme, t(6, 12), csat=2)
        answer(session, globex, t(6, 13), csat=3)
        answer(session, hooli, t(-1, 12), nps=9, csat=4)  # W46
        answer(session, acme, t(7), nps=0, csat=1)  # W48

        # ---- check-ins
        checkin(session, acme, t(1, 9), "done", done=t(1, 15))  # due and done
        checkin(session, globex, t(2, 9), "skipped", done=t(2, 10))  # due, skipped: not done
        checkin(session, initech, t(3, 9), "cancelled")  # not due
        checkin(session, umbrella, t(-2, 9), "done", done=t(0, 10))  # due in W46, done in W47
        checkin(session, vandelay, t(4, 9), "prompted")  # due
        checkin(session, soylent, t(6, 9), "scheduled")  # due, snoozed into W48: still due when it was
        checkin(session, hooli, t(5, 9), "cancelled")  # the customer churned: not due
        checkin(session, acme, t(7, 9), "scheduled")  # W48

        # ---- prevention actions (W47's end is on 23 Nov in Stockholm; W46's on 16 Nov)
        action(session, c104, date(2026, 11, 20), t(1, 20), config)  # overdue
        action(session, c104, date(2026, 11, 22), t(1, 20), config, status="reminded")  # overdue
        action(session, c104, date(2026, 11, 23), t(1, 20), config)  # due the end's own date: not yet
        action(session, c104, date(2026, 11, 18), t(1, 20), config, status="done", done=t(3, 10))  # done in time
        resolved_99 = local(date(2026, 10, 8), 10)
        action(session, c99, date(2026, 11, 1), resolved_99, config, status="overdue")  # overdue (W46 too)
        action(session, c99, date(2026, 11, 10), resolved_99, config, status="done", done=t(7, 1))  # done late
        action(session, c99, date(2026, 10, 20), resolved_99, config, status="done",
               done=local(date(2026, 10, 19)))
        action(session, c103, date(2026, 11, 16), t(2, 9), config, status="done")  # done, time unknown
        ids = {c.name: c.id for c in (acme, globex, initech, umbrella, hooli, vandelay)}

    data = read(db, W47, config)
    assert without(data, "previous") == {
        "week": "2026-W47", "start": "2026-11-15T23:00:00Z", "end": "2026-11-22T23:00:00Z",
        # open at start: 101, 104, 109, 110; opened: 102, 103, 105, 106, 107, 108; resolved 103, 104, 106;
        # reopened 112; open at the end: 101, 102, 105, 107, 108, 109, 110, 112
        "cases_opened": 6, "cases_resolved": 3, "cases_reopened": 1, "open_at_end": 8,
        "by_severity": {
            "p1": flow(1, 1, 0, 0, 2),  # 101; 102
            "p2": flow(1, 3, 2, 1, 3),  # 104; 103 107 108; 103 104; 112; 107 108 112 (99: nothing)
            "p3": flow(2, 2, 1, 0, 3),  # 109 110; 105 106; 106; 105 109 110
        },
        "by_department": {
            "advocacy": flow(0, 2, 1, 0, 1),  # 105 106
            "billing": flow(2, 3, 2, 0, 3),  # 101 103 104 107 108
            "logistics": flow(0, 2, 1, 1, 2),  # 102 103 112
        },
        # 6 48 108 h: p50 is the 2nd of 3 (rank ceil(1.5)), p90 the 3rd
        "time_to_resolution_hours": {"p50": 48.0, "p90": 108.0, "n": 3},
        # billing 1 2.5 4 96 h: p50 is the lower middle value (rank 2); logistics 0.5 24: rank 1 and 2
        "first_response_hours": {"billing": {"p50": 2.5, "p90": 96.0, "n": 4},
                                 "logistics": {"p50": 0.5, "p90": 24.0, "n": 2}},
        # on time: 101 Tue, 103 Tue, 106, 108 Sun; late: 101 Wed, 103 Wed, 105 (after the week);
        # missed: 101 Thu, 108 Thu (snoozed repeat), 107 (scheduled), 109 (skipped and fired); 102 not due
        "update_compliance": {"on_time": 4, "due": 11, "late": 3, "missed": 4, "ratio": 4 / 11},
        # 2 promoters, 2 passives, 3 detractors: 100 x -1/7 = -14.3 -> -14
        "nps": {"score": -14, "promoters": 2, "passives": 2, "detractors": 3, "n": 7},
        "csat": {"score": 38, "satisfied": 3, "n": 8},  # 3/8 = 37.5 % -> 38 (half away from zero)
        "checkins": {"done": 2, "due": 4},  # done: Acme, Umbrella; due: Acme, Globex, Vandelay, Soylent
        # at the start: Acme Globex Initech Umbrella (at-risk) Vandelay; churned at the end: Globex (Initech
        # won back); turned at-risk: Acme, Vandelay
        "retention": {"active_at_start": 5, "churned": 1, "turned_at_risk": 2, "ratio": 0.8},
        "recurrence": {"recurrences": 1, "resolved": 3, "ratio": 1 / 3},  # 104 of 103 104 106
        "prevention_overdue": 4,  # due 20 Nov, 22 Nov, 1 Nov, 10 Nov (done after the end)
        # 40000 + 15000 + 3000 + 3000 + 800 + 700 + 100 (105 has no impact: adds nothing; 111 is W48's)
        "revenue_at_risk": "62600.00",
        "at_risk_customer_revenue": "250000.00",  # Acme; Umbrella has no revenue; Vandelay is active again
        "credits_issued": "1200.50",  # 103 $200 + 104 $1000.50
        # open cases whose next update is due before the end: 101, 107, 109, 110, 112 (not 108, 105: later;
        # 102: waiting on the customer; 103: resolved)
        "updates_overdue_now": 5,
        "top_cases": [ref(101, "p1", "40000.00"), ref(102, "p1", "15000.00", "Globex"), ref(107, "p2", "3000.00"),
                      ref(108, "p2", "3000.00", "Globex"), ref(110, "p3", "800.00", "Hooli")],
        "attention": {
            "p1_open_long": [ref(101, "p1", "40000.00")],  # 102 opened 1.5 days before the end; 111 after it
            # 104's fired in W46, 102's was cancelled
            "escalated_to_leadership": [ref(101, "p1", "40000.00"), ref(110, "p3", "800.00", "Hooli")],
            # in the order they were given
            "detractors": [{"customer_id": ids["Hooli"], "customer": "Hooli", "nps": 0},
                           {"customer_id": ids["Umbrella"], "customer": "Umbrella", "nps": 3},
                           {"customer_id": ids["Vandelay"], "customer": "Vandelay", "nps": 6}],
            "customers_turned": [{"customer_id": ids["Vandelay"], "customer": "Vandelay", "status": "at-risk"},
                                 {"customer_id": ids["Globex"], "customer": "Globex", "status": "churned"},
                                 {"customer_id": ids["Initech"], "customer": "Initech", "status": "churned"},
                                 {"customer_id": ids["Acme"], "customer": "Acme", "status": "at-risk"}],
        },
    }
    assert data["previous"] == {
        "week": "2026-W46", "start": "2026-11-08T23:00:00Z", "end": "2026-11-15T23:00:00Z",
        # open at start: 109 110 112; opened 101 104; resolved 112; open at the end 101 104 109 110
        "cases_opened": 2, "cases_resolved": 1, "cases_reopened": 0, "open_at_end": 4,
        "by_severity": {"p1": flow(0, 1, 0, 0, 1), "p2": flow(1, 1, 1, 0, 1), "p3": flow(2, 0, 0, 0, 2)},
        "by_department": {"billing": flow(0, 2, 0, 0, 2), "logistics": flow(1, 0, 1, 0, 0)},
        "time_to_resolution_hours": {"p50": None, "p90": None, "n": 0},  # 112 was reopened since
        "first_response_hours": {"billing": {"p50": 1.0, "p90": 1.0, "n": 1}},  # 104
        # on time: 101; late: 104 (updated in W47); missed: 110
        "update_compliance": {"on_time": 1, "due": 3, "late": 1, "missed": 1, "ratio": 1 / 3},
        "nps": {"score": 100, "promoters": 1, "passives": 0, "detractors": 0, "n": 1},
        "csat": {"score": 100, "satisfied": 1, "n": 1},
        "checkins": {"done": 0, "due": 1},  # Umbrella's, done in W47
        "retention": {"active_at_start": 5, "churned": 0, "turned_at_risk": 0, "ratio": 1.0},
        "recurrence": {"recurrences": 0, "resolved": 0, "ratio": None},
        "prevention_overdue": 2,  # 99's due 1 Nov and 10 Nov; 104's did not exist yet
        "revenue_at_risk": "44000.00",  # 101 104 109 110
        "at_risk_customer_revenue": "0.00",  # Umbrella, no revenue
        "credits_issued": "0.00",
    }
    assert_flow_adds_up(data)
    # made later (Thursday of W48) the figures are the same; the updates overdue are counted then: 108, 105, 111 too
    assert read(db, W47, config, now=t(10)) == {**data, "updates_overdue_now": 8}
