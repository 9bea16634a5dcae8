"""SQLAlchemy 2.0 typed models. Every schema change goes through an Alembic migration."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Counter(Base):
    """Gapless human numbers (case #12): ``UPDATE … SET value = value + 1 RETURNING value``; and the day a
    daily job last ran (``retention``: a date ordinal, moved forward in the statement that checks it)."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # casefolded name: "ACME" and "acme" are one customer
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    external_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    tier: Mapped[str | None] = mapped_column(String(40))  # a key of checkins.tiers
    preferred_hours: Mapped[str | None] = mapped_column(String(100))  # "tue-thu 10:00-12:00", their zone
    # the customer's single point of contact: /escalate for them assigns this advocate
    advocate_id: Mapped[str | None] = mapped_column(String(20), index=True)
    annual_revenue: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # active | at-risk | churned; every change is a CustomerStatusChange (retention for any period)
    status: Mapped[str] = mapped_column(String(12), default="active", server_default="active")
    updated_at: Mapped[datetime | None]

    cases: Mapped[list[Case]] = relationship(back_populates="customer")

    STATUSES = ("active", "at-risk", "churned")


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    summary: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30), default="new", index=True)
    owner_id: Mapped[str] = mapped_column(String(20), index=True)
    reporter_id: Mapped[str] = mapped_column(String(20))
    impact: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    channel_name: Mapped[str | None] = mapped_column(String(80))
    channel_id: Mapped[str | None] = mapped_column(String(20), unique=True)
    summary_ts: Mapped[str | None] = mapped_column(String(32))
    # where the escalation came from: the channel /escalate was typed in, or the shortcut's message
    request_channel_id: Mapped[str | None] = mapped_column(String(20))
    source_channel_id: Mapped[str | None] = mapped_column(String(20))
    source_ts: Mapped[str | None] = mapped_column(String(32))
    source_permalink: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)  # the digest counts by these two
    updated_at: Mapped[datetime]
    next_update_due: Mapped[datetime | None] = mapped_column(index=True)
    # what was agreed with the customer (/case cadence), else the severity's update_every
    cadence_seconds: Mapped[int | None] = mapped_column(Integer)
    last_customer_update_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    # how it ended: required by the resolve modal, so the problem cannot happen again unseen
    resolution: Mapped[str | None] = mapped_column(Text)
    root_cause_category: Mapped[str | None] = mapped_column(String(60))
    root_cause: Mapped[str | None] = mapped_column(Text)
    losses: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # the customer's, as they stated them
    credits: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # credits we issued
    # an earlier case of the same customer and root-cause category resolved within 90 days
    recurrence_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", name="fk_cases_recurrence_of_id"), index=True)
    channel_archived_at: Mapped[datetime | None]
    reopened_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship(back_populates="cases", lazy="joined")
    departments: Mapped[list[CaseDepartment]] = relationship(
        back_populates="case", order_by="CaseDepartment.id", cascade="all, delete-orphan"
    )

    OPEN_STATUSES = ("new", "investigating", "waiting-on-customer")

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class CaseDepartment(Base):
    """A department asked to act on a case, and (later) when and by whom it answered."""

    __tablename__ = "case_departments"
    __table_args__ = (UniqueConstraint("case_id", "department"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(60))
    heads: Mapped[list[Any]]  # user or group IDs at the time of asking
    deputies: Mapped[list[Any] | None]  # answer for the department as its heads do
    asked_at: Mapped[datetime]
    ask_ts: Mapped[str | None] = mapped_column(String(32))  # the message asking them (its thread gets the nudge)
    # first response: the first message in the case channel by a head or deputy
    answered_by: Mapped[str | None] = mapped_column(String(20))
    answered_at: Mapped[datetime | None] = mapped_column(index=True)
    nudge_at: Mapped[datetime | None] = mapped_column(index=True)  # asked_at + respond_within; cleared once nudged
    nudged_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="departments")


ONCE_PER_MESSAGE = "kind IN ('message', 'key_moment')"


class CaseEvent(Base):
    """The case timeline: everything that happened, who did it and when.

    People's messages in the case channel (``kind="message"``) and key moments are recorded once per
    Slack message: a unique index on (kind, channel, ts) for those kinds makes a re-delivery a no-op.
    """

    __tablename__ = "case_events"
    __table_args__ = (
        Index("ix_case_events_case_at", "case_id", "at"),
        Index("ix_case_events_kind_at", "kind", "at"),  # reopens in a period (the digest)
        Index("uq_case_events_message", "kind", "channel_id", "slack_ts", unique=True,
              sqlite_where=sql_text(ONCE_PER_MESSAGE), postgresql_where=sql_text(ONCE_PER_MESSAGE)),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(20))  # a user ID, or "bot"
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str | None] = mapped_column(Text)
    permalink: Mapped[str | None] = mapped_column(Text)
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(20))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    edited_at: Mapped[datetime | None]
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    data: Mapped[dict[str, Any] | None]


class PreventionAction(Base):
    """What will stop the problem happening again: what, who, by when. Reminded to its owner when due."""

    __tablename__ = "prevention_actions"
    __table_args__ = (
        Index("ix_prevention_due", "status", "remind_at"),
        # the digest's "overdue at the end of the week": a count read from the index alone
        Index("ix_prevention_status_due_on", "status", "due_on", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    what: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(20), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    remind_at: Mapped[datetime]  # the due date's business morning in the team's zone
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | reminded | overdue | done
    reminded_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None] = mapped_column(index=True)
    done_by: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]

    UNDONE = ("open", "reminded", "overdue")


class OutboxItem(Base):
    """One scheduled or retryable Slack effect. The tick claims due rows under a lease and runs them.

    ``key`` is the idempotency key (unique): writing the same effect twice is a no-op. ``after_id``
    chains effects that need an earlier one's result (the summary is pinned after it is posted).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "due_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(60))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    after_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | done | failed
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class CustomerUpdate(Base):
    """The customer was told something: the cadence restarts here, and compliance is measured from here."""

    __tablename__ = "customer_updates"
    __table_args__ = (
        Index("ix_customer_updates_case_at", "case_id", "at"),
        # a Slack message logged as an update ("Log as customer update") is recorded once
        UniqueConstraint("case_id", "message_ts", name="uq_customer_updates_message"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(20))
    text: Mapped[str | None] = mapped_column(Text)
    via: Mapped[str] = mapped_column(String(30))  # email, call, chat, meeting, other, unspecified
    source: Mapped[str] = mapped_column(String(30))  # command, modal, reaction, shortcut
    due_at: Mapped[datetime | None] = mapped_column(index=True)  # the update that was due when this one was made
    on_time: Mapped[bool | None]
    message_ts: Mapped[str | None] = mapped_column(String(32))  # the message it was logged from, if any


class Reminder(Base):
    """One step of a customer-update period: heads-up, overdue, escalation to advocates or leadership.

    A period is (case, due_at). Steps are scheduled when the due time is set and claimed by the tick
    when ``fire_at`` comes (the due scan uses ``ix_reminders_due``); ``key`` is also the outbox key and
    travels in the posted message's metadata, so a step is posted once.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_due", "status", "fire_at"),
        Index("ix_reminders_message", "channel_id", "message_ts"),
        Index("ix_reminders_status_due_at", "status", "due_at"),  # due times in a week (the digest)
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime]
    step: Mapped[str] = mapped_column(String(20))  # heads_up | overdue | repeat | escalate | leadership
    fire_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))  # scheduled | fired | skipped | cancelled
    channel_id: Mapped[str | None] = mapped_column(String(20))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    answer: Mapped[str | None] = mapped_column(String(20))  # updated | snoozed
    answered_by: Mapped[str | None] = mapped_column(String(20))
    answered_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Delivery(Base):
    """Slack deliveries already handled: ``event:<event_id>``, ``view:<view_id>``. Retries have one effect."""

    __tablename__ = "deliveries"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class RevokedToken(Base):
    """A bot token Slack no longer accepts (tokens_revoked, app_uninstalled, invalid_auth…): while the row for
    a process's token exists, its jobs and outbox leave Slack alone. Keyed by a fingerprint of the token,
    never the token itself (see ``bot/slack_auth.py``)."""

    __tablename__ = "revoked_tokens"
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(80))  # the event or Slack's error that said so
    revoked_at: Mapped[datetime]


class EscalationDraft(Base):
    """An escalation waiting for its requester's choice (the customer already has an open case).

    Nothing is created until they choose; the buttons carry only this row's id.
    """

    __tablename__ = "escalation_drafts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class CustomerStatusChange(Base):
    """A customer's status over time (the first row is its creation): retention is read from these."""

    __tablename__ = "customer_status_changes"
    __table_args__ = (Index("ix_customer_status_changes_customer_at", "customer_id", "at"),
                      Index("ix_customer_status_changes_at", "at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    by: Mapped[str] = mapped_column(String(40))  # a user ID, "import" or "bot"
    note: Mapped[str | None] = mapped_column(Text)


class CheckIn(Base):
    """A proactive check-in with a customer: one by tier cadence, or a follow-up after a resolved case.

    Due check-ins are claimed by the tick (``ix_checkins_due``) and prompt the owning advocate by DM
    through the outbox; the DM waits for the advocate's working hours.
    """

    __tablename__ = "checkins"
    __table_args__ = (
        Index("ix_checkins_due", "status", "prompt_at"),
        Index("ix_checkins_status_done_at", "status", "done_at"),  # done in a week (the digest)
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)  # checkin:<customer>:<due> | followup:<case>
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # cadence | follow_up
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    due_at: Mapped[datetime] = mapped_column(index=True)
    prompt_at: Mapped[datetime]  # the due time, or the end of a snooze
    status: Mapped[str] = mapped_column(String(12))  # scheduled | prompted | done | skipped | cancelled
    advocate_id: Mapped[str | None] = mapped_column(String(20), index=True)  # whom it was put to
    prompts: Mapped[int] = mapped_column(Integer, default=0)
    prompted_at: Mapped[datetime | None]
    suggested_at: Mapped[datetime | None]  # a time inside the customer's preferred hours
    channel_id: Mapped[str | None] = mapped_column(String(20))  # the DM
    message_ts: Mapped[str | None] = mapped_column(String(32))
    snoozed_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(20))
    skip_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Feedback(Base):
    """One answer from a customer: a check-in's scores and words, or a survey tool's row.

    NPS 0-10 ("how likely to recommend"), CSAT 1-5; either may be missing. ``key`` makes an imported
    row idempotent (importing a file twice adds nothing).
    """

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_at", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    advocate_id: Mapped[str | None] = mapped_column(String(20), index=True)
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(40))  # checkin | a survey tool's name
    channel: Mapped[str | None] = mapped_column(String(20))  # call | meeting | email | chat | survey
    nps: Mapped[int | None] = mapped_column(Integer)
    csat: Mapped[int | None] = mapped_column(Integer)
    problems: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkins.id", ondelete="SET NULL"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))  # closing the loop
    created_at: Mapped[datetime]
