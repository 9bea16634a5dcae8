"""What one person's App Home shows: their open cases, overdue prevention actions, cases to reopen, check-ins due.

Who the viewer is for departments (user groups expanded) is worked out by the caller before the query
(expanding asks Slack); these functions only read. No Slack here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.domain.checkins import Due, due_for
from storage.models import Case, CaseDepartment, PreventionAction

ENDED_STATUSES = ("resolved", "closed")
REOPEN_WINDOW = timedelta(days=30)
REOPEN_LIMIT = 10


@dataclass(frozen=True)
class Viewer:
    """The person looking, as the database knows them."""

    user: str
    groups: frozenset[str] = frozenset()  # user groups (S…) they are a member of
    departments: frozenset[str] = frozenset()  # departments whose configured heads or deputies include them
    is_advocate: bool = False

    def answers_for(self, department: CaseDepartment) -> bool:
        listed = {*department.heads, *(department.deputies or [])}
        return department.department in self.departments or bool(listed & {self.user, *self.groups})


@dataclass(frozen=True)
class Asked:
    """An open case one of the viewer's departments is asked on."""

    case: Case
    departments: list[CaseDepartment]


@dataclass
class Home:
    owned: list[Case] = field(default_factory=list)
    asked: list[Asked] = field(default_factory=list)
    reported: list[Case] = field(default_factory=list)
    overdue_actions: list[tuple[PreventionAction, Case]] = field(default_factory=list)
    reopenable: list[Case] = field(default_factory=list)
    checkins_due: list[Due] = field(default_factory=list)  # put to the viewer, or past due for their customers


def home(session: Session, viewer: Viewer, *, now: datetime, zone: ZoneInfo) -> Home:
    """Each open case appears once: owned first, then asked of the viewer's department, then reported."""
    user = viewer.user
    open_cases = (select(Case).where(Case.status.in_(Case.OPEN_STATUSES)).options(selectinload(Case.departments))
                  .order_by(Case.number.desc()))
    owned = list(session.scalars(open_cases.where(Case.owner_id == user)))
    seen = {c.id for c in owned}

    # Departments of open cases are few (one or two per case): read them and match in Python, since
    # heads and deputies are JSON lists and user groups were expanded by the caller.
    candidates = session.scalars(select(CaseDepartment).join(Case, Case.id == CaseDepartment.case_id)
                                 .where(Case.status.in_(Case.OPEN_STATUSES)))
    mine: dict[int, list[CaseDepartment]] = {}
    for department in candidates:
        if department.case_id not in seen and viewer.answers_for(department):
            mine.setdefault(department.case_id, []).append(department)
    asked = [Asked(case, mine[case.id]) for case in session.scalars(open_cases.where(Case.id.in_(mine)))] \
        if mine else []
    seen |= set(mine)

    reported = [c for c in session.scalars(open_cases.where(Case.reporter_id == user)) if c.id not in seen]

    today = now.astimezone(zone).date()
    overdue = [(action, case) for action, case in session.execute(
        select(PreventionAction, Case).join(Case, Case.id == PreventionAction.case_id)
        .where(PreventionAction.owner_id == user, PreventionAction.status != "done", PreventionAction.due_on < today)
        .order_by(PreventionAction.due_on, PreventionAction.id))]

    ended = func.coalesce(Case.closed_at, Case.resolved_at)
    recent = (select(Case).where(Case.status.in_(ENDED_STATUSES), ended >= now - REOPEN_WINDOW)
              .order_by(ended.desc(), Case.number.desc()).limit(REOPEN_LIMIT))
    if not viewer.is_advocate:
        recent = recent.where(Case.owner_id == user)
    return Home(owned=owned, asked=asked, reported=reported, overdue_actions=overdue,
                reopenable=list(session.scalars(recent)), checkins_due=due_for(session, user, now, zone))
