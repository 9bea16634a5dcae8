"""Cases: opening one records the case, its timeline and its set-up steps in one transaction.

The set-up steps (create the channel, invite, summary, pin, topic, bookmark, tell the requester) are
outbox rows, each waiting for the one it needs; ``jobs/`` drives them against Slack and the tick resumes what is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.config import TeamConfig
from bot.domain.cadence import start_period
from bot.domain.customers import get_or_create_customer
from bot.domain.escalation import EscalationRequest, route
from bot.domain.records import add_event, enqueue
from storage.models import Case, CaseDepartment, CaseEvent, Counter, OutboxItem

# Each step and the step it needs first: the summary mentions heads only after they are invited
# (mentions of non-members notify nobody); cosmetic steps (topic, bookmark) never hold up the summary.
SETUP_STEPS: tuple[tuple[str, str | None], ...] = (
    ("case.create_channel", None),
    ("case.invite", "case.create_channel"),
    ("case.post_summary", "case.invite"),
    ("case.pin_summary", "case.post_summary"),
    ("case.set_topic", "case.create_channel"),
    ("case.bookmark_source", "case.create_channel"),
    ("case.notify_requester", "case.post_summary"),
)


@dataclass(frozen=True)
class Origin:
    """Where an escalation came from, and how to answer the person who made it."""

    requester: str
    channel_id: str | None = None
    response_url: str | None = None
    source_channel_id: str | None = None
    source_ts: str | None = None


def next_number(session: Session, name: str = "case") -> int:
    """Allocate the next human number. The row lock makes it safe across replicas and gapless."""
    value = session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    ).scalar_one_or_none()
    if value is None:
        session.add(Counter(name=name, value=1))
        session.flush()
        return 1
    return int(value)


def ask_department(config: TeamConfig, name: str, now: datetime) -> CaseDepartment:
    """A department asked to act now: its heads and deputies, and when it is nudged if nobody answers."""
    department = config.departments[name]
    return CaseDepartment(department=name, heads=list(department.heads), deputies=list(department.deputies),
                          asked_at=now, nudge_at=now + department.respond_within)


def choose_owner(session: Session, requester: str, advocates: Sequence[str]) -> str:
    """The requester when they are an advocate, else the advocate with the fewest open cases.

    Ties go to the advocate listed first in the config, so the choice is predictable.
    """
    if requester in advocates:
        return requester
    counts = dict(
        session.execute(
            select(Case.owner_id, func.count())
            .where(Case.status.in_(Case.OPEN_STATUSES), Case.owner_id.in_(list(advocates)))
            .group_by(Case.owner_id)
        ).all()
    )
    return min(advocates, key=lambda advocate: (counts.get(advocate, 0), list(advocates).index(advocate)))


def open_case(
    session: Session,
    request: EscalationRequest,
    *,
    origin: Origin,
    config: TeamConfig,
    advocates: Sequence[str],
    now: datetime,
) -> Case:
    """Record a case, its departments, its first timeline entry and its set-up chain."""
    assert request.customer, "validate the request first"
    customer = get_or_create_customer(
        session,
        request.customer,
        now=now,
        timezone=request.customer_timezone,
        external_ref=request.external_ref,
    )
    severity = request.severity or config.default_severity
    routed = route(request.summary, request.departments, config)
    # the customer's own advocate is their single point of contact; else the requester or the least busy
    owner = customer.advocate_id or choose_owner(session, origin.requester, advocates)
    case = Case(
        number=next_number(session),
        customer_id=customer.id,
        summary=request.summary,
        severity=severity,
        status="new",
        owner_id=owner,
        reporter_id=origin.requester,
        impact=request.impact,
        request_channel_id=origin.channel_id,
        source_channel_id=origin.source_channel_id,
        source_ts=origin.source_ts,
        created_at=now,
        updated_at=now,
    )
    case.customer = customer
    session.add(case)
    session.flush()
    for name in routed.departments:
        case.departments.append(ask_department(config, name, now))
    add_event(
        session,
        case,
        at=now,
        actor=origin.requester,
        kind="opened",
        text=request.summary,
        data={
            "customer": customer.name,
            "severity": severity,
            "departments": list(routed.departments),
            "routing": routed.reason,
            "owner": owner,
            "impact": str(request.impact) if request.impact is not None else None,
        },
    )
    start_period(session, case, now, config, now)
    steps: dict[str, OutboxItem] = {}
    for step, needs in SETUP_STEPS:
        if step == "case.bookmark_source" and not origin.source_ts:
            continue
        payload: dict[str, object] = {}
        if step == "case.notify_requester":
            payload = {"user": origin.requester, "response_url": origin.response_url}
        steps[step] = enqueue(
            session,
            key=f"case:{case.id}:{step}",
            kind=step,
            case_id=case.id,
            payload=payload,
            after=steps[needs] if needs else None,
            now=now,
        )
    session.flush()
    return case


def add_report_to_case(
    session: Session, case: Case, request: EscalationRequest, *, origin: Origin, now: datetime, draft_id: str
) -> CaseEvent:
    """A new report about a customer with an open case goes into that case instead of a new one."""
    event = add_event(
        session,
        case,
        at=now,
        actor=origin.requester,
        kind="report_added",
        text=request.summary,
        data={"impact": str(request.impact) if request.impact is not None else None},
    )
    session.flush()
    invite = enqueue(
        session,
        key=f"draft:{draft_id}:invite",
        kind="case.invite_users",
        case_id=case.id,
        payload={"users": [origin.requester]},
        now=now,
    )
    post = enqueue(
        session,
        key=f"draft:{draft_id}:post",
        kind="case.post_report",
        case_id=case.id,
        payload={"event_id": event.id},
        after=invite,
        now=now,
    )
    enqueue(
        session,
        key=f"draft:{draft_id}:notify",
        kind="case.notify_requester",
        case_id=case.id,
        payload={"user": origin.requester, "response_url": origin.response_url, "added": True},
        after=post,
        now=now,
    )
    case.updated_at = now
    return event
