"""The weekly digest's figures for one ISO week (team timezone), with the week before for comparison.

Every figure comes from ``bot/domain/metrics.py`` (or a count here) and carries its numerator and
denominator, so the JSON lets anyone check the arithmetic. The keys are the interface of
``advocacy-bot digest --format json``; the README defines each figure. No Slack here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import Digest, TeamConfig
from bot.domain import metrics
from bot.domain.weeks import Week
from storage.models import Case, CheckIn, Customer, CustomerStatusChange, Feedback, Reminder

TOP_CASES = 5
DETRACTOR = 6  # NPS 0-6


def _checkins(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    """Check-ins due in the week (not cancelled) and check-ins done in it (logged, not skipped)."""
    due = session.scalar(select(func.count()).select_from(CheckIn).where(
        CheckIn.due_at >= start, CheckIn.due_at < end, CheckIn.status != "cancelled"))
    done = session.scalar(select(func.count()).select_from(CheckIn).where(
        CheckIn.done_at >= start, CheckIn.done_at < end, CheckIn.status == "done"))
    return {"done": int(done or 0), "due": int(due or 0)}


def _credits(session: Session, start: datetime, end: datetime) -> str:
    total = session.scalar(select(func.coalesce(func.sum(Case.credits), 0)).where(
        Case.resolved_at >= start, Case.resolved_at < end))
    return str(Decimal(total or 0).quantize(Decimal("0.01")))


def bounds(week: Week, config: TeamConfig, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The week's [start, end) in UTC; a week not over yet ends now (its figures are "so far")."""
    start, end = week.bounds(config.zone)
    return (start, now) if now is not None and start < now < end else (start, end)


def week_figures(session: Session, week: Week, config: TeamConfig, *, now: datetime | None = None) -> dict[str, Any]:
    """The figures of one week, JSON-ready (up to ``now`` if the week is not over)."""
    start, end = bounds(week, config, now)
    flow = metrics.cases_flow(session, start, end)
    compliance = metrics.update_compliance(session, start, end)
    nps = metrics.nps(session, start, end)
    csat = metrics.csat(session, start, end)
    retention = metrics.retention(session, start, end)
    recurrence = metrics.recurrence(session, start, end, zone=config.zone)
    risk = metrics.revenue_at_risk(session, end)
    return {
        "week": str(week),
        "start": metrics.to_data(start),
        "end": metrics.to_data(end),
        "cases_opened": flow.opened,
        "cases_resolved": flow.resolved,
        "cases_reopened": flow.reopened,
        "open_at_end": flow.open_at_end,
        "by_severity": metrics.to_data(flow.by_severity),
        "by_department": metrics.to_data(flow.by_department),
        "time_to_resolution_hours": _durations(metrics.time_to_resolution(session, start, end)),
        "first_response_hours": {d: _durations(v) for d, v in
                                 metrics.first_response(session, start, end).by_department.items()},
        "update_compliance": {"on_time": compliance.on_time, "due": compliance.due, "late": compliance.late,
                              "missed": compliance.missed, "ratio": compliance.ratio},
        "nps": {"score": nps.score, "promoters": nps.promoters, "passives": nps.passives,
                "detractors": nps.detractors, "n": nps.n},
        "csat": {"score": csat.score, "satisfied": csat.satisfied, "n": csat.n},
        "checkins": _checkins(session, start, end),
        "retention": {"active_at_start": retention.active_at_start, "churned": retention.churned,
                      "turned_at_risk": retention.turned_at_risk, "ratio": retention.ratio},
        "recurrence": {"recurrences": recurrence.recurrences, "resolved": recurrence.resolved,
                       "ratio": recurrence.ratio},
        "prevention_overdue": recurrence.prevention_overdue,
        "revenue_at_risk": str(risk.case_impact),
        "at_risk_customer_revenue": str(risk.at_risk_revenue),
        "credits_issued": _credits(session, start, end),
    }


def _durations(value: metrics.Durations) -> dict[str, Any]:
    return {"p50": value.p50_hours, "p90": value.p90_hours, "n": value.n}


def _case(case: Case) -> dict[str, Any]:
    return {"number": case.number, "channel_id": case.channel_id, "customer": case.customer.name,
            "severity": case.severity, "impact": None if case.impact is None else str(case.impact)}


def attention(session: Session, week: Week, config: TeamConfig, *, now: datetime | None = None) -> dict[str, Any]:
    """What needs leadership's attention at the end of the week, with the cases and customers to act on."""
    start, end = bounds(week, config, now)
    # Without a digest schedule the figures are still asked for (the CLI, /advocacy digest): its default applies.
    after = (config.digest or Digest()).attention_after
    long_p1 = metrics.open_cases(
        session, end, Case.severity == "p1", Case.created_at < end - after, order_by=[Case.created_at])
    escalated = session.scalars(select(Case).where(Case.id.in_(select(Reminder.case_id).where(
        Reminder.step == "leadership", Reminder.status == "fired", Reminder.fire_at >= start,
        Reminder.fire_at < end))).order_by(Case.number))
    detractors = session.execute(
        select(Feedback.customer_id, Customer.name, Feedback.nps).join(Customer, Customer.id == Feedback.customer_id)
        .where(Feedback.at >= start, Feedback.at < end, Feedback.nps <= DETRACTOR)
        .order_by(Feedback.at, Feedback.id)).all()
    turned = session.execute(
        select(CustomerStatusChange.customer_id, Customer.name, CustomerStatusChange.to_status)
        .join(Customer, Customer.id == CustomerStatusChange.customer_id)
        .where(CustomerStatusChange.at >= start, CustomerStatusChange.at < end,
               CustomerStatusChange.to_status.in_(("at-risk", "churned")))
        .order_by(CustomerStatusChange.at, CustomerStatusChange.id)).all()
    return {"p1_open_long": [_case(c) for c in long_p1], "escalated_to_leadership": [_case(c) for c in escalated],
            "detractors": [{"customer_id": c, "customer": name, "nps": n} for c, name, n in detractors],
            "customers_turned": [{"customer_id": c, "customer": name, "status": s} for c, name, s in turned]}


def top_cases(session: Session, at: datetime) -> list[dict[str, Any]]:
    """The cases open at the instant with the largest impact."""
    return [_case(c) for c in metrics.open_cases(session, at, Case.impact.is_not(None),
                                                 order_by=[Case.impact.desc()], limit=TOP_CASES)]


def overdue_now(session: Session, now: datetime) -> int:
    """Open cases whose next customer update is past due at ``now`` (the current state, not history)."""
    return int(session.scalar(select(func.count()).where(
        Case.status.in_(Case.OPEN_STATUSES), Case.next_update_due < now)) or 0)


def digest(session: Session, week: Week, config: TeamConfig, *, now: datetime | None = None) -> dict[str, Any]:
    """The week's figures, what needs attention, the top cases by impact, and ``previous`` (the week before).

    ``now`` cuts a week that is not over yet ("so far"), and gives ``updates_overdue_now``; without it the
    week is taken whole and overdue is counted at its end.
    """
    figures = week_figures(session, week, config, now=now)
    _, end = bounds(week, config, now)
    return {**figures, "updates_overdue_now": overdue_now(session, now or end),
            "top_cases": top_cases(session, end), "attention": attention(session, week, config, now=now),
            "previous": week_figures(session, week.shift(-1), config)}


def _change(now: Any, before: Any) -> str:
    if not isinstance(now, int | float) or not isinstance(before, int | float):
        return ""
    delta = now - before
    return f" ({'+' if delta >= 0 else ''}{delta:g} on the week before)" if isinstance(delta, int) else \
        f" ({'+' if delta >= 0 else ''}{delta:.2f} on the week before)"


def digest_text(data: dict[str, Any]) -> str:
    """The digest as plain text (``advocacy-bot digest --format text``), each figure with its change."""
    prev = data["previous"]
    compliance, nps, csat = data["update_compliance"], data["nps"], data["csat"]
    ttr, retention, recurrence = data["time_to_resolution_hours"], data["retention"], data["recurrence"]
    lines = [
        f"Customer advocacy, week {data['week']} ({data['start']} to {data['end']})",
        f"Cases opened {data['cases_opened']}{_change(data['cases_opened'], prev['cases_opened'])}, "
        f"resolved {data['cases_resolved']}{_change(data['cases_resolved'], prev['cases_resolved'])}, "
        f"open at the end {data['open_at_end']}{_change(data['open_at_end'], prev['open_at_end'])}",
        f"Time to resolution: p50 {ttr['p50']} h, p90 {ttr['p90']} h (n {ttr['n']})",
        f"Customer updates on time: {compliance['on_time']} of {compliance['due']} due"
        + (f" ({compliance['ratio']:.0%})" if compliance["ratio"] is not None else "")
        + f"; {compliance['late']} late, {compliance['missed']} missed; overdue now {data['updates_overdue_now']}",
        f"NPS {nps['score']} (n {nps['n']}: {nps['promoters']} promoters, {nps['detractors']} detractors)"
        f"{_change(nps['score'], prev['nps']['score'])}",
        f"CSAT {csat['score']}% satisfied (n {csat['n']})" if csat["score"] is not None else "CSAT: no answers",
        f"Check-ins done {data['checkins']['done']} of {data['checkins']['due']} due",
        f"Retention {retention['ratio']:.0%} of {retention['active_at_start']} customers "
        f"({retention['churned']} churned, {retention['turned_at_risk']} turned at-risk)"
        if retention["ratio"] is not None else "Retention: no customers at the start of the week",
        f"Recurrences {recurrence['recurrences']} of {recurrence['resolved']} resolved; "
        f"prevention actions overdue {data['prevention_overdue']}",
        f"Revenue at risk in open cases ${Decimal(data['revenue_at_risk']):,.2f}; "
        f"credits issued ${Decimal(data['credits_issued']):,.2f}",
    ]
    for title, groups in (("By severity", data["by_severity"]), ("By department", data["by_department"])):
        if groups:
            lines.append(f"{title}: " + "; ".join(
                f"{name} opened {g['opened']}, resolved {g['resolved']}, open {g['open_at_end']}"
                for name, g in groups.items()))
    if data["first_response_hours"]:
        lines.append("First department response, median: " + "; ".join(
            f"{name} {d['p50']:.1f} h (n {d['n']})" for name, d in data["first_response_hours"].items()))
    if data["top_cases"]:
        lines.append("Top cases by impact: " + ", ".join(
            f"#{c['number']} {c['customer']} (${Decimal(c['impact']):,.0f})" for c in data["top_cases"]))
    attention = data["attention"]
    needs = [
        *(f"P1 #{c['number']} ({c['customer']}) open longer than allowed" for c in attention["p1_open_long"]),
        *(f"#{c['number']} ({c['customer']}): customer update escalated to leadership"
          for c in attention["escalated_to_leadership"]),
        *(f"{d['customer']} is a detractor (NPS {d['nps']})" for d in attention["detractors"]),
        *(f"{t['customer']} turned {t['status']}" for t in attention["customers_turned"]),
    ]
    if needs:
        lines.append("Needs leadership attention:")
        lines.extend(f"- {item}" for item in needs)
    return "\n".join(lines)
