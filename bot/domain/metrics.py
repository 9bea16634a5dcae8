"""The figures of the weekly digest, each with the counts it is computed from.

Pure functions over the session. A period is ``[start, end)`` in aware UTC datetimes: something that
happened at ``start`` is in it, at ``end`` is not. "The state at instant T" is the state after every change
made strictly before T, so a change at ``start`` belongs to the period, not to the state at its start.
Figures come from history (status changes, the reopen events, customer updates, reminder steps), never
from a current status column alone, so any past period can be computed again. Each function returns a
small frozen dataclass carrying numerators and denominators; ``to_data`` makes any of them JSON-ready.
The definitions are in the README, "Figures and their definitions". No Slack here.

Every figure is a SQL aggregate over indexed columns (counts, sums, a percentile read as one row at its
rank): the rows themselves stay in the database, so a digest over a million cases loads a handful of
numbers. The only rows read into Python are the reopen events since the period's start (few: a reopen
is rare, and they are what turns "resolved now" into "resolved then").
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

from sqlalchemy import ColumnElement, Integer, and_, cast, func, literal, or_, select
from sqlalchemy import case as when
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


def _share(condition: ColumnElement[bool]) -> Any:
    """How many rows meet the condition, as an aggregate column (0, not NULL, over no rows)."""
    return func.coalesce(func.sum(when((condition, 1), else_=0)), 0)


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
        return cls.counted(len(values), sum(1 for v in values if v >= PROMOTER),
                           sum(1 for v in values if v < PASSIVE))

    @classmethod
    def counted(cls, n: int, promoters: int, detractors: int) -> Nps:
        return cls(promoters=promoters, passives=n - promoters - detractors, detractors=detractors, n=n,
                   score=percent(promoters - detractors, n))

    @staticmethod
    def aggregates() -> tuple[Any, ...]:
        return func.count(Feedback.nps), _share(Feedback.nps >= PROMOTER), _share(Feedback.nps < PASSIVE)


@dataclass(frozen=True)
class Csat:
    satisfied: int  # answers 4-5
    n: int  # answers with a CSAT score
    score: int | None  # percent(satisfied, n), None when n = 0

    @classmethod
    def of(cls, scores: Iterable[int]) -> Csat:
        values = list(scores)
        return cls.counted(len(values), sum(1 for v in values if v >= SATISFIED))

    @classmethod
    def counted(cls, n: int, satisfied: int) -> Csat:
        return cls(satisfied=satisfied, n=n, score=percent(satisfied, n))

    @staticmethod
    def aggregates() -> tuple[Any, ...]:
        return func.count(Feedback.csat), _share(Feedback.csat >= SATISFIED)


Grouping = Literal["tier", "advocate"]


def _answers(column: InstrumentedAttribute[int | None], start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    _period(start, end)
    return [_within(Feedback.at, start, end), column.is_not(None)]


def _answered(session: Session, figure: type[Nps] | type[Csat], column: InstrumentedAttribute[int | None],
              start: datetime, end: datetime, *, tier: str | None, advocate: str | None) -> Any:
    query = select(*figure.aggregates()).where(*_answers(column, start, end))
    if tier is not None:
        query = query.join(Customer, Customer.id == Feedback.customer_id).where(Customer.tier == tier)
    if advocate is not None:
        query = query.where(Feedback.advocate_id == advocate)
    return figure.counted(*(int(value) for value in session.execute(query).one()))


def _answered_by(session: Session, figure: type[Nps] | type[Csat], column: InstrumentedAttribute[int | None],
                 start: datetime, end: datetime, by: Grouping) -> dict[Any, Any]:
    if by == "tier":
        key: Any = Customer.tier
    elif by == "advocate":
        key = Feedback.advocate_id
    else:
        raise ValueError(f"group by 'tier' or 'advocate', not {by!r}")
    rows = session.execute(select(key, *figure.aggregates()).join(Customer, Customer.id == Feedback.customer_id)
                           .where(*_answers(column, start, end)).group_by(key))
    return _sorted({name: figure.counted(*(int(v) for v in counts)) for name, *counts in rows})


def nps(session: Session, start: datetime, end: datetime, *, tier: str | None = None,
        advocate: str | None = None) -> Nps:
    """NPS of the answers given in the period (optionally of one tier's customers, or one advocate's)."""
    return _answered(session, Nps, Feedback.nps, start, end, tier=tier, advocate=advocate)


def nps_by(session: Session, start: datetime, end: datetime, by: Grouping) -> dict[str | None, Nps]:
    """NPS per customer tier or per advocate (None: customers without a tier / answers without an advocate)."""
    return _answered_by(session, Nps, Feedback.nps, start, end, by)


def csat(session: Session, start: datetime, end: datetime, *, tier: str | None = None,
         advocate: str | None = None) -> Csat:
    return _answered(session, Csat, Feedback.csat, start, end, tier=tier, advocate=advocate)


def csat_by(session: Session, start: datetime, end: datetime, by: Grouping) -> dict[str | None, Csat]:
    return _answered_by(session, Csat, Feedback.csat, start, end, by)


# ---------------------------------------------------------------- retention


@dataclass(frozen=True)
class Retention:
    active_at_start: int  # customers whose status at start was active or at-risk
    churned: int  # of those, churned at end (churned and won back within the period: retained)
    retained: int  # active_at_start - churned
    ratio: float | None  # retained / active_at_start, None when 0
    turned_at_risk: int  # customers (any) whose status changed to at-risk during the period
    new: int  # customers created during the period (not in the ratio)


def _status_at(at: datetime) -> Any:
    """A customer's status at the instant: their last change before it (NULL: not a customer yet).

    A correlated subquery per customer, one probe of ``ix_customer_status_changes_customer_at`` each: the
    cost grows with the customers, not with their history.
    """
    return (select(CustomerStatusChange.to_status)
            .where(CustomerStatusChange.customer_id == Customer.id, CustomerStatusChange.at < at)
            .order_by(CustomerStatusChange.at.desc(), CustomerStatusChange.id.desc()).limit(1)
            .correlate(Customer).scalar_subquery())


def retention(session: Session, start: datetime, end: datetime) -> Retention:
    """Customer retention from the status history (``customer_status_changes``)."""
    _period(start, end)
    # customers by (status at start, status at end): a few rows, each status looked up once per customer
    then, now = _status_at(start).label("then"), _status_at(end).label("now")
    kept = churned = new = 0
    for was, became, count in session.execute(select(then, now, func.count()).select_from(Customer)
                                              .group_by(then, now)):
        kept += count if was in CUSTOMER else 0
        churned += count if was in CUSTOMER and became == "churned" else 0
        new += count if was is None and became is not None else 0
    # turned at-risk: a change to at-risk whose previous status (the change before it) was another one
    turning = select(CustomerStatusChange.customer_id).where(
        _within(CustomerStatusChange.at, start, end), CustomerStatusChange.to_status == "at-risk")
    history = select(
        CustomerStatusChange.customer_id, CustomerStatusChange.at, CustomerStatusChange.to_status,
        func.lag(CustomerStatusChange.to_status).over(
            partition_by=CustomerStatusChange.customer_id,
            order_by=(CustomerStatusChange.at, CustomerStatusChange.id)).label("before"),
    ).where(CustomerStatusChange.at < end, CustomerStatusChange.customer_id.in_(turning)).subquery()
    turned = session.scalar(select(func.count(func.distinct(history.c.customer_id))).where(
        history.c.at >= start, history.c.to_status == "at-risk",
        or_(history.c.before.is_(None), history.c.before != "at-risk")))
    return Retention(active_at_start=kept, churned=churned, retained=kept - churned,
                     ratio=ratio(kept - churned, kept), turned_at_risk=int(turned or 0), new=new)


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
    made = (select(func.max(when((CustomerUpdate.on_time.is_(True), 1), else_=0)).label("on_time"))
            .where(_within(CustomerUpdate.due_at, start, end))
            .group_by(CustomerUpdate.case_id, CustomerUpdate.due_at).subquery())
    updated, on_time = (int(v) for v in session.execute(
        select(func.count(), func.coalesce(func.sum(made.c.on_time), 0)).select_from(made)).one())
    recorded = select(CustomerUpdate.id).where(CustomerUpdate.case_id == Reminder.case_id,
                                               CustomerUpdate.due_at == Reminder.due_at)
    # status IN (…) with the due-time range: both columns of ix_reminders_status_due_at
    unanswered = (select(Reminder.case_id, Reminder.due_at).distinct()
                  .where(Reminder.status.in_(("scheduled", "fired", "skipped")), _within(Reminder.due_at, start, end),
                         or_(Reminder.status == "scheduled", Reminder.fire_at >= Reminder.due_at), ~recorded.exists())
                  .subquery())
    missed = int(session.scalar(select(func.count()).select_from(unanswered)) or 0)
    due = updated + missed
    return UpdateCompliance(due=due, on_time=on_time, late=updated - on_time, missed=missed,
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


NO_DURATIONS = Durations(0, None, None)


@dataclass(frozen=True)
class FirstResponse:
    overall: Durations
    by_department: dict[str, Durations]


def _elapsed(session: Session, since: Any, until: Any) -> Any:
    """``until - since`` as an exact sort key: an interval on PostgreSQL; on SQLite, microseconds (whole
    seconds from ``strftime('%s')``, the fraction from the stored text ``YYYY-MM-DD HH:MM:SS.ffffff``, since
    ``julianday`` keeps only milliseconds and would tie durations that differ by less)."""
    if session.get_bind().dialect.name != "sqlite":
        return until - since

    def micros(moment: Any) -> Any:
        return (cast(func.strftime("%s", moment), Integer) * 1_000_000
                + cast(func.coalesce(func.nullif(func.substr(moment, 21, 6), ""), "0"), Integer))

    return micros(until) - micros(since)


def _percentiles(session: Session, since: Any, until: Any, where: Sequence[Any],
                 group: Any = None) -> dict[Any, Durations]:
    """Nearest-rank p50 and p90 of ``until - since`` over the rows matching ``where``, per ``group`` (or
    overall, under the key None), in one query: the database ranks the rows by duration in each group
    (``row_number``) and returns only the rows at ranks ⌈0.5 n⌉ and ⌈0.9 n⌉, whose durations are then
    computed exactly from their two times."""
    key = _elapsed(session, since, until)
    partition = {"partition_by": group} if group is not None else {}
    ranked = select(
        (group if group is not None else literal(None)).label("grp"), since.label("since"), until.label("until"),
        func.row_number().over(order_by=key, **partition).label("rank"),
        func.count().over(**partition).label("n"),
    ).where(*where).subquery()
    p50, p90 = (ranked.c.n * 50 + 99) // 100, (ranked.c.n * 90 + 99) // 100  # ⌈p n / 100⌉ in integers
    found: dict[Any, dict[str, Any]] = {}
    for grp, began, ended, rank, n in session.execute(
            select(ranked.c.grp, ranked.c.since, ranked.c.until, ranked.c.rank, ranked.c.n)
            .where(or_(ranked.c.rank == p50, ranked.c.rank == p90))):
        hours = (ended - began).total_seconds() / 3600
        figure = found.setdefault(grp, {"n": n})
        if rank == (n * 50 + 99) // 100:
            figure["p50_hours"] = hours
        if rank == (n * 90 + 99) // 100:
            figure["p90_hours"] = hours
    return {grp: Durations(**figure) for grp, figure in found.items()}


def time_to_resolution(session: Session, start: datetime, end: datetime) -> Durations:
    """Cases resolved in the period (``resolved_at``, as it is now): calendar hours from opening to resolution.

    A reopened case is not resolved until it is resolved again; it then counts from its opening.
    """
    _period(start, end)
    return _percentiles(session, Case.created_at, Case.resolved_at, [_within(Case.resolved_at, start, end)]).get(
        None, NO_DURATIONS)


def first_response(session: Session, start: datetime, end: datetime) -> FirstResponse:
    """Departments' first responses made in the period: calendar hours from being asked to answering."""
    _period(start, end)
    spans = (session, CaseDepartment.asked_at, CaseDepartment.answered_at,
             [_within(CaseDepartment.answered_at, start, end)])
    by_department = _percentiles(*spans, group=CaseDepartment.department)
    return FirstResponse(overall=_percentiles(*spans).get(None, NO_DURATIONS),
                         by_department={d: by_department[d] for d in sorted(by_department)})


# ---------------------------------------------------------------- which cases were open when


@dataclass(frozen=True)
class _Reopened:
    """A reopen event: the case was resolved at ``ended`` (as it was then) and open again from ``at``."""

    case_id: int
    at: datetime
    ended: datetime | None


@dataclass(frozen=True)
class _Reopens:
    """The reopen events at or after an instant, with what the figures need of their cases."""

    events: list[_Reopened]
    created: dict[int, datetime]
    severity: dict[int, str]
    impact: dict[int, Decimal | None]
    departments: dict[int, list[str]]

    def gaps(self, at: datetime) -> set[int]:
        """Cases that were resolved at the instant and have been reopened since: ``resolved_at`` (now null or
        later) makes them look open then. Nothing else can: a case resolved before T and never reopened after
        T still has ``resolved_at`` before T."""
        return {e.case_id for e in self.events
                if e.at >= at and e.ended is not None and e.ended < at and self.created[e.case_id] < at}

    def keys(self, case_id: int, by: Breakdown) -> list[str]:
        return [self.severity[case_id]] if by == "severity" else self.departments.get(case_id, [])


Breakdown = Literal["severity", "department"]


def _reopens(session: Session, since: datetime) -> _Reopens:
    """Reopen events at or after ``since``. A reopen clears ``resolved_at``; its event keeps the resolution
    (``data.resolved_at``, else ``data.closed_at``), so [that time, the reopen) is a time the case was not
    open, and that resolution still counts among the resolutions of its period."""
    reopened = (CaseEvent.kind == "reopened", CaseEvent.at >= since)
    events = []
    for case_id, at, data in session.execute(select(CaseEvent.case_id, CaseEvent.at, CaseEvent.data)
                                             .where(*reopened).order_by(CaseEvent.at, CaseEvent.id)):
        ended = (data or {}).get("resolved_at") or (data or {}).get("closed_at")
        events.append(_Reopened(case_id, at, datetime.fromisoformat(ended).astimezone(UTC) if ended else None))
    cases = select(CaseEvent.case_id).where(*reopened)
    created, severity, impact = {}, {}, {}
    for case_id, opened, level, amount in session.execute(
            select(Case.id, Case.created_at, Case.severity, Case.impact).where(Case.id.in_(cases))):
        created[case_id], severity[case_id], impact[case_id] = opened, level, amount
    departments: dict[int, list[str]] = {}
    for case_id, department in session.execute(select(CaseDepartment.case_id, CaseDepartment.department)
                                               .where(CaseDepartment.case_id.in_(cases))):
        departments.setdefault(case_id, []).append(department)
    return _Reopens(events, created, severity, impact, departments)


def _open_at(at: datetime) -> list[list[ColumnElement[bool]]]:
    """Cases that look open at the instant by their current ``resolved_at`` (two disjoint conditions, each
    served by the ``resolved_at`` index: unresolved, resolved since); ``_Reopens.gaps`` removes the rest."""
    return [[Case.created_at < at, Case.resolved_at.is_(None)], [Case.created_at < at, Case.resolved_at >= at]]


def _counted(session: Session, where: list[ColumnElement[bool]], by: Breakdown) -> dict[str, int]:
    if by == "severity":
        query = select(Case.severity, func.count()).where(*where).group_by(Case.severity)
    else:
        query = (select(CaseDepartment.department, func.count()).join(Case, Case.id == CaseDepartment.case_id)
                 .where(*where).group_by(CaseDepartment.department))
    return {key: int(count) for key, count in session.execute(query)}


# ---------------------------------------------------------------- case flow


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


FIELDS = [f.name for f in dataclasses.fields(FlowCounts)]


def _flows(session: Session, start: datetime, end: datetime, reopens: _Reopens, by: Breakdown) -> dict[str, FlowCounts]:
    """The flow per severity or department: SQL counts by current dates, corrected by the reopen events."""
    counts: dict[str, dict[str, int]] = {}

    def add(field: str, found: dict[str, int], sign: int = 1) -> None:
        for key, n in found.items():
            group = counts.setdefault(key, dict.fromkeys(FIELDS, 0))
            group[field] += sign * n

    add("opened", _counted(session, [_within(Case.created_at, start, end)], by))
    add("resolved", _counted(session, [_within(Case.resolved_at, start, end)], by))
    for field, at in (("open_at_start", start), ("open_at_end", end)):
        for where in _open_at(at):
            add(field, _counted(session, where, by))
        for case_id in reopens.gaps(at):
            add(field, dict.fromkeys(reopens.keys(case_id, by), 1), -1)
    for event in reopens.events:
        keys = reopens.keys(event.case_id, by)
        if event.at < end:
            add("reopened", dict.fromkeys(keys, 1))
        if event.ended is not None and start <= event.ended < end:
            add("resolved", dict.fromkeys(keys, 1))  # a resolution in the period, undone since
    return {key: FlowCounts(**group) for key, group in sorted(counts.items()) if any(group.values())}


def cases_flow(session: Session, start: datetime, end: datetime) -> CasesFlow:
    """Cases opened, resolved, reopened in the period and open at its start and end; by severity and department.

    The total is the sum over severities (every case has exactly one); departments add up to more.
    """
    _period(start, end)
    reopens = _reopens(session, start)
    severities = _flows(session, start, end, reopens, "severity")
    total = {field: sum(getattr(group, field) for group in severities.values()) for field in FIELDS}
    return CasesFlow(**total, by_severity=severities, by_department=_flows(session, start, end, reopens, "department"))


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
    resolved, recurrences = (int(v) for v in session.execute(
        select(func.count(), _share(Case.recurrence_of_id.is_not(None)))
        .where(_within(Case.resolved_at, start, end))).one())
    today = end.astimezone(zone).date()
    due = (PreventionAction.created_at < end, PreventionAction.due_on < today)
    # two disjoint counts, each served by an index: not done yet (a status other than done; read from
    # ix_prevention_status_due_on alone), and done, but only after the end (done_at is set when done)
    undone = session.scalar(select(func.count()).where(PreventionAction.status.in_(PreventionAction.UNDONE), *due))
    done_later = session.scalar(select(func.count()).where(PreventionAction.done_at >= end, *due))
    return Recurrence(recurrences=recurrences, resolved=resolved, ratio=ratio(recurrences, resolved),
                      prevention_overdue=int(undone or 0) + int(done_later or 0))


# ---------------------------------------------------------------- revenue at risk


@dataclass(frozen=True)
class RevenueAtRisk:
    open_cases: int  # cases open at the instant
    case_impact: Decimal  # sum of their impact (as it is now), cases without an impact adding nothing
    cases_without_impact: int
    at_risk_customers: int  # customers whose status at the instant was at-risk
    at_risk_revenue: Decimal  # sum of their annual revenue (as it is now); a separate figure, not added
    at_risk_without_revenue: int


ZERO = Decimal("0.00")


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(ZERO)


def revenue_at_risk(session: Session, at: datetime) -> RevenueAtRisk:
    """Revenue at risk at an instant: the impact of the open cases, and the revenue of at-risk customers."""
    _aware(at)
    cases, impact, without = 0, ZERO, 0
    for where in _open_at(at):
        n, total, none = session.execute(select(func.count(), func.sum(Case.impact), _share(Case.impact.is_(None)))
                                         .where(*where)).one()
        cases, impact, without = cases + int(n), impact + _money(total), without + int(none)
    reopens = _reopens(session, at)
    for case_id in reopens.gaps(at):
        gap = reopens.impact[case_id]
        cases, impact, without = cases - 1, impact - _money(gap), without - (gap is None)
    customers, revenue, unknown = session.execute(
        select(func.count(), func.sum(Customer.annual_revenue), _share(Customer.annual_revenue.is_(None)))
        .where(_status_at(at) == "at-risk")).one()
    return RevenueAtRisk(open_cases=cases, case_impact=impact, cases_without_impact=without,
                         at_risk_customers=int(customers), at_risk_revenue=_money(revenue),
                         at_risk_without_revenue=int(unknown))


def open_cases(session: Session, at: datetime, *where: ColumnElement[bool], order_by: Sequence[Any] = (),
               limit: int | None = None) -> list[Case]:
    """The cases open at the instant that match ``where``, in ``order_by`` order (then by number)."""
    _aware(at)
    gaps = _reopens(session, at).gaps(at)
    order = [*order_by, Case.number]
    found: list[Case] = []
    for condition in _open_at(at):
        query = select(Case).where(*condition, *where)
        # Without a limit the order is the merged query's: asked here, it would tempt SQLite into reading a
        # whole index in that order (created_at, over every case) rather than the few open ones.
        found += session.scalars(query if limit is None else query.order_by(*order).limit(limit + len(gaps)))
    found = [case for case in found if case.id not in gaps]
    merged = select(Case).where(Case.id.in_([case.id for case in found])).order_by(*order)
    return list(session.scalars(merged if limit is None else merged.limit(limit))) if found else []
