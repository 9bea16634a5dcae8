"""The monthly stakeholder review: for each department, its heads, open cases, unanswered asks and
overdue prevention actions — the agenda the advocacy team walks through with the department heads.

``latest_review`` says which month's review is due at ``now``; ``agenda`` gathers it with a few
aggregate queries (open cases only, never the history). No Slack here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import TeamConfig
from bot.domain.business_hours import local_instant
from storage.models import Case, CaseDepartment, Customer, PreventionAction

LATE_LIMIT = timedelta(days=7)  # a review missed by more than this is skipped, not posted weeks late


@dataclass(frozen=True)
class OpenAsk:
    number: int
    customer: str
    severity: str
    status: str
    channel_id: str | None
    asked_at: datetime
    answered: bool


@dataclass(frozen=True)
class OverdueAction:
    number: int
    what: str
    owner: str
    due_on: date


@dataclass
class DepartmentAgenda:
    name: str
    heads: list[str]
    asks: list[OpenAsk] = field(default_factory=list)  # open cases that asked this department
    overdue: list[OverdueAction] = field(default_factory=list)  # prevention actions its heads own

    @property
    def unanswered(self) -> list[OpenAsk]:
        return [a for a in self.asks if not a.answered]


def latest_review(now: datetime, day_of_month: int, clock: time, zone: ZoneInfo) -> tuple[str, datetime]:
    """The last monthly run at or before ``now``: (month label ``2026-12``, when it ran or should have)."""
    local = now.astimezone(zone)
    run = local_instant(date(local.year, local.month, day_of_month), clock, zone)
    if run > now:
        previous = date(local.year, local.month, 1) - timedelta(days=1)
        run = local_instant(date(previous.year, previous.month, day_of_month), clock, zone)
    month = run.astimezone(zone)
    return f"{month.year}-{month.month:02d}", run


def agenda(session: Session, config: TeamConfig, now: datetime) -> list[DepartmentAgenda]:
    """One entry per configured department, in config order."""
    today = now.astimezone(config.zone).date()
    out = {name: DepartmentAgenda(name, list(d.heads)) for name, d in config.departments.items()}
    asks = session.execute(
        select(CaseDepartment.department, Case.number, Case.customer_id, Case.severity, Case.status,
               Case.channel_id, CaseDepartment.asked_at, CaseDepartment.answered_at)
        .join(Case, Case.id == CaseDepartment.case_id)
        .where(Case.status.in_(Case.OPEN_STATUSES))
        .order_by(Case.number))
    names = _customer_names(session)
    for department, number, customer_id, severity, status, channel_id, asked_at, answered_at in asks:
        if department in out:
            out[department].asks.append(OpenAsk(number, names.get(customer_id, "?"), severity, status, channel_id,
                                                asked_at, answered_at is not None))
    owners = {head: name for name, d in config.departments.items() for head in [*d.heads, *d.deputies]}
    overdue = session.execute(
        select(Case.number, PreventionAction.what, PreventionAction.owner_id, PreventionAction.due_on)
        .join(Case, Case.id == PreventionAction.case_id)
        .where(PreventionAction.status != "done", PreventionAction.due_on < today,
               PreventionAction.owner_id.in_(list(owners)))
        .order_by(PreventionAction.due_on))
    for number, what, owner, due_on in overdue:
        out[owners[owner]].overdue.append(OverdueAction(number, what, owner, due_on))
    return list(out.values())


def _customer_names(session: Session) -> dict[int, str]:
    open_customers = select(Case.customer_id).where(Case.status.in_(Case.OPEN_STATUSES))
    return dict(session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(open_customers))).all())
