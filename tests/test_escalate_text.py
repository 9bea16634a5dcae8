"""/escalate in text form, end to end: signed request in, what Slack saw and what the database holds out."""

from __future__ import annotations

from decimal import Decimal

from storage.db import Database
from tests.conftest import Bot, over_both_transports, wait_until
from tests.helpers import all_cases, mrkdwn_texts, outbox, setup_settled, timeline

pytestmark = over_both_transports  # every test here runs over HTTP and over Socket Mode


def escalate(bot: Bot, text: str, user: str = "U30REQ"):
    return bot.driver.command(user, "/escalate", text, channel_id="C0GENERAL")


def test_text_escalation_opens_a_case_channel_with_the_right_people(bot: Bot) -> None:
    response = escalate(bot, "AT&T Wireless: invoice charged twice p1 $12k")
    assert response.status == 200
    assert "Escalating" in response.text and "AT&amp;T" in response.text  # the ack, with the name escaped

    wait_until(lambda: setup_settled(bot.db), message="set-up to finish")
    [case] = all_cases(bot.db)
    assert case.number == 1
    assert case.customer.name == "AT&T Wireless"  # unescaped before storing
    assert case.severity == "p1"
    assert case.impact == Decimal("12000.00")
    assert case.owner_id == "U01ADV"  # the requester is no advocate: the advocate with fewest cases
    assert case.reporter_id == "U30REQ"
    assert [d.department for d in case.departments] == ["billing"]  # keyword "invoice"
    assert (case.next_update_due - case.created_at).total_seconds() == 2 * 3600
    assert all(item.status == "done" for item in outbox(bot.db))

    channel = bot.standin.channel(case.channel_id)
    assert channel is not None and channel.name == "case-1-at-t-wireless" and channel.is_private
    assert {"U01ADV", "U30REQ", "U10BILL"} <= set(channel.members)
    assert "Case #1" in channel.topic

    [summary] = [m for m in bot.standin.messages(case.channel_id) if m.bot_id]
    assert summary.ts == case.summary_ts
    assert "<@U10BILL>" in summary.text
    assert bot.standin.pins(case.channel_id) == [summary.ts]

    # invites happen before the mention, so the heads are notified
    methods = [c.method for c in bot.standin.calls if c.ok]
    assert methods.index("conversations.invite") < methods.index("chat.postMessage")

    # the requester gets the link where they typed the command
    reply = wait_until(lambda: [r for r in bot.standin.responses if f"<#{case.channel_id}>" in (r.text or "")])
    assert reply[0].response_type == "ephemeral"

    kinds = [event.kind for event in timeline(bot.db, case.id)]
    assert kinds[:2] == ["opened", "channel_created"]
    assert {"invited", "summary_posted"} <= set(kinds)


def test_explicit_departments_win_over_keywords(bot: Bot) -> None:
    escalate(bot, "Acme: the invoice never arrived +logistics +billing")
    wait_until(lambda: setup_settled(bot.db))
    [case] = all_cases(bot.db)
    assert [d.department for d in case.departments] == ["logistics", "billing"]
    channel = bot.standin.channel(case.channel_id)
    assert {"U10BILL", "U20SHIP"} <= set(channel.members)


def test_unrouted_summary_goes_to_triage_with_default_severity(bot: Bot) -> None:
    escalate(bot, "Globex: the CEO is unhappy with us", user="U02ADV")
    wait_until(lambda: setup_settled(bot.db))
    [case] = all_cases(bot.db)
    assert [d.department for d in case.departments] == ["advocacy"]
    assert case.severity == "p2"
    assert case.owner_id == "U02ADV"  # an advocate who escalates owns the case


def test_unknown_department_lists_valid_ones_and_creates_nothing(bot: Bot) -> None:
    response = escalate(bot, "Acme: refund stuck +finance")
    assert response.status == 200
    assert "+finance" in response.text and "+billing" in response.text and "+logistics" in response.text
    assert all_cases(bot.db) == []
    assert bot.standin.calls_to("conversations.create") == []


def test_unknown_severity_lists_valid_ones_and_creates_nothing(bot: Bot) -> None:
    response = escalate(bot, "Acme: refund stuck p7")
    assert "p7" in response.text and "p1, p2, p3" in response.text
    assert all_cases(bot.db) == []


def test_mentions_and_broadcasts_in_user_text_are_escaped(bot: Bot) -> None:
    escalate(bot, "Acme & <Sons>: refund stuck <!here> <!subteam^S123> <!channel> ping")
    wait_until(lambda: setup_settled(bot.db))
    [case] = all_cases(bot.db)
    assert case.customer.name == "Acme & <Sons>"
    for message in bot.standin.messages(case.channel_id):
        rendered = message.text + " ".join(mrkdwn_texts(message.blocks))
        assert "<!channel>" not in rendered and "<!here>" not in rendered and "<!subteam^S123>" not in rendered
    summary = " ".join(mrkdwn_texts(bot.standin.messages(case.channel_id)[-1].blocks))
    assert "&lt;!here&gt;" in summary and "&lt;!channel&gt;" in summary


def test_odd_names_yield_valid_channels(bot: Bot) -> None:
    for index, name in enumerate(["東京電力", "🚀🚀🚀", "Ünïcødé & Sons GmbH " * 9, "x/y\\z..."], start=1):
        escalate(bot, f"{name}: refund stuck", user="U01ADV")
        wait_until(lambda index=index: len(all_cases(bot.db)) == index and setup_settled(bot.db))
    names = [bot.standin.channel(c.channel_id).name for c in all_cases(bot.db)]
    assert names[0] == "case-1-dong-jing-dian-li"
    assert names[1] == "case-2-customer"
    assert all(len(n) <= 80 and n == n.lower() and n.isascii() for n in names)


def test_name_taken_gets_a_suffix_and_never_adopts_the_existing_channel(bot: Bot) -> None:
    existing = bot.standin.add_channel("case-1-acme", is_private=True, is_archived=True, creator="U01ADV")
    escalate(bot, "Acme: refund stuck")
    wait_until(lambda: setup_settled(bot.db))
    [case] = all_cases(bot.db)
    assert case.channel_id != existing
    assert case.channel_name == "case-1-acme-2"



def test_a_database_outage_is_reported_to_the_requester(bot: Bot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    working = bot.svc.db
    bot.svc.db = Database(f"sqlite:///{tmp_path}/missing/dir/advocacy.db")  # cannot be opened
    try:
        response = escalate(bot, "Acme: refund stuck")
        assert response.status == 200 and "could not record this escalation" in response.text
    finally:
        bot.svc.db.dispose()
        bot.svc.db = working
    assert all_cases(bot.db) == []
