"""Proactive check-ins: one open cadence check-in per customer with a cadence, a follow-up per resolved case.

Scheduling is a sweep, not hooks (``ensure_checkins``, every tick): a customer with a cadence (its tier's,
else ``default_tier``'s) and no open cadence check-in gets one, due one cadence after its last cadence
check-in was done or skipped, else after the customer was created. Imports, new customers and customers
gaining a tier are covered that way; a customer changed after its open check-in was planned (a tier
change: ``Customer.updated_at``) has it planned again while it has not been put to anyone yet; a churned
customer's open check-ins are cancelled, and so are cadence check-ins of customers left without a cadence.
"Active" here means not churned: at-risk customers need check-ins most.

Each resolved case schedules a follow-up ("did the fix hold?", key ``followup:<case id>``)
``after_resolution`` after it was resolved (``follow_up_after_resolution``, called by ``resolve``). A
follow-up whose case is open again when it comes due is cancelled; resolving the case again plans it anew.

Prompting: ``claim_prompts`` claims due check-ins (``UPDATE … RETURNING`` over ``FOR UPDATE SKIP LOCKED``),
picks whom to ask (the customer's advocate, else the owner of their latest case, else the first advocate)
and writes one outbox row per prompt (``checkin:<id>:prompt:<n>``); the DM waits for that person's
working hours (jobs/checkins.py). Answers: log (a ``Feedback`` row, and a case when the customer is
unhappy and ``close_the_loop`` is on, or when asked to), snooze a week, skip with a reason. No Slack here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, delete, exists, false, func, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.config import TeamConfig
from bot.domain.business_hours import BusinessHours
from bot.domain.contact_hours import parse_contact_hours, suggest_contact_time
from bot.domain.records import enqueue
from storage.models import Case, CheckIn, Customer, Feedback

CADENCE, FOLLOW_UP = "cadence", "follow_up"
OPEN = ("scheduled", "prompted")
ENDED = ("done", "skipped")
SNOOZE = timedelta(days=7)
RECENT = timedelta(days=90)  # cases resolved this recently are shown in the prompt
SHOWN_CASES = 10
PROMPT_BATCH = 200
HOW = {"call": "Call", "meeting": "Meeting", "email": "Email", "chat": "Chat"}
TEXT_MAX = 3000
REASON_MAX = 2000

# Outbox kinds whose effects live in jobs/checkins.py
PROMPT = "checkin.prompt"  # the DM to the advocate, held for their working hours
REFRESH_DM = "checkin.refresh_dm"  # chat.update of that DM once answered (or snoozed, or cancelled)
CLOSE_LOOP = "checkin.close_loop"  # an unhappy customer: request a case (escalation_flow.request_case)
LINK_CASE = "checkin.link_case"  # after the escalation ran: Feedback.case_id


class NotOpen(Exception):
    """The check-in is not open to this answer: answered already, cancelled, or snoozed (``until``)."""

    def __init__(self, checkin: CheckIn, until: datetime | None = None) -> None:
        super().__init__(checkin.status)
        self.status, self.by, self.reason, self.until = checkin.status, checkin.done_by, checkin.skip_reason, until


# ---------------------------------------------------------------- scheduling


def cadence_condition(config: TeamConfig) -> ColumnElement[bool]:
    """SQL for "this customer has a cadence", as ``CheckIns.cadence(tier)`` decides it."""
    checkins = config.checkins
    tier = func.coalesce(Customer.tier, "")  # never NULL, so that NOT of this is true for "no cadence"
    parts: list[ColumnElement[bool]] = []
    if checkins.tiers:
        parts.append(tier.in_(list(checkins.tiers)))
    if checkins.default_tier:
        parts.append(tier == "")
    return or_(*parts) if parts else false()


def cadence_key(customer_id: int, due: datetime) -> str:
    return f"checkin:{customer_id}:{due.strftime('%Y%m%dT%H%M%SZ')}"


def _insert(session: Session, values: dict[str, Any]) -> bool:
    """Insert a check-in unless its key exists; a cancelled one with the key is planned again instead.

    ``ON CONFLICT`` rather than catching IntegrityError: on PostgreSQL a failed insert aborts the whole
    transaction, and two replicas may plan the same check-in at once (the same key: one wins).
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    revive = {k: values[k] for k in ("due_at", "prompt_at", "status", "created_at")}
    revive.update(advocate_id=None, snoozed_until=None, skip_reason=None, channel_id=None, message_ts=None)
    statement = (insert(CheckIn).values(**values)
                 .on_conflict_do_update(index_elements=["key"], set_=revive, where=CheckIn.status == "cancelled")
                 .returning(CheckIn.id))
    return session.execute(statement).scalar_one_or_none() is not None


def _last_ended(customer_id: Any) -> Any:
    return (select(func.max(CheckIn.done_at))
            .where(CheckIn.customer_id == customer_id, CheckIn.kind == CADENCE, CheckIn.status.in_(ENDED))
            .scalar_subquery())


def _plan_missing(session: Session, config: TeamConfig, now: datetime, customer_ids: list[int] | None = None) -> int:
    """One query: customers with a cadence and no open cadence check-in; each gets one."""
    has_open = exists().where(CheckIn.customer_id == Customer.id, CheckIn.kind == CADENCE,
                              CheckIn.status.in_(OPEN))
    query = (select(Customer.id, Customer.tier, Customer.created_at, _last_ended(Customer.id))
             .where(Customer.status != "churned", cadence_condition(config), ~has_open))
    if customer_ids is not None:
        query = query.where(Customer.id.in_(customer_ids))
    planned = 0
    for customer_id, tier, created_at, last in session.execute(query).all():
        cadence = config.checkins.cadence(tier or None)
        if cadence is None:
            continue
        due = (last or created_at) + cadence
        planned += _insert(session, {
            "key": cadence_key(customer_id, due), "customer_id": customer_id, "kind": CADENCE, "due_at": due,
            "prompt_at": due, "status": "scheduled", "prompts": 0, "created_at": now})
    return planned


def _cancel(session: Session, condition: ColumnElement[bool], now: datetime, why: str) -> int:
    rows = session.execute(
        update(CheckIn).where(CheckIn.status.in_(OPEN), condition)
        .values(status="cancelled", skip_reason=why)
        .returning(CheckIn.id, CheckIn.message_ts).execution_options(synchronize_session=False)).all()
    for checkin_id, message_ts in rows:
        if message_ts:  # the DM's buttons go
            enqueue(session, key=f"checkin:{checkin_id}:dm:cancelled:{int(now.timestamp())}", kind=REFRESH_DM, now=now,
                    payload={"checkin_id": checkin_id})
    return len(rows)


@dataclass
class Sweep:
    planned: int = 0  # the replanned ones included
    replanned: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.planned + self.cancelled


def ensure_checkins(session: Session, now: datetime, config: TeamConfig) -> Sweep:
    """Every tick: cancel what no longer applies, plan again what changed, plan what is missing."""
    sweep = Sweep()
    churned = select(Customer.id).where(Customer.status == "churned")
    sweep.cancelled += _cancel(session, CheckIn.customer_id.in_(churned), now, "the customer churned")
    without = select(Customer.id).where(not_(cadence_condition(config)))
    sweep.cancelled += _cancel(session, (CheckIn.kind == CADENCE) & CheckIn.customer_id.in_(without), now,
                               "the customer's tier has no check-in cadence")
    # Changed since planned (tier, …) and not yet put to anyone: drop it, and plan it again just below.
    changed = (select(CheckIn.id).join(Customer, Customer.id == CheckIn.customer_id)
               .where(CheckIn.kind == CADENCE, CheckIn.status == "scheduled", CheckIn.prompts == 0,
                      Customer.updated_at.is_not(None), Customer.updated_at > CheckIn.created_at))
    stale = list(session.scalars(changed))
    if stale:
        session.execute(delete(CheckIn).where(CheckIn.id.in_(stale)).execution_options(synchronize_session=False))
        sweep.replanned = len(stale)
    sweep.planned = _plan_missing(session, config, now)
    return sweep


def follow_up_after_resolution(session: Session, case: Case, *, now: datetime, config: TeamConfig) -> CheckIn | None:
    """"Did the fix hold?" ``after_resolution`` after the case was resolved (``followup:<case id>``).

    Resolved again after a reopen: the open or cancelled follow-up is planned anew; one already
    answered stays, and a new one (``followup:<case id>:<n>``) follows.
    """
    after = config.checkins.after_resolution
    if after is None or case.resolved_at is None or case.customer.status == "churned":
        return None
    due = case.resolved_at + after
    earlier = list(session.scalars(select(CheckIn).where(CheckIn.case_id == case.id, CheckIn.kind == FOLLOW_UP)
                                   .order_by(CheckIn.id.desc())))
    if earlier and earlier[0].status not in ENDED:
        row = earlier[0]
        row.due_at = row.prompt_at = due
        row.status, row.snoozed_until, row.skip_reason, row.advocate_id = "scheduled", None, None, None
        return row
    key = f"followup:{case.id}" + (f":{len(earlier) + 1}" if earlier else "")
    row = CheckIn(key=key, customer_id=case.customer_id, kind=FOLLOW_UP, case_id=case.id, due_at=due, prompt_at=due,
                  status="scheduled", prompts=0, created_at=now)
    session.add(row)
    return row


# ---------------------------------------------------------------- prompting


def latest_owners(session: Session, customer_ids: list[int]) -> dict[int, str]:
    """The owner of each customer's most recent case."""
    owners: dict[int, str] = {}
    if customer_ids:
        for customer_id, owner in session.execute(
                select(Case.customer_id, Case.owner_id).where(Case.customer_id.in_(customer_ids))
                .order_by(Case.customer_id, Case.created_at.desc(), Case.id.desc())):
            owners.setdefault(customer_id, owner)
    return owners


def claim_prompts(session: Session, now: datetime, advocates: list[str], limit: int = PROMPT_BATCH) -> int:
    """Claim due check-ins (several replicas: each once) and write one DM each to the outbox.

    ``advocates``: the team, user groups expanded, for the last fallback of whom to ask.
    """
    due = (select(CheckIn.id).where(CheckIn.status == "scheduled", CheckIn.prompt_at <= now)
           .order_by(CheckIn.prompt_at, CheckIn.id).limit(limit).with_for_update(skip_locked=True))
    ids = list(session.execute(
        update(CheckIn).where(CheckIn.id.in_(due.scalar_subquery()))
        .values(status="prompted", prompts=CheckIn.prompts + 1, snoozed_until=None)
        .returning(CheckIn.id).execution_options(synchronize_session=False)).scalars())
    if not ids:
        return 0
    rows = list(session.scalars(select(CheckIn).where(CheckIn.id.in_(ids)).order_by(CheckIn.prompt_at, CheckIn.id)
                                .execution_options(populate_existing=True)))
    customers = {c.id: c for c in session.scalars(select(Customer).where(
        Customer.id.in_({r.customer_id for r in rows})))}
    cases = {c.id: c for c in session.scalars(select(Case).where(
        Case.id.in_({r.case_id for r in rows if r.case_id is not None})))}
    owners = latest_owners(session, [c.id for c in customers.values() if not c.advocate_id])
    people = [a for a in advocates if not a.startswith("S")]
    for row in rows:
        customer = customers[row.customer_id]
        case = cases.get(row.case_id) if row.case_id is not None else None
        if customer.status == "churned":
            row.status, row.skip_reason = "cancelled", "the customer churned"
            continue
        if row.kind == FOLLOW_UP and (case is None or case.resolved_at is None):
            row.status, row.skip_reason = "cancelled", "the case was reopened" if case else "the case is gone"
            continue
        before = row.advocate_id
        row.advocate_id = customer.advocate_id or owners.get(customer.id) or (people[0] if people else None)
        if row.advocate_id != before:  # put to someone else now: their DM, not the earlier one's
            row.channel_id = row.message_ts = None
        if row.advocate_id is None:  # only user groups, and Slack could not expand them now: next tick
            row.status, row.prompts = "scheduled", row.prompts - 1
            continue
        fallback = next((a for a in people if a != row.advocate_id), None)  # told if the DM cannot be sent
        enqueue(session, key=f"checkin:{row.id}:prompt:{row.prompts}", kind=PROMPT, now=now,
                payload={"checkin_id": row.id, "prompt": row.prompts, "fallback": fallback})
    session.flush()
    return len(rows)


def known_dm(session: Session, user: str) -> str | None:
    """The app's DM channel with ``user``, if a check-in was ever posted there (to find a post after a
    lost answer, the DM's id is needed: a user ID cannot be searched)."""
    return session.scalar(select(CheckIn.channel_id).where(CheckIn.advocate_id == user, CheckIn.channel_id.is_not(None))
                          .order_by(CheckIn.prompted_at.desc()).limit(1))


# ---------------------------------------------------------------- what a prompt shows


@dataclass(frozen=True)
class CaseRef:
    number: int
    channel_id: str | None
    status: str
    summary: str
    resolved_at: datetime | None
    resolution: str | None = None


@dataclass(frozen=True)
class LastCheckIn:
    status: str  # done | skipped
    at: datetime
    by: str | None
    how: str | None = None
    nps: int | None = None
    csat: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class PromptContext:
    checkin: CheckIn
    customer: Customer
    open_cases: tuple[CaseRef, ...]
    open_count: int
    resolved: tuple[CaseRef, ...]  # in the last 90 days
    resolved_count: int
    last: LastCheckIn | None
    case: CaseRef | None  # the follow-up's case
    customer_zone: ZoneInfo
    preferred: BusinessHours | None
    feedback: Feedback | None = None  # this check-in's, once logged
    escalation: CaseRef | None = None  # the case opened from it (closing the loop)


def _ref(case: Case) -> CaseRef:
    return CaseRef(case.number, case.channel_id, case.status, case.summary, case.resolved_at, case.resolution)


def customer_zone(customer: Customer, config: TeamConfig) -> ZoneInfo:
    try:
        return ZoneInfo(customer.timezone) if customer.timezone else config.zone
    except (ZoneInfoNotFoundError, ValueError):
        return config.zone


def preferred_hours(customer: Customer) -> BusinessHours | None:
    try:
        return parse_contact_hours(customer.preferred_hours) if customer.preferred_hours else None
    except ValueError:
        return None  # written badly: the advocate's hours alone decide


def prompt_context(session: Session, checkin: CheckIn, now: datetime, config: TeamConfig) -> PromptContext:
    customer = session.get_one(Customer, checkin.customer_id)
    cases = select(Case).where(Case.customer_id == customer.id)
    open_q = cases.where(Case.status.in_(Case.OPEN_STATUSES))
    resolved_q = cases.where(Case.resolved_at.is_not(None), Case.resolved_at >= now - RECENT)

    def count(query: Any) -> int:
        return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    open_cases = tuple(_ref(c) for c in session.scalars(open_q.order_by(Case.number.desc()).limit(SHOWN_CASES)))
    resolved = tuple(_ref(c) for c in session.scalars(
        resolved_q.order_by(Case.resolved_at.desc()).limit(SHOWN_CASES)))
    earlier = session.scalar(select(CheckIn).where(CheckIn.customer_id == customer.id, CheckIn.id != checkin.id,
                                                   CheckIn.status.in_(ENDED), CheckIn.done_at.is_not(None))
                             .order_by(CheckIn.done_at.desc(), CheckIn.id.desc()).limit(1))
    last = None
    if earlier is not None and earlier.done_at is not None:
        said = session.scalar(select(Feedback).where(Feedback.checkin_id == earlier.id).limit(1))
        last = LastCheckIn(earlier.status, earlier.done_at, earlier.done_by, said.channel if said else None,
                           said.nps if said else None, said.csat if said else None, earlier.skip_reason)
    case = session.get(Case, checkin.case_id) if checkin.case_id is not None else None
    feedback = session.scalar(select(Feedback).where(Feedback.checkin_id == checkin.id).limit(1))
    escalation = session.get(Case, feedback.case_id) if feedback is not None and feedback.case_id else None
    return PromptContext(
        checkin=checkin, customer=customer, open_cases=open_cases, open_count=count(open_q),
        resolved=resolved, resolved_count=count(resolved_q), last=last, case=_ref(case) if case else None,
        customer_zone=customer_zone(customer, config), preferred=preferred_hours(customer), feedback=feedback,
        escalation=_ref(escalation) if escalation else None)


def suggest(context: PromptContext, now: datetime, advocate_zone: ZoneInfo, config: TeamConfig) -> datetime:
    """A time inside the customer's preferred hours (their zone) that is inside the advocate's working hours."""
    return suggest_contact_time(now, context.customer_zone, context.preferred, advocate_zone, config.business_hours)


# ---------------------------------------------------------------- answers


@dataclass(frozen=True)
class CheckInLog:
    """What the Log check-in form records, validated."""

    how: str
    problems: str = ""
    feedback: str = ""
    nps: int | None = None
    csat: int | None = None
    escalate: bool = False


def unhappy(form: CheckInLog) -> bool:
    """A detractor (NPS 0-6) or an unsatisfied answer (CSAT 1-2)."""
    return (form.nps is not None and form.nps <= 6) or (form.csat is not None and form.csat <= 2)


def opens_case(form: CheckInLog, config: TeamConfig) -> bool:
    return form.escalate or (config.checkins.close_the_loop and unhappy(form))


def _close(session: Session, checkin: CheckIn, status: str, *, by: str, now: datetime, reason: str | None) -> None:
    """Open → done or skipped, once: the same statement checks and changes it (a double click has one effect)."""
    changed = session.execute(
        update(CheckIn).where(CheckIn.id == checkin.id, CheckIn.status.in_(OPEN))
        .values(status=status, done_at=now, done_by=by, skip_reason=reason, snoozed_until=None)
        .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    session.refresh(checkin)
    if not changed:
        raise NotOpen(checkin)


def _after_answer(session: Session, checkin: CheckIn, now: datetime, config: TeamConfig, what: str) -> None:
    """The next cadence check-in follows from now; the DM shows the outcome."""
    if checkin.kind == CADENCE:
        _plan_missing(session, config, now, [checkin.customer_id])
    if checkin.message_ts:
        enqueue(session, key=f"checkin:{checkin.id}:dm:{what}", kind=REFRESH_DM, now=now,
                payload={"checkin_id": checkin.id})


def log(session: Session, checkin: CheckIn, form: CheckInLog, *, by: str, now: datetime,
        config: TeamConfig) -> Feedback:
    """Done: what the customer said as a ``Feedback`` row; a case requested when the loop must be closed."""
    _close(session, checkin, "done", by=by, now=now, reason=None)
    feedback = Feedback(key=f"checkin:{checkin.id}", customer_id=checkin.customer_id, advocate_id=by, at=now,
                        source="checkin", channel=form.how, nps=form.nps, csat=form.csat,
                        problems=form.problems or None, comment=form.feedback or None, checkin_id=checkin.id,
                        created_at=now)
    session.add(feedback)
    session.flush()
    _after_answer(session, checkin, now, config, "done")
    if opens_case(form, config):
        enqueue(session, key=f"checkin:{checkin.id}:close_loop", kind=CLOSE_LOOP, now=now,
                payload={"checkin_id": checkin.id, "feedback_id": feedback.id})
    return feedback


def skip(session: Session, checkin: CheckIn, *, reason: str, by: str, now: datetime, config: TeamConfig) -> None:
    if not reason.strip():
        raise ValueError("a skipped check-in needs a reason")
    _close(session, checkin, "skipped", by=by, now=now, reason=reason.strip())
    _after_answer(session, checkin, now, config, "skipped")


def snooze(session: Session, checkin: CheckIn, *, by: str, now: datetime) -> datetime:
    """Ask again in a week: ``prompt_at`` moves, ``due_at`` stays; the next prompt has a new key."""
    until = now + SNOOZE
    changed = session.execute(
        update(CheckIn).where(CheckIn.id == checkin.id, or_(
            CheckIn.status == "prompted", (CheckIn.status == "scheduled") & (CheckIn.prompt_at <= now)))
        .values(status="scheduled", prompt_at=until, snoozed_until=until)
        .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    session.refresh(checkin)
    if not changed:  # answered, or snoozed already (a double click), or not due yet
        raise NotOpen(checkin, checkin.prompt_at if checkin.status == "scheduled" else None)
    if checkin.message_ts:
        enqueue(session, key=f"checkin:{checkin.id}:dm:snoozed:{int(now.timestamp())}", kind=REFRESH_DM, now=now,
                payload={"checkin_id": checkin.id})
    return until


def escalation_summary(feedback: Feedback) -> str:
    """What the customer said, for the case's summary: problems, feedback and the scores."""
    parts = [f"Raised in a check-in ({feedback.channel or 'unspecified'})."]
    if feedback.problems:
        parts.append(f"Problems: {feedback.problems}")
    if feedback.comment:
        parts.append(f"Feedback: {feedback.comment}")
    scores = []
    if feedback.nps is not None:
        scores.append(f"NPS {feedback.nps}/10")
    if feedback.csat is not None:
        scores.append(f"CSAT {feedback.csat}/5")
    if scores:
        parts.append("Scores: " + ", ".join(scores) + ".")
    text = " ".join(parts)
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


# ---------------------------------------------------------------- the App Home


@dataclass(frozen=True)
class Due:
    checkin: CheckIn
    customer: Customer
    case_number: int | None
    days_overdue: int  # whole days past the due date, in the team's zone


def due_for(session: Session, user: str, now: datetime, zone: ZoneInfo, limit: int = 50) -> list[Due]:
    """Check-ins put to ``user`` (or due for a customer they advocate): prompted, or past their due time."""
    whose = func.coalesce(CheckIn.advocate_id, Customer.advocate_id)
    rows = session.execute(
        select(CheckIn, Customer).join(Customer, Customer.id == CheckIn.customer_id)
        .where(CheckIn.status.in_(OPEN), whose == user, or_(CheckIn.status == "prompted", CheckIn.due_at <= now))
        .order_by(CheckIn.due_at, CheckIn.id).limit(limit)).all()
    numbers = dict(session.execute(select(Case.id, Case.number).where(
        Case.id.in_({c.case_id for c, _ in rows if c.case_id is not None}))).all()) if rows else {}
    today = now.astimezone(zone).date()
    return [Due(c, customer, numbers.get(c.case_id) if c.case_id else None,
                max(0, (today - c.due_at.astimezone(zone).date()).days)) for c, customer in rows]
