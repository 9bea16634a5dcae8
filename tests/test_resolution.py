"""Resolving, closing and reopening cases end to end: the resolve modal, prevention actions reminded by
the tick and marked done by button, recurrence links, archive on close, reopen from anywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from jobs.tick import tick
from storage.models import Case, CustomerUpdate, PreventionAction
from tests.conftest import Bot, over_both_transports, wait_until
from tests.helpers import all_cases, outbox, setup_settled, timeline

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Stockholm (the team's zone)
VALID: dict[str, Any] = {
    "resolution": "Refund re-issued by hand <!channel>",
    "category": "process-gap",
    "root_cause": "Refunds over $10k need a second approver & nobody had the role",
    "final_update": "Your refund was re-issued today; it lands in 3 days.",
    "via": "call",
    "prevention1_what": "Give billing a backup approver",
    "prevention1_owner": "U10BILL",
    "prevention1_due": "2026-12-01",  # a Tuesday: reminded at 09:00 Stockholm = 08:00 UTC
}


@pytest.fixture
def at_t0(bot: Bot) -> Bot:
    bot.clock.now = T0
    return bot


@pytest.fixture
def archiving(team: dict[str, Any]) -> None:
    team["archive_on_close"] = True


def open_case(bot: Bot, text: str = "Acme: refund stuck p1", user: str = "U30REQ") -> Case:
    before = len(all_cases(bot.db))
    assert bot.driver.command(user, "/escalate", text, channel_id="C0GENERAL").status == 200
    wait_until(lambda: len(all_cases(bot.db)) > before and setup_settled(bot.db), message="the case set-up")
    return all_cases(bot.db)[-1]


def settle(bot: Bot) -> None:
    wait_until(lambda: all(i.status != "pending" or i.due_at > bot.clock() for i in outbox(bot.db)),
               message="the outbox to drain")


def run_tick(bot: Bot, **advance: float) -> None:
    if advance:
        bot.clock.advance(**advance)
    tick(bot.svc, bot.clock())
    settle(bot)


def reload(bot: Bot, case: Case) -> Case:
    return next(c for c in all_cases(bot.db) if c.id == case.id)


def keyed(bot: Bot, channel: str | None, prefix: str) -> list[Any]:
    """Bot messages whose outbox key starts with ``prefix``."""
    return [m for m in bot.standin.messages(channel or "") if m.bot_id
            and str(((m.metadata or {}).get("event_payload") or {}).get("key", "")).startswith(prefix)]


def summary(bot: Bot, case: Case) -> str:
    case = reload(bot, case)
    message = bot.standin.message_json(str(case.channel_id), str(case.summary_ts))
    assert message is not None
    return str(message.get("blocks"))


def open_resolve_modal(bot: Bot, case: Case, user: str = "U01ADV") -> dict[str, Any]:
    response = bot.driver.command(user, "/case", "resolve", channel_id=case.channel_id)
    assert response.status == 200 and response.text == ""  # the modal answers, not a message
    [view_id] = wait_until(lambda: bot.standin.open_views(user), message="the resolve modal")
    return bot.standin.views[view_id]


def resolve(bot: Bot, case: Case, user: str = "U01ADV", **values: Any) -> dict[str, Any]:
    view = open_resolve_modal(bot, case, user)
    answer = bot.driver.view_submission(user, view["id"], {**VALID, **values})
    assert answer.status == 200 and answer.text == "", answer.text  # closed: no errors
    settle(bot)
    return view


def actions_of(bot: Bot, case: Case) -> list[PreventionAction]:
    with bot.db.transaction() as session:
        return list(session.scalars(select(PreventionAction).where(PreventionAction.case_id == case.id)
                                    .order_by(PreventionAction.id)))


def kinds(bot: Bot, case: Case) -> list[str]:
    return [e.kind for e in timeline(bot.db, case.id)]


def reminder_posts(bot: Bot, case: Case) -> list[Any]:
    return keyed(bot, reload(bot, case).channel_id, "reminder:")


# ---------------------------------------------------------------- the modal


def test_the_resolve_modal_validates_each_field(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    view = open_resolve_modal(bot, case)
    assert view["callback_id"] == "resolve_case" and f'"case": {case.id}' in view["private_metadata"]
    category = next(b for b in view["blocks"] if b.get("block_id") == "category")["element"]
    assert [o["value"] for o in category["options"]] == list(bot.svc.config.root_causes)
    kinds_of = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
    assert (kinds_of["prevention1_owner"], kinds_of["prevention1_due"]) == ("users_select", "datepicker")
    assert [b["optional"] for b in view["blocks"] if b.get("block_id", "").endswith("_what")] == [False, True, True]

    def errors(values: dict[str, Any]) -> dict[str, str]:
        answer = bot.driver.view_submission("U01ADV", view["id"], values).json()
        assert answer["response_action"] == "errors"
        return answer["errors"]

    assert set(errors({"via": "email"})) == {"resolution", "category", "root_cause", "final_update",
                                             "prevention1_what", "prevention1_owner", "prevention1_due"}
    assert set(errors({**VALID, "resolution": "   "})) == {"resolution"}
    # A second row partly filled in: each missing field is named; an empty third row is fine.
    half = errors({**VALID, "prevention2_what": "Alert on stuck refunds"})
    assert set(half) == {"prevention2_owner", "prevention2_due"} and "leave all three empty" in half["prevention2_due"]
    bad = errors({**VALID, "losses": "lots", "credits": "$1,2"})
    assert set(bad) == {"losses", "credits"} and "not an amount" in bad["losses"]
    sabotage = {"text": {"type": "plain_text", "text": "sabotage"}, "value": "sabotage"}
    assert "not a root-cause category" in errors({**VALID, "category": sabotage})["category"]
    assert "in the past" in errors({**VALID, "prevention1_due": "2026-11-23"})["prevention1_due"]

    assert reload(bot, case).status == "new" and actions_of(bot, case) == []
    assert "resolved" not in kinds(bot, case)


def test_only_the_owner_or_an_advocate_may_resolve_close_or_reopen(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)  # owned by U01ADV; U10BILL heads billing, asked on the case
    for user in ("U10BILL", "U40OTHER"):
        refusal = bot.driver.command(user, "/case", "resolve", channel_id=case.channel_id)
        assert "Only the owner (<@U01ADV>) or an advocate can resolve case #1" in refusal.text
        assert bot.standin.open_views(user) == []
    assert not bot.standin.calls_to("views.open")
    outside = bot.driver.command("U01ADV", "/case", "resolve", channel_id="C0GENERAL")
    assert "works in a case channel" in outside.text

    resolve(bot, case)
    assert "Only the owner" in bot.driver.command("U10BILL", "/case", "close", channel_id=case.channel_id).text
    assert "Only the owner" in bot.driver.command("U40OTHER", "/case", "reopen 1 why not",
                                                  channel_id="C0GENERAL").text
    assert reload(bot, case).status == "resolved"
    again = bot.driver.command("U01ADV", "/case", "resolve", channel_id=case.channel_id)
    assert "already resolved" in again.text


@over_both_transports
def test_resolving_records_everything_and_stops_update_reminders(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)  # p1: an update every 2h
    bot.clock.advance(minutes=30)
    resolve(bot, case, losses="$12k", credits="$500", prevention2_what="Alert when a refund is stuck for a day",
            prevention2_owner="U01ADV", prevention2_due="2026-11-28")  # a Saturday: reminded on Friday

    case = reload(bot, case)
    assert (case.status, case.resolved_at, case.next_update_due) == ("resolved", T0 + timedelta(minutes=30), None)
    assert case.resolution == VALID["resolution"] and case.root_cause == VALID["root_cause"]
    assert (case.root_cause_category, str(case.losses), str(case.credits)) == ("process-gap", "12000.00", "500.00")
    first, second = actions_of(bot, case)
    assert (first.what, first.owner_id, first.due_on, first.status) == (
        VALID["prevention1_what"], "U10BILL", date(2026, 12, 1), "open")
    assert first.remind_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 09:00 in Stockholm
    assert second.remind_at == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # Friday morning before a Saturday
    with bot.db.transaction() as session:
        [update] = session.scalars(select(CustomerUpdate).where(CustomerUpdate.case_id == case.id)).all()
    assert (update.source, update.via, update.text, update.by, update.on_time) == (
        "resolve", "call", VALID["final_update"], "U01ADV", True)
    assert "resolved" in kinds(bot, case) and "customer_update" in kinds(bot, case)

    [notice] = [m for m in bot.standin.messages(str(case.channel_id)) if "resolved case #1" in m.text]
    assert "Refund re-issued by hand &lt;!channel&gt;" in notice.text  # user text is escaped
    assert "process-gap" in notice.text and "second approver &amp; nobody" in notice.text
    assert "<@U10BILL>, due Tue 1 Dec 2026" in notice.text and "<@U01ADV>, due Sat 28 Nov 2026" in notice.text
    assert "$12,000" in notice.text and "recurrence" not in notice.text
    shown = summary(bot, case)
    assert "*Resolution*" in shown and "process-gap" in shown and "Give billing a backup approver" in shown
    assert "resolved" in (bot.standin.channel(str(case.channel_id)) or pytest.fail()).topic

    # Each owner hears of their action by DM, with a Mark done button.
    dm = keyed(bot, bot.standin.dm_channel("U10BILL"), f"prevention:{first.id}:assigned")
    assert len(dm) == 1 and "prevention_done" in str(dm[0].blocks) and "due Tue 1 Dec 2026" in dm[0].text

    run_tick(bot, hours=6)  # the update would have been overdue, escalated…
    assert reminder_posts(bot, case) == []


@over_both_transports
def test_a_resolve_modal_submitted_twice_resolves_once(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    view = resolve(bot, case)
    assert bot.driver.view_submission("U01ADV", view["id"], VALID).status == 200
    settle(bot)
    assert kinds(bot, case).count("resolved") == 1 and len(actions_of(bot, case)) == 1
    with bot.db.transaction() as session:
        assert len(session.scalars(select(CustomerUpdate).where(CustomerUpdate.source == "resolve")).all()) == 1
    assert len([m for m in bot.standin.messages(str(case.channel_id)) if "resolved case #1" in m.text]) == 1


# ---------------------------------------------------------------- prevention actions


@over_both_transports
def test_the_due_morning_dms_the_owner_once_and_mark_done_updates_it(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    resolve(bot, case, prevention1_due="2026-11-26")  # Thursday: 08:00 UTC
    [action] = actions_of(bot, case)
    dm = str(bot.standin.dm_channel("U10BILL"))

    bot.clock.now = datetime(2026, 11, 26, 7, 59, tzinfo=UTC)
    run_tick(bot)
    assert keyed(bot, dm, f"prevention:{action.id}:remind") == []
    run_tick(bot, minutes=1)
    run_tick(bot, hours=1)
    [reminder] = keyed(bot, dm, f"prevention:{action.id}:remind")
    assert "is due Thu 26 Nov 2026" in reminder.text and "Give billing a backup approver" in reminder.text
    assert actions_of(bot, case)[0].status == "reminded"

    bot.driver.block_action("U40OTHER", "prevention_done", channel_id=dm, message_ts=reminder.ts)
    refusal = wait_until(lambda: [r for r in bot.standin.responses if "Only <@U10BILL>" in (r.text or "")])
    assert refusal[0].response_type == "ephemeral" and not refusal[0].replace_original
    assert actions_of(bot, case)[0].status == "reminded"

    bot.clock.advance(minutes=5)
    bot.driver.block_action("U10BILL", "prevention_done", channel_id=dm, message_ts=reminder.ts)
    done = actions_of(bot, case)[0]
    assert (done.status, done.done_by, done.done_at) == ("done", "U10BILL", bot.clock())
    updated = wait_until(lambda: next((m for m in bot.standin.messages(dm) if m.ts == reminder.ts
                                       and "marked this prevention action" in m.text), None))
    assert "<@U10BILL>" in updated.text and "prevention_done" not in str(updated.blocks)
    assert kinds(bot, case).count("prevention_done") == 1
    settle(bot)
    assert "done by <@U10BILL>" in summary(bot, case)

    run_tick(bot, days=2)  # done: never overdue, never reminded again
    assert len(keyed(bot, dm, f"prevention:{action.id}:remind")) == 1
    assert actions_of(bot, case)[0].status == "done"


def test_an_action_not_done_turns_overdue_in_the_summary(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    resolve(bot, case, prevention1_due="2026-11-24")  # due today: its morning has passed already
    [action] = actions_of(bot, case)
    run_tick(bot)
    dm = str(bot.standin.dm_channel("U10BILL"))
    assert len(keyed(bot, dm, f"prevention:{action.id}:remind")) == 1
    assert "overdue" not in summary(bot, case)

    bot.clock.now = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # midnight in Stockholm: the due date has passed
    run_tick(bot)
    assert actions_of(bot, case)[0].status == "overdue"
    assert "*overdue*" in summary(bot, case)
    run_tick(bot, hours=1)
    assert len(keyed(bot, dm, f"prevention:{action.id}:remind")) == 1  # still one DM


def test_an_action_whose_due_date_passed_while_the_bot_was_down_gets_one_overdue_dm(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    resolve(bot, case, prevention1_due="2026-11-25")
    run_tick(bot, days=3)
    [action] = actions_of(bot, case)
    [dm] = keyed(bot, bot.standin.dm_channel("U10BILL"), f"prevention:{action.id}:remind")
    assert "was due Wed 25 Nov 2026 and is not done yet" in dm.text and action.status == "overdue"


# ---------------------------------------------------------------- recurrence


def test_a_recurrence_within_90_days_is_linked_both_ways(at_t0: Bot) -> None:
    bot = at_t0
    first = open_case(bot)
    resolve(bot, first)
    bot.clock.advance(days=30)
    second = open_case(bot, "Acme: refund stuck again p2")
    resolve(bot, second, prevention1_due="2027-01-15")

    second, first = reload(bot, second), reload(bot, first)
    assert second.recurrence_of_id == first.id and first.recurrence_of_id is None
    assert "recurrence" in kinds(bot, second) and "recurred" in kinds(bot, first)
    [notice] = [m for m in bot.standin.messages(str(second.channel_id)) if "resolved case #2" in m.text]
    assert f"This is a recurrence of #1 (<#{first.channel_id}>)" in notice.text
    assert "Recurrence of #1" in summary(bot, second)
    assert f"Recurred in #2 (<#{second.channel_id}>)" in summary(bot, first)


def test_another_category_or_more_than_90_days_is_no_recurrence(at_t0: Bot) -> None:
    bot = at_t0
    first = open_case(bot)
    resolve(bot, first)  # process-gap
    bot.clock.advance(days=1)
    other = open_case(bot, "Acme: invoice wrong p2")
    resolve(bot, other, category="product-defect", prevention1_due="2027-01-15")
    bot.clock.advance(days=91)
    late = open_case(bot, "Acme: refund stuck once more p2")
    resolve(bot, late, prevention1_due="2027-06-15")  # process-gap, but #1 was resolved 92 days ago
    for case in (first, other, late):
        case = reload(bot, case)
        assert case.recurrence_of_id is None
        assert "recurrence" not in kinds(bot, case) and "recurred" not in kinds(bot, case)
        assert "Recurre" not in summary(bot, case)


# ---------------------------------------------------------------- close


def test_close_needs_a_resolved_case(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    refused = bot.driver.command("U01ADV", "/case", "close", channel_id=case.channel_id)
    assert "resolve it first with `/case resolve`" in refused.text and reload(bot, case).status == "new"

    resolve(bot, case)
    bot.clock.advance(hours=1)
    answer = bot.driver.command("U02ADV", "/case", "close", channel_id=case.channel_id)  # any advocate
    assert "Case #1 is closed" in answer.text
    settle(bot)
    case = reload(bot, case)
    assert (case.status, case.closed_at, case.channel_archived_at) == ("closed", bot.clock(), None)
    assert "closed" in kinds(bot, case)
    assert any("<@U02ADV> closed case #1" in m.text for m in bot.standin.messages(str(case.channel_id)))
    assert not (bot.standin.channel(str(case.channel_id)) or pytest.fail()).is_archived  # archive_on_close: off
    assert "already closed" in bot.driver.command("U01ADV", "/case", "close", channel_id=case.channel_id).text


def test_close_archives_the_channel_after_the_notice(archiving: None, at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    resolve(bot, case)
    assert "archiving this channel" in bot.driver.command("U01ADV", "/case", "close", channel_id=case.channel_id).text
    settle(bot)
    case = reload(bot, case)
    assert (bot.standin.channel(str(case.channel_id)) or pytest.fail()).is_archived
    assert case.channel_archived_at == bot.clock() and "channel_archived" in kinds(bot, case)
    assert any("closed case #1" in m.text for m in bot.standin.messages(str(case.channel_id)))
    methods = [c.method for c in bot.standin.calls if c.method in ("chat.postMessage", "conversations.archive")]
    assert methods[-1] == "conversations.archive"  # nothing was left to say in an archived channel
    assert all(i.status == "done" for i in outbox(bot.db))

    # Archived by hand already: Slack's already_archived is success.
    other = open_case(bot, "Globex: shipment late p2")
    resolve(bot, other, prevention1_due="2027-01-15")
    bot.svc.client.conversations_archive(channel=other.channel_id)
    bot.driver.command("U01ADV", "/case", "close", channel_id=other.channel_id)
    settle(bot)
    [archive] = [i for i in outbox(bot.db) if i.kind == "case.archive_channel" and i.case_id == other.id]
    assert archive.status == "done" and reload(bot, other).channel_archived_at is not None


# ---------------------------------------------------------------- reopen


@over_both_transports
def test_reopen_from_another_channel_restarts_the_cadence(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    resolve(bot, case)
    bot.driver.command("U01ADV", "/case", "close", channel_id=case.channel_id)
    settle(bot)
    resolved_at, closed_at = reload(bot, case).resolved_at, reload(bot, case).closed_at
    bot.clock.advance(days=2)

    answer = bot.driver.command("U02ADV", "/case", "reopen #1 the refund bounced <again> & again",
                                channel_id="C0GENERAL")
    assert "Case #1 is reopened" in answer.text
    settle(bot)
    case = reload(bot, case)
    assert (case.status, case.reopened_at, case.resolved_at, case.closed_at) == (
        "investigating", bot.clock(), None, None)
    assert case.next_update_due == bot.clock() + timedelta(hours=2)  # p1 cadence, from now
    reopened = next(e for e in timeline(bot.db, case.id) if e.kind == "reopened")
    assert (reopened.actor, reopened.text) == ("U02ADV", "the refund bounced <again> & again")
    assert reopened.data is not None and reopened.data["from"] == "closed"
    assert (reopened.data["resolved_at"], reopened.data["closed_at"]) == (resolved_at.isoformat(),  # type: ignore[union-attr]
                                                                         closed_at.isoformat())  # type: ignore[union-attr]
    [notice] = [m for m in bot.standin.messages(str(case.channel_id)) if "reopened case #1" in m.text]
    assert "<@U02ADV>" in notice.text and "the refund bounced &lt;again&gt; &amp; again" in notice.text
    assert "investigating" in (bot.standin.channel(str(case.channel_id)) or pytest.fail()).topic

    run_tick(bot, hours=2)  # reminders resume
    assert [m.metadata["event_payload"]["key"].rsplit(":", 1)[1] for m in reminder_posts(bot, case)] == ["overdue"]
    # The prevention actions still stand, and a second resolve works.
    assert len(actions_of(bot, case)) == 1
    resolve(bot, case, prevention1_due="2027-01-15")
    assert reload(bot, case).status == "resolved" and len(actions_of(bot, case)) == 2


def test_reopening_an_archived_case_moves_it_to_a_new_linked_channel(archiving: None, at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    resolve(bot, case)
    bot.driver.command("U01ADV", "/case", "close", channel_id=case.channel_id)
    settle(bot)
    old = str(case.channel_id)
    bot.clock.advance(days=1)

    answer = bot.driver.command("U01ADV", "/case", "reopen 1 customer called back", channel_id="C0GENERAL")
    assert "archived" in answer.text
    settle(bot)
    [refused] = bot.standin.calls_to("conversations.unarchive")
    assert not refused.ok  # bot tokens cannot unarchive (DESIGN #20)
    case = reload(bot, case)
    assert case.channel_id and case.channel_id != old and case.channel_archived_at is None
    assert (bot.standin.channel(old) or pytest.fail()).is_archived
    new = bot.standin.channel(case.channel_id) or pytest.fail()
    assert new.name == "case-1-acme-2" and not new.is_archived  # archived names stay taken
    assert {"U01ADV", "U30REQ", "U10BILL"} <= set(new.members)  # owner, reporter and heads, invited again
    assert case.summary_ts in bot.standin.pins(case.channel_id)
    assert f"<#{old}" in summary(bot, case) and "Earlier channel" in summary(bot, case)
    replaced = next(e for e in timeline(bot.db, case.id) if e.kind == "channel_replaced")
    assert replaced.channel_id == old and kinds(bot, case).count("channel_created") == 2
    [notice] = [m for m in bot.standin.messages(case.channel_id) if "reopened case #1" in m.text]
    assert "customer called back" in notice.text and f"<#{old}>" in notice.text

    run_tick(bot, hours=2)
    assert len(reminder_posts(bot, case)) == 1  # in the new channel


def test_reopening_an_archived_case_unarchives_it_when_slack_allows(archiving: None, at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    resolve(bot, case)
    bot.driver.command("U01ADV", "/case", "close", channel_id=case.channel_id)
    settle(bot)
    bot.standin.bot_can_unarchive = True
    bot.driver.command("U02ADV", "/case", "reopen 1", channel_id="C0GENERAL")
    settle(bot)
    after = reload(bot, case)
    assert after.channel_id == case.channel_id and after.channel_archived_at is None
    assert not (bot.standin.channel(str(case.channel_id)) or pytest.fail()).is_archived
    assert "channel_unarchived" in kinds(bot, case) and "channel_replaced" not in kinds(bot, case)
    [notice] = [m for m in bot.standin.messages(str(case.channel_id)) if "reopened case #1" in m.text]
    assert "no reason given" in notice.text and "unarchived this channel" in notice.text


def test_reopening_a_case_whose_channel_was_archived_by_hand_still_finds_it_a_channel(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    resolve(bot, case)
    bot.driver.command("U01ADV", "/case", "close", channel_id=case.channel_id)
    settle(bot)
    old = str(case.channel_id)
    bot.svc.client.conversations_archive(channel=old)  # someone archived it; we were not told
    bot.driver.command("U01ADV", "/case", "reopen 1 it is back", channel_id="C0GENERAL")
    settle(bot)
    case = reload(bot, case)
    assert case.channel_id != old and not any("reopened case" in m.text for m in bot.standin.messages(old))
    changes = [k for k in kinds(bot, case) if k.startswith("channel_") and k != "channel_created"]
    assert changes == ["channel_archived", "channel_replaced"]  # the notice found it archived; unarchive refused
    assert any("reopened case #1" in m.text for m in bot.standin.messages(str(case.channel_id)))
    assert not (bot.standin.channel(str(case.channel_id)) or pytest.fail()).is_archived


def test_reopen_answers_bad_arguments(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)

    def reopen(text: str) -> str:
        return bot.driver.command("U01ADV", "/case", f"reopen {text}".strip(), channel_id="C0GENERAL").text

    assert "Say which case" in reopen("")
    assert "“abc” is not a case number" in reopen("abc")
    assert "There is no case #99" in reopen("99")
    assert "Case #1 is still open (new)" in reopen("1 it came back")
    assert reload(bot, case).status == "new" and "reopened" not in kinds(bot, case)
