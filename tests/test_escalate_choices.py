"""A customer with an open case: the requester chooses, nothing is created until they do."""

from __future__ import annotations

from tests.conftest import Bot, wait_until
from tests.helpers import all_cases, outbox, setup_settled, timeline


def open_first_case(bot: Bot) -> None:
    bot.driver.command("U01ADV", "/escalate", "Acme: refund stuck")
    wait_until(lambda: setup_settled(bot.db))


def choice_buttons(bot: Bot, user: str) -> dict[str, str]:
    """The buttons of the newest ephemeral choice, by action_id → value."""
    response = wait_until(
        lambda: [r for r in bot.standin.responses if r.blocks and "already has an open case" in str(r.blocks)],
        message="the add-or-open choice",
    )[-1]
    actions = next(b for b in response.blocks if b["type"] == "actions")
    return {e["action_id"]: e["value"] for e in actions["elements"]}


def click(bot: Bot, user: str, action_id: str, value: str):
    """A click on the ephemeral choice: Slack sends the message container and a response_url."""
    return bot.driver.block_action(
        user, action_id, value=value, channel_id="C0GENERAL", message_ts="1700000000.000100"
    )


def test_second_report_offers_a_choice_and_creates_nothing(bot: Bot) -> None:
    open_first_case(bot)
    bot.driver.command("U30REQ", "/escalate", "ACME: still no refund p1")
    buttons = choice_buttons(bot, "U30REQ")
    assert set(buttons) == {"escalation_add_to_case", "escalation_open_new"}
    assert len(all_cases(bot.db)) == 1
    assert len(bot.standin.calls_to("conversations.create")) == 1


def test_add_to_the_open_case_posts_the_report_there_once(bot: Bot) -> None:
    open_first_case(bot)
    bot.driver.command("U30REQ", "/escalate", "acme: still no refund")
    buttons = choice_buttons(bot, "U30REQ")
    [case] = all_cases(bot.db)
    click(bot, "U30REQ", "escalation_add_to_case", buttons["escalation_add_to_case"])
    wait_until(lambda: any(i.kind == "case.notify_requester" and i.key.startswith("draft:") for i in outbox(bot.db))
               and setup_settled(bot.db), message="the report's effects")
    reports = [m for m in bot.standin.messages(case.channel_id) if "New report from <@U30REQ>" in m.text]
    assert len(reports) == 1 and "still no refund" in reports[0].text
    assert "U30REQ" in bot.standin.channel(case.channel_id).members
    assert [e.kind for e in timeline(bot.db, case.id)].count("report_added") == 1

    # a second click (or a retried one) does nothing more and says so
    click(bot, "U30REQ", "escalation_add_to_case", buttons["escalation_add_to_case"])
    wait_until(lambda: any("already chose" in (r.text or "") for r in bot.standin.responses))
    assert len([m for m in bot.standin.messages(case.channel_id) if "New report" in m.text]) == 1
    assert len(all_cases(bot.db)) == 1


def test_open_a_new_case_anyway(bot: Bot) -> None:
    open_first_case(bot)
    bot.driver.command("U30REQ", "/escalate", "Acme: a different problem with the delivery")
    buttons = choice_buttons(bot, "U30REQ")
    click(bot, "U30REQ", "escalation_open_new", buttons["escalation_open_new"])
    wait_until(lambda: len(all_cases(bot.db)) == 2 and setup_settled(bot.db))
    first, second = all_cases(bot.db)
    assert second.customer_id == first.customer_id and second.number == 2
    assert second.channel_name == "case-2-acme"
    assert [d.department for d in second.departments] == ["logistics"]


def test_only_the_requester_may_choose(bot: Bot) -> None:
    open_first_case(bot)
    bot.driver.command("U30REQ", "/escalate", "Acme: again")
    buttons = choice_buttons(bot, "U30REQ")
    click(bot, "U40OTHER", "escalation_open_new", buttons["escalation_open_new"])
    wait_until(lambda: any("Only <@U30REQ>" in (r.text or "") for r in bot.standin.responses))
    assert len(all_cases(bot.db)) == 1


def test_the_choice_in_the_modal(bot: Bot) -> None:
    open_first_case(bot)
    bot.driver.command("U30REQ", "/escalate", "")
    view_id = wait_until(lambda: list(bot.standin.views), message="the modal")[-1]
    result = bot.driver.view_submission("U30REQ", view_id, {"customer": "acme", "summary": "again"})
    body = result.json()
    assert body["response_action"] == "update" and "already has an open case" in str(body["view"])
    value = next(
        e["value"] for b in body["view"]["blocks"] if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == "escalation_open_new"
    )
    bot.driver.block_action("U30REQ", "escalation_open_new", value=value, view_id=view_id)
    wait_until(lambda: len(all_cases(bot.db)) == 2 and setup_settled(bot.db))
    assert "Opening case #2" in str(bot.standin.views[view_id]["blocks"])
