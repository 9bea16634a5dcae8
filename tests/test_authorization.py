"""Who may do what: every state-changing command, button, form and reaction, tried by each role.

The roles, in a case for Acme reported and owned by one person, asking billing:

* **owner** ``U40OTHER``: owns the case (and whatever else is theirs in a row: the report awaiting a choice,
  the customer whose check-in it is). Deliberately neither an advocate nor a head, so whatever they may
  do, they may do as the owner.
* **advocate** ``U02ADV``: an advocate (team config), who does not own the case.
* **head** ``U10BILL``: head of billing, the department asked on the case.
* **bystander** ``U30REQ``: in the case channel, with no role at all.

The expected matrix is the documented one (README, "The case room" and the sections of each tool; the
module docstrings of ``bot/case_flow.py``, ``bot/resolution_flow.py``, ``bot/checkin_flow.py``). Allowed: the
database shows the change. Refused: the person is told why, only them (an ephemeral answer, or a DM from the
App Home), and nothing in the database changed. A reaction is never answered: a refused one is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.domain.customers import name_key
from storage.models import Base, Case, CheckIn, Customer, CustomerUpdate, PreventionAction
from tests.conftest import Bot, wait_until
from tests.helpers import all_cases, outbox, setup_settled, timeline
from tests.test_home import end_case, open_home
from tests.test_resolution import VALID, keyed, open_resolve_modal, reload, run_tick, settle

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Stockholm (the team's zone)
ROLES = {"owner": "U40OTHER", "advocate": "U02ADV", "head": "U10BILL", "bystander": "U30REQ"}
EVERYONE = frozenset(ROLES)
OWNER_OR_ADVOCATE = frozenset({"owner", "advocate"})
CASE_CHANGERS = frozenset({"owner", "advocate", "head"})  # owner, advocates, heads and deputies of asked departments
ADVOCATES = frozenset({"advocate"})
REQUESTER = frozenset({"owner"})  # the report awaiting a choice is the owner's


@pytest.fixture
def team(team: dict[str, Any]) -> dict[str, Any]:
    team["checkins"] = {"tiers": {"strategic": "30d"}}  # only customers given a tier are checked in with
    return team


# ---------------------------------------------------------------- the world each row starts from


@dataclass
class World:
    case: Case
    extra: dict[str, Any]

    @property
    def channel(self) -> str:
        return str(self.case.channel_id)


def world(bot: Bot) -> World:
    """Acme's case asking billing, reported by U40OTHER and then owned by them; U30REQ joins its channel."""
    bot.clock.now = T0
    assert bot.driver.command("U40OTHER", "/escalate", "Acme: refund stuck p1", channel_id="C0GENERAL").status == 200
    wait_until(lambda: all_cases(bot.db) and setup_settled(bot.db), message="the case set-up")
    [case] = all_cases(bot.db)
    assert [d.department for d in case.departments] == ["billing"] and case.owner_id != ROLES["owner"]
    with bot.db.transaction() as session:  # as `/case owner @otto` would have done
        session.execute(update(Case).where(Case.id == case.id).values(owner_id=ROLES["owner"]))
    bot.standin.add_member(str(case.channel_id), ROLES["bystander"])
    return World(reload(bot, case), {})


def ended(status: str) -> Callable[[Bot], World]:
    def arrange(bot: Bot) -> World:
        here = world(bot)
        end_case(bot, here.case, status, T0)
        here.case = reload(bot, here.case)
        return here
    return arrange


def with_reminder(bot: Bot) -> World:
    """Two hours on, the p1 case's customer update is overdue: the reminder with its buttons is posted."""
    here = world(bot)
    run_tick(bot, hours=2)
    [reminder] = [m for m in keyed(bot, here.channel, "reminder:")
                  if m.metadata["event_payload"]["key"].endswith(":overdue")]
    here.extra["ts"] = reminder.ts
    return here


def with_prevention_action(owner: str) -> Callable[[Bot], World]:
    """The case resolved by an advocate, with one prevention action owned by ``owner``: its DM has Mark done."""
    def arrange(bot: Bot) -> World:
        here = world(bot)
        view = open_resolve_modal(bot, here.case, "U01ADV")
        values = {**VALID, "prevention1_owner": owner, "prevention1_due": "2026-12-01"}
        assert bot.driver.view_submission("U01ADV", view["id"], values).text == ""
        settle(bot)
        with bot.db.transaction() as session:
            [action] = session.scalars(select(PreventionAction)).all()
        dm = str(bot.standin.dm_channel(owner))
        [message] = wait_until(lambda: keyed(bot, dm, f"prevention:{action.id}:assigned"), message="the DM")
        here.extra.update(action=action.id, dm=dm, ts=message.ts)
        return here
    return arrange


def with_checkin(bot: Bot) -> World:
    """A strategic customer whose advocate is the owner-role person: its check-in is due, the DM is sent."""
    here = world(bot)
    with bot.db.transaction() as session:
        customer = Customer(name="Globex", name_key=name_key("Globex"), created_at=T0 - timedelta(days=30),
                            tier="strategic", advocate_id=ROLES["owner"], status="active")
        session.add(customer)
    run_tick(bot)
    dm = str(bot.standin.dm_channel(ROLES["owner"]))
    [prompt] = [m for m in bot.standin.messages(dm)
                if ":prompt:" in str(((m.metadata or {}).get("event_payload") or {}).get("key"))]
    with bot.db.transaction() as session:
        [checkin] = session.scalars(select(CheckIn).where(CheckIn.status == "prompted")).all()
    here.extra.update(dm=dm, ts=prompt.ts, checkin=checkin.id)
    return here


def with_second_report(bot: Bot) -> World:
    """The owner-role person reports Acme again: the report waits for their choice (add to the case, or new)."""
    here = world(bot)
    assert bot.driver.command(ROLES["owner"], "/escalate", "Acme: still no refund").status == 200
    response = wait_until(lambda: [r for r in bot.standin.responses if r.blocks
                                   and "already has an open case" in str(r.blocks)], message="the choice")[-1]
    actions = next(b for b in response.blocks if b["type"] == "actions")
    here.extra["buttons"] = {e["action_id"]: e["value"] for e in actions["elements"]}
    return here


def with_customer_message(bot: Bot) -> World:
    here = world(bot)
    ts, _ = bot.driver.say("U10BILL", here.channel, "Told them: refund re-issued, 3-5 days",
                           thread_ts=here.case.summary_ts)
    here.extra["ts"] = ts
    return here


def with_customer_advocated_by_owner(bot: Bot) -> World:
    here = world(bot)
    with bot.db.transaction() as session:
        session.execute(update(Customer).where(Customer.name == "Acme").values(advocate_id=ROLES["owner"]))
    return here


# ---------------------------------------------------------------- what each row does, and how to see it


def command(name: str, text: str, *, in_case: bool = True) -> Callable[[Bot, World, str], Any]:
    def act(bot: Bot, here: World, user: str) -> Any:
        return bot.driver.command(user, name, text, channel_id=here.channel if in_case else "C0GENERAL")
    return act


def click(action_id: str, *, value: str | None = None) -> Callable[[Bot, World, str], Any]:
    """A button on a message: the reminder in the case channel, or a DM (``extra["dm"]``)."""
    def act(bot: Bot, here: World, user: str) -> Any:
        channel = here.extra.get("dm", here.channel)
        return bot.driver.block_action(user, action_id, value=value, channel_id=channel, message_ts=here.extra["ts"])
    return act


def submit_opened(values: dict[str, Any]) -> Callable[[Bot, str, set[str]], Any]:
    """Submit the modal the action opened, if one opened for the user (after a short wait)."""
    def then(bot: Bot, user: str, before: set[str]) -> Any:
        try:
            view_id = wait_until(lambda: next(iter(set(bot.standin.open_views(user)) - before), None), timeout=2)
        except AssertionError:
            return None  # refused: no form
        return bot.driver.view_submission(user, view_id, values)
    return then


def then_submit(act: Callable[[Bot, World, str], Any], values: dict[str, Any]) -> Callable[[Bot, World, str], Any]:
    def both(bot: Bot, here: World, user: str) -> Any:
        before = set(bot.standin.open_views(user))
        answer = act(bot, here, user)
        submitted = submit_opened(values)(bot, user, before)
        return submitted if submitted is not None else answer
    return both


def react(name: str) -> Callable[[Bot, World, str], Any]:
    def act(bot: Bot, here: World, user: str) -> Any:
        return bot.driver.react(user, here.channel, here.extra["ts"], name)
    return act


def choose(action_id: str) -> Callable[[Bot, World, str], Any]:
    def act(bot: Bot, here: World, user: str) -> Any:
        return bot.driver.block_action(user, action_id, value=here.extra["buttons"][action_id],
                                       channel_id="C0GENERAL", message_ts="1700000000.000100")
    return act


def reopen_from_home(bot: Bot, here: World, user: str) -> Any:
    home = open_home(bot, user)
    before = set(bot.standin.open_views(user))
    bot.driver.block_action(user, "home_reopen", value=str(here.case.number), view_id=home["id"])
    return submit_opened({"reason": "They wrote again"})(bot, user, before)


def log_shortcut(bot: Bot, here: World, user: str) -> Any:
    return bot.driver.message_shortcut(user, "log_customer_update", channel_id=here.channel,
                                       message_ts=here.extra["ts"])


def escalate_shortcut(bot: Bot, here: World, user: str) -> Any:
    return bot.driver.message_shortcut(user, "escalate_message", channel_id=here.channel,
                                       message_ts=here.extra["ts"])


def case_now(bot: Bot, here: World) -> Case:
    return reload(bot, here.case)


def events_by(bot: Bot, here: World, kind: str, user: str) -> bool:
    return any(e.kind == kind and e.actor == user for e in timeline(bot.db, here.case.id))


def update_by(source: str) -> Callable[[Bot, World, str], bool]:
    def changed(bot: Bot, _here: World, user: str) -> bool:
        with bot.db.transaction() as session:
            return session.scalar(select(CustomerUpdate.id).where(CustomerUpdate.by == user,
                                                                  CustomerUpdate.source == source)) is not None
    return changed


def checkin_status(status: str) -> Callable[[Bot, World, str], bool]:
    def changed(bot: Bot, here: World, user: str) -> bool:
        with bot.db.transaction() as session:
            row = session.get_one(CheckIn, here.extra["checkin"])
            return row.status == status and (row.done_by == user or status == "scheduled")
    return changed


def action_done(bot: Bot, here: World, user: str) -> bool:
    with bot.db.transaction() as session:
        action = session.get_one(PreventionAction, here.extra["action"])
        return action.status == "done" and action.done_by == user


def customer_field(name: str, field: str, wanted: Any) -> Callable[[Bot, World, str], bool]:
    def changed(bot: Bot, _here: World, _user: str) -> bool:
        with bot.db.transaction() as session:
            customer = session.scalar(select(Customer).where(Customer.name_key == name_key(name)))
            return customer is not None and getattr(customer, field) == wanted
    return changed


def digest_shown(bot: Bot, _here: World, user: str) -> bool:
    return any("so far" in json.dumps(r.body) for r in bot.standin.responses)


# How a refusal is told: the command's ephemeral answer, an ephemeral response_url post, or a DM.
def in_ack(answer: Any, _bot: Bot, _user: str) -> str | None:
    if answer is None or answer.status != 200 or not answer.text:
        return None
    body = answer.json()
    if isinstance(body, dict):
        assert body.get("response_type", "ephemeral") == "ephemeral"
        return str(body.get("text") or "")
    return answer.text


def in_response(answer: Any, bot: Bot, _user: str) -> str | None:
    found = [r for r in bot.standin.responses if (r.text or "").startswith(":warning:")]
    if not found:
        return None
    assert all(r.response_type == "ephemeral" for r in found)
    return found[-1].text


def in_dm(answer: Any, bot: Bot, user: str) -> str | None:
    channel = bot.standin.dm_channel(user)
    found = [m.text for m in bot.standin.messages(channel) if m.text.startswith(":warning:")] if channel else []
    return found[-1] if found else None


def unanswered(answer: Any, bot: Bot, user: str) -> str | None:
    """A reaction is never answered: a refused one is ignored (there is nowhere to answer it)."""
    return ""


@dataclass(frozen=True)
class Row:
    what: str
    allowed: frozenset[str]
    arrange: Callable[[Bot], World]
    act: Callable[[Bot, World, str], Any]
    changed: Callable[[Bot, World, str], bool]
    told: Callable[[Any, Bot, str], str | None]
    refusal: str  # the start of what a refused person is told


ROWS = [
    Row("/case status", CASE_CHANGERS, world, command("/case", "status investigating"),
        lambda bot, here, _: case_now(bot, here).status == "investigating", in_ack, ":warning: Only the owner"),
    Row("/case owner", CASE_CHANGERS, world, command("/case", "owner <@U01ADV>"),
        lambda bot, here, _: case_now(bot, here).owner_id == "U01ADV", in_ack, ":warning: Only the owner"),
    Row("/case severity", CASE_CHANGERS, world, command("/case", "severity p2"),
        lambda bot, here, _: case_now(bot, here).severity == "p2", in_ack, ":warning: Only the owner"),
    Row("/case impact", CASE_CHANGERS, world, command("/case", "impact $12k"),
        lambda bot, here, _: case_now(bot, here).impact == Decimal("12000.00"), in_ack, ":warning: Only the owner"),
    Row("/case add", CASE_CHANGERS, world, command("/case", "add +logistics"),
        lambda bot, here, _: "logistics" in [d.department for d in case_now(bot, here).departments], in_ack,
        ":warning: Only the owner"),
    Row("/case note", EVERYONE, world, command("/case", "note Called the carrier"),
        lambda bot, here, user: events_by(bot, here, "note", user), in_ack, ""),
    Row("/case update", EVERYONE, world, command("/case", "update email: refund approved"),
        update_by("command"), in_ack, ""),
    Row("/case cadence", OWNER_OR_ADVOCATE, world, command("/case", "cadence 4h"),
        lambda bot, here, _: case_now(bot, here).cadence_seconds == 4 * 3600, in_ack,
        ":warning: Only the owner (<@U40OTHER>) or an advocate can change the cadence"),
    Row("/case resolve (and its form)", OWNER_OR_ADVOCATE, world,
        then_submit(command("/case", "resolve"), {**VALID, "prevention1_due": "2026-12-01"}),
        lambda bot, here, _: case_now(bot, here).status == "resolved", in_ack,
        ":warning: Only the owner (<@U40OTHER>) or an advocate can resolve case #1"),
    Row("/case close", OWNER_OR_ADVOCATE, ended("resolved"), command("/case", "close"),
        lambda bot, here, _: case_now(bot, here).status == "closed", in_ack,
        ":warning: Only the owner (<@U40OTHER>) or an advocate can close case #1"),
    Row("/case reopen", OWNER_OR_ADVOCATE, ended("closed"),
        command("/case", "reopen 1 they wrote again", in_case=False),
        lambda bot, here, _: case_now(bot, here).status == "investigating", in_ack,
        ":warning: Only the owner (<@U40OTHER>) or an advocate can reopen case #1"),
    Row("Reopen on the App Home (and its form)", OWNER_OR_ADVOCATE, ended("closed"), reopen_from_home,
        lambda bot, here, _: case_now(bot, here).status == "investigating", in_dm,
        ":warning: Only the owner (<@U40OTHER>) or an advocate can reopen case #1"),
    Row("/advocacy handover", ADVOCATES, world,
        command("/advocacy", "handover <@U40OTHER> <@U01ADV> --reason leave", in_case=False),
        lambda bot, here, _: case_now(bot, here).owner_id == "U01ADV", in_ack,
        ":warning: Only an advocate can hand cases over"),
    Row("/advocacy customer add (and its form)", ADVOCATES, world,
        then_submit(command("/advocacy", "customer add Initech", in_case=False), {"name": "Initech"}),
        customer_field("Initech", "name", "Initech"), in_ack, ":warning: Only an advocate can add or edit customers"),
    Row("/advocacy customer edit (and its form)", ADVOCATES, with_customer_advocated_by_owner,
        then_submit(command("/advocacy", "customer edit acme", in_case=False), {"external_ref": "CRM-7"}),
        customer_field("Acme", "external_ref", "CRM-7"), in_ack,
        ":warning: Only an advocate can add or edit customers"),
    Row("/advocacy digest (read-only, shows revenue)", ADVOCATES, world, command("/advocacy", "digest", in_case=False),
        digest_shown, in_ack, ":warning: The digest shows revenue figures: only advocates and the leaders"),
    Row("/escalate", EVERYONE, world, command("/escalate", "Globex: delivery late", in_case=False),
        lambda bot, here, user: any(c.reporter_id == user and c.summary == "delivery late" for c in all_cases(bot.db)),
        in_ack, ""),
    Row("Escalate a message (shortcut and its form)", EVERYONE, with_customer_message,
        then_submit(escalate_shortcut, {"customer": "Globex", "summary": "delivery late"}),
        lambda bot, here, user: any(c.reporter_id == user and c.customer.name == "Globex" and
                                    c.source_ts == here.extra["ts"] for c in all_cases(bot.db)),
        in_response, ""),
    Row("Log as customer update (message shortcut)", EVERYONE, with_customer_message, log_shortcut,
        update_by("shortcut"), in_response, ""),
    Row("Reminder: Snooze 1h", OWNER_OR_ADVOCATE, with_reminder, click("reminder_snooze_1h"),
        lambda bot, here, user: events_by(bot, here, "reminder_snoozed", user), in_response,
        ":warning: Only the owner (<@U40OTHER>) or an advocate can snooze this reminder"),
    Row("Reminder: Snooze until tomorrow", OWNER_OR_ADVOCATE, with_reminder, click("reminder_snooze_tomorrow"),
        lambda bot, here, user: events_by(bot, here, "reminder_snoozed", user), in_response,
        ":warning: Only the owner (<@U40OTHER>) or an advocate can snooze this reminder"),
    Row("Reminder: Log update (and its form)", EVERYONE, with_reminder,
        then_submit(click("reminder_log_update"), {"text": "Refund approved", "via": "call"}),
        update_by("modal"), in_response, ""),
    Row("Reminder: :white_check_mark: reaction", OWNER_OR_ADVOCATE, with_reminder, react("white_check_mark"),
        update_by("reaction"), unanswered, ""),
    Row("Reminder: :zzz: reaction", OWNER_OR_ADVOCATE, with_reminder, react("zzz"),
        lambda bot, here, user: events_by(bot, here, "reminder_snoozed", user), unanswered, ""),
    Row(":pushpin: reaction (key moment)", EVERYONE, with_customer_message, react("pushpin"),
        lambda bot, here, user: events_by(bot, here, "key_moment", user), unanswered, ""),
    Row("Prevention action: Mark done (the action is the head's)", frozenset({"owner", "advocate", "head"}),
        with_prevention_action(ROLES["head"]), click("prevention_done"), action_done, in_response,
        ":warning: Only <@U10BILL> (who owns this action), the case owner (<@U40OTHER>) or an advocate"),
    Row("Prevention action: Mark done (the action is someone else's)", OWNER_OR_ADVOCATE,
        with_prevention_action("U20SHIP"), click("prevention_done"), action_done, in_response,
        ":warning: Only <@U20SHIP> (who owns this action), the case owner (<@U40OTHER>) or an advocate"),
    Row("Check-in: Log check-in (and its form)", OWNER_OR_ADVOCATE, with_checkin,
        then_submit(click("checkin_log"), {"how": "call"}), checkin_status("done"), in_response,
        ":warning: Only <@U40OTHER> (the customer’s advocate) or an advocate can answer the check-in with Globex"),
    Row("Check-in: Snooze a week", OWNER_OR_ADVOCATE, with_checkin, click("checkin_snooze"),
        checkin_status("scheduled"), in_response,
        ":warning: Only <@U40OTHER> (the customer’s advocate) or an advocate can answer the check-in with Globex"),
    Row("Check-in: Skip (and its form)", OWNER_OR_ADVOCATE, with_checkin,
        then_submit(click("checkin_skip"), {"reason": "Saw them at the review"}), checkin_status("skipped"),
        in_response,
        ":warning: Only <@U40OTHER> (the customer’s advocate) or an advocate can answer the check-in with Globex"),
    Row("Escalation choice: Add to the open case", REQUESTER, with_second_report, choose("escalation_add_to_case"),
        lambda bot, here, user: events_by(bot, here, "report_added", user), in_response,
        ":warning: Only <@U40OTHER>, who reported it, can choose what happens to it."),
    Row("Escalation choice: Open a new case", REQUESTER, with_second_report, choose("escalation_open_new"),
        lambda bot, here, user: len(all_cases(bot.db)) == 2, in_response,
        ":warning: Only <@U40OTHER>, who reported it, can choose what happens to it."),
]


def snapshot(bot: Bot) -> dict[str, list[str]]:
    """Every row of every table but ``deliveries`` (which records that a request came, not what it changed)."""
    with bot.db.transaction() as session:
        return {table.name: sorted(repr(tuple(row)) for row in session.execute(select(table)))
                for table in Base.metadata.sorted_tables if table.name != "deliveries"}


def quiet(bot: Bot) -> None:
    """Nothing left running from the arrangement: the outbox settled, background work done."""
    settle(bot)
    wait_until(lambda: all(i.status != "pending" or i.due_at > bot.clock() for i in outbox(bot.db)))


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("row", ROWS, ids=[r.what for r in ROWS])
def test_authorization(bot: Bot, row: Row, role: str) -> None:
    here = row.arrange(bot)
    quiet(bot)
    user = ROLES[role]
    before = snapshot(bot)
    answer = row.act(bot, here, user)
    assert answer is None or answer.status == 200
    if role in row.allowed:
        wait_until(lambda: row.changed(bot, here, user), timeout=10, message=f"{row.what} by the {role}")
        if row.refusal:
            assert not (row.told(answer, bot, user) or "").startswith(row.refusal)
        return
    told = wait_until(lambda: row.told(answer, bot, user) is not None and row.told(answer, bot, user),
                      timeout=5, message="the refusal") if row.told is not unanswered else ""
    assert str(told).startswith(row.refusal), told
    quiet(bot)
    assert not row.changed(bot, here, user)
    assert snapshot(bot) == before


def test_the_matrix_is_the_documented_one() -> None:
    """The matrix as a table (the README's rules, one row per surface), checked against a few of its lines."""
    matrix = {row.what: [role for role in ROLES if role in row.allowed] for row in ROWS}
    assert matrix["/case status"] == ["owner", "advocate", "head"]  # README: owner, advocates, heads of asked depts
    assert matrix["/case note"] == list(ROLES)  # anyone in the channel
    assert matrix["/case resolve (and its form)"] == ["owner", "advocate"]
    assert matrix["/advocacy handover"] == ["advocate"]  # "Only an advocate may do it"
    assert matrix["Escalation choice: Open a new case"] == ["owner"]  # the one who reported it
    assert len({row.what for row in ROWS}) == len(ROWS)
