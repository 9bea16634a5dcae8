"""Customer data: how long the words people wrote are kept, and forgetting a customer. No Slack here.

Both operations are UPDATEs in SQL and keep every row with its times, kinds, statuses, scores and amounts, so
every figure of every digest is the same before and after; only words go:

- **Retention** (``retention_rules``, run by ``jobs/retention.py`` once a day): the free text people wrote
  that is older than ``retention.message_text_days`` becomes ``PURGED``. "Older" is by the row's own time
  (a timeline entry's ``at``, an answer's ``at``, …), except where the text is still in use: a case's
  summary, resolution and root cause go once the case has been resolved that long (an open or reopened
  case keeps them), a prevention action's "what" once it has been done that long, a check-in's reason once
  it ended that long ago.
- **Forgetting** (``forget_customer``, ``advocacy-bot forget-customer``): the customer's name becomes
  ``forgotten customer #<id>`` and every text stored about them, whatever its age, becomes ``FORGOTTEN``.

Removed text is replaced by a visible marker, not NULL: every surface that shows a text (the pinned
summary, the Home, ``/case timeline``, the exports) shows the marker without a change, a reader can tell
"removed" from "never written", and NOT NULL columns (a case's summary) need no schema change. JSON
payloads nobody reads again (finished outbox rows, old escalation drafts) are replaced whole by
``{"removed": <marker>}``; text inside a timeline entry's ``data`` is removed key by key.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter as Tally
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from bot.domain.customers import closest_customers, name_key
from bot.text import escape_mrkdwn
from storage.models import (
    Case,
    CaseEvent,
    CheckIn,
    Counter,
    Customer,
    CustomerStatusChange,
    CustomerUpdate,
    EscalationDraft,
    Feedback,
    OutboxItem,
    PreventionAction,
)
from storage.types import UTCDateTime

PURGED = "[removed after the retention period]"
FORGOTTEN = "[removed: customer forgotten]"
MARKERS = (PURGED, FORGOTTEN)
BATCH = 1000  # rows per UPDATE: short transactions, so requests are never held up behind a purge
RETENTION_COUNTER = "retention"  # counters row: the UTC day (date ordinal) of the last retention run

# Text people wrote, kept inside a timeline entry's data: an edited message's first version, the root cause
# of a resolution, a handover's reason.
EVENT_TEXT_KEYS = ("original_text", "root_cause", "reason")
# Forgetting also takes the name out of an "opened" entry and a replaced channel's old name (case-12-acme).
FORGET_EVENT_KEYS = (*EVENT_TEXT_KEYS, "customer", "old_channel_name")


def forgotten_label(customer_id: int) -> str:
    return f"forgotten customer #{customer_id}"


# ---------------------------------------------------------------- JSON keys out, in SQL


class json_without(FunctionElement[Any]):
    """``json_without(column, 'a', 'b')``: the JSON object without those top-level keys, computed by the
    database (no row is read into Python); a value that is not an object (SQL NULL, JSON null) is left as
    it is. Keys are bound parameters."""

    type = JSON()
    name = "json_without"
    inherit_cache = True


@compiles(json_without, "sqlite")
def _json_without_sqlite(element: json_without, compiler: Any, **kw: Any) -> str:
    column, *keys = element.clauses.clauses
    paths = ", ".join(f"'$.' || {compiler.process(key, **kw)}" for key in keys)
    return f"json_remove({compiler.process(column, **kw)}, {paths})"


@compiles(json_without, "postgresql")
def _json_without_postgresql(element: json_without, compiler: Any, **kw: Any) -> str:
    column, *keys = element.clauses.clauses
    value = compiler.process(column, **kw)
    array = ", ".join(compiler.process(key, **kw) for key in keys)
    # json (not jsonb) has no "-" operator; "-" on a jsonb scalar is an error, hence the CASE
    return (f"CASE WHEN json_typeof({value}) = 'object' "
            f"THEN CAST(CAST({value} AS JSONB) - CAST(ARRAY[{array}] AS TEXT[]) AS JSON) ELSE {value} END")


def _without(column: Any, keys: Sequence[str]) -> json_without:
    return json_without(column, *(literal(key, String()) for key in keys))


# ---------------------------------------------------------------- which texts, which rows


@dataclass(frozen=True)
class Texts:
    """The free text of one table, and which of its rows it is removed from (``scope``).

    ``columns`` become the marker (NULL stays NULL, a marker stays as it is); ``payload`` names a JSON
    column replaced whole; ``data_keys`` are removed from ``data`` of the rows whose text is removed;
    ``extra`` are more values set on those rows.
    """

    label: str
    model: Any
    scope: ColumnElement[bool]
    columns: tuple[str, ...] = ()
    payload: str | None = None
    data_keys: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def _columns(self) -> list[Any]:
        return [getattr(self.model, name) for name in self.columns]

    def remaining(self) -> ColumnElement[bool]:
        """Rows with something still to remove: what makes a second pass change nothing."""
        terms = [and_(column.is_not(None), column.not_in(MARKERS)) for column in self._columns()]
        if self.payload is not None:
            terms.append(getattr(self.model, self.payload)["removed"].as_string().is_(None))
        return or_(*terms)

    def values(self, marker: str) -> dict[str, Any]:
        values: dict[str, Any] = {
            column.key: case((or_(column.is_(None), column.in_(MARKERS)), column), else_=literal(marker, Text()))
            for column in self._columns()}
        if self.payload is not None:
            values[self.payload] = {"removed": marker}
        if self.data_keys:
            values["data"] = _without(self.model.data, self.data_keys)
        return {**values, **self.extra}


def retention_rules(cutoff: datetime, now: datetime) -> tuple[Texts, ...]:
    """Every free text written before ``cutoff`` that is no longer in use (see the module's docstring)."""
    return (
        Texts("case texts", Case, and_(Case.status.not_in(Case.OPEN_STATUSES), Case.resolved_at < cutoff),
              columns=("summary", "resolution", "root_cause")),
        Texts("timeline texts", CaseEvent, CaseEvent.at < cutoff, columns=("text",), data_keys=EVENT_TEXT_KEYS),
        Texts("customer updates", CustomerUpdate, CustomerUpdate.at < cutoff, columns=("text",)),
        # an action not done yet is still somebody's work: its "what" stays until it has been done that long
        Texts("prevention actions", PreventionAction,
              and_(PreventionAction.status == "done",
                   func.coalesce(PreventionAction.done_at, PreventionAction.created_at) < cutoff),
              columns=("what",)),
        Texts("feedback", Feedback, Feedback.at < cutoff, columns=("comment", "problems")),
        Texts("check-in notes", CheckIn,
              and_(CheckIn.status.in_(("done", "skipped", "cancelled")),
                   func.coalesce(CheckIn.done_at, CheckIn.due_at) < cutoff),
              columns=("skip_reason",)),
        Texts("status notes", CustomerStatusChange, CustomerStatusChange.at < cutoff, columns=("note",)),
        # a finished row's payload is never read again (a pending one is: it still has to be sent)
        Texts("outbox payloads", OutboxItem,
              and_(OutboxItem.status != "pending",
                   func.coalesce(OutboxItem.done_at, OutboxItem.created_at) < cutoff),
              payload="payload"),
        # nobody chooses on a year-old draft; marked used, its buttons say so instead of failing
        Texts("escalation drafts", EscalationDraft, EscalationDraft.created_at < cutoff, payload="payload",
              extra={"used_at": func.coalesce(EscalationDraft.used_at, literal(now, UTCDateTime()))}),
    )


@dataclass(frozen=True)
class Batch:
    changed: int  # rows whose text was removed
    last: Any  # the last id looked at: the next batch starts after it
    more: bool  # a full batch: there may be more


def erase_batch(session: Session, rule: Texts, marker: str, *, after: Any = None, limit: int = BATCH) -> Batch:
    """Remove the text of up to ``limit`` rows of ``rule``, by id after ``after`` (keyset pagination: each
    batch starts where the last stopped instead of scanning the rows already done again). Only ids are
    read; the rows are changed by one UPDATE that checks again that they still have text to remove."""
    key = rule.model.id
    query = select(key).where(rule.scope, rule.remaining()).order_by(key).limit(limit)
    if after is not None:
        query = query.where(key > after)
    ids = list(session.scalars(query))
    if not ids:
        return Batch(0, after, False)
    result = session.execute(update(rule.model).where(key.in_(ids), rule.remaining()).values(rule.values(marker))
                             .execution_options(synchronize_session=False))
    return Batch(int(result.rowcount), ids[-1], len(ids) == limit)  # type: ignore[attr-defined]


def erase_all(session: Session, rule: Texts, marker: str, *, limit: int = BATCH) -> int:
    """``erase_batch`` until nothing is left, in the caller's transaction."""
    total, after, more = 0, None, True
    while more:
        batch = erase_batch(session, rule, marker, after=after, limit=limit)
        total, after, more = total + batch.changed, batch.last, batch.more
    return total


def claim_day(session: Session, now: datetime, name: str = RETENTION_COUNTER) -> bool:
    """True once per UTC day across replicas: the counter moves to today's date ordinal in the statement that
    checks it is behind (the first run ever inserts it; a replica that loses that race gets False)."""
    day = now.date().toordinal()
    moved = session.execute(update(Counter).where(Counter.name == name, Counter.value < day).values(value=day)
                            .execution_options(synchronize_session=False))
    if moved.rowcount:  # type: ignore[attr-defined]
        return True
    if session.get(Counter, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Counter(name=name, value=day))
    except IntegrityError:
        return False
    return True


# ---------------------------------------------------------------- forgetting a customer


class ForgetError(Exception):
    """The customer to forget cannot be told apart: unknown, or several match. The message says what to do."""


def _normal(name: str) -> str:
    """How a typed name is compared: case, spacing and Unicode form (é typed as one or two code points) aside."""
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def find_customer_to_forget(session: Session, name: str, customer_id: int | None = None) -> Customer:
    """The one customer named ``name`` (exactly, in any case; never a near match: forgetting cannot be
    undone). Several customers can match when their names differ only in Unicode form; ``customer_id``
    then says which."""
    wanted = _normal(name)
    # every name, in memory, as the near-duplicate check does: a team has thousands of customers, not millions
    matches = [row for row in session.execute(select(Customer.id, Customer.name).order_by(Customer.id))
               if _normal(row.name) == wanted]
    if customer_id is not None:
        matches = [row for row in matches if row.id == customer_id]
        if not matches:
            raise ForgetError(f"customer #{customer_id} is not named {name!r}; nothing erased")
    if not matches:
        closest = ", ".join(repr(c.name) for c in closest_customers(session, name))
        raise ForgetError(f"no customer is named {name!r}" + (f" (closest: {closest})" if closest else "")
                          + "; nothing erased. Give the exact name (any case).")
    if len(matches) > 1:
        listed = ", ".join(f"#{row.id} {row.name!r}" for row in matches)
        raise ForgetError(f"{len(matches)} customers are named {name!r}: {listed}. Add --id with the one to "
                          "forget; nothing erased.")
    return session.get_one(Customer, matches[0].id)


@dataclass(frozen=True)
class Scope:
    """What is stored about a customer: shown before asking to confirm."""

    customer_id: int
    cases: int
    timeline_entries: int
    feedback: int
    checkins: int

    def __str__(self) -> str:
        return (f"customer #{self.customer_id}: {self.cases} case(s) with {self.timeline_entries} timeline "
                f"entries, {self.feedback} feedback answer(s), {self.checkins} check-in(s)")


def _cases_of(customer_id: int) -> Any:
    return select(Case.id).where(Case.customer_id == customer_id)


def scope_of(session: Session, customer: Customer) -> Scope:
    cases = _cases_of(customer.id)
    return Scope(
        customer_id=customer.id,
        cases=session.scalar(select(func.count()).select_from(cases.subquery())) or 0,
        timeline_entries=session.scalar(select(func.count()).where(CaseEvent.case_id.in_(cases))) or 0,
        feedback=session.scalar(select(func.count()).where(Feedback.customer_id == customer.id)) or 0,
        checkins=session.scalar(select(func.count()).where(CheckIn.customer_id == customer.id)) or 0,
    )


def forget_rules(customer_id: int) -> tuple[Texts, ...]:
    """Every free text stored about the customer, whatever its age."""
    cases = _cases_of(customer_id)
    return (
        Texts("case texts", Case, Case.customer_id == customer_id, columns=("summary", "resolution", "root_cause")),
        Texts("timeline texts", CaseEvent, CaseEvent.case_id.in_(cases), columns=("text",)),
        Texts("customer updates", CustomerUpdate, CustomerUpdate.case_id.in_(cases), columns=("text",)),
        Texts("prevention actions", PreventionAction, PreventionAction.case_id.in_(cases), columns=("what",)),
        Texts("feedback", Feedback, Feedback.customer_id == customer_id, columns=("comment", "problems")),
        Texts("check-in notes", CheckIn, CheckIn.customer_id == customer_id, columns=("skip_reason",)),
        Texts("status notes", CustomerStatusChange, CustomerStatusChange.customer_id == customer_id,
              columns=("note",)),
    )


@dataclass(frozen=True)
class Forgotten:
    customer_id: int
    label: str
    cases: int
    erased: dict[str, int]  # rows whose text was removed, by what they are

    def lines(self) -> Iterator[str]:
        yield f"customer #{self.customer_id} is now {self.label!r} ({self.cases} case(s); figures unchanged)"
        for what, count in self.erased.items():
            yield f"  {what}: {count}"


class _Name:
    """The forgotten name as it can appear in stored JSON: as typed (any case, any spacing) or escaped for
    mrkdwn (AT&amp;T), raw or \\u-escaped by the JSON encoder."""

    def __init__(self, name: str) -> None:
        forms = {name, escape_mrkdwn(name)}
        words = [r"\s+".join(re.escape(word) for word in form.split()) for form in forms]
        self.pattern = re.compile("|".join(sorted(words, key=len, reverse=True)), re.IGNORECASE)
        self.needles = sorted({variant.lower() for form in forms
                               for variant in (form, json.dumps(form)[1:-1])})

    def mentioned_in(self, column: Any) -> ColumnElement[bool]:
        """SQL: the JSON column's text contains the name (ASCII letters in any case)."""
        text = func.lower(cast(column, Text()))
        return or_(*(text.like(f"%{_like_escape(needle)}%", escape="\\") for needle in self.needles))

    def replace(self, value: Any, label: str) -> tuple[Any, int]:
        """``value`` (a JSON value) with every mention replaced by ``label``, and how many there were."""
        if isinstance(value, str):
            return self.pattern.subn(label, value)
        if isinstance(value, list):
            pairs = [self.replace(item, label) for item in value]
            return [v for v, _ in pairs], sum(n for _, n in pairs)
        if isinstance(value, dict):
            pairs_by_key = {key: self.replace(item, label) for key, item in value.items()}
            return {k: v for k, (v, _) in pairs_by_key.items()}, sum(n for _, n in pairs_by_key.values())
        return value, 0


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _rename_in(session: Session, model: Any, rows: Sequence[Any], name: _Name, label: str) -> int:
    """Rows still to be used (outbox rows to send, drafts to choose on): the name replaced by the label, so
    what they post later names nobody; the rest of what they carry is someone's work in progress."""
    changed = 0
    for row in rows:
        payload, found = name.replace(row.payload, label)
        if found and payload != row.payload:  # the label itself may match a second forget: not a change
            session.execute(update(model).where(model.id == row.id).values(payload=payload)
                            .execution_options(synchronize_session=False))
            changed += 1
    return changed


def _forget_in_outbox(session: Session, customer_id: int, name: _Name, label: str) -> dict[str, int]:
    """Finished outbox rows about them (by case, or naming them: an escalation or its reply has no case yet)
    are never read again: replaced whole. Pending ones still go out, with the label for the name. Drafts
    alike: a used one is replaced whole, one still waiting for its requester's choice is renamed."""
    about = or_(OutboxItem.case_id.in_(_cases_of(customer_id)), name.mentioned_in(OutboxItem.payload))
    finished = erase_all(session, Texts("outbox payloads", OutboxItem, and_(OutboxItem.status != "pending", about),
                                        payload="payload"), FORGOTTEN)
    # a created channel's result keeps its name (case-12-acme); results are read for ids and ts only
    session.execute(update(OutboxItem).where(OutboxItem.case_id.in_(_cases_of(customer_id)),
                                             OutboxItem.result.is_not(None))
                    .values(result=_without(OutboxItem.result, ("name",)))
                    .execution_options(synchronize_session=False))
    pending = session.execute(select(OutboxItem.id, OutboxItem.payload)
                              .where(OutboxItem.status == "pending", about)).all()
    renamed = _rename_in(session, OutboxItem, pending, name, label)
    mentioned = and_(name.mentioned_in(EscalationDraft.payload),
                     EscalationDraft.payload["removed"].as_string().is_(None))
    used = erase_all(session, Texts("escalation drafts", EscalationDraft,
                                    and_(mentioned, EscalationDraft.used_at.is_not(None)), payload="payload"),
                     FORGOTTEN)
    waiting = session.execute(select(EscalationDraft.id, EscalationDraft.payload)
                              .where(mentioned, EscalationDraft.used_at.is_(None))).all()
    return {"outbox payloads": finished, "pending Slack effects renamed": renamed,
            "escalation drafts": used + _rename_in(session, EscalationDraft, waiting, name, label)}


def forget_customer(session: Session, customer: Customer, *, now: datetime) -> Forgotten:
    """Erase the customer's name and every text stored about them, in the caller's transaction.

    Kept: every row, time, kind, status, score, amount, tier and advocate, so figures do not change. Each of
    their cases gets a ``customer_forgotten`` timeline entry saying what was erased, without the name.
    Not reached: Slack messages already posted, texts in other customers' cases that mention them, logs.
    """
    label = forgotten_label(customer.id)
    name = _Name(customer.name)
    cases = _cases_of(customer.id)
    case_ids = list(session.scalars(cases.order_by(Case.id)))
    erased: Tally[str] = Tally()
    for rule in forget_rules(customer.id):
        erased[rule.label] += erase_all(session, rule, FORGOTTEN)
    # the name inside timeline data ("opened" keeps it), whether or not the entry had a text
    session.execute(update(CaseEvent).where(CaseEvent.case_id.in_(cases), CaseEvent.data.is_not(None))
                    .values(data=_without(CaseEvent.data, FORGET_EVENT_KEYS))
                    .execution_options(synchronize_session=False))
    # the channel name carries the customer's (case-12-acme); the channel in Slack keeps it
    session.execute(update(Case).where(Case.customer_id == customer.id, Case.channel_name.is_not(None))
                    .values(channel_name=literal("case-", String()) + cast(Case.number, String()))
                    .execution_options(synchronize_session=False))
    erased.update(_forget_in_outbox(session, customer.id, name, label))
    customer.name, customer.name_key, customer.external_ref, customer.updated_at = label, name_key(label), None, now
    session.flush()
    counts = {what: count for what, count in erased.items()}
    if case_ids:
        session.execute(insert(CaseEvent), [
            {"case_id": case_id, "at": now, "actor": "bot", "kind": "customer_forgotten", "text": None,
             "deleted": False, "data": {"customer_id": customer.id, "by": "advocacy-bot forget-customer",
                                        "erased": counts}}
            for case_id in case_ids])
    return Forgotten(customer_id=customer.id, label=label, cases=len(case_ids), erased=counts)
