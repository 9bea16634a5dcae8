"""The App Home tab end to end: open cases by role, overdue prevention actions, the Reopen button."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from storage.models import Case, PreventionAction
from tests.conftest import Bot, wait_until
from tests.helpers import all_cases, outbox, setup_settled, timeline

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday; 10:00 in Stockholm, the team's zone


@pytest.fixture
def team(team: dict[str, Any]) -> dict[str, Any]:
    team["departments"]["billing"]["deputies"] = ["S0BILLDEP"]  # a user group answers for billing too
    return team


@pytest.fixture
def at_t0(bot: Bot) -> Bot:
    bot.clock.now = T0
    bot.standin.add_usergroup("S0BILLDEP", "billing-deputies", ["U40OTHER"])
    return bot


def open_case(bot: Bot, text: str, user: str = "U30REQ") -> Case:
    before = len(all_cases(bot.db))
    assert bot.driver.command(user, "/escalate", text, channel_id="C0GENERAL").status == 200
    wait_until(lambda: len(all_cases(bot.db)) > before and setup_settled(bot.db), message="the case set-up")
    return all_cases(bot.db)[-1]


def open_home(bot: Bot, user: str) -> dict[str, Any]:
    """The user opens the Home tab; returns the view once (re)published."""
    before = json.dumps(bot.standin.home_views.get(user))
    assert bot.driver.event({"type": "app_home_opened", "user": user, "tab": "home"}).status == 200
    wait_until(lambda: json.dumps(bot.standin.home_views.get(user)) != before, message=f"{user}'s Home")
    return bot.standin.home_views[user]


def sections(view: dict[str, Any]) -> list[str]:
    """Each block's text, headers and contexts included, in order."""
    texts = []
    for block in view["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts.append(" ".join(e["text"] for e in block["elements"]))
    return texts


def part(view: dict[str, Any], title: str) -> list[str]:
    """The texts under one titled part of the Home, up to the next title."""
    texts = sections(view)
    start = next(i for i, t in enumerate(texts) if t.startswith(f"*{title}"))
    end = next((i for i in range(start + 1, len(texts)) if texts[i].startswith("*") and texts[i].endswith("*")
                and "·" not in texts[i]), len(texts))
    return texts[start + 1:end]


def reopen_buttons(view: dict[str, Any]) -> list[str]:
    return [b["accessory"]["value"] for b in view["blocks"]
            if (b.get("accessory") or {}).get("action_id") == "home_reopen"]


def end_case(bot: Bot, case: Case, status: str, at: datetime) -> None:
    with bot.db.transaction() as session:
        session.execute(update(Case).where(Case.id == case.id).values(
            status=status, resolved_at=at, closed_at=at if status == "closed" else None, next_update_due=None,
            resolution="Refund re-issued", root_cause_category="process", root_cause="Manual step skipped"))


def test_each_person_sees_the_open_cases_they_own_answer_for_or_reported(at_t0: Bot) -> None:
    bot = at_t0
    refund = open_case(bot, "Acme: refund stuck p1")  # billing: U10BILL, deputies the S0BILLDEP group
    late = open_case(bot, "Globex: delivery is late")  # logistics: U20SHIP
    assert (refund.owner_id, late.owner_id) == ("U01ADV", "U02ADV")  # the advocate with fewest open cases

    owner = open_home(bot, "U01ADV")
    [line] = part(owner, "Cases you own")
    assert line.startswith(f"*#1 · Acme* · P1 · new · <#{refund.channel_id}>")
    assert "Next update due <!date^" in line and "|2026-11-24 11:00 UTC>" in line and "refund stuck" in line
    assert part(owner, "Cases your department is asked on") == ["None open."]  # the advocacy triage is not asked

    head = open_home(bot, "U10BILL")
    [line] = part(head, "Cases your department is asked on")
    assert "#1 · Acme" in line and "owner <@U01ADV>" in line and "asked: billing" in line
    assert "Globex" not in json.dumps(head)
    deputy = open_home(bot, "U40OTHER")  # through the user group
    assert ["#1 · Acme" in t for t in part(deputy, "Cases your department is asked on")] == [True]
    shipping = open_home(bot, "U20SHIP")
    [line] = part(shipping, "Cases your department is asked on")
    assert "#2 · Globex" in line and f"<#{late.channel_id}>" in line

    reporter = open_home(bot, "U30REQ")
    assert [t.split("*")[1] for t in part(reporter, "Cases you reported")] == ["#2 · Globex", "#1 · Acme"]
    assert part(reporter, "Cases you own") == ["None open."] and reopen_buttons(reporter) == []

    # Once the head answers in the channel the case still shows, marked answered; ended cases leave the lists.
    bot.driver.say("U10BILL", str(refund.channel_id), "Billing: the refund is re-issued")
    assert "asked: billing (answered)" in part(open_home(bot, "U10BILL"), "Cases your department is asked on")[0]
    end_case(bot, refund, "resolved", T0 + timedelta(minutes=5))
    assert part(open_home(bot, "U10BILL"), "Cases your department is asked on") == ["None open."]


def test_overdue_prevention_actions_count_days_in_the_team_timezone(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot, "Acme: refund stuck p1")
    end_case(bot, case, "closed", T0)
    with bot.db.transaction() as session:
        for what, owner, due, status in [
            ("Automate the <refund> check & alert", "U01ADV", date(2026, 11, 24), "open"),
            ("Write the runbook", "U01ADV", date(2026, 11, 20), "reminded"),
            ("Already done", "U01ADV", date(2026, 11, 10), "done"),
            ("Due tomorrow", "U01ADV", date(2026, 11, 26), "open"),
            ("Someone else's", "U02ADV", date(2026, 11, 10), "open"),
        ]:
            session.add(PreventionAction(case_id=case.id, what=what, owner_id=owner, due_on=due,
                                         remind_at=datetime.combine(due, datetime.min.time(), UTC), status=status,
                                         created_by="U01ADV", created_at=T0))

    assert [t.split("\n")[0] for t in part(open_home(bot, "U01ADV"), "Your overdue prevention actions")] == [
        ":warning: Write the runbook"]
    # 23:30 UTC is already the 25th in Stockholm: the action due on the 24th is overdue there.
    bot.clock.now = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    lines = part(open_home(bot, "U01ADV"), "Your overdue prevention actions")
    assert [t.split("\n")[0] for t in lines] == [":warning: Write the runbook",
                                                 ":warning: Automate the &lt;refund&gt; check &amp; alert"]
    assert lines[0].endswith(f"Due 2026-11-20 (5 days overdue) · case #1 · Acme · <#{case.channel_id}>")
    assert "(1 day overdue)" in lines[1]
    assert part(open_home(bot, "U02ADV"), "Your overdue prevention actions")[0].startswith(":warning: Someone else's")
    assert part(open_home(bot, "U30REQ"), "Your overdue prevention actions") == ["None overdue."]


def test_the_home_stays_within_block_kits_limit(at_t0: Bot) -> None:
    bot = at_t0
    for n in range(25):
        open_case(bot, f"Customer {n}: refund stuck", user="U01ADV")  # an advocate's own escalations are theirs
    view = open_home(bot, "U01ADV")
    assert len(view["blocks"]) <= 100
    assert len(part(view, "Cases you own")) == 21 and "…and 5 more cases." in part(view, "Cases you own")


def test_reopen_buttons_for_recently_ended_cases_open_a_modal(at_t0: Bot) -> None:
    bot = at_t0
    recent = open_case(bot, "Acme: refund stuck p1")  # owner U01ADV
    old = open_case(bot, "Globex: refund stuck", user="U01ADV")
    other = open_case(bot, "Initech: delivery late")  # owner U02ADV
    end_case(bot, recent, "closed", T0 - timedelta(days=3))
    end_case(bot, old, "resolved", T0 - timedelta(days=31))
    end_case(bot, other, "resolved", T0 - timedelta(days=1))

    owner = open_home(bot, "U01ADV")  # an advocate: every recent one, most recent first
    assert reopen_buttons(owner) == [str(other.number), str(recent.number)]
    assert reopen_buttons(open_home(bot, "U30REQ")) == []  # the reporter owns none
    with bot.db.transaction() as session:
        session.execute(update(Case).where(Case.id == other.id).values(owner_id="U10BILL"))
    head = open_home(bot, "U10BILL")  # an owner who is not an advocate sees only their own
    assert reopen_buttons(head) == [str(other.number)]
    assert "closed <!date^" in next(t for t in part(owner, "Resolved or closed") if "#1 · Acme" in t)

    home_id = bot.standin.home_views["U01ADV"]["id"]
    assert bot.driver.block_action("U01ADV", "home_reopen", value=str(recent.number), view_id=home_id).status == 200
    [modal_id] = wait_until(lambda: bot.standin.open_views("U01ADV"), message="the Reopen modal")
    modal = bot.standin.views[modal_id]
    assert (modal["callback_id"], json.loads(modal["private_metadata"])) == ("home_reopen_reason", {"number": 1})
    assert modal["title"]["text"] == "Reopen case #1"
    # No reason: the modal says so and stays open.
    answer = bot.driver.view_submission("U01ADV", modal_id, {"reason": "  "})
    assert answer.json()["errors"] == {"reason": "Say why the case is reopened."}
    assert bot.standin.open_views("U01ADV") == [modal_id]
    assert all(i.status != "failed" for i in outbox(bot.db))


def dms(bot: Bot, user: str) -> list[str]:
    channel = bot.standin.dm_channel(user)
    return [m.text for m in bot.standin.messages(channel)] if channel else []


def click_reopen(bot: Bot, user: str, number: int) -> str:
    """Press Reopen on the user's Home (value given: a stale Home may still show a button); the modal's id."""
    home_id = bot.standin.home_views[user]["id"]
    assert bot.driver.block_action(user, "home_reopen", value=str(number), view_id=home_id).status == 200
    [modal_id] = wait_until(lambda: bot.standin.open_views(user), message="the Reopen modal")
    return modal_id


def test_reopen_from_home_reopens_the_case_and_a_refusal_comes_by_dm(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot, "Acme: refund stuck p1")  # owner U01ADV, reported by U30REQ
    end_case(bot, case, "closed", T0 - timedelta(days=3))
    bot.clock.advance(hours=1)

    # The reporter is neither the owner nor an advocate: the modal opens, the refusal comes by DM.
    open_home(bot, "U30REQ")
    modal_id = click_reopen(bot, "U30REQ", case.number)
    assert bot.driver.view_submission("U30REQ", modal_id, {"reason": "They wrote again"}).status == 200
    assert bot.standin.open_views("U30REQ") == []  # the modal closed
    [refusal] = wait_until(lambda: dms(bot, "U30REQ"), message="the refusal DM")
    assert refusal == ":warning: Only the owner (<@U01ADV>) or an advocate can reopen case #1."
    assert [c.params.get("channel") for c in bot.standin.calls_to("chat.postMessage")
            if "Only the owner" in str(c.params.get("text"))] == ["U30REQ"]  # chat.postMessage to the user ID
    assert all_cases(bot.db)[0].status == "closed"

    # The owner reopens it: the modal shows the answer, the case is open again, their Home is republished.
    open_home(bot, "U01ADV")
    modal_id = click_reopen(bot, "U01ADV", case.number)
    answer = bot.driver.view_submission("U01ADV", modal_id, {"reason": "The refund bounced <!here>"})
    assert answer.json()["response_action"] == "update"
    assert "Case #1 is reopened" in json.dumps(bot.standin.views[modal_id]["blocks"])
    reopened = all_cases(bot.db)[0]
    assert (reopened.status, reopened.closed_at) == ("investigating", None)
    [event] = [e for e in timeline(bot.db, case.id) if e.kind == "reopened"]
    assert (event.actor, event.text) == ("U01ADV", "The refund bounced <!here>")
    home = wait_until(lambda: (v := bot.standin.home_views["U01ADV"]) and not reopen_buttons(v) and v,
                      message="the owner's Home republished")
    assert part(home, "Cases you own")[0].startswith("*#1 · Acme* · P1 · investigating")
    assert dms(bot, "U01ADV") == []
    wait_until(lambda: all(i.status != "pending" for i in outbox(bot.db)), message="the outbox to drain")
    assert any("reopened" in m.text for m in bot.standin.messages(str(case.channel_id)) if m.bot_id)
