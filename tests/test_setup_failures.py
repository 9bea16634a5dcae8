"""Slack failing halfway through a case set-up: retried, resumed by the tick, reported when hopeless,
and never doubled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.outbox import MAX_ATTEMPTS
from jobs.tick import tick
from tests.conftest import Bot, wait_until
from tests.helpers import all_cases, outbox, setup_settled, timeline


def escalate(bot: Bot, text: str = "Acme: refund stuck", user: str = "U30REQ") -> None:
    assert bot.driver.command(user, "/escalate", text).status == 200


def pending(bot: Bot) -> list:
    return [item for item in outbox(bot.db) if item.status == "pending"]


def wait_for_drive(bot: Bot) -> None:
    """The after-ack drive has stopped: something is waiting for a retry, or all is settled."""

    def stopped() -> bool:
        items = outbox(bot.db)  # one snapshot: separate reads could straddle a claim
        waiting = [i for i in items if i.status == "pending"]
        return bool(items) and all(i.lease_owner is None for i in items) and (
            not waiting or any(i.attempts and i.last_error for i in waiting)
        )

    wait_until(stopped, message="the drive to stop")


def test_rate_limited_step_waits_for_retry_after_then_the_tick_finishes(bot: Bot) -> None:
    bot.standin.fail("conversations.create", status=429, retry_after=7)
    escalate(bot)
    wait_for_drive(bot)
    first = pending(bot)[0]
    assert first.kind == "case.create_channel" and first.last_error == "ratelimited"
    assert first.due_at == bot.clock() + timedelta(seconds=7)

    tick(bot.svc, bot.clock() + timedelta(seconds=6))  # too early: Slack asked for 7 s
    assert len(bot.standin.calls_to("conversations.create")) == 1
    report = tick(bot.svc, bot.clock() + timedelta(seconds=8))
    assert report.outbox.done == 6
    [case] = all_cases(bot.db)
    assert case.channel_id and bot.standin.pins(case.channel_id) == [case.summary_ts]
    assert len(bot.standin.channels) == 3  # general, leadership and exactly one case channel


def test_server_error_on_the_summary_is_retried_once_posted(bot: Bot) -> None:
    bot.standin.fail("chat.postMessage", status=500)
    escalate(bot)
    wait_for_drive(bot)
    assert "case.post_summary" in {i.kind for i in pending(bot)}
    tick(bot.svc, bot.clock() + timedelta(minutes=5))
    [case] = all_cases(bot.db)
    summaries = [m for m in bot.standin.messages(case.channel_id) if m.bot_id]
    assert len(summaries) == 1 and summaries[0].ts == case.summary_ts
    assert setup_settled(bot.db)


def test_a_post_whose_answer_was_lost_is_not_posted_twice(bot: Bot) -> None:
    # Slack posts the message but the answer never arrives (the client times out after 2 s).
    bot.standin.fail("chat.postMessage", delay=3)
    escalate(bot)
    wait_for_drive(bot)
    wait_until(lambda: any(m.bot_id for c in bot.standin.channels for m in bot.standin.messages(c.id)))
    tick(bot.svc, bot.clock() + timedelta(minutes=5))
    [case] = all_cases(bot.db)
    summaries = [m for m in bot.standin.messages(case.channel_id) if m.bot_id]
    assert len(summaries) == 1
    assert case.summary_ts == summaries[0].ts
    assert bot.standin.pins(case.channel_id) == [summaries[0].ts]
    assert len(bot.standin.calls_to("conversations.history")) == 1  # reconciled once, on the retry


def test_a_step_that_fails_for_good_is_reported_and_the_rest_cancelled(bot: Bot) -> None:
    bot.standin.fail("conversations.create", error="restricted_action")
    escalate(bot)
    wait_until(lambda: setup_settled(bot.db))
    statuses = {i.kind: i.status for i in outbox(bot.db)}
    assert statuses["case.create_channel"] == "failed"
    assert statuses["case.post_summary"] == "cancelled"
    assert {i.payload["user"] for i in outbox(bot.db) if i.kind == "notify.dm"} == {"U30REQ", "U01ADV"}
    for user in ("U30REQ", "U01ADV"):
        [dm] = bot.standin.messages(bot.standin.dm_channel(user))
        assert "could not create the case channel: restricted_action" in dm.text
    [case] = all_cases(bot.db)
    assert case.channel_id is None
    assert "setup_failed" in [e.kind for e in timeline(bot.db, case.id)]
    assert bot.standin.calls_to("conversations.invite") == []


def test_one_bad_user_does_not_block_the_other_invites(bot: Bot, team: dict, request: pytest.FixtureRequest) -> None:
    bot.svc.config = bot.svc.config.model_copy(
        update={"departments": {**bot.svc.config.departments,
                                "billing": bot.svc.config.departments["billing"].model_copy(
                                    update={"heads": ["U10BILL", "U99GONE"]})}}
    )
    escalate(bot, "Acme: invoice wrong")
    wait_until(lambda: setup_settled(bot.db))
    [case] = all_cases(bot.db)
    members = set(bot.standin.channel(case.channel_id).members)
    assert {"U01ADV", "U30REQ", "U10BILL"} <= members and "U99GONE" not in members
    [invited] = [e for e in timeline(bot.db, case.id) if e.kind == "invited"]
    assert invited.data["failed"] == {"U99GONE": "user_not_found"}
    assert len(bot.standin.calls_to("conversations.invite")) == 1  # force=true: one call for everyone
    dm = bot.standin.messages(bot.standin.dm_channel("U01ADV"))
    assert any("<@U99GONE> (user_not_found)" in m.text for m in dm)
    assert bot.standin.pins(case.channel_id)  # the rest of the set-up went on


def test_user_groups_are_expanded_for_invites_and_mentioned_as_groups(bot: Bot) -> None:
    bot.standin.add_usergroup("S0BILLING", "billing-heads", ["U10BILL", "U40OTHER"])
    bot.svc.config = bot.svc.config.model_copy(
        update={"departments": {**bot.svc.config.departments,
                                "billing": bot.svc.config.departments["billing"].model_copy(
                                    update={"heads": ["S0BILLING"]})}}
    )
    escalate(bot, "Acme: invoice wrong")
    wait_until(lambda: setup_settled(bot.db))
    [case] = all_cases(bot.db)
    assert {"U10BILL", "U40OTHER"} <= set(bot.standin.channel(case.channel_id).members)
    [summary] = [m for m in bot.standin.messages(case.channel_id) if m.bot_id]
    assert "<!subteam^S0BILLING>" in summary.text


def test_retries_end_after_max_attempts_with_a_report(bot: Bot) -> None:
    bot.standin.fail("conversations.setTopic", status=503, times=None)
    escalate(bot)
    wait_for_drive(bot)
    for hour in range(1, MAX_ATTEMPTS + 2):
        tick(bot.svc, bot.clock() + timedelta(hours=hour))
    statuses = {i.kind: i.status for i in outbox(bot.db)}
    assert statuses["case.set_topic"] == "failed"
    assert statuses["case.pin_summary"] == "done"  # later steps did not wait forever
    assert len(bot.standin.calls_to("conversations.setTopic")) == MAX_ATTEMPTS
    assert any("could not set the channel topic" in m.text
               for m in bot.standin.messages(bot.standin.dm_channel("U01ADV")))
