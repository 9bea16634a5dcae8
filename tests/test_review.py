"""The monthly stakeholder review: once per month, in the advocacy channel, an agenda per department."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Bot
from tests.test_reminders import open_case, run_tick

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
