"""`/advocacy handover @from @to [--reason …]` end to end: owners change, invites come before the note."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from storage.models import Case
from tests.conftest import Bot, wait_until
from tests.helpers import all_cases, mrkdwn_texts, outbox, setup_settled, timeline

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture
def at_t0(bot: Bot) -> Bot:
    bot.clock.now = T0
    return bot


def open_case(bot: Bot, text: str, user: str = "U01ADV") -> Case:
    before = len(all_cases(bot.db))
    assert bot.driver.command(user, "/escalate", text, channel_id="C0GENERAL").status == 200
    wait_until(lambda: len(all_cases(bot.db)) > before and setup_settled(bot.db), message="the case set-up")
    return all_cases(bot.db)[-1]


def advocacy(bot: Bot, user: str, text: str) -> str:
    response = bot.driver.command(user, "/advocacy", text, channel_id="C0GENERAL")
    assert response.status == 200
    return response.text  # Bolt answers an ack with text alone as a plain-text body


def settled(bot: Bot) -> None:
    wait_until(lambda: all(i.status != "pending" for i in outbox(bot.db)), message="the outbox to drain")


def owners(bot: Bot) -> dict[int, str]:
    return {c.number: c.owner_id for c in all_cases(bot.db)}


def notes(bot: Bot, channel: str | None) -> list:
    return [m for m in bot.standin.messages(channel or "") if m.bot_id and ":handshake:" in m.text]


def set_status(bot: Bot, number: int, status: str) -> None:
    with bot.db.transaction() as session:
        session.execute(update(Case).where(Case.number == number)
                        .values(status=status, resolved_at=T0, closed_at=T0 if status == "closed" else None,
                                next_update_due=None))


def test_handover_moves_open_cases_invites_the_new_owner_then_posts_the_note(at_t0: Bot) -> None:
    bot = at_t0
    first = open_case(bot, "Acme: refund stuck p1")  # billing is asked
    second = open_case(bot, "Globex: the invoice and the delivery are late +billing +logistics")
    third = open_case(bot, "Initech: refund for the old order")  # closed below: it stays with its owner
    theirs = open_case(bot, "Umbrella: charge twice", user="U02ADV")
    set_status(bot, third.number, "closed")
    bot.driver.say("U20SHIP", str(second.channel_id), "Logistics here: the truck left today")
    assert owners(bot) == {1: "U01ADV", 2: "U01ADV", 3: "U01ADV", 4: "U02ADV"}
    assert "U02ADV" not in bot.standin.channel(str(first.channel_id)).members

    bot.clock.advance(minutes=5)
    answer = advocacy(bot, "U02ADV", "handover <@U01ADV|ada.advocate> <@U02ADV> --reason Ada is on leave "
                                     "<!channel> & back on Monday")
    assert answer.startswith(":handshake: Handed over 2 open cases from <@U01ADV> to <@U02ADV>:")
    assert "#1 · Acme (P1, new)" in answer and "#2 · Globex" in answer and "Initech" not in answer
    assert f"<#{first.channel_id}>" in answer
    assert owners(bot) == {1: "U02ADV", 2: "U02ADV", 3: "U01ADV", 4: "U02ADV"}
    settled(bot)

    for case in (first, second):
        [event] = [e for e in timeline(bot.db, case.id) if e.kind == "handover"]
        assert (event.actor, event.at) == ("U02ADV", T0 + timedelta(minutes=5))
        assert event.data == {"from": "U01ADV", "to": "U02ADV", "reason": "Ada is on leave <!channel> & back on Monday"}
        # The invite first, then the note that mentions the new owner (a mention of a non-member notifies nobody).
        calls = bot.standin.calls
        invite = next(i for i, c in enumerate(calls) if c.method == "conversations.invite"
                      and c.params.get("channel") == case.channel_id and "U02ADV" in str(c.params.get("users")))
        [note] = notes(bot, case.channel_id)
        posted = next(i for i, c in enumerate(calls) if c.method == "chat.postMessage"
                      and c.params.get("channel") == case.channel_id and ":handshake:" in str(c.params.get("text")))
        assert invite < posted and calls[invite].ok
        assert "U02ADV" in bot.standin.channel(str(case.channel_id)).members
        assert "<@U02ADV> now owns case" in note.text and "handed over from <@U01ADV>" in note.text
        blocks = json.dumps(note.blocks)
        assert "*Status*\\nnew" in blocks and "*Severity*\\nP" in blocks
        assert "*Next customer update due*\\n<!date^" in blocks
        assert "Ada is on leave &lt;!channel&gt; &amp; back on Monday" in blocks
        assert "<!channel>" not in "".join(mrkdwn_texts(note.blocks))  # user text escaped
        # The pinned summary shows the new owner.
        summary = bot.standin.message_json(str(case.channel_id), str(case.summary_ts))
        assert "*Advocate (owner)*\\n<@U02ADV>" in json.dumps(summary["blocks"])

    first_note = json.dumps(notes(bot, first.channel_id)[0].blocks)
    assert "*Customer*\\nAcme" in first_note and "*Severity*\\nP1" in first_note
    assert "*billing*: <@U10BILL> (asked <!date^" in first_note
    second_note = json.dumps(notes(bot, second.channel_id)[0].blocks)
    assert "*billing*: <@U10BILL>" in second_note and "*logistics*" not in second_note  # logistics answered
    assert notes(bot, third.channel_id) == [] and notes(bot, theirs.channel_id) == []

    # Nothing is left to move: a second handover says so, and posts nothing.
    again = advocacy(bot, "U02ADV", "handover <@U01ADV> to <@U02ADV>")
    assert again == "<@U01ADV> has no open cases; nothing was handed over."
    settled(bot)
    assert len(notes(bot, first.channel_id)) == 1


def test_a_handover_without_reason_says_so_and_counts_one_case(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot, "Acme: refund stuck p1")
    answer = advocacy(bot, "U01ADV", "handover <@U01ADV> <@U02ADV>")  # an advocate hands over their own
    assert "Handed over 1 open case from" in answer
    settled(bot)
    [note] = notes(bot, case.channel_id)
    assert "No reason given." in json.dumps(note.blocks) and "(from <@U01ADV>)." in json.dumps(note.blocks)


@pytest.mark.parametrize(("user", "text", "expected"), [
    ("U30REQ", "handover <@U01ADV> <@U02ADV>", "Only an advocate can hand cases over"),
    ("U10BILL", "handover <@U01ADV> <@U02ADV>", "Only an advocate can hand cases over"),
    ("U02ADV", "handover", "Mention whose open cases go to whom"),
    ("U02ADV", "handover ada alan", "I did not understand “ada alan”"),
    ("U02ADV", "handover <@U01ADV>", "Mention two people"),
    ("U02ADV", "handover <@U01ADV> <@U01ADV>", "<@U01ADV> twice"),
    ("U02ADV", "handover <@U01ADV> <@U02ADV> <@U10BILL>", "Mention exactly two people"),
    ("U02ADV", "handover <@U01ADV> <@U10BILL>", "<@U10BILL> is not an advocate"),
    ("U02ADV", "handover <@U01ADV> <!subteam^S0TEAM|advocates>", "not a user group"),
    ("U02ADV", "handover <@U01ADV> <@U02ADV> --reason", "Write the reason after `--reason`"),
    ("U02ADV", "handover <@U01ADV> <@U02ADV> " + "x" * 20, "I did not understand"),
])
def test_bad_handovers_are_refused_with_the_reason_and_change_nothing(at_t0: Bot, user: str, text: str,
                                                                        expected: str) -> None:
    bot = at_t0
    case = open_case(bot, "Acme: refund stuck p1")
    before = len(outbox(bot.db))
    answer = advocacy(bot, user, text)
    assert answer.startswith(":warning: ") and expected in answer, answer
    assert "/advocacy handover @from @to [--reason text]" in answer or "advocate" in answer
    assert owners(bot) == {1: "U01ADV"} and len(outbox(bot.db)) == before
    assert all(e.kind != "handover" for e in timeline(bot.db, case.id))


def test_advocacy_help_and_unknown_sub_commands(bot: Bot) -> None:
    for text in ("", "help"):
        answer = advocacy(bot, "U30REQ", text)
        assert "`/advocacy handover @from @to [--reason text]`" in answer and "`/advocacy help`" in answer
    answer = advocacy(bot, "U30REQ", "holiday <@U01ADV>")
    assert answer.startswith(":warning: `holiday` is not an /advocacy sub-command") and "handover" in answer
