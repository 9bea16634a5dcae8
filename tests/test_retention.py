"""Customer data: texts older than ``retention.message_text_days`` are removed by the tick, a customer can be
forgotten with ``advocacy-bot forget-customer``, and in both every digest figure stays what it was.

The history is made the way people make it (``/escalate``, messages in the case channel, ``/case note``,
``/case update``, the resolve form) at a time 400 days before "now", plus what has no Slack flow in the
tests (a survey answer, a skipped check-in, a status change with a note, a draft) written as the domain
writes it; then a newer case 10 days before now.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select, text, update

from bot.blocks.case_summary import case_summary
from bot.config import ConfigError, TeamConfig, load_config, parse_config
from bot.domain import privacy
from bot.domain.customers import create_customer, find_customer, update_customer
from bot.domain.digest import digest
from bot.domain.export import export_cases
from bot.domain.privacy import FORGOTTEN, PURGED
from bot.domain.records import enqueue
from bot.domain.resolution import summary_context
from bot.domain.weeks import Week
from jobs.retention import purge
from jobs.tick import tick
from storage.db import Database
from storage.models import (
    Base,
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
from tests.cli_helpers import bot_env
from tests.conftest import Bot
from tests.helpers import all_cases, mrkdwn_texts, timeline
from tests.test_home import open_home, sections
from tests.test_resolution import open_case, resolve, settle, summary

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # "now": a Tuesday
OLD = T0 - timedelta(days=400)  # older than the default 365 days
RECENT = T0 - timedelta(days=10)
ROOT = Path(__file__).resolve().parent.parent

WORDS = {
    "report": "Acme: refund stuck for the Acme CFO p1 $12k",
    "message": "Acme's batch failed on our side",
    "note": "Acme's CFO called twice",
    "update": "Told Acme the refund is on its way",
}
# A piece of every text written about Acme 400 days ago, wherever the bot stored it: after the purge, none may
# be left anywhere in the database (the resolve form's words are tests.test_resolution.VALID's).
OLD_WORDS = ("refund stuck for the acme cfo", "batch failed on our side", "cfo called twice",
             "refund is on its way", "re-issued by hand", "need a second approver", "lands in 3 days",
             "backup approver", "invoices twice", "will leave if this happens", "after their audit",
             "unhappy about the refund", "acme again", "initech's admins cannot get in")


# ---------------------------------------------------------------- the history


def say_in(bot: Bot, case: Case, user: str, words: str) -> None:
    bot.driver.say(user, case.channel_id or "", words)


def command_in(bot: Bot, case: Case, user: str, words: str) -> None:
    assert bot.driver.command(user, "/case", words, channel_id=case.channel_id or "").status == 200
    settle(bot)


def history(bot: Bot) -> dict[str, Case]:
    """Acme's case, opened, talked about, updated and resolved 400 days ago, with a survey answer, a skipped
    check-in and a status note from then; Initech's case, opened then and still open (waiting on the
    customer); Globex's, opened 10 days ago (waiting too)."""
    bot.clock.now = OLD
    acme = open_case(bot, WORDS["report"])
    say_in(bot, acme, "U10BILL", WORDS["message"])
    command_in(bot, acme, "U01ADV", f"note {WORDS['note']}")
    command_in(bot, acme, "U01ADV", f"update email: {WORDS['update']}")
    bot.clock.advance(hours=2)
    resolve(bot, acme)  # resolution, root cause, final update, one prevention action (tests.test_resolution.VALID)
    initech = open_case(bot, "Initech: login loops for every Initech admin p3")
    say_in(bot, initech, "U01ADV", "Initech's admins cannot get in")
    # waiting on the customer: no update reminders fire at "now" (their figures are not what is tested here)
    command_in(bot, initech, "U01ADV", "status waiting-on-customer")
    with bot.db.transaction() as session:
        customer = find_customer(session, "Acme")
        assert customer is not None
        # done the day after: its "what" may go with the rest (an open action's stays)
        session.execute(update(PreventionAction).values(status="done", done_at=OLD + timedelta(days=1),
                                                        done_by="U10BILL"))
        session.add(Feedback(key="survey-answer-1", customer_id=customer.id, advocate_id="U01ADV", at=OLD,
                             source="survey", channel="survey", nps=3, csat=2, problems="Acme: invoices twice",
                             comment="Acme will leave if this happens again", created_at=OLD))
        session.add(CheckIn(key=f"checkin:{customer.id}:old", customer_id=customer.id, kind="cadence", due_at=OLD,
                            prompt_at=OLD, status="skipped", advocate_id="U01ADV", prompts=1, done_at=OLD,
                            done_by="U01ADV", skip_reason="Acme asked us to call after their audit",
                            created_at=OLD))
        update_customer(session, customer, {"status": "at-risk"}, by="U01ADV", now=OLD,
                        note="Acme is unhappy about the refund")
        session.add(EscalationDraft(id="old-draft", user_id="U30REQ", created_at=OLD, payload={
            "request": {"customer": "Acme", "summary": "Acme again"}, "origin": {"requester": "U30REQ"}}))
    bot.clock.now = RECENT
    globex = open_case(bot, "Globex: delivery late for Globex's launch p2")
    say_in(bot, globex, "U20SHIP", "Globex's truck broke down")
    command_in(bot, globex, "U01ADV", "status waiting-on-customer")
    with bot.db.transaction() as session:
        customer = find_customer(session, "Globex")
        assert customer is not None
        session.add(Feedback(key="survey-answer-2", customer_id=customer.id, advocate_id="U01ADV", at=RECENT,
                             source="survey", channel="survey", nps=9, comment="Globex likes the new portal",
                             created_at=RECENT))
    settle(bot)
    bot.clock.now = T0
    return {"acme": acme, "initech": initech, "globex": globex}


def weeks(config: TeamConfig) -> list[Week]:
    """The weeks something happened in, and the week before now."""
    return [Week.of(OLD, config.zone), Week.of(OLD, config.zone).shift(1), Week.of(RECENT, config.zone),
            Week.of(T0, config.zone).shift(-1)]


def digests(db: Database, config: TeamConfig) -> str:
    """Each of those weeks' digest as ``advocacy-bot digest --format json`` prints it, made at T0."""
    with db.transaction() as session:
        return json.dumps([digest(session, week, config, now=T0) for week in weeks(config)], sort_keys=True)


TEXTS: dict[type[Base], tuple[str, ...]] = {
    Case: ("summary", "resolution", "root_cause", "channel_name"), CaseEvent: ("text", "data"),
    CustomerUpdate: ("text",), PreventionAction: ("what",), Feedback: ("comment", "problems"),
    CheckIn: ("skip_reason",), CustomerStatusChange: ("note",), OutboxItem: ("payload",),
    EscalationDraft: ("payload", "used_at"), Customer: ("name", "external_ref"),
}


def stored(db: Database) -> dict[str, dict[Any, tuple[Any, ...]]]:
    """Every stored text (and what goes with it), by table and row id."""
    with db.transaction() as session:
        return {model.__tablename__: {row[0]: tuple(row[1:]) for row in session.execute(
            select(model.id, *(getattr(model, c) for c in columns)))} for model, columns in TEXTS.items()}


def unchanged(before: dict[str, dict[Any, tuple[Any, ...]]], after: dict[str, dict[Any, tuple[Any, ...]]]) -> bool:
    """Every row stored before is still there, as it was (the tick may have added rows of its own)."""
    return all(after[table].get(key) == row for table, rows in before.items() for key, row in rows.items())


def counts(db: Database) -> dict[str, int]:
    """Rows in every table."""
    with db.transaction() as session:
        return {table.name: session.scalar(select(func.count()).select_from(table)) or 0
                for table in Base.metadata.sorted_tables}


def everything(db: Database) -> str:
    """Every value of every row of every table, as one lowercase text: where a word could still be."""
    with db.transaction() as session:
        return "\n".join(repr(tuple(row)) for table in Base.metadata.sorted_tables
                         for row in session.execute(select(table))).lower()


def texts_of(db: Database, case: Case, kinds: tuple[str, ...] = ()) -> list[str | None]:
    return [e.text for e in timeline(db, case.id) if not kinds or e.kind in kinds]


def reload(db: Database, case: Case) -> Case:
    return next(c for c in all_cases(db) if c.id == case.id)


# ---------------------------------------------------------------- retention


def test_old_texts_are_removed_by_the_tick_and_the_figures_stay(bot: Bot) -> None:
    cases = history(bot)
    config, db = bot.svc.config, bot.db
    assert config.retention.message_text_days == 365  # the default
    figures, rows = digests(db, config), counts(db)
    assert '"nps": 3' in figures and '"customer": "Acme"' in figures  # Acme's detractor answer is in them
    assert [words for words in OLD_WORDS if words not in everything(db)] == []

    report = tick(bot.svc, T0)
    settle(bot)
    assert not report.errors and report.jobs["retention"] > 0
    assert [words for words in OLD_WORDS if words in everything(db)] == []

    # every figure of every week is what it was; not a row is gone (the tick adds some: the retention counter,
    # the DM of Acme's "did the fix hold?" check-in; its housekeeping forgets Slack's delivery ids after a day)
    assert digests(db, config) == figures
    after = counts(db)
    assert all(after[table] >= n for table, n in rows.items() if table != "deliveries")
    kept = ("cases", "customers", "customer_updates", "prevention_actions", "feedback", "customer_status_changes",
            "escalation_drafts")
    assert {t: after[t] for t in kept} == {t: rows[t] for t in kept}

    acme, initech, globex = (reload(db, cases[k]) for k in ("acme", "initech", "globex"))
    # Acme's case ended 400 days ago: its texts are gone, its numbers and times are not
    assert (acme.summary, acme.resolution, acme.root_cause) == (PURGED, PURGED, PURGED)
    assert (acme.status, acme.severity, acme.impact, acme.root_cause_category, acme.customer.name) == (
        "resolved", "p1", 12000, "process-gap", "Acme")
    events = timeline(db, acme.id)
    assert {e.text for e in events if e.text is not None} == {PURGED}
    assert {"opened", "message", "note", "customer_update", "resolved"} <= {e.kind for e in events}
    resolved = next(e for e in events if e.kind == "resolved")
    assert "root_cause" not in (resolved.data or {}) and resolved.data["category"] == "process-gap"
    with db.transaction() as session:
        assert {u.text for u in session.scalars(select(CustomerUpdate).where(CustomerUpdate.case_id == acme.id))} \
            == {PURGED}
        assert session.scalars(select(CustomerUpdate.on_time).where(CustomerUpdate.case_id == acme.id)).all()
        assert [a.what for a in session.scalars(select(PreventionAction))] == [PURGED]
        answer = session.scalars(select(Feedback).where(Feedback.key == "survey-answer-1")).one()
        assert (answer.comment, answer.problems, answer.nps, answer.csat) == (PURGED, PURGED, 3, 2)
        assert session.scalars(select(CheckIn.skip_reason).where(CheckIn.status == "skipped")).one() == PURGED
        notes = session.scalars(select(CustomerStatusChange.note).where(CustomerStatusChange.note.is_not(None)))
        assert set(notes) == {PURGED}
        draft = session.get_one(EscalationDraft, "old-draft")
        assert draft.payload == {"removed": PURGED} and draft.used_at == T0  # its buttons say it was used
        old = session.scalars(select(OutboxItem).where(OutboxItem.done_at < T0 - timedelta(days=365))).all()
        assert len(old) >= 8 and {json.dumps(o.payload) for o in old} == {json.dumps({"removed": PURGED})}
        assert "escalation.open" in {o.kind for o in old} and all(o.key and o.status != "pending" for o in old)

    # Initech's case is still open: it keeps its summary; what was said 400 days ago goes
    assert initech.summary == "login loops for every Initech admin" and initech.is_open
    assert set(texts_of(db, initech, ("opened", "message"))) == {PURGED}
    # Globex's texts are 10 days old: all kept
    assert globex.summary == "delivery late for Globex's launch"
    assert "Globex's truck broke down" in texts_of(db, globex, ("message",))
    with db.transaction() as session:
        assert session.scalars(select(Feedback.comment).where(Feedback.key == "survey-answer-2")).one() == \
            "Globex likes the new portal"
        recent = session.scalars(select(OutboxItem.payload).where(OutboxItem.created_at >= RECENT)).all()
        assert recent and all("removed" not in p for p in recent)

    # a second tick the same day does nothing (the day is claimed); the next day's run finds nothing to do
    before = stored(db)
    assert tick(bot.svc, T0).jobs["retention"] == 0
    settle(bot)
    assert unchanged(before, stored(db))
    with db.transaction() as session:
        assert session.get_one(Counter, "retention").value == T0.date().toordinal()
    assert tick(bot.svc, T0 + timedelta(days=1)).jobs["retention"] == 0
    settle(bot)
    assert unchanged(before, stored(db))
    assert digests(db, config) == figures


def test_the_case_surfaces_still_render_after_the_purge(bot: Bot) -> None:
    cases = history(bot)
    tick(bot.svc, T0)
    settle(bot)
    db, acme = bot.db, cases["acme"]

    # the pinned summary, rendered from the database, shows the marker where the words were
    with db.transaction() as session:
        case = session.get_one(Case, acme.id)
        blocks = case_summary(case, summary_context(session, case, T0, bot.svc.config))
    rendered = "\n".join(mrkdwn_texts(blocks))
    assert "*What happened*\n" + PURGED in rendered and rendered.count(PURGED) >= 3  # summary, resolution, cause

    # reopening it posts a notice and refreshes the pinned summary in Slack from what is stored now
    answer = bot.driver.command("U01ADV", "/case", "reopen 1 the refund bounced", channel_id="C0GENERAL")
    assert "Case #1 is reopened" in answer.text
    settle(bot)
    pinned = summary(bot, acme)
    assert PURGED in pinned and "Acme" in pinned

    # /case timeline: every entry is there, the old words as the marker
    body = bot.driver.command("U40OTHER", "/case", "timeline", channel_id=acme.channel_id or "").json()
    listed = "\n".join(mrkdwn_texts(body["blocks"]))
    assert f"“{PURGED}”" in listed and "wrote" in listed and "updated the customer" in listed
    assert "the refund bounced" in listed  # said today: kept

    # the Home of their reporter lists Initech's old open case and Acme's, reopened
    home = "\n".join(sections(open_home(bot, "U30REQ")))
    assert "Initech" in home and "Acme" in home

    # the export carries the marker, and every number
    with db.transaction() as session:
        exported = {c["number"]: c for c in export_cases(session)}
    assert exported[1]["timeline"][0]["text"] == PURGED and exported[1]["impact"] == "12000.00"
    assert [u["text"] for u in exported[1]["customer_updates"]] == [PURGED, PURGED]


def test_older_means_before_the_cutoff_and_the_limit_is_configured(db: Database, team: dict[str, Any]) -> None:
    team["retention"] = {"message_text_days": 30}
    config = parse_config(team)
    cutoff = T0 - timedelta(days=config.retention.message_text_days)
    with db.transaction() as session:
        customer = create_customer(session, {"name": "Acme"}, by="import", now=OLD)
        row = Case(number=1, customer_id=customer.id, summary="open for long", severity="p2", status="new",
                   owner_id="U01ADV", reporter_id="U30REQ", created_at=OLD, updated_at=OLD)
        session.add(row)
        session.flush()
        for at, words in ((cutoff - timedelta(microseconds=1), "just too old"), (cutoff, "exactly 30 days"),
                          (cutoff + timedelta(hours=1), "newer")):
            session.add(CaseEvent(case_id=row.id, at=at, actor="U01ADV", kind="note", text=words, deleted=False))
        # a pending row is still to be sent, whatever its age; a finished one is not read again
        enqueue(session, key="pending", kind="notify.dm", now=OLD, payload={"user": "U01ADV", "text": "Acme"})
        done = enqueue(session, key="done", kind="notify.dm", now=OLD, payload={"user": "U01ADV", "text": "Acme"})
        done.status, done.done_at = "done", cutoff - timedelta(days=1)
    erased = purge(db, cutoff=cutoff, now=T0)
    assert erased["timeline texts"] == 1 and erased["outbox payloads"] == 1 and erased["case texts"] == 0
    with db.transaction() as session:
        assert list(session.scalars(select(CaseEvent.text).order_by(CaseEvent.at))) == [
            PURGED, "exactly 30 days", "newer"]
        assert session.scalars(select(Case.summary)).one() == "open for long"  # open: kept
        assert {o.key: o.payload.get("text") for o in session.scalars(select(OutboxItem))} == {
            "pending": "Acme", "done": None}
    assert set(purge(db, cutoff=cutoff, now=T0).values()) == {0}  # nothing left to do


@pytest.mark.parametrize(("value", "error"), [
    (0, "retention.message_text_days: 0 is not a number of days; write a whole number greater than 0"),
    (-5, "retention.message_text_days: -5 is not a number of days"),
    ("365d", "retention.message_text_days: '365d' is not a number of days"),
    (36.5, "retention.message_text_days: 36.5 is not a number of days"),
    (True, "retention.message_text_days: True is not a number of days"),
])
def test_message_text_days_must_be_a_positive_whole_number(team: dict[str, Any], value: object, error: str) -> None:
    team["retention"] = {"message_text_days": value}
    with pytest.raises(ConfigError, match=re.escape(error)):
        parse_config(team)
    team["retention"] = {"message_text_day": 30}
    with pytest.raises(ConfigError, match=re.escape("retention.message_text_day: unknown key")):
        parse_config(team)


def test_the_example_config_documents_retention() -> None:
    example = ROOT / "advocacy.example.yaml"
    assert yaml.safe_load(example.read_text(encoding="utf-8"))["retention"] == {"message_text_days": 365}
    assert load_config(example).retention.message_text_days == 365


# ---------------------------------------------------------------- forget-customer


def forget(database_url: str, *args: str, stdin: Any = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    """``advocacy-bot forget-customer …`` in a subprocess, its input not a terminal unless given one."""
    return subprocess.run([sys.executable, "-m", "bot.cli", "forget-customer", *args], stdin=stdin,
                          env=bot_env(DATABASE_URL=database_url), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_forget_customer_erases_the_name_and_every_text_and_keeps_the_figures(bot: Bot, database_url: str) -> None:
    cases = history(bot)
    db, config = bot.db, bot.svc.config
    with db.transaction() as session:
        acme = find_customer(session, "Acme")
        assert acme is not None
        acme_id = acme.id
        acme.external_ref = "CRM-ACME-1"
        # a DM still to be sent naming them, a draft waiting for its requester's choice, a used one
        enqueue(session, key="dm:later", kind="notify.dm", now=T0, due_at=T0 + timedelta(days=30), payload={
            "user": "U01ADV", "text": "I could not DM about the check-in with *ACME*. Please take it over."})
        session.add(EscalationDraft(id="waiting", user_id="U30REQ", created_at=T0, payload={
            "request": {"customer": "acme", "summary": "Acme is down again"}, "origin": {"requester": "U30REQ"}}))
        session.add(EscalationDraft(id="chosen", user_id="U30REQ", created_at=T0, used_at=T0, payload={
            "request": {"customer": "Acme", "summary": "refund"}, "origin": {"requester": "U30REQ"}}))
    label = f"forgotten customer #{acme_id}"
    figures, rows = digests(db, config), counts(db)
    assert '"customer": "Acme"' in figures
    assert "acme" in everything(db)

    result = forget(database_url, "ACME", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"customer #{acme_id} is now '{label}'" in result.stdout
    assert "timeline texts: " in result.stdout and "Slack messages already posted" in result.stdout
    assert "status is not churned" in result.stdout  # Acme turned at-risk, not churned
    assert "acme" not in (result.stdout + result.stderr).lower()  # never echoed, never logged

    # the name is nowhere in the database: not in a text, a JSON payload, a channel name or a result
    assert "acme" not in everything(db)
    # the figures of every week are the same, the customer named by the label
    assert digests(db, config) == figures.replace('"Acme"', json.dumps(label))
    assert counts(db) == {**rows, "case_events": rows["case_events"] + 1}  # the audit entry on Acme's one case
    case = reload(db, cases["acme"])
    assert (case.summary, case.resolution, case.channel_name, case.customer.name) == (
        FORGOTTEN, FORGOTTEN, "case-1", label)
    assert (case.impact, case.severity, case.status, case.resolved_at) == (12000, "p1", "resolved",
                                                                          OLD + timedelta(hours=2))
    [audit] = [e for e in timeline(db, case.id) if e.kind == "customer_forgotten"]
    assert audit.text is None and audit.data["customer_id"] == acme_id and audit.data["erased"]["feedback"] == 1
    with db.transaction() as session:
        customer = session.get_one(Customer, acme_id)
        assert (customer.name, customer.external_ref, customer.status) == (label, None, "at-risk")
        dm = session.scalars(select(OutboxItem).where(OutboxItem.key == "dm:later")).one()
        assert dm.status == "pending" and f"*{label}*" in dm.payload["text"]  # still sent, naming nobody
        waiting = session.get_one(EscalationDraft, "waiting")
        assert waiting.used_at is None and waiting.payload["request"]["customer"] == label  # still choosable
        assert session.get_one(EscalationDraft, "chosen").payload == {"removed": FORGOTTEN}
    # Globex is untouched
    assert reload(db, cases["globex"]).summary == "delivery late for Globex's launch"
    assert "Globex's truck broke down" in texts_of(db, cases["globex"], ("message",))

    # at once again: nothing is left to erase
    again = forget(database_url, label, "--yes")
    assert again.returncode == 0, again.stderr
    assert [line for line in again.stdout.splitlines() if line.startswith("  ") and not line.endswith(": 0")] == []

    # the surfaces show the label: reopened, the case is on its reporter's Home and its summary is re-pinned
    answer = bot.driver.command("U01ADV", "/case", "reopen 1 it came back", channel_id="C0GENERAL")
    assert "Case #1 is reopened" in answer.text
    settle(bot)
    assert label in "\n".join(sections(open_home(bot, "U30REQ")))
    pinned = summary(bot, case)
    assert label in pinned and FORGOTTEN in pinned and "Acme" not in pinned
    body = bot.driver.command("U40OTHER", "/case", "timeline", channel_id=case.channel_id or "").json()
    listed = "\n".join(mrkdwn_texts(body["blocks"]))
    assert "customer forgotten" in listed and FORGOTTEN in listed and "acme" not in listed.lower()

    # what was written since (the reopen's reason) goes when they are forgotten again, by the label
    assert "it came back" in texts_of(db, case, ("reopened",))
    assert forget(database_url, label, "--yes").returncode == 0
    assert texts_of(db, case, ("reopened",)) == [FORGOTTEN]


def test_forget_customer_refuses_unknown_and_ambiguous_names(db: Database, database_url: str) -> None:
    with db.transaction() as session:
        create_customer(session, {"name": "Acme Corp"}, by="import", now=OLD)
        # the same name in two Unicode forms (é as one code point, and as e + a combining accent): two rows
        composed = create_customer(session, {"name": "Caf\u00e9"}, by="import", now=OLD)
        decomposed = create_customer(session, {"name": "Cafe\u0301"}, by="import", now=OLD)
        ids = composed.id, decomposed.id

    unknown = forget(database_url, "Acme", "--yes")  # a near match is not the customer
    assert unknown.returncode == 2
    assert "no customer is named 'Acme' (closest: 'Acme Corp'); nothing erased" in unknown.stderr
    ambiguous = forget(database_url, "CAF\u00c9", "--yes")
    assert ambiguous.returncode == 2
    assert f"2 customers are named 'CAF\u00c9': #{ids[0]}" in ambiguous.stderr and "Add --id" in ambiguous.stderr
    wrong = forget(database_url, "Acme Corp", "--id", str(ids[0]), "--yes")
    assert wrong.returncode == 2 and f"customer #{ids[0]} is not named 'Acme Corp'" in wrong.stderr
    with db.transaction() as session:
        assert set(session.scalars(select(Customer.name))) == {"Acme Corp", "Caf\u00e9", "Cafe\u0301"}

    chosen = forget(database_url, "caf\u00e9", "--id", str(ids[1]), "--yes")
    assert chosen.returncode == 0, chosen.stderr
    with db.transaction() as session:
        assert set(session.scalars(select(Customer.name))) == {"Acme Corp", "Caf\u00e9",
                                                                f"forgotten customer #{ids[1]}"}


def test_forget_customer_asks_first(db: Database, database_url: str) -> None:
    with db.transaction() as session:
        create_customer(session, {"name": "Acme"}, by="import", now=OLD)

    piped = forget(database_url, "Acme", stdin=subprocess.PIPE)  # a script's input: --yes is required
    assert piped.returncode == 2 and "its input is not a terminal: add --yes (nothing erased)" in piped.stderr

    for typed, code in (("no", 1), ("yes", 0)):
        leader, follower = pty.openpty()  # a terminal, as when a person runs the command
        try:
            process = subprocess.Popen([sys.executable, "-m", "bot.cli", "forget-customer", "Acme"], stdin=follower,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                       env=bot_env(DATABASE_URL=database_url))
            os.write(leader, f"{typed}\n".encode())
            out, err = process.communicate(timeout=120)
        finally:
            os.close(leader)
            os.close(follower)
        assert process.returncode == code, err
        assert "to forget: customer #1: 0 case(s)" in out and "Type yes to go on" in out
        with db.transaction() as session:
            names = set(session.scalars(select(Customer.name)))
        assert names == ({"Acme"} if typed == "no" else {"forgotten customer #1"})
        assert ("nothing erased" in out) == (typed == "no")


def test_json_without_leaves_what_is_not_an_object_alone(db: Database) -> None:
    """SQL NULL, JSON null and arrays in ``data`` do not break a purge, on either database."""
    with db.transaction() as session:
        customer = create_customer(session, {"name": "Acme"}, by="import", now=OLD)
        row = Case(number=1, customer_id=customer.id, summary="s", severity="p2", status="new", owner_id="U01ADV",
                   reporter_id="U30REQ", created_at=OLD, updated_at=OLD)
        session.add(row)
        session.flush()
        session.add_all([CaseEvent(case_id=row.id, at=OLD, actor="bot", kind="note", text="a", deleted=False,
                                   data=value) for value in (None, None, {"reason": "why", "to": "U1"}, [1, 2])])
        session.flush()
        first = session.scalars(select(CaseEvent.id).order_by(CaseEvent.id)).first()
        session.execute(text("UPDATE case_events SET data = NULL WHERE id = :id"), {"id": first})  # SQL NULL
    erased = purge(db, cutoff=T0, now=T0)
    assert erased["timeline texts"] == 4
    with db.transaction() as session:
        rows = session.execute(select(CaseEvent.data, CaseEvent.data.is_(None)).order_by(CaseEvent.id)).all()
    assert [tuple(r) for r in rows] == [(None, True), (None, False), ({"to": "U1"}, False), ([1, 2], False)]


def test_the_retention_run_is_claimed_once_per_utc_day(db: Database) -> None:
    with db.transaction() as session:
        assert session.get(Counter, "retention") is None
        assert privacy.claim_day(session, T0)  # the first run ever inserts the counter
    with db.transaction() as session:
        assert not privacy.claim_day(session, T0.replace(hour=23, minute=59))  # another replica, the same day
        assert privacy.claim_day(session, T0.replace(hour=0) + timedelta(days=1))
        assert not privacy.claim_day(session, T0)  # a clock that went back does not run it again


def test_two_replicas_racing_for_the_days_first_run_run_it_once(database_url: str) -> None:
    """The first run ever inserts the counter: a replica racing it waits for that insert and then stands down
    (PostgreSQL: the unique key; SQLite: the write lock), rather than purging twice or failing its tick."""
    first, second = Database(database_url), Database(database_url)
    claimed: dict[str, bool] = {}

    def other_replica() -> None:
        with second.transaction() as session:
            claimed["second"] = privacy.claim_day(session, T0 + timedelta(minutes=1))

    try:
        with first.transaction() as session:
            claimed["first"] = privacy.claim_day(session, T0)
            racing = threading.Thread(target=other_replica)
            racing.start()
            racing.join(0.5)
            assert racing.is_alive()  # held up by the first replica's uncommitted claim
        racing.join(30)
        assert claimed == {"first": True, "second": False}
    finally:
        first.dispose()
        second.dispose()

