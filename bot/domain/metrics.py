"""The figures of the weekly digest, each with the counts it is computed from.

Pure functions over the session. A period is ``[start, end)`` in aware UTC datetimes: something that
happened at ``start`` is in it, at ``end`` is not. "The state at instant T" is the state after every change
made strictly before T, so a change at ``start`` belongs to the period, not to the state at its start.
Figures come from history (status changes, the reopen events, customer updates, reminder steps), never
from a current status column alone, so any past period can be computed again. Each function returns a
small frozen dataclass carrying numerators and denominators; ``to_data`` makes any of them JSON-ready.
The definitions are in the README, "Figures and their definitions". No Slack here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

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

CUSTOMER = ("active", "at-risk")  # statuses of a customer we still have (churned is the only way out)
PROMOTER, PASSIVE = 9, 7  # NPS 9-10 promoters, 7-8 passives, 0-6 detractors
SATISFIED = 4  # CSAT 4-5 of 1-5


# ---------------------------------------------------------------- arithmetic


def percent(part: int, whole: int) -> int | None:
    """100 × part ÷ whole rounded to a whole number, halves away from zero (12.5 → 13, −12.5 → −13).

    Exact (integer arithmetic, no float); None when ``whole`` is 0.
    """
    if whole == 0:
        return None
    exact = Fraction(100 * part, whole)
    rounded = math.floor(abs(exact) + Fraction(1, 2))
    return rounded if exact >= 0 else -rounded


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p % of the values at or below it,
    i.e. ``sorted(values)[ceil(p / 100 × n) − 1]`` (the lower middle value for p50 of an even count)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _aware(*moments: datetime) -> None:
    if any(moment.tzinfo is None for moment in moments):
        raise ValueError("times must be aware UTC datetimes")


def _period(start: datetime, end: datetime) -> None:
    _aware(start, end)
    if not start < end:
        raise ValueError(f"empty period: {start.isoformat()} is not before {end.isoformat()}")


def _within(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def to_data(figure: Any) -> Any:
    """A figure as JSON-ready data: dataclasses become dicts, Decimals strings (``"12000.00"``)."""
    if dataclasses.is_dataclass(figure) and not isinstance(figure, type):
        return {f.name: to_data(getattr(figure, f.name)) for f in dataclasses.fields(figure)}
    if isinstance(figure, dict):
        return {key: to_data(value) for key, value in figure.items()}
    if isinstance(figure, list | tuple):
        return [to_data(value) for value in figure]
    if isinstance(figure, Decimal):
        return str(figure)
    if isinstance(figure, datetime):
        return figure.isoformat().replace("+00:00", "Z")
    return figure


def _sorted(groups: dict[Any, Any]) -> dict[Any, Any]:
    """Groups by name, the unnamed (None) last."""
    return dict(sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or "")))


# ---------------------------------------------------------------- NPS and CSAT


@dataclass(frozen=True)
class Nps:
    promoters: int  # answers 9-10
    passives: int  # 7-8
    detractors: int  # 0-6
    n: int  # answers with an NPS score
    score: int | None  # percent(promoters - detractors, n): -100…100, None when n = 0

    @classmethod
    def of(cls, scores: Iterable[int]) -> Nps:
        values = list(scores)
        promoters = sum(1 for v in values if v >= PROMOTER)
        detractors = sum(1 for v in values if v < PASSIVE)
        return cls(promoters=promoters, passives=len(values) - promoters - detractors, detractors=detractors,
                   n=len(values), score=percent(promoters - detractors, len(values)))


@dataclass(frozen=True)
class Csat:
    satisfied: int  # answers 4-5
    n: int  # answers with a CSAT score
    score: int | None  # percent(satisfied, n), None when n = 0

    @classmethod
    def of(cls, scores: Iterable[int]) -> Csat:
        values = list(scores)
        satisfied = sum(1 for v in values if v >= SATISFIED)
        return cls(satisfied=satisfied, n=len(values), score=percent(satisfied, len(values)))


Grouping = Literal["tier", "advocate"]


def _answers(column: InstrumentedAttribute[int | None], start: datetime, end: datetime, *, tier: str | None,
             advocate: str | None) -> Any:
    _period(start, end)
    query = select(column).where(_within(Feedback.at, start, end), column.is_not(None))
    if tier is not None:
        query = query.join(Customer, Customer.id == Feedback.customer_id).where(Customer.tier == tier)
    if advocate is not None:
        query = query.where(Feedback.advocate_id == advocate)
    return query


def _grouped(session: Session, column: InstrumentedAttribute[int | None], start: datetime, end: datetime,
             by: Grouping) -> dict[str | None, list[int]]:
    _period(start, end)
    if by == "tier":
        key: Any = Customer.tier
    elif by == "advocate":
        key = Feedback.advocate_id
    else:
        raise ValueError(f"group by 'tier' or 'advocate', not {by!r}")
    query = (select(key, column).join(Customer, Customer.id == Feedback.customer_id)
             .where(_within(Feedback.at, start, end), column.is_not(None)))
    groups: dict[str | None, list[int]] = {}
    for name, score in session.execute(query):
        groups.setdefault(name, []).append(score)
    return _sorted(groups)


def nps(session: Session, start: datetime, end: datetime, *, tier: str | None = None,
        advocate: str | None = None) -> Nps:
    """NPS of the answers given in the period (optionally of one tier's customers, or one advocate's)."""
    return Nps.of(session.scalars(_answers(Feedback.nps, start, end, tier=tier, advocate=advocate)))


def nps_by(session: Session, start: datetime, end: datetime, by: Grouping) -> dict[str | None, Nps]:
    """NPS per customer tier or per advocate (None: customers without a tier / answers without an advocate)."""
    return {name: Nps.of(scores) for name, scores in _grouped(session, Feedback.nps, start, end, by).items()}


def csat(session: Session, start: datetime, end: datetime, *, tier: str | None = None,
         advocate: str | None = None) -> Csat:
    return Csat.of(session.scalars(_answers(Feedback.csat, start, end, tier=tier, advocate=advocate)))


def csat_by(session: Session, start: datetime, end: datetime, by: Grouping) -> dict[str | None, Csat]:
    return {name: Csat.of(scores) for name, scores in _grouped(session, Feedback.csat, start, end, by).items()}


# ---------------------------------------------------------------- retention


@dataclass(frozen=True)
class Retention:
    active_at_start: int  # customers whose status at start was active or at-risk
    churned: int  # of those, churned at end (churned and won back within the period: retained)
    retained: int  # active_at_start - churned
    ratio: float | None  # retained / active_at_start, None when 0
    turned_at_risk: int  # customers (any) whose status changed to at-risk during the period
    new: int  # customers created during the period (not in the ratio)


def retention(session: Session, start: datetime, end: datetime) -> Retention:
    """Customer retention from the status history (``customer_status_changes``)."""
    _period(start, end)
    changes = session.execute(
        select(CustomerStatusChange.customer_id, CustomerStatusChange.at, CustomerStatusChange.to_status)
        .where(CustomerStatusChange.at < end)
        .order_by(CustomerStatusChange.customer_id, CustomerStatusChange.at, CustomerStatusChange.id))
    at_start: dict[int, str | None] = {}
    at_end: dict[int, str] = {}
    turned: set[int] = set()
    for customer, at, status in changes:
        at_start.setdefault(customer, None)
        if at < start:
            at_start[customer] = status
        elif status == "at-risk" and at_end.get(customer) != "at-risk":
            turned.add(customer)
        at_end[customer] = status
    kept = [c for c, status in at_start.items() if status in CUSTOMER]
    churned = sum(1 for c in kept if at_end[c] == "churned")
    return Retention(active_at_start=len(kept), churned=churned, retained=len(kept) - churned,
                     ratio=ratio(len(kept) - churned, len(kept)), turned_at_risk=len(turned),
                     new=sum(1 for status in at_start.values() if status is None))


# ---------------------------------------------------------------- customer-update compliance


@dataclass(frozen=True)
class UpdateCompliance:
    due: int  # due times in the period: on_time + late + missed
    on_time: int  # an update was made at or before the due time
    late: int  # the update for it was made after the due time
    missed: int  # the due time passed (the period still in force) and no update was recorded for it
    ratio: float | None  # on_time / due, None when nothing was due


def update_compliance(session: Session, start: datetime, end: datetime) -> UpdateCompliance:
    """Customer updates due in the period made on time ÷ due times in the period.

    A due time is a (case, due_at) period. It is counted when due_at falls in the period and either a
    customer update records it (``customer_updates.due_at``; on time when made at or before it), or none does
    and the period was still in force when the due time came: one of its reminder steps is still scheduled
    (the period is the case's current one), or a step timed at or after the due time (overdue, escalate,
    leadership, a snoozed repeat) was fired or skipped by the tick, which fires a step only while its period
    is current. A period ended before its due time (status waiting on the customer, cadence or severity
    changed, resolved) has all its steps cancelled and is not counted. Pass an ``end`` that is not in the
    future: a still-current period due after now would count as missed.
    """
    _period(start, end)
    made: dict[tuple[int, datetime], bool] = {}
    for case_id, due_at, on_time in session.execute(
            select(CustomerUpdate.case_id, CustomerUpdate.due_at, CustomerUpdate.on_time)
            .where(_within(CustomerUpdate.due_at, start, end))):
        made[(case_id, due_at)] = made.get((case_id, due_at), False) or bool(on_time)
    in_force = {(case_id, due_at) for case_id, due_at in session.execute(
        select(Reminder.case_id, Reminder.due_at).distinct()
        .where(_within(Reminder.due_at, start, end),
               or_(Reminder.status == "scheduled",
                   and_(Reminder.status.in_(("fired", "skipped")), Reminder.fire_at >= Reminder.due_at))))}
    missed = len(in_force - set(made))
    on_time = sum(made.values())
    due = len(made) + missed
    return UpdateCompliance(due=due, on_time=on_time, late=len(made) - on_time, missed=missed,
                            ratio=ratio(on_time, due))


# ---------------------------------------------------------------- durations


@dataclass(frozen=True)
class Durations:
    n: int
    p50_hours: float | None  # nearest-rank percentiles of the durations in hours; None when n = 0
    p90_hours: float | None

    @classmethod
    def of(cls, spans: Iterable[tuple[datetime, datetime]]) -> Durations:
        hours = [(until - since).total_seconds() / 3600 for since, until in spans]
        return cls(n=len(hours), p50_hours=percentile(hours, 50), p90_hours=percentile(hours, 90))


@dataclass(frozen=True)
class FirstResponse:
    overall: Durations
    by_department: dict[str, Durations]


def time_to_resolution(session: Session, start: datetime, end: datetime) -> Durations:
    """Cases resolved in the period (``resolved_at``, as it is now): calendar hours from opening to resolution.

    A reopened case is not resolved until it is resolved again; it then counts from its opening.
    """
    _period(start, end)
    spans = session.execute(select(Case.created_at, Case.resolved_at).where(_within(Case.resolved_at, start, end)))
    return Durations.of((opened, resolved) for opened, resolved in spans)


def first_response(session: Session, start: datetime, end: datetime) -> FirstResponse:
    """Departments' first responses made in the period: calendar hours from being asked to answering."""
    _period(start, end)
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for department, asked, answered in session.execute(
            select(CaseDepartment.department, CaseDepartment.asked_at, CaseDepartment.answered_at)
            .where(_within(CaseDepartment.answered_at, start, end))):
        spans.setdefault(department, []).append((asked, answered))
    return FirstResponse(overall=Durations.of(s for each in spans.values() for s in each),
                         by_department={d: Durations.of(spans[d]) for d in sorted(spans)})


# ---------------------------------------------------------------- case flow


@dataclass
class _History:
    """One case's life: opened, then resolved and reopened any number of times."""

    severity: str
    impact: Decimal | None
    created_at: datetime
    ended: list[tuple[datetime, datetime | None]] = dataclasses.field(default_factory=list)  # [resolved, reopened)
    reopens: list[datetime] = dataclasses.field(default_factory=list)

    def open_at(self, moment: datetime) -> bool:
        """Open at that instant: opened before it, and not resolved before it unless reopened before it too."""
        return self.created_at < moment and not any(
            resolved < moment and (reopened is None or reopened >= moment) for resolved, reopened in self.ended)


def _histories(session: Session, before: datetime) -> dict[int, _History]:
    """Cases opened before ``before``, each with its resolutions and reopens.

    A reopen clears ``resolved_at``; its ``reopened`` event keeps the resolution (``data.resolved_at``, else
    ``data.closed_at``), so [that time, the reopen) is a time the case was not open. The current
    ``resolved_at`` is the last resolution.
    """
    selected = select(Case.id).where(Case.created_at < before)
    histories: dict[int, _History] = {}
    for case_id, severity, impact, created_at, resolved_at in session.execute(
            select(Case.id, Case.severity, Case.impact, Case.created_at, Case.resolved_at)
            .where(Case.created_at < before)):
        histories[case_id] = _History(severity, impact, created_at,
                                      [(resolved_at, None)] if resolved_at is not None else [])
    for case_id, at, data in session.execute(
            select(CaseEvent.case_id, CaseEvent.at, CaseEvent.data)
            .where(CaseEvent.kind == "reopened", CaseEvent.case_id.in_(selected))):
        history = histories[case_id]
        history.reopens.append(at)
        ended = (data or {}).get("resolved_at") or (data or {}).get("closed_at")
        if ended:
            history.ended.append((datetime.fromisoformat(ended).astimezone(UTC), at))
    return histories


@dataclass(frozen=True)
class FlowCounts:
    open_at_start: int
    opened: int  # created in the period
    resolved: int  # resolutions in the period (a case resolved, reopened and resolved again counts twice)
    reopened: int  # reopens in the period
    open_at_end: int  # = open_at_start + opened - resolved + reopened


@dataclass(frozen=True)
class CasesFlow(FlowCounts):
    by_severity: dict[str, FlowCounts]  # the case's severity now
    by_department: dict[str, FlowCounts]  # a case counts under every department asked on it


def _flow(histories: Iterable[_History], start: datetime, end: datetime) -> FlowCounts:
    counts = [0, 0, 0, 0, 0]
    for h in histories:
        counts[0] += h.open_at(start)
        counts[1] += start <= h.created_at < end
        counts[2] += sum(1 for resolved, _ in h.ended if start <= resolved < end)
        counts[3] += sum(1 for at in h.reopens if start <= at < end)
        counts[4] += h.open_at(end)
    return FlowCounts(*counts)


def cases_flow(session: Session, start: datetime, end: datetime) -> CasesFlow:
    """Cases opened, resolved, reopened in the period and open at its start and end; by severity and department."""
    _period(start, end)
    histories = _histories(session, end)
    severities: dict[str, list[_History]] = {}
    departments: dict[str, list[_History]] = {}
    for history in histories.values():
        severities.setdefault(history.severity, []).append(history)
    for case_id, department in session.execute(
            select(CaseDepartment.case_id, CaseDepartment.department)
            .where(CaseDepartment.case_id.in_(select(Case.id).where(Case.created_at < end)))):
        departments.setdefault(department, []).append(histories[case_id])
    total = _flow(histories.values(), start, end)
    return CasesFlow(**dataclasses.asdict(total),
                     by_severity={s: _flow(severities[s], start, end) for s in sorted(severities)},
                     by_department={d: _flow(departments[d], start, end) for d in sorted(departments)})


# ---------------------------------------------------------------- recurrence and prevention


@dataclass(frozen=True)
class Recurrence:
    recurrences: int  # cases resolved in the period that are a recurrence of an earlier case
    resolved: int  # cases resolved in the period
    ratio: float | None  # recurrences / resolved, None when nothing was resolved
    prevention_overdue: int  # prevention actions not done at end whose due date was before end's date


def recurrence(session: Session, start: datetime, end: datetime, *, zone: tzinfo = UTC) -> Recurrence:
    """Recurrence among the cases resolved in the period, and prevention actions overdue at its end.

    An action is overdue at ``end`` when it existed then (created before it), its due date is before the
    date of ``end`` in ``zone`` (the team's timezone; UTC by default), and it was not done before ``end``
    (``done_at``; an action marked done without a time counts as done).
    """
    _period(start, end)
    resolved = list(session.scalars(select(Case.recurrence_of_id).where(_within(Case.resolved_at, start, end))))
    recurrences = sum(1 for earlier in resolved if earlier is not None)
    today = end.astimezone(zone).date()
    overdue = session.scalar(
        select(func.count()).select_from(PreventionAction).where(
            PreventionAction.created_at < end, PreventionAction.due_on < today,
            or_(PreventionAction.done_at >= end,
                and_(PreventionAction.done_at.is_(None), PreventionAction.status != "done"))))
    return Recurrence(recurrences=recurrences, resolved=len(resolved), ratio=ratio(recurrences, len(resolved)),
                      prevention_overdue=int(overdue or 0))


# ---------------------------------------------------------------- revenue at risk


@dataclass(frozen=True)
class RevenueAtRisk:
    open_cases: int  # cases open at the instant
    case_impact: Decimal  # sum of their impact (as it is now), cases without an impact adding nothing
    cases_without_impact: int
    at_risk_customers: int  # customers whose status at the instant was at-risk
    at_risk_revenue: Decimal  # sum of their annual revenue (as it is now); a separate figure, not added
    at_risk_without_revenue: int


def revenue_at_risk(session: Session, at: datetime) -> RevenueAtRisk:
    """Revenue at risk at an instant: the impact of the open cases, and the revenue of at-risk customers."""
    _aware(at)
    impacts = [history.impact for history in _histories(session, at).values() if history.open_at(at)]
    status: dict[int, str] = {}
    for customer, to_status in session.execute(
            select(CustomerStatusChange.customer_id, CustomerStatusChange.to_status)
            .where(CustomerStatusChange.at < at).order_by(CustomerStatusChange.at, CustomerStatusChange.id)):
        status[customer] = to_status
    at_risk = [c for c, s in status.items() if s == "at-risk"]
    revenues = list(session.scalars(select(Customer.annual_revenue).where(Customer.id.in_(at_risk)))) if at_risk else []
    zero = Decimal("0.00")
    return RevenueAtRisk(
        open_cases=len(impacts), case_impact=sum((i for i in impacts if i is not None), zero),
        cases_without_impact=sum(1 for i in impacts if i is None),
        at_risk_customers=len(at_risk), at_risk_revenue=sum((r for r in revenues if r is not None), zero),
        at_risk_without_revenue=sum(1 for r in revenues if r is None))
