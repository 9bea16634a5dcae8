"""The case room end to end: people's messages become the timeline, heads' replies are responses,
key moments, nudges, the /case sub-commands that change a case, and "Log as customer update"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain import case_room
from storage.models import Case, CaseDepartment, CaseEvent, CustomerUpdate, Reminder
from tests.conftest import Bot, wait_until
from tests.helpers import all_cases, mrkdwn_texts, timeline
from tests.test_reminders import open_case, posts, reload, run_tick

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture
def team(team: dict[str, Any]) -> dict[str, Any]:
    team["departments"]["billing"]["deputies"] = ["U11DEP"]
    team["departments"]["billing"]["respond_within"] = "2h"
    team["departments"]["logistics"]["deputies"] = ["S0SHIPDEP"]  # a user group answers for logistics
    return team


@pytest.fixture
def room(bot: Bot) -> tuple[Bot, Case]:
    bot.clock.now = T0
    bot.standin.add_user("U11DEP", "dee.deputy")
    bot.standin.add_usergroup("S0SHIPDEP", "shipping-deputies", ["U10BILL"])
    return bot, open_case(bot, "Acme: refund stuck p1")  # billing (heads U10BILL), owner U01ADV


def messages(bot: Bot, case: Case) -> list[CaseEvent]:
    return [e for e in timeline(bot.db, case.id) if e.kind == "message"]


def departments(bot: Bot, case: Case) -> dict[str, CaseDepartment]:
    with bot.db.transaction() as session:
        rows = session.scalars(select(CaseDepartment).where(CaseDepartment.case_id == case.id))
        return {d.department: d for d in rows}


def ephemeral(response: Any) -> str:
    """The ack's text (Bolt answers a bare text ack as text/plain, one with blocks as JSON)."""
    body = response.json()
    return str(body.get("text") or "") if isinstance(body, dict) else response.text


def summary_blocks(bot: Bot, case: Case) -> str:
    case = reload(bot, case)
    return str(bot.standin.message_json(case.channel_id or "", case.summary_ts or "")["blocks"])


def drain(bot: Bot) -> None:
    run_tick(bot)


# ---------------------------------------------------------------- messages and responses


def test_people_messages_become_the_timeline_and_a_heads_reply_is_the_departments_response(
        room: tuple[Bot, Case]) -> None:
    bot, case = room
    channel = case.channel_id or ""
    bot.clock.advance(minutes=5)
    top, response = bot.driver.say("U40OTHER", channel, "Customer called again, they are angry <!channel> & co")
    assert response.status == 200
    assert departments(bot, case)["billing"].answered_at is None  # not a head: no response

    bot.clock.advance(minutes=20)
    reply, _ = bot.driver.say("U10BILL", channel, "Refund re-issued, ref 4471", thread_ts=case.summary_ts,
                              event_id="Ev0REPLY")
    assert bot.driver.say("U10BILL", channel, "A second reply", thread_ts=case.summary_ts)[1].status == 200
    billing = departments(bot, case)["billing"]
    assert (billing.answered_by, billing.answered_at) == ("U10BILL", T0 + timedelta(minutes=25))
    assert billing.nudge_at is None

    recorded = messages(bot, case)
    assert [(m.actor, m.text, m.thread_ts) for m in recorded] == [
        ("U40OTHER", "Customer called again, they are angry <!channel> & co", None),
        ("U10BILL", "Refund re-issued, ref 4471", case.summary_ts),
        ("U10BILL", "A second reply", case.summary_ts),
    ]
    assert recorded[0].permalink and recorded[0].permalink.endswith(f"/archives/{channel}/p{top.replace('.', '')}")
    assert recorded[1].permalink and f"thread_ts={case.summary_ts}" in recorded[1].permalink
    [responded] = [e for e in timeline(bot.db, case.id) if e.kind == "department_responded"]
    assert responded.data == {"departments": ["billing"], "ts": reply}

    # The pinned summary says who answered and when (chat.update, after the ack).
    wait_until(lambda: "answered by <@U10BILL>" in summary_blocks(bot, case), message="the summary to show it")


def test_one_message_answers_each_department_its_author_answers_for_in_the_order_asked(
        room: tuple[Bot, Case]) -> None:
    """U10BILL heads billing and, through the S0SHIPDEP user group, deputises for logistics: one reply is both
    departments' response, recorded as one event listing them in the order the case asked them."""
    bot, _ = room
    case = open_case(bot, "Initech: refund for a late delivery p1")
    asked = [d.department for d in sorted(departments(bot, case).values(), key=lambda d: d.id)]
    assert sorted(asked) == ["billing", "logistics"]
    bot.clock.advance(minutes=3)
    reply, response = bot.driver.say("U10BILL", case.channel_id or "", "On both", thread_ts=case.summary_ts)
    assert response.status == 200
    answered = departments(bot, case)
    assert {name: (d.answered_by, d.answered_at) for name, d in answered.items()} == {
        name: ("U10BILL", T0 + timedelta(minutes=3)) for name in asked}
    [responded] = [e for e in timeline(bot.db, case.id) if e.kind == "department_responded"]
    assert (responded.actor, responded.data) == ("U10BILL", {"departments": asked, "ts": reply})
    wait_until(lambda: summary_blocks(bot, case).count("answered by <@U10BILL>") == 2,
               message="the summary to show both answers")


def test_edits_deletes_and_what_is_not_a_persons_message(room: tuple[Bot, Case]) -> None:
    bot, case = room
    channel = case.channel_id or ""
    ts, _ = bot.driver.say("U40OTHER", channel, "Pickup at 10, see https://carrier.example/track/1")
    before = len(timeline(bot.db, case.id))

    # Not people's messages: a join, a topic change, Slack's link preview, and the bot's own post.
    assert bot.driver.join("U02ADV", channel).status == 200
    bot.driver.set_topic("U40OTHER", channel, "Acme refund")
    bot.driver.unfurl(channel, ts)
    bot.driver.echo(channel, case.summary_ts or "")
    assert len(timeline(bot.db, case.id)) == before
    assert messages(bot, case)[0].text == "Pickup at 10, see <https://carrier.example/track/1>"

    bot.clock.advance(minutes=3)
    assert bot.driver.edit("U40OTHER", channel, ts, "Pickup at 11 instead").status == 200
    [edited] = messages(bot, case)
    assert edited.text == "Pickup at 11 instead" and edited.edited_at == bot.clock()
    assert edited.data and edited.data["original_text"].startswith("Pickup at 10")

    assert bot.driver.delete("U40OTHER", channel, ts).status == 200
    [deleted] = messages(bot, case)
    assert deleted.deleted and deleted.text == "Pickup at 11 instead"  # kept on the record, marked deleted


def test_a_redelivered_message_is_recorded_once(room: tuple[Bot, Case]) -> None:
    bot, case = room
    channel = case.channel_id or ""
    ts, first = bot.driver.say("U10BILL", channel, "On it", event_id="Ev0ONCE")
    message = bot.standin.message_json(channel, ts) or {}
    event = {"type": "message", "channel": channel, "user": "U10BILL", "text": message["text"], "ts": ts,
             "channel_type": "group"}
    # Slack's retry (same event_id) and a second delivery under another id: one record either way.
    assert bot.driver.event(event, event_id="Ev0ONCE", retry_num=1).status == 200
    assert bot.driver.event(event, event_id="Ev0OTHER").status == 200
    assert first.status == 200 and len(messages(bot, case)) == 1
    assert len([e for e in timeline(bot.db, case.id) if e.kind == "department_responded"]) == 1


def test_a_deputy_answers_for_the_department(room: tuple[Bot, Case]) -> None:
    bot, case = room
    bot.driver.say("U11DEP", case.channel_id or "", "Deputy here, checking the refund")
    assert departments(bot, case)["billing"].answered_by == "U11DEP"


def test_a_failed_listener_lets_slacks_retry_through(room: tuple[Bot, Case], monkeypatch: pytest.MonkeyPatch) -> None:
    bot, case = room
    calls = {"n": 0}
    real = case_room.record_message

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(case_room, "record_message", flaky)
    ts, response = bot.driver.say("U10BILL", case.channel_id or "", "Refund done", event_id="Ev0FLAKY")
    assert response.status == 500 and messages(bot, case) == []
    message = bot.standin.message_json(case.channel_id or "", ts) or {}
    retry = bot.driver.event({"type": "message", "channel": case.channel_id, "user": "U10BILL",
                              "text": message["text"], "ts": ts}, event_id="Ev0FLAKY", retry_num=1)
    assert retry.status == 200 and [m.text for m in messages(bot, case)] == ["Refund done"]


# ---------------------------------------------------------------- key moments and nudges


def test_a_pushpin_or_a_pin_marks_a_key_moment_once(room: tuple[Bot, Case]) -> None:
    bot, case = room
    channel = case.channel_id or ""
    ts, _ = bot.driver.say("U10BILL", channel, "Root cause: the payment provider timed out")
    assert bot.driver.react("U40OTHER", channel, ts, "pushpin").status == 200
    assert bot.driver.pin("U01ADV", channel, ts).status == 200
    assert bot.driver.react("U30REQ", channel, ts, "pushpin").status == 200
    moments = [e for e in timeline(bot.db, case.id) if e.kind == "key_moment"]
    assert [(m.actor, m.text, m.slack_ts, (m.data or {}).get("how")) for m in moments] == [
        ("U40OTHER", "Root cause: the payment provider timed out", ts, "reaction")]
    other, _ = bot.driver.say("U40OTHER", channel, "Customer accepted the credit")
    bot.driver.pin("U40OTHER", channel, other)
    assert len([e for e in timeline(bot.db, case.id) if e.kind == "key_moment"]) == 2


def test_a_department_that_does_not_answer_gets_one_nudge_in_its_thread(room: tuple[Bot, Case]) -> None:
    bot, case = room
    channel = case.channel_id or ""
    assert bot.driver.command("U01ADV", "/case", "add +logistics", channel_id=channel).status == 200
    drain(bot)
    bot.driver.say("U20SHIP", channel, "Logistics looking", thread_ts=departments(bot, case)["logistics"].ask_ts)

    run_tick(bot, hours=1, minutes=59)
    assert not [m for m in bot.standin.messages(channel) if ":bell:" in m.text]
    run_tick(bot, minutes=1)  # billing: respond_within 2h
    run_tick(bot, hours=5)
    nudges = [m for m in bot.standin.messages(channel) if ":bell:" in m.text]
    assert len(nudges) == 1
    [nudge] = nudges
    assert nudge.thread_ts == case.summary_ts and "<@U10BILL>" in nudge.text and "<@U11DEP>" in nudge.text
    assert "billing" in nudge.text and "U20SHIP" not in nudge.text  # logistics answered
    assert departments(bot, case)["billing"].nudged_at == T0 + timedelta(hours=2)


# ---------------------------------------------------------------- /case sub-commands


def test_status_waiting_pauses_the_cadence_and_resumes_from_the_change(room: tuple[Bot, Case]) -> None:
    bot, case = room
    channel = case.channel_id or ""
    bot.clock.advance(minutes=30)
    answer = bot.driver.command("U01ADV", "/case", "status waiting-on-customer", channel_id=channel)
    assert "paused" in ephemeral(answer)
    drain(bot)  # the notice goes out before the clock jumps (a frozen clock would expire its lease)
    case = reload(bot, case)
    assert case.status == "waiting-on-customer" and case.next_update_due is None
    run_tick(bot, hours=6)
    assert not posts(bot, channel)  # no reminder while waiting

    resumed_at = bot.clock()
    assert "investigating" in ephemeral(bot.driver.command("U10BILL", "/case", "status investigating",
                                                           channel_id=channel))  # a head may
    case = reload(bot, case)
    assert case.status == "investigating" and case.next_update_due == resumed_at + timedelta(hours=2)
    with bot.db.transaction() as session:
        scheduled = session.scalars(select(Reminder).where(Reminder.case_id == case.id,
                                                           Reminder.status == "scheduled")).all()
    assert {r.due_at for r in scheduled} == {resumed_at + timedelta(hours=2)}
    drain(bot)
    kinds = [(e.kind, e.data) for e in timeline(bot.db, case.id) if e.kind == "status_changed"]
    assert kinds == [("status_changed", {"from": "new", "to": "waiting-on-customer"}),
                     ("status_changed", {"from": "waiting-on-customer", "to": "investigating"})]
    notices = [m.text for m in bot.standin.messages(channel) if ":arrows_counterclockwise:" in m.text]
    assert len(notices) == 2 and "<@U10BILL> set the status to *investigating*" in notices[1]
    assert "· investigating ·" in bot.standin.channel(channel).topic  # type: ignore[union-attr]
    assert "*Status*\\ninvestigating" in summary_blocks(bot, case)


@pytest.mark.parametrize(("text", "expected"), [
    ("status", "needs a value"),
    ("status done", "Status is one of new, investigating, waiting-on-customer"),
    ("status resolved", "`/case resolve`"),
    ("status new", "already new"),
    ("owner", "needs a value"),
    ("owner bob", "Name one person"),
    ("owner <@U02ADV> <@U10BILL>", "Name one person"),
    ("owner <@U10BILL>", "<@U10BILL> is not an advocate"),
    ("severity p9", "Severity is one of p1, p2, p3"),
    ("impact lots", "is not an amount"),
    ("add +legal", "not a department"),
    ("add +billing", "already asked"),
    ("note", "needs a value"),
    ("frobnicate", "not a /case sub-command"),
])
def test_bad_arguments_get_an_explanation_and_change_nothing(room: tuple[Bot, Case], text: str,
                                                              expected: str) -> None:
    bot, case = room
    events = len(timeline(bot.db, case.id))
    answer = ephemeral(bot.driver.command("U01ADV", "/case", text, channel_id=case.channel_id or ""))
    assert expected in answer, answer
    assert len(timeline(bot.db, case.id)) == events


def test_owner_severity_impact_add_and_note(room: tuple[Bot, Case]) -> None:
    bot, case = room
    channel = case.channel_id or ""
    assert "now owns" in ephemeral(bot.driver.command("U01ADV", "/case", "owner <@U02ADV|alan>", channel_id=channel))
    assert "P2" in ephemeral(bot.driver.command("U02ADV", "/case", "severity p2", channel_id=channel))
    assert "$12,000.00" in ephemeral(bot.driver.command("U02ADV", "/case", "impact $12k", channel_id=channel))
    assert "Asking logistics" in ephemeral(bot.driver.command("U02ADV", "/case", "add +logistics", channel_id=channel))
    # anyone in the channel may add a note
    assert "Note added" in ephemeral(bot.driver.command("U40OTHER", "/case", "note Carrier says <!here> tomorrow",
                                                       channel_id=channel))
    drain(bot)
    case = reload(bot, case)
    assert (case.owner_id, case.severity, str(case.impact)) == ("U02ADV", "p2", "12000.00")
    assert case.next_update_due == T0 + timedelta(days=1)  # p2's cadence, from the case's start
    assert "U02ADV" in (bot.standin.channel(channel).members or [])  # type: ignore[union-attr]
    assert "U20SHIP" in (bot.standin.channel(channel).members or [])  # type: ignore[union-attr]

    texts = [m.text for m in bot.standin.messages(channel)]
    ask = next(t for t in texts if t.startswith(":wave:"))
    assert "<@U20SHIP>" in ask and "reply in a thread" in ask
    assert any("made <@U02ADV> the owner" in t for t in texts)
    note = next(t for t in texts if t.startswith(":memo:"))
    assert "&lt;!here&gt;" in note and "<!here>" not in note  # user text is escaped
    # the invite came before the message mentioning them (a mention of a non-member notifies nobody)
    calls = bot.standin.calls
    invite = next(i for i, c in enumerate(calls) if c.method == "conversations.invite"
                  and "U20SHIP" in str(c.params.get("users")))
    asked = next(i for i, c in enumerate(calls) if c.method == "chat.postMessage"
                 and str(c.params.get("text", "")).startswith(":wave:"))
    assert invite < asked
    assert departments(bot, case)["logistics"].ask_ts == next(
        m.ts for m in bot.standin.messages(channel) if m.text.startswith(":wave:"))
    summary = summary_blocks(bot, case)
    assert "logistics" in summary and "$12,000" in summary and "<@U02ADV>" in summary
    kinds = [e.kind for e in timeline(bot.db, case.id)]
    for kind in ("owner_changed", "severity_changed", "impact_changed", "department_added", "note"):
        assert kind in kinds


def test_who_may_change_a_case(room: tuple[Bot, Case]) -> None:
    bot, case = room
    channel = case.channel_id or ""
    for user in ("U40OTHER", "U30REQ", "U20SHIP"):  # not owner, advocate or head of an asked department
        answer = ephemeral(bot.driver.command(user, "/case", "severity p3", channel_id=channel))
        assert answer.startswith(":warning: Only the owner (<@U01ADV>)"), answer
    assert reload(bot, case).severity == "p1"
    assert "P3" in ephemeral(bot.driver.command("U11DEP", "/case", "severity p3", channel_id=channel))  # deputy
    assert "P2" in ephemeral(bot.driver.command("U02ADV", "/case", "severity p2", channel_id=channel))  # advocate


def test_outside_a_case_channel_sub_commands_say_where_to_use_them(room: tuple[Bot, Case]) -> None:
    bot, _ = room
    for text in ("status investigating", "owner <@U02ADV>", "note hi", "add +billing", "timeline", "update x"):
        answer = ephemeral(bot.driver.command("U01ADV", "/case", text, channel_id="C0GENERAL"))
        assert "works in a case channel" in answer, (text, answer)
    assert "/case update" in ephemeral(bot.driver.command("U01ADV", "/case", "help", channel_id="C0GENERAL"))


def test_timeline_shows_the_last_twenty_events_to_the_asker_only(room: tuple[Bot, Case]) -> None:
    bot, case = room
    channel = case.channel_id or ""
    for i in range(25):
        bot.clock.advance(minutes=1)
        bot.driver.say("U40OTHER", channel, f"message {i} <@U01ADV>")
    response = bot.driver.command("U40OTHER", "/case", "timeline", channel_id=channel)
    body = response.json()
    assert body.get("response_type", "ephemeral") == "ephemeral"
    text = "\n".join(mrkdwn_texts(body["blocks"]))
    assert "message 24" in text and "message 5" in text and "message 4" not in text
    assert text.count("<@U40OTHER> wrote") == 20


# ---------------------------------------------------------------- Log as customer update


def test_log_as_customer_update_records_a_thread_reply_once(room: tuple[Bot, Case]) -> None:
    bot, case = room
    channel = case.channel_id or ""
    bot.clock.advance(minutes=40)
    ts, _ = bot.driver.say("U01ADV", channel, "Told Acme: refund lands Friday", thread_ts=case.summary_ts)
    for _ in range(2):
        response = bot.driver.message_shortcut("U10BILL", "log_customer_update", channel_id=channel, message_ts=ts)
        assert response.status == 200
    with bot.db.transaction() as session:
        [update] = session.scalars(select(CustomerUpdate).where(CustomerUpdate.case_id == case.id)).all()
    assert (update.by, update.text, update.source, update.message_ts, update.on_time) == (
        "U10BILL", "Told Acme: refund lands Friday", "shortcut", ts, True)
    assert reload(bot, case).next_update_due == T0 + timedelta(minutes=40, hours=2)
    def ours() -> list[str]:
        return [r.text for r in bot.standin.responses if r.text and "customer update" in r.text]

    answers = wait_until(lambda: ours() if len(ours()) >= 2 else None, message="both answers")
    # the answers go out after the acks, from a pool: either may arrive first
    assert sorted("already" in a for a in answers) == [False, True]
    assert any("Recorded as a customer update on case #1" in a for a in answers)

    other = bot.standin.add_message("C0GENERAL", "U01ADV", "unrelated")
    bot.driver.message_shortcut("U01ADV", "log_customer_update", channel_id="C0GENERAL", message_ts=other)
    wait_until(lambda: any("works in a case channel" in (r.text or "") for r in bot.standin.responses),
               message="the refusal outside a case channel")
    assert len(all_cases(bot.db)) == 1
