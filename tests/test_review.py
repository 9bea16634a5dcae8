"""The monthly stakeholder review: once per month, in the advocacy channel, an agenda per department."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Bot, wait_until
from tests.test_reminders import open_case, run_tick
from tests.test_resolution import actions_of, keyed, resolve

# 1 December 2026 10:00 in Stockholm (CET, UTC+1)
RUN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def team(team: dict[str, Any]) -> dict[str, Any]:
    team["review"] = {"day_of_month": 1, "time": "10:00", "channel": "C0ADVOCACY"}
    return team


@pytest.fixture
def reviewing(bot: Bot) -> Bot:
    bot.standin.add_channel("advocacy", channel_id="C0ADVOCACY", members=["U01ADV", "U02ADV", "U0BOT"])
    bot.clock.now = RUN - timedelta(days=2)
    return bot


def reviews(bot: Bot) -> list[Any]:
    return [m for m in bot.standin.messages("C0ADVOCACY") if m.bot_id]


def test_the_review_is_posted_once_with_each_departments_agenda(reviewing: Bot) -> None:
    bot = reviewing
    billing = open_case(bot, "Acme: refund stuck p1")  # billing asked, not answered
    shipping = open_case(bot, "Globex: shipment late p2")  # logistics asked
    bot.driver.say("U20SHIP", shipping.channel_id or "", "On it")  # logistics answered

    run_tick(bot, days=1, hours=23, minutes=59)  # a minute early
    assert reviews(bot) == []
    run_tick(bot, minutes=1)
    run_tick(bot, minutes=30)
    [review] = reviews(bot)
    assert "<@U10BILL>" in review.text and "<@U20SHIP>" in review.text  # the heads are notified
    text = str(review.blocks)
    assert "Stakeholder review · 2026-12" in text and "Posted late" not in text
    billing_section = next(b["text"]["text"] for b in review.blocks if "*billing*" in b.get("text", {}).get("text", ""))
    assert f"#{billing.number} Acme" in billing_section and "Not answered yet (1)" in billing_section
    logistics = next(b["text"]["text"] for b in review.blocks if "*logistics*" in b.get("text", {}).get("text", ""))
    assert f"#{shipping.number} Globex" in logistics and "Not answered yet" not in logistics


def test_a_missed_review_is_posted_late_and_a_long_missed_one_is_skipped(reviewing: Bot) -> None:
    bot = reviewing
    run_tick(bot, days=4)  # down on the 1st: posted on the 3rd, marked late
    [review] = reviews(bot)
    assert "Posted late" in str(review.blocks)

    bot.clock.now = datetime(2027, 1, 9, 12, 0, tzinfo=UTC)  # January's was 8 days ago: skipped
    run_tick(bot)
    assert len(reviews(bot)) == 1


def test_the_agenda_lists_each_heads_overdue_prevention_actions_only(reviewing: Bot) -> None:
    bot = reviewing  # Sunday 29 November, 10:00 in Stockholm: the review runs on Tuesday 1 December
    case = open_case(bot)
    # Three actions owned by the billing head, through the resolve modal: by the review's day one is
    # overdue, one was done (its date passed too: done is never overdue) and one is not due yet.
    resolve(bot, case, prevention1_what="Give billing a backup approver", prevention1_due="2026-11-30",
            prevention2_what="Alert when a refund is stuck", prevention2_owner="U10BILL",
            prevention2_due="2026-11-30",
            prevention3_what="Audit the refund approvals", prevention3_owner="U10BILL",
            prevention3_due="2026-12-15")
    overdue, done, later = actions_of(bot, case)
    assert [a.what for a in (overdue, done, later)] == [
        "Give billing a backup approver", "Alert when a refund is stuck", "Audit the refund approvals"]
    # The head marks one done from the DM that assigned it to them, as a person would.
    dm = str(bot.standin.dm_channel("U10BILL"))
    [assigned] = keyed(bot, dm, f"prevention:{done.id}:assigned")
    bot.driver.block_action("U10BILL", "prevention_done", channel_id=dm, message_ts=assigned.ts)
    wait_until(lambda: actions_of(bot, case)[1].status == "done", message="the action marked done")

    run_tick(bot, days=1, hours=23)  # Tuesday 09:00: the review is not due yet
    assert reviews(bot) == []
    run_tick(bot, hours=1)
    run_tick(bot, minutes=30)
    [review] = reviews(bot)
    assert "<@U10BILL>" in review.text
    sections = [b["text"]["text"] for b in review.blocks if b["type"] == "section"]
    [billing] = [s for s in sections if s.startswith("*billing*")]
    assert billing.startswith("*billing* — <@U10BILL>")
    # The resolved case is no open case any more: only the overdue action is on billing's agenda.
    assert billing.split("\n")[1:] == [
        "Prevention actions overdue (1):",
        f"• #{case.number}: Give billing a backup approver — <@U10BILL>, due Mon 30 Nov"]
    everything = "\n".join(sections)
    assert "Alert when a refund is stuck" not in everything and "Audit the refund approvals" not in everything
    assert everything.count("Give billing a backup approver") == 1  # on billing's agenda only
