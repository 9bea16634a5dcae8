"""Customer-update reminders end to end: the tick posts them, people answer by reaction, button or /case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.cadence import schedule
from jobs.tick import tick
from storage.models import Case, Customer, CustomerUpdate, Reminder
from tests.conftest import Bot, over_both_transports, wait_until
from tests.helpers import all_cases, drained, outbox, setup_settled, timeline

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture
def at_t0(bot: Bot) -> Bot:
    bot.clock.now = T0
    return bot


def open_case(bot: Bot, text: str = "Acme: refund stuck p1", user: str = "U30REQ") -> Case:
    before = len(all_cases(bot.db))
    assert bot.driver.command(user, "/escalate", text, channel_id="C0GENERAL").status == 200
    wait_until(lambda: len(all_cases(bot.db)) > before and setup_settled(bot.db), message="the case set-up")
    return all_cases(bot.db)[-1]


def run_tick(bot: Bot, **advance: float) -> None:
    if advance:
        bot.clock.advance(**advance)
    tick(bot.svc, bot.clock())
    wait_until(lambda: all(i.status != "pending" or i.due_at > bot.clock() for i in outbox(bot.db)),
               message="the outbox to drain")


def posts(bot: Bot, channel: str | None) -> list[Any]:
    """Bot messages carrying a reminder key, in order."""
    return [m for m in bot.standin.messages(channel or "") if m.bot_id
            and str(((m.metadata or {}).get("event_payload") or {}).get("key", "")).startswith("reminder:")]


def steps(bot: Bot, channel: str | None) -> list[str]:
    return [m.metadata["event_payload"]["key"].rsplit(":", 1)[1] for m in posts(bot, channel)]


def reload(bot: Bot, case: Case) -> Case:
    return next(c for c in all_cases(bot.db) if c.id == case.id)


def updates(bot: Bot, case: Case) -> list[CustomerUpdate]:
    with bot.db.transaction() as session:
        return list(session.scalars(select(CustomerUpdate).where(CustomerUpdate.case_id == case.id)
                                    .order_by(CustomerUpdate.id)))


@over_both_transports
def test_heads_up_overdue_and_the_ladder_fire_once_each(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)  # p1: every 2h; escalate after one more cadence; leadership after 1d
    assert case.next_update_due == T0 + timedelta(hours=2)

    run_tick(bot, minutes=89)
    assert steps(bot, case.channel_id) == []
    run_tick(bot, minutes=1)  # due minus remind_before (30m)
    run_tick(bot)
    assert steps(bot, case.channel_id) == ["heads_up"]
    [heads_up] = posts(bot, case.channel_id)
    assert "<@U01ADV>" in heads_up.text and "is due" in heads_up.text
    buttons = [e["action_id"] for b in heads_up.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["reminder_log_update", "reminder_snooze_1h", "reminder_snooze_tomorrow"]

    run_tick(bot, minutes=30)  # due
    run_tick(bot, hours=1)
    assert steps(bot, case.channel_id) == ["heads_up", "overdue"]
    assert "overdue since" in posts(bot, case.channel_id)[-1].text

    run_tick(bot, hours=1)  # due + 2h: the advocates are mentioned
    run_tick(bot, hours=1)
    assert steps(bot, case.channel_id) == ["heads_up", "overdue", "escalate"]
    assert "<@U02ADV>" in posts(bot, case.channel_id)[-1].text

    run_tick(bot, hours=20)  # due + 1d: one line for leadership
    run_tick(bot, hours=5)
    [line] = posts(bot, "C0LEAD")
    assert "Case #1" in line.text and f"<#{case.channel_id}>" in line.text
    assert steps(bot, case.channel_id) == ["heads_up", "overdue", "escalate"]


def test_after_downtime_an_overdue_case_gets_one_reminder(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    run_tick(bot, days=3)  # the bot was down: every step is in the past
    assert steps(bot, case.channel_id) == ["escalate"]  # one message, mentioning owner and advocates
    assert len(posts(bot, "C0LEAD")) == 1
    run_tick(bot, hours=6)
    assert steps(bot, case.channel_id) == ["escalate"]


def reminder_ts(bot: Bot, case: Case, step: str = "overdue") -> str:
    return next(m.ts for m in posts(bot, case.channel_id) if m.metadata["event_payload"]["key"].endswith(step))


@over_both_transports
def test_a_check_reaction_from_the_owner_is_a_customer_update(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    run_tick(bot, hours=2)
    ts = reminder_ts(bot, case)

    # Other people's ✅, and other reactions, are ignored: a head's ✅ is not a customer update.
    for user, name in [("U10BILL", "white_check_mark"), ("U40OTHER", "white_check_mark"), ("U01ADV", "+1")]:
        assert bot.driver.react(user, case.channel_id, ts, name).status == 200
    assert updates(bot, case) == []

    bot.clock.advance(minutes=10)
    answered_at = bot.clock()
    response = bot.driver.react("U01ADV", case.channel_id, ts, "white_check_mark", event_id="Ev0CHECK")
    assert response.status == 200
    assert bot.driver.react("U01ADV", case.channel_id, ts, "white_check_mark", event_id="Ev0CHECK").status == 200
    wait_until(lambda: drained(bot.db, bot.clock()), message="the reaction to be answered (after the ack)")
    assert bot.driver.react("U02ADV", case.channel_id, ts, "white_check_mark").status == 200  # a second ✅
    wait_until(lambda: drained(bot.db, bot.clock()), message="the reaction to be answered (after the ack)")
    [update] = updates(bot, case)
    assert (update.by, update.source, update.on_time) == ("U01ADV", "reaction", False)
    case = reload(bot, case)
    assert case.next_update_due == answered_at + timedelta(hours=2)  # the clock restarts at the update

    message = wait_until(lambda: next((m for m in bot.standin.messages(case.channel_id)
                                       if m.ts == ts and "updated the customer" in str(m.blocks)), None),
                         message="the reminder to show who answered")
    assert "<@U01ADV>" in str(message.blocks) and "reminder_snooze_1h" not in str(message.blocks)

    # The old period's ladder is cancelled; the new period reminds again.
    run_tick(bot, hours=2, minutes=1)  # past the new due time; the old period's escalation never comes
    assert steps(bot, case.channel_id) == ["overdue", "overdue"]
    first, second = (m.metadata["event_payload"]["key"] for m in posts(bot, case.channel_id))
    assert (answered_at + timedelta(hours=2)).strftime("%Y%m%dT%H%M%SZ") in second and first != second


def overdue_and_no_drive(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> tuple[Case, str]:
    """A case with its overdue reminder posted (and its ts); then the process stops right after each ack:
    nothing runs the outbox rows written before an ack until a tick does."""
    case = open_case(bot)
    run_tick(bot, hours=2)
    monkeypatch.setattr(bot.svc, "kick", lambda: None)
    return case, reminder_ts(bot, case)


def test_a_reaction_acknowledged_before_the_process_stops_is_answered_by_the_tick_at_its_own_time(
        at_t0: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    bot = at_t0
    case, ts = overdue_and_no_drive(bot, monkeypatch)
    reacted_at = bot.clock.advance(minutes=10)
    assert bot.driver.react("U01ADV", case.channel_id, ts, "white_check_mark", event_id="Ev0LATE").status == 200
    assert bot.driver.react("U01ADV", case.channel_id, ts, "white_check_mark", event_id="Ev0LATE").status == 200
    [row] = [i for i in outbox(bot.db) if i.kind == "reminder.react"]  # written before the ack, once
    assert (row.status, row.key, row.case_id) == ("pending", "reaction:event:Ev0LATE", case.id)
    assert updates(bot, case) == []

    run_tick(bot, minutes=20)  # the next start's (or another replica's) tick runs it
    [update] = updates(bot, case)
    assert (update.by, update.source, update.at) == ("U01ADV", "reaction", reacted_at)  # when it was made
    assert reload(bot, case).next_update_due == reacted_at + timedelta(hours=2)
    assert [i.status for i in outbox(bot.db) if i.kind == "reminder.react"] == ["done"]
    assert any(m.ts == ts and "updated the customer" in str(m.blocks) for m in bot.standin.messages(case.channel_id))


def test_zzz_snoozes_the_reminder_not_the_due_time(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    run_tick(bot, minutes=90)
    ts = reminder_ts(bot, case, "heads_up")
    assert bot.driver.react("U02ADV", case.channel_id, ts, "zzz").status == 200  # an advocate may
    wait_until(lambda: drained(bot.db, bot.clock()), message="the reaction to be answered (after the ack)")
    assert bot.driver.react("U01ADV", case.channel_id, ts, "zzz").status == 200  # answered already: no effect
    wait_until(lambda: drained(bot.db, bot.clock()), message="the reaction to be answered (after the ack)")
    case = reload(bot, case)
    assert case.next_update_due == T0 + timedelta(hours=2)  # compliance stays honest
    run_tick(bot, minutes=30)  # the overdue reminder would have come now: it was moved
    assert steps(bot, case.channel_id) == ["heads_up"]
    run_tick(bot, minutes=30)
    assert len(posts(bot, case.channel_id)) == 2 and "overdue since" in posts(bot, case.channel_id)[-1].text
    assert [e.kind for e in timeline(bot.db, case.id)].count("reminder_snoozed") == 1


def answers(bot: Bot, start: str) -> list[Any]:
    """What people were told through their clicks' response URLs that starts with ``start``."""
    return [r for r in bot.standin.responses if (r.text or "").startswith(start)]


def test_snooze_clicks_acknowledged_before_the_process_stops_are_done_by_the_tick_once_at_their_time(
        at_t0: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    bot = at_t0
    case, ts = overdue_and_no_drive(bot, monkeypatch)
    clicked_at = bot.clock.advance(minutes=10)
    for user in ("U01ADV", "U02ADV"):  # the owner and an advocate, before either click is done
        assert bot.driver.block_action(user, "reminder_snooze_1h", channel_id=case.channel_id,
                                       message_ts=ts).status == 200
    assert sorted(i.status for i in outbox(bot.db) if i.kind == "reminder.snooze") == ["pending", "pending"]
    assert not answers(bot, ":zzz:") and "reminder_snoozed" not in [e.kind for e in timeline(bot.db, case.id)]

    run_tick(bot, minutes=20)  # the next start's (or another replica's) tick runs them: one snooze, one refusal
    assert [e.kind for e in timeline(bot.db, case.id)].count("reminder_snoozed") == 1
    with bot.db.transaction() as session:
        reminder = session.scalar(select(Reminder).where(Reminder.case_id == case.id, Reminder.message_ts == ts))
        assert reminder is not None and reminder.snoozed_until == clicked_at + timedelta(hours=1)  # from the click
    assert len(answers(bot, ":zzz: Snoozed until")) == 1
    assert len(answers(bot, ":warning: This reminder was already answered.")) == 1


@over_both_transports
def test_buttons_snooze_for_the_owner_and_log_an_update_through_the_modal(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    run_tick(bot, hours=2)
    ts = reminder_ts(bot, case)

    bot.driver.block_action("U10BILL", "reminder_snooze_1h", channel_id=case.channel_id, message_ts=ts)
    refusal = wait_until(lambda: [r for r in bot.standin.responses if "Only the owner" in (r.text or "")])
    assert refusal[0].response_type == "ephemeral"

    # Snooze until tomorrow: the customer's next business morning (team zone, Stockholm, 09:00).
    bot.driver.block_action("U01ADV", "reminder_snooze_tomorrow", channel_id=case.channel_id, message_ts=ts)
    said = wait_until(lambda: answers(bot, ":zzz: Snoozed until"), message="the snooze's answer (after the ack)")
    assert said[0].response_type == "ephemeral" and not said[0].replace_original
    with bot.db.transaction() as session:
        repeat = session.scalar(select(Reminder).where(Reminder.step == "repeat"))
        assert repeat is not None and repeat.fire_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
        clicked = session.scalars(select(Reminder).where(Reminder.message_ts == ts)).one()
    # Clicked in a Slack client that still shows the buttons (the reminder now reads "snoozed", without them).
    bot.driver.block_action("U02ADV", "reminder_snooze_1h", value=str(clicked.id), channel_id=case.channel_id,
                            message_ts=ts)
    wait_until(lambda: answers(bot, ":warning: This reminder was already answered."), message="the refusal")

    # Log update: a modal, which records the update once even if submitted twice.
    bot.driver.block_action("U02ADV", "reminder_log_update", value=str(clicked.id), channel_id=case.channel_id,
                            message_ts=ts)
    [view_id] = wait_until(lambda: bot.standin.open_views("U02ADV"), message="the modal")
    values = {"text": "Refund approved; it lands in 3 days", "via": "call"}
    assert bot.driver.view_submission("U02ADV", view_id, values).status == 200
    bot.driver.view_submission("U02ADV", view_id, values)
    [update] = updates(bot, case)
    assert (update.by, update.via, update.source, update.text) == ("U02ADV", "call", "modal", values["text"])
    note = wait_until(lambda: [m for m in bot.standin.messages(case.channel_id) if ":mega:" in m.text])
    assert "Refund approved" in note[0].text and "<@U02ADV>" in note[0].text


@over_both_transports
def test_case_update_and_cadence_commands(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    outside = bot.driver.command("U30REQ", "/case", "update told them", channel_id="C0GENERAL")
    assert "case channel" in outside.text and updates(bot, case) == []

    bot.clock.advance(minutes=20)
    answer = bot.driver.command("U10BILL", "/case", "update email: Refund <b> approved",
                                channel_id=case.channel_id)
    assert "recorded" in answer.text
    [update] = updates(bot, case)
    assert (update.by, update.via, update.text, update.on_time) == ("U10BILL", "email", "Refund <b> approved", True)
    assert reload(bot, case).next_update_due == bot.clock() + timedelta(hours=2)

    refused = bot.driver.command("U10BILL", "/case", "cadence 4h", channel_id=case.channel_id)
    assert "Only the owner" in refused.text
    bad = bot.driver.command("U01ADV", "/case", "cadence soon", channel_id=case.channel_id)
    assert "not a duration" in bad.text
    ok = bot.driver.command("U01ADV", "/case", "cadence 4h", channel_id=case.channel_id)
    assert "every 4h" in ok.text
    assert reload(bot, case).next_update_due == bot.clock() + timedelta(hours=4)  # from the last update

    assert "/case update" in bot.driver.command("U01ADV", "/case", "help", channel_id=case.channel_id).text
    assert "not a /case sub-command" in bot.driver.command("U01ADV", "/case", "frobnicate",
                                                           channel_id=case.channel_id).text
    run_tick(bot, hours=1)
    wait_until(lambda: bot.standin.calls_to("chat.update"), message="the summary to be refreshed")


def test_an_update_within_the_second_the_case_opened_starts_a_new_period(at_t0: Bot) -> None:
    """The due time moves by a fraction of a second: its reminders are new ones, not a clash with the old."""
    bot = at_t0
    case = open_case(bot)
    bot.clock.now = T0 + timedelta(milliseconds=400)
    answer = bot.driver.command("U01ADV", "/case", "update told them we are on it", channel_id=case.channel_id)
    assert "Customer update recorded" in answer.text, answer.text
    due = T0 + timedelta(hours=2, milliseconds=400)
    assert reload(bot, case).next_update_due == due
    with bot.db.transaction() as session:
        live = session.scalars(select(Reminder).where(Reminder.case_id == case.id,
                                                      Reminder.status == "scheduled")).all()
        assert {r.due_at for r in live} == {due} and len({r.key for r in live}) == len(live) >= 3
    run_tick(bot, hours=2, minutes=30)
    assert steps(bot, case.channel_id) == ["overdue"]


def test_business_hours_count_in_the_customers_timezone(bot: Bot, team: dict[str, Any]) -> None:
    bot.svc.config = bot.svc.config.model_copy(update={"severities": {
        **bot.svc.config.severities,
        "p3": bot.svc.config.severities["p3"].model_copy(update={"update_every": timedelta(days=1),
                                                                 "business_hours": True})}})
    with bot.db.transaction() as session:
        session.add(Customer(name="Globex", name_key="globex", timezone="America/New_York", created_at=T0))
    bot.clock.now = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # Friday 15:00 in New York
    case = open_case(bot, "Globex: portal slow p3")
    # 1d of business time = 8 working hours: Friday 15-17, then Monday 09-15 New York time.
    assert case.next_update_due == datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


def test_resolved_cases_stop_reminding_and_reopened_ones_start_again(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    with bot.db.transaction() as session:
        row = session.get_one(Case, case.id)
        row.status = "resolved"
        schedule(session, row, bot.svc.config, bot.clock())
    run_tick(bot, days=2)
    assert posts(bot, case.channel_id) == []
    with bot.db.transaction() as session:
        row = session.get_one(Case, case.id)
        row.status = "investigating"
        row.next_update_due = bot.clock() + timedelta(hours=2)
        schedule(session, row, bot.svc.config, bot.clock())
    run_tick(bot, hours=2)
    assert steps(bot, case.channel_id) == ["overdue"]


@pytest.mark.parametrize("fault", [{"status": 429, "retry_after": 30}, {"status": 500}, {"delay": 3}],
                         ids=["429-retry-after", "500", "timeout-after-slack-posted"])
def test_slack_failures_end_with_exactly_one_reminder(at_t0: Bot, fault: dict[str, Any]) -> None:
    bot = at_t0
    case = open_case(bot)
    bot.standin.fail("chat.postMessage", **fault)
    run_tick(bot, hours=2)  # the post fails, or lands while we time out: the row stays pending
    assert next(i for i in outbox(bot.db) if i.kind == "reminder.post").attempts == 1
    for _ in range(3):
        run_tick(bot, minutes=2)
    assert steps(bot, case.channel_id) == ["overdue"]
    [item] = [i for i in outbox(bot.db) if i.kind == "reminder.post"]
    assert item.status == "done"


def test_a_crash_after_the_claim_or_after_the_outbox_commit_posts_once(at_t0: Bot,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.domain.cadence as cadence
    from jobs.reminders import fire_reminders

    bot = at_t0
    first, second = open_case(bot), open_case(bot, "Globex: shipment late p1")

    real_enqueue = cadence.enqueue
    monkeypatch.setattr(cadence, "enqueue", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
    bot.clock.advance(hours=2)
    report = tick(bot.svc, bot.clock())  # claimed, then the process "dies" before its transaction commits
    assert "reminders" in report.errors and posts(bot, first.channel_id) == []
    monkeypatch.setattr(cadence, "enqueue", real_enqueue)

    assert fire_reminders(bot.svc, bot.clock()) == 2  # committed to the outbox, then "dies" before sending
    assert posts(bot, first.channel_id) == [] and posts(bot, second.channel_id) == []
    run_tick(bot, minutes=1)
    run_tick(bot, minutes=1)
    assert steps(bot, first.channel_id) == ["overdue"] and steps(bot, second.channel_id) == ["overdue"]


def test_export_cases_as_json(at_t0: Bot, tmp_path: Any, team: dict[str, Any], database_url: str) -> None:
    import json

    from tests.cli_helpers import bot_env, cli, write_config

    bot = at_t0
    case = open_case(bot)
    bot.driver.command("U01ADV", "/case", "update call: we are on it", channel_id=case.channel_id)
    env = bot_env(DATABASE_URL=database_url, ADVOCACY_CONFIG=str(write_config(tmp_path / "a.yaml", team)))
    result = cli("export", "cases", "--format", "json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [exported] = json.loads(result.stdout)
    assert exported["number"] == 1 and exported["customer"] == "Acme" and exported["status"] == "new"
    assert exported["severity"] == "p1" and exported["owner"] == "U01ADV"
    assert exported["channel_id"] == case.channel_id and exported["created_at"] == "2026-11-24T09:00:00Z"
    assert exported["next_update_due"] == "2026-11-24T11:00:00Z"
    assert exported["customer_updates"] == [{"at": "2026-11-24T09:00:00Z", "by": "U01ADV", "text": "we are on it",
                                             "via": "call", "source": "command", "due_at": "2026-11-24T11:00:00Z",
                                             "on_time": True}]


def test_one_tick_fires_everything_due_one_reminder_per_case_across_claim_batches(
        at_t0: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    import jobs.reminders

    monkeypatch.setattr(jobs.reminders, "CLAIM_BATCH", 2)  # smaller than the steps due per case
    bot = at_t0
    cases = [open_case(bot, f"Customer {n}: refund stuck p1") for n in range(3)]
    run_tick(bot, hours=5)  # heads-up, overdue and escalate of every case are due
    for case in cases:
        assert steps(bot, case.channel_id) == ["escalate"]
    with bot.db.transaction() as session:
        left = session.scalars(select(Reminder.step).where(Reminder.status == "scheduled")).all()
    assert sorted(left) == ["leadership"] * 3


def test_a_tick_killed_after_slack_accepted_the_post_posts_once(
        at_t0: Bot, tmp_path: Any, team: dict[str, Any], database_url: str) -> None:
    """A real `advocacy-bot tick` process dies after Slack accepted the reminder but before it recorded it."""
    import os
    import signal
    import subprocess
    import sys

    from tests.cli_helpers import bot_env, cli, write_config
    from tests.conftest import BOT_TOKEN

    bot = at_t0
    case = open_case(bot)
    env = bot_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=bot.standin.api_url, DATABASE_URL=database_url,
                  ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)))
    due = T0 + timedelta(hours=2)
    bot.standin.fail("chat.postMessage", delay=5)  # Slack posts, but the answer comes too late
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "tick", "--now", due.isoformat()], env=env,
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # The delayed post has reached Slack (its fault is taken), not merely been claimed.
        wait_until(lambda: not bot.standin.faults_pending("chat.postMessage"), timeout=30,
                   message="the reminder post to be in flight")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    wait_until(lambda: posts(bot, case.channel_id), message="Slack to finish the post after all")

    # Within the lease nobody takes the row over; after it, the retry finds the post instead of doubling it.
    assert cli("tick", "--now", (due + timedelta(minutes=1)).isoformat(), env=env, cwd=tmp_path).returncode == 0
    assert len(posts(bot, case.channel_id)) == 1
    result = cli("tick", "--now", (due + timedelta(minutes=3)).isoformat(), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert steps(bot, case.channel_id) == ["overdue"]
    [item] = [i for i in outbox(bot.db) if i.kind == "reminder.post"]
    assert item.status == "done" and item.attempts == 2
    with bot.db.transaction() as session:
        reminder = session.scalar(select(Reminder).where(Reminder.step == "overdue"))
        assert reminder is not None and reminder.message_ts == posts(bot, case.channel_id)[0].ts
