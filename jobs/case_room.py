"""Slack effects of the case room (change notices, asking an added department, nudges) and the nudge job.

``nudge_departments`` runs in every tick: departments asked longer than their ``respond_within`` ago
with no answer in the case channel get one nudge in the thread of the message that asked them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.blocks.case_room import ask_text, notice_text, nudge_text
from bot.domain.case_room import NUDGE_BATCH, claim_nudges
from bot.services import Services
from jobs.outbox import Done, Item, Skip, effect
from jobs.posting import post_once
from storage.models import Case, CaseDepartment, CaseEvent


def nudge_departments(svc: Services, now: datetime) -> int:
    total = 0
    while True:
        with svc.db.transaction() as session:
            claimed = claim_nudges(session, now, NUDGE_BATCH)
        total += claimed
        if claimed < NUDGE_BATCH:
            return total


def _case_and(ctx: Services, item: Item, model: type[CaseEvent] | type[CaseDepartment], key: str
              ) -> tuple[Case, CaseEvent | CaseDepartment]:
    with ctx.db.transaction() as session:
        case = session.get(Case, item.case_id)
        row = session.get(model, item.payload[key])
        if case is None or row is None or not case.channel_id:
            raise Skip("no case channel to post in")
        _ = case.customer, list(case.departments)
        return case, row


@effect("case.notice")
def post_notice(ctx: Services, item: Item) -> Done:
    case, event = _case_and(ctx, item, CaseEvent, "event_id")
    assert isinstance(event, CaseEvent)
    ts = post_once(ctx.client, item, channel=str(case.channel_id), text=notice_text(event, case))
    return Done({"ts": ts})


@effect("department.ask")
def ask_department(ctx: Services, item: Item) -> Done:
    """Invited first (the chain), then asked in a new message: mentions of non-members notify nobody."""
    case, department = _case_and(ctx, item, CaseDepartment, "department_id")
    assert isinstance(department, CaseDepartment)
    ts = post_once(ctx.client, item, channel=str(case.channel_id), text=ask_text(case, department))

    def apply(session: Session) -> None:
        row = session.get(CaseDepartment, department.id)
        if row is not None:
            row.ask_ts = ts

    return Done({"ts": ts}, apply)


@effect("department.nudge")
def nudge(ctx: Services, item: Item) -> Done:
    case, department = _case_and(ctx, item, CaseDepartment, "department_id")
    assert isinstance(department, CaseDepartment)
    if department.answered_at is not None or not case.is_open:
        raise Skip("the department answered, or the case ended, before the nudge")
    ts = post_once(ctx.client, item, channel=str(case.channel_id), text=nudge_text(case, department),
                   thread_ts=department.ask_ts or case.summary_ts)
    return Done({"ts": ts})
