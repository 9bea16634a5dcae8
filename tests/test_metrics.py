"""The digest's figures, computed over small histories written straight into the database at known times."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from bot.domain import metrics
from bot.domain.customers import name_key
from bot.domain.metrics import (
    Csat,
    Durations,
    FlowCounts,
    Nps,
    Recurrence,
    Retention,
    RevenueAtRisk,
    UpdateCompliance,
)
from storage.db import Database
from storage.models import (
    Case,
    CaseDepartment,
    CaseEvent,
    Customer,
    CustomerStatusChange,
    CustomerUpdate,
    Feedback,
    PreventionAction,
    Reminder,
)

START = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday: the period is that week, [START, END)
END = START + timedelta(days=7)
EARLY = datetime(2026, 1, 1, tzinfo=UTC)


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def d(days: float) -> timedelta:
    return timedelta(days=days)


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """One session to write the history and read the figures (flushed, never committed)."""
    with db.sessions() as session:
        yield session


def add_customer(session: Session, name: str, *, created: datetime = EARLY, tier: str | None = None,
                 advocate: str | None = None, revenue: str | None = None) -> Customer:
    customer = Customer(name=name, name_key=name_key(name), created_at=created, tier=tier, advocate_id=advocate,
                        annual_revenue=Decimal(revenue) if revenue else None, status="active")
    session.add(customer)
    session.flush()
    session.add(CustomerStatusChange(customer_id=customer.id, at=created, from_status=None, to_status="active",
                                     by="import"))
    return customer


def status(session: Session, customer: Customer, at: datetime, to: str) -> None:
    session.add(CustomerStatusChange(customer_id=customer.id, at=at, from_status=None, to_status=to, by="U01ADV"))
    session.flush()


_numbers = iter(range(1, 10_000))


def add_case(session: Session, customer: Customer, created: datetime, *, severity: str = "p2",
             resolved: datetime | None = None, impact: str | None = None, recurrence_of: Case | None = None,
             departments: tuple[str, ...] = ()) -> Case:
    case = Case(number=next(_numbers), customer_id=customer.id,
                summary="a problem", severity=severity, status="resolved" if resolved else "investigating",
                owner_id="U01ADV", reporter_id="U30REQ", created_at=created, updated_at=created, resolved_at=resolved,
                impact=Decimal(impact) if impact else None,
                recurrence_of_id=recurrence_of.id if recurrence_of is not None else None)
    session.add(case)
    session.flush()
    for department in departments:
        session.add(CaseDepartment(case_id=case.id, department=department, heads=["U10BILL"], asked_at=created))
    session.flush()
    return case


def reopened(session: Session, case: Case, at: datetime, *, was_resolved: datetime) -> None:
    """What ``resolution.reopen`` writes: the event keeps the resolution it undid."""
    session.add(CaseEvent(case_id=case.id, at=at, actor="U01ADV", kind="reopened", deleted=False,
                          data={"from": "resolved", "reopen": 1, "resolved_at": was_resolved.isoformat(),
                                "closed_at": None}))
    session.flush()


@pytest.fixture
def acme(session: Session) -> Customer:
    return add_customer(session, "Acme", tier="gold", advocate="U01ADV")


# ---------------------------------------------------------------- arithmetic


def test_percent_rounds_halves_away_from_zero_and_percentile_is_nearest_rank() -> None:
    assert [metrics.percent(1, 8), metrics.percent(-1, 8), metrics.percent(1, 3), metrics.percent(-1, 3)] == [
        13, -13, 33, -33]
    assert metrics.percent(2, 3) == 67 and metrics.percent(0, 0) is None and metrics.percent(5, 5) == 100
    assert metrics.percentile([4, 1, 3, 2], 50) == 2  # even count: the lower middle value, not 2.5
    assert metrics.percentile([4, 1, 3, 2], 90) == 4
    assert metrics.percentile(list(range(1, 11)), 90) == 9 and metrics.percentile(list(range(1, 11)), 91) == 10
    assert metrics.percentile([7.5], 50) == 7.5 and metrics.percentile([], 50) is None


def test_period_bounds_are_aware_and_in_order(session: Session) -> None:
    with pytest.raises(ValueError, match="aware"):
        metrics.nps(session, START.replace(tzinfo=None), END)
    with pytest.raises(ValueError, match="empty period"):
        metrics.cases_flow(session, END, START)
    with pytest.raises(ValueError, match="aware"):
        metrics.revenue_at_risk(session, END.replace(tzinfo=None))


# ---------------------------------------------------------------- NPS and CSAT


@pytest.fixture
def answers(session: Session, acme: Customer) -> Session:
    globex = add_customer(session, "Globex", advocate="U02ADV")

    def answer(customer: Customer, at: datetime, advocate: str, nps: int | None, csat: int | None = None) -> None:
        session.add(Feedback(key=f"k{at.isoformat()}{nps}{csat}{customer.id}", customer_id=customer.id,
                             advocate_id=advocate, at=at, source="survey", channel="survey", nps=nps, csat=csat,
                             created_at=at))

    answer(acme, START, "U01ADV", 10, 5)  # at the start: in the period
    answer(acme, START + h(1), "U01ADV", 9)
    answer(acme, START + h(2), "U01ADV", 9)
    answer(acme, START + h(3), "U01ADV", 6, 2)
    answer(acme, START + h(4), "U02ADV", 8)  # before a handover: the advocate of the time
    answer(acme, START + h(5), "U01ADV", None, 3)
    answer(globex, START + d(1), "U02ADV", 9, 5)
    answer(globex, START + d(2), "U02ADV", 0)
    answer(globex, END - timedelta(seconds=1), "U02ADV", 3)
    answer(globex, START + d(3), "U02ADV", None, 4)
    answer(acme, START - timedelta(seconds=1), "U01ADV", 0, 1)  # before the period
    answer(globex, END, "U02ADV", 10, 5)  # at the end: the next period's
    session.flush()
    return session


def test_nps_counts_promoters_passives_and_detractors_of_the_period(answers: Session) -> None:
    # 10 9 9 8 6 | 9 0 3: 4 promoters, 1 passive, 3 detractors; 100 × 1 / 8 = 12.5 → 13
    assert metrics.nps(answers, START, END) == Nps(promoters=4, passives=1, detractors=3, n=8, score=13)
    assert metrics.nps(answers, START, END, tier="gold") == Nps(3, 1, 1, 5, 40)
    assert metrics.nps(answers, START, END, advocate="U02ADV") == Nps(1, 1, 2, 4, -25)
    assert metrics.nps(answers, START, END, tier="gold", advocate="U01ADV") == Nps(3, 0, 1, 4, 50)
    assert metrics.nps_by(answers, START, END, "tier") == {"gold": Nps(3, 1, 1, 5, 40), None: Nps(1, 0, 2, 3, -33)}
    assert metrics.nps_by(answers, START, END, "advocate") == {"U01ADV": Nps(3, 0, 1, 4, 50),
                                                               "U02ADV": Nps(1, 1, 2, 4, -25)}


def test_nps_with_no_answers_has_no_score(answers: Session) -> None:
    empty = Nps(promoters=0, passives=0, detractors=0, n=0, score=None)
    assert metrics.nps(answers, END + d(7), END + d(14)) == empty
    assert metrics.nps(answers, START, END, tier="platinum") == empty
    assert metrics.nps_by(answers, END + d(7), END + d(14), "advocate") == {}
    assert metrics.csat(answers, END + d(7), END + d(14)) == Csat(satisfied=0, n=0, score=None)
    with pytest.raises(ValueError, match="'tier' or 'advocate'"):
        metrics.nps_by(answers, START, END, "severity")  # type: ignore[arg-type]


def test_csat_is_the_share_of_4_and_5(answers: Session) -> None:
    # 5 2 3 | 5 4: 3 of 5 satisfied
    assert metrics.csat(answers, START, END) == Csat(satisfied=3, n=5, score=60)
    assert metrics.csat(answers, START, END, tier="gold") == Csat(1, 3, 33)
    assert metrics.csat_by(answers, START, END, "tier") == {"gold": Csat(1, 3, 33), None: Csat(2, 2, 100)}
    assert metrics.csat_by(answers, START, END, "advocate") == {"U01ADV": Csat(1, 3, 33), "U02ADV": Csat(2, 2, 100)}


# ---------------------------------------------------------------- retention


def test_retention_is_read_from_the_status_history(session: Session) -> None:
    a = add_customer(session, "A")  # active all along
    b = add_customer(session, "B")
    status(session, b, START + d(2), "churned")  # the period started before the churn
    c = add_customer(session, "C")
    status(session, c, EARLY + d(30), "at-risk")
    status(session, c, START - d(1), "churned")  # gone before the period
    add_customer(session, "D", created=START + d(1))  # new in the period
    e = add_customer(session, "E")
    status(session, e, START + d(3), "at-risk")
    status(session, e, END + d(1), "churned")  # after the period
    f = add_customer(session, "F")
    status(session, f, EARLY + d(60), "at-risk")  # at risk is still a customer
    status(session, f, START + d(1), "churned")
    status(session, f, START + d(4), "active")  # won back within the period
    g = add_customer(session, "G")
    status(session, g, START, "churned")  # at the start: during the period
    add_customer(session, "H", created=END)
    for customer in (a, b, c, e, f, g):
        customer.status = "active"  # the current column says nothing about the past
    session.flush()

    assert metrics.retention(session, START, END) == Retention(
        active_at_start=5, churned=2, retained=3, ratio=0.6, turned_at_risk=1, new=1)  # A B E F G; B G; E; D
    assert metrics.retention(session, END, END + d(7)) == Retention(
        active_at_start=4, churned=1, retained=3, ratio=0.75, turned_at_risk=0, new=1)  # A D E F; E; H
    assert metrics.retention(session, EARLY - d(7), EARLY) == Retention(0, 0, 0, None, 0, 0)


# ---------------------------------------------------------------- customer-update compliance


def test_update_compliance_counts_missed_due_times(session: Session, acme: Customer) -> None:
    def reminder(case: Case, due: datetime, step: str, fire_at: datetime, state: str) -> None:
        session.add(Reminder(key=f"reminder:{case.id}:{due.isoformat()}:{step}", case_id=case.id, due_at=due,
                             step=step, fire_at=fire_at, status=state, created_at=due - d(1)))

    def updated(case: Case, at: datetime, due: datetime | None) -> None:
        session.add(CustomerUpdate(case_id=case.id, at=at, by="U01ADV", via="email", source="command", due_at=due,
                                   on_time=None if due is None else at <= due))

    one = add_case(session, acme, START - d(3))
    due = START + d(1)
    reminder(one, due, "heads_up", due - h(0.5), "fired")
    reminder(one, due, "overdue", due, "cancelled")
    updated(one, due - h(4), due)  # on time
    due = START + d(2)
    reminder(one, due, "overdue", due, "fired")
    updated(one, due + h(3), due)  # late
    due = START + d(6)
    updated(one, due, due)  # at the due time: on time

    two = add_case(session, acme, START - d(3))
    due = START + d(3)
    reminder(two, due, "overdue", due, "fired")  # passed with no update…
    reminder(two, due, "escalate", due + h(2), "cancelled")  # …then the case waited on the customer: missed

    three = add_case(session, acme, START - d(3))
    due = START + d(4)
    reminder(three, due, "heads_up", due - h(0.5), "fired")
    reminder(three, due, "overdue", due, "cancelled")  # ended before its due time: not due

    four = add_case(session, acme, START - d(3))
    due = START + d(5)
    reminder(four, due, "heads_up", due - h(0.5), "fired")
    reminder(four, due, "overdue", due, "cancelled")  # snoozed from the heads-up…
    reminder(four, due, "repeat@", due + h(1), "fired")  # …and still not updated after the due time: missed

    five = add_case(session, acme, START - d(3))
    reminder(five, END - h(1), "overdue", END - h(1), "scheduled")  # its period is current, the tick not run yet

    six = add_case(session, acme, START - d(3))
    reminder(six, END - h(2), "overdue", END - h(2), "fired")
    updated(six, END + h(1), END - h(2))  # made after the period: late, not missed

    seven = add_case(session, acme, START - d(3))
    updated(seven, START - h(1), START - h(2))  # due before the period
    reminder(seven, END, "overdue", END, "fired")  # due at its end: the next period's
    updated(seven, START + d(2), None)  # an update with nothing due
    session.flush()

    assert metrics.update_compliance(session, START, END) == UpdateCompliance(
        due=7, on_time=2, late=2, missed=3, ratio=2 / 7)
    assert metrics.update_compliance(session, END + d(7), END + d(14)) == UpdateCompliance(0, 0, 0, 0, None)


# ---------------------------------------------------------------- durations


def test_time_to_resolution_with_an_even_count(session: Session, acme: Customer) -> None:
    add_case(session, acme, START + d(1), resolved=START + d(1) + h(1))
    add_case(session, acme, START + d(2), resolved=START + d(2) + h(3))
    add_case(session, acme, START - h(5), resolved=START + h(5))  # opened before the period
    add_case(session, acme, START + d(3), resolved=START + d(3) + h(2))
    add_case(session, acme, START - d(1), resolved=START - h(1))  # resolved before
    add_case(session, acme, END - h(1), resolved=END)  # resolved at the end: the next period's
    add_case(session, acme, START)  # still open
    # 1 2 3 10 hours: p50 is the 2nd (nearest rank of 50 % of 4), p90 the 4th
    assert metrics.time_to_resolution(session, START, END) == Durations(n=4, p50_hours=2.0, p90_hours=10.0)
    assert metrics.time_to_resolution(session, END + d(1), END + d(2)) == Durations(0, None, None)


def test_percentiles_are_exact_when_durations_differ_by_less_than_a_millisecond(session: Session,
                                                                               acme: Customer) -> None:
    # SQLite's julianday keeps milliseconds: the two tie in the database's sort and are settled exactly
    add_case(session, acme, START + d(1), resolved=START + d(1) + h(1) + timedelta(microseconds=400))
    add_case(session, acme, START + d(2), resolved=START + d(2) + h(1) + timedelta(microseconds=100))
    figure = metrics.time_to_resolution(session, START, END)
    assert figure == Durations(n=2, p50_hours=(3600 + 0.0001) / 3600, p90_hours=(3600 + 0.0004) / 3600)


def test_first_response_per_department(session: Session, acme: Customer) -> None:
    def asked(department: str, at: datetime, answered: datetime | None) -> None:
        case = add_case(session, acme, at)
        session.add(CaseDepartment(case_id=case.id, department=department, heads=["U10BILL"], asked_at=at,
                                   answered_at=answered, answered_by="U10BILL" if answered else None))

    asked("billing", START + h(1), START + h(2))
    asked("billing", START - h(2), START + h(1))  # asked before the period, answered in it
    asked("logistics", START, START + h(2.5))
    asked("logistics", START, END)  # answered at the end: the next period's
    asked("advocacy", START, None)  # not answered
    session.flush()
    assert metrics.first_response(session, START, END) == metrics.FirstResponse(
        overall=Durations(n=3, p50_hours=2.5, p90_hours=3.0),
        by_department={"billing": Durations(2, 1.0, 3.0), "logistics": Durations(1, 2.5, 2.5)})


# ---------------------------------------------------------------- case flow


def test_cases_flow_with_reopened_cases(session: Session, acme: Customer) -> None:
    add_case(session, acme, START - d(3), severity="p1", departments=("billing",))  # open all along
    add_case(session, acme, START - d(2), resolved=START + d(1), departments=("billing", "logistics"))
    add_case(session, acme, START + d(1), resolved=START + d(2), departments=("logistics",))
    add_case(session, acme, START + d(2), severity="p1")
    five = add_case(session, acme, START - d(10), severity="p3", resolved=START + d(4))
    reopened(session, five, START + d(3), was_resolved=START - d(5))  # reopened and resolved again in the period
    six = add_case(session, acme, START - d(10))
    reopened(session, six, START + d(5), was_resolved=START - d(6))  # reopened in the period, still open
    seven = add_case(session, acme, START - d(10))
    reopened(session, seven, END + d(1), was_resolved=START + d(1))  # resolved in the period, reopened later
    add_case(session, acme, END, severity="p3", departments=("advocacy",))  # opened after the period
    add_case(session, acme, START - d(1), resolved=START - h(1))  # resolved before it
    add_case(session, acme, START, resolved=END)  # opened at its start, resolved at its end

    flow = metrics.cases_flow(session, START, END)
    assert FlowCounts(flow.open_at_start, flow.opened, flow.resolved, flow.reopened, flow.open_at_end) == FlowCounts(
        open_at_start=3, opened=3, resolved=4, reopened=2, open_at_end=4)
    assert flow.by_severity == {
        "p1": FlowCounts(open_at_start=1, opened=1, resolved=0, reopened=0, open_at_end=2),
        "p2": FlowCounts(open_at_start=2, opened=2, resolved=3, reopened=1, open_at_end=2),
        "p3": FlowCounts(open_at_start=0, opened=0, resolved=1, reopened=1, open_at_end=0),
    }
    assert flow.by_department == {
        "billing": FlowCounts(open_at_start=2, opened=0, resolved=1, reopened=0, open_at_end=1),
        "logistics": FlowCounts(open_at_start=1, opened=1, resolved=2, reopened=0, open_at_end=0),
    }
    for counts in [flow, *flow.by_severity.values(), *flow.by_department.values()]:
        assert counts.open_at_end == counts.open_at_start + counts.opened - counts.resolved + counts.reopened
    later = metrics.cases_flow(session, END, END + d(7))
    assert (later.open_at_start, later.opened, later.resolved, later.reopened, later.open_at_end) == (4, 1, 1, 1, 5)


# ---------------------------------------------------------------- recurrence and prevention


def test_recurrence_and_overdue_prevention_actions(session: Session, acme: Customer) -> None:
    earlier = add_case(session, acme, EARLY, resolved=EARLY + d(1))
    add_case(session, acme, START - d(2), resolved=START + d(1), recurrence_of=earlier)
    plain = add_case(session, acme, START - d(2), resolved=START + d(2))
    add_case(session, acme, START - d(2), resolved=START + d(3), recurrence_of=plain)
    add_case(session, acme, START - d(9), resolved=START - d(1), recurrence_of=earlier)  # resolved before
    add_case(session, acme, START, recurrence_of=earlier)  # not resolved

    def action(due: date, state: str = "open", *, done: datetime | None = None, created: datetime = START) -> None:
        session.add(PreventionAction(case_id=plain.id, what="a fix", owner_id="U01ADV", due_on=due,
                                     remind_at=datetime.combine(due, datetime.min.time(), UTC), status=state,
                                     done_at=done, created_by="U01ADV", created_at=created))

    action(date(2026, 11, 20))  # overdue
    action(date(2026, 11, 22), "reminded")  # overdue (due the day before the end)
    action(date(2026, 11, 23))  # due on the end's date: not yet
    action(date(2026, 11, 18), "done", done=END - d(1))  # done in time
    action(date(2026, 11, 18), "done", done=END + d(1))  # done after the end: overdue at it
    action(date(2026, 11, 10), created=END + h(1))  # did not exist yet
    action(date(2026, 11, 15), "done")  # done, time unknown
    session.flush()

    assert metrics.recurrence(session, START, END) == Recurrence(
        recurrences=2, resolved=3, ratio=2 / 3, prevention_overdue=3)
    # at the end (Monday 00:00 UTC) it is still Sunday the 22nd in Los Angeles
    assert metrics.recurrence(session, START, END, zone=ZoneInfo("America/Los_Angeles")).prevention_overdue == 2
    # two weeks on, the action due on the 23rd and the one created after the first end are overdue too
    assert metrics.recurrence(session, END + d(7), END + d(14)) == Recurrence(0, 0, None, 4)


# ---------------------------------------------------------------- revenue at risk


def test_revenue_at_risk_at_an_instant(session: Session, acme: Customer) -> None:
    at = START + d(3)
    add_case(session, acme, START, impact="12000")
    add_case(session, acme, START + d(1), impact="500.50")
    add_case(session, acme, START + d(1))  # no impact given
    add_case(session, acme, START, impact="99999", resolved=START + d(1))  # resolved before
    add_case(session, acme, at + h(1), impact="777")  # opened after
    back = add_case(session, acme, START - d(5), impact="1000")
    reopened(session, back, START + d(1), was_resolved=START - d(2))  # reopened before: open
    later = add_case(session, acme, START - d(5), impact="2000")
    reopened(session, later, at + d(1), was_resolved=START + d(1))  # resolved then, reopened after

    status(session, acme, START + d(1), "at-risk")
    acme.annual_revenue = Decimal("250000")
    globex = add_customer(session, "Globex", revenue="90000")
    status(session, globex, START - d(10), "at-risk")
    status(session, globex, START + d(2), "churned")
    initech = add_customer(session, "Initech", revenue="10000")
    status(session, initech, at + d(2), "at-risk")  # after the instant
    umbrella = add_customer(session, "Umbrella")
    status(session, umbrella, START, "at-risk")  # revenue unknown
    hooli = add_customer(session, "Hooli", revenue="5000")
    status(session, hooli, START + d(1), "at-risk")
    status(session, hooli, START + d(2), "active")
    session.flush()

    figure = metrics.revenue_at_risk(session, at)
    assert figure == RevenueAtRisk(open_cases=4, case_impact=Decimal("13500.50"), cases_without_impact=1,
                                   at_risk_customers=2, at_risk_revenue=Decimal("250000.00"),
                                   at_risk_without_revenue=1)
    assert json.loads(json.dumps(metrics.to_data(figure))) == {
        "open_cases": 4, "case_impact": "13500.50", "cases_without_impact": 1, "at_risk_customers": 2,
        "at_risk_revenue": "250000.00", "at_risk_without_revenue": 1}
    assert metrics.revenue_at_risk(session, EARLY) == RevenueAtRisk(0, Decimal("0.00"), 0, 0, Decimal("0.00"), 0)


def test_every_figure_is_json_ready(answers: Session) -> None:
    figures = {
        "nps": metrics.nps(answers, START, END), "nps_by_tier": metrics.nps_by(answers, START, END, "tier"),
        "flow": metrics.cases_flow(answers, START, END), "first_response": metrics.first_response(answers, START, END),
        "compliance": metrics.update_compliance(answers, START, END),
    }
    data = json.loads(json.dumps(metrics.to_data(figures)))
    assert data["nps"] == {"promoters": 4, "passives": 1, "detractors": 3, "n": 8, "score": 13}
    assert data["nps_by_tier"]["null"]["score"] == -33
    assert data["flow"] == {"open_at_start": 0, "opened": 0, "resolved": 0, "reopened": 0, "open_at_end": 0,
                            "by_severity": {}, "by_department": {}}
    assert data["first_response"] == {"overall": {"n": 0, "p50_hours": None, "p90_hours": None},
                                      "by_department": {}}
