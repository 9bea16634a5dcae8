"""Check-ins end to end: planned per tier by the tick, follow-ups after resolved cases, the advocate's DM
in their working hours with a suggested contact time, Log / Snooze / Skip, closing the loop, the Home."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.domain.customers import name_key
from jobs.checkins import ensure_checkins, prompt_checkins
from jobs.outbox import LEASE, claim
from jobs.tick import tick
from storage.models import Case, CheckIn, Customer, Feedback
from tests.conftest import Bot, wait_until
from tests.helpers import all_cases, outbox, setup_settled

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday: 10:00 in Stockholm (the team's and advocates' zone)
DAY = timedelta(days=1)
RESOLVE: dict[str, Any] = {
    "resolution": "Refund re-issued by hand",
    "category": "process-gap",
    "root_cause": "Refunds over $10k need a second approver",
    "final_update": "Your refund was re-issued today.",
    "via": "call",
    "prevention1_what": "Give billing a backup approver",
    "prevention1_owner": "U10BILL",
}


@pytest.fixture
def team(team: dict[str, Any]) -> dict[str, Any]:
    team["checkins"] = {"tiers": {"strategic": "30d", "standard": "90d"}, "default_tier": "standard",
                        "after_resolution": "14d", "close_the_loop": True}
    return team


@pytest.fixture
def at_t0(bot: Bot) -> Bot:
    bot.clock.now = T0
    return bot


# ---------------------------------------------------------------- helpers


def add_customer(bot: Bot, name: str, *, tier: str | None = None, advocate: str | None = "U01ADV",
                 created: datetime = T0, zone: str | None = None, hours: str | None = None,
                 status: str = "active") -> int:
    with bot.db.transaction() as session:
        customer = Customer(name=name, name_key=name_key(name), created_at=created, tier=tier, advocate_id=advocate,
                            timezone=zone, preferred_hours=hours, status=status)
        session.add(customer)
        session.flush()
        return customer.id


def change_customer(bot: Bot, customer_id: int, **values: Any) -> None:
    """As the customer form does: the fields, and ``updated_at``."""
    with bot.db.transaction() as session:
        session.execute(update(Customer).where(Customer.id == customer_id).values(**values, updated_at=bot.clock()))


def checkins(bot: Bot, customer_id: int | None = None) -> list[CheckIn]:
    with bot.db.transaction() as session:
        query = select(CheckIn).order_by(CheckIn.id)
        if customer_id is not None:
            query = query.where(CheckIn.customer_id == customer_id)
        return list(session.scalars(query))


def one_open(bot: Bot, customer_id: int) -> CheckIn:
    [row] = [c for c in checkins(bot, customer_id) if c.status in ("scheduled", "prompted") and c.kind == "cadence"]
    return row


def feedback(bot: Bot) -> list[Feedback]:
    with bot.db.transaction() as session:
        return list(session.scalars(select(Feedback).order_by(Feedback.id)))


def settle(bot: Bot) -> None:
    wait_until(lambda: all(i.status != "pending" or i.due_at > bot.clock() for i in outbox(bot.db)),
               message="the outbox to drain")


def run_tick(bot: Bot, **advance: float) -> None:
    if advance:
        bot.clock.advance(**advance)
    tick(bot.svc, bot.clock())
    settle(bot)


def prompts(bot: Bot, user: str = "U01ADV") -> list[Any]:
    """The check-in DMs to ``user``, oldest first."""
    channel = bot.standin.dm_channel(user)
    return [m for m in bot.standin.messages(channel or "") if m.bot_id
            and ":prompt:" in str(((m.metadata or {}).get("event_payload") or {}).get("key", ""))] if channel else []


def key_of(message: Any) -> str:
    return str(message.metadata["event_payload"]["key"])


def current(bot: Bot, message: Any, user: str = "U01ADV") -> Any:
    """The DM as it is now (chat.update changes it in place)."""
    return next(m for m in bot.standin.messages(str(bot.standin.dm_channel(user))) if m.ts == message.ts)


def buttons_of(message: Any) -> list[str]:
    return [e["action_id"] for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]]


def click(bot: Bot, message: Any, action: str, user: str = "U01ADV") -> None:
    dm = str(bot.standin.dm_channel("U01ADV"))
    assert bot.driver.block_action(user, action, channel_id=dm, message_ts=message.ts).status == 200


def open_form(bot: Bot, message: Any, action: str, user: str = "U01ADV") -> str:
    before = set(bot.standin.views)
    click(bot, message, action, user)
    return wait_until(lambda: next(iter(set(bot.standin.views) - before), None), message="the check-in form")


def submit(bot: Bot, view_id: str, values: dict[str, Any], user: str = "U01ADV") -> Any:
    answer = bot.driver.view_submission(user, view_id, values)
    assert answer.status == 200
    return answer.json() if answer.text else None


def responses(bot: Bot, text: str) -> list[Any]:
    return [r for r in bot.standin.responses if text in (r.text or "")]


def due_now(bot: Bot, name: str = "Acme", **extra: Any) -> int:
    """A strategic customer whose first check-in is due right now."""
    return add_customer(bot, name, tier="strategic", created=bot.clock() - timedelta(days=30), **extra)


# ---------------------------------------------------------------- scheduling


def test_each_customer_with_a_cadence_has_one_check_in_due_by_its_tier(at_t0: Bot) -> None:
    bot = at_t0
    acme = add_customer(bot, "Acme", tier="strategic", created=T0 - 10 * DAY)
    globex = add_customer(bot, "Globex", tier="standard", created=T0 - 10 * DAY)
    initech = add_customer(bot, "Initech", created=T0 - 10 * DAY)  # no tier: the default tier's (standard)
    hooli = add_customer(bot, "Hooli", tier="trial")  # a tier without a cadence
    umbrella = add_customer(bot, "Umbrella", tier="strategic", status="churned")
    run_tick(bot)
    run_tick(bot, minutes=1)  # a second sweep adds nothing

    assert (one_open(bot, acme).due_at, one_open(bot, acme).key) == (T0 + 20 * DAY, f"checkin:{acme}:20261214T090000Z")
    assert one_open(bot, globex).due_at == T0 + 80 * DAY
    assert one_open(bot, initech).due_at == T0 + 80 * DAY
    assert checkins(bot, hooli) == [] and checkins(bot, umbrella) == []
    assert all(c.status == "scheduled" and c.prompt_at == c.due_at and c.prompts == 0 for c in checkins(bot))

    # Tier changes need no hook: a customer gaining a cadence gets one; a changed cadence is planned again.
    bot.clock.advance(days=1)
    change_customer(bot, hooli, tier="strategic")
    change_customer(bot, acme, tier="standard")
    change_customer(bot, globex, tier="trial")
    run_tick(bot)
    assert one_open(bot, hooli).due_at == T0 + 30 * DAY
    assert one_open(bot, acme).due_at == T0 + 80 * DAY and len(checkins(bot, acme)) == 1
    [gone] = checkins(bot, globex)
    assert (gone.status, gone.skip_reason) == ("cancelled", "the customer's tier has no check-in cadence")
    run_tick(bot, minutes=1)
    assert len(checkins(bot)) == 4  # Acme, Globex (cancelled), Initech, Hooli: nothing planned twice


def test_the_next_check_in_follows_a_cadence_after_the_last_one_done(at_t0: Bot) -> None:
    bot = at_t0
    acme = due_now(bot)
    run_tick(bot)
    [dm] = prompts(bot)
    bot.clock.advance(days=2)  # logged two days late: the next one is due 30 days from now
    view = open_form(bot, dm, "checkin_log")
    assert submit(bot, view, {"how": "call", "nps": "9", "csat": "5", "feedback": "All good"}) is None
    settle(bot)
    done, following = checkins(bot, acme)
    assert (done.status, done.done_at, done.done_by) == ("done", bot.clock(), "U01ADV")
    assert (following.status, following.due_at, following.kind) == ("scheduled", bot.clock() + 30 * DAY, "cadence")
    run_tick(bot)
    assert len(checkins(bot, acme)) == 2


# ---------------------------------------------------------------- follow-ups after a resolved case


def open_case(bot: Bot, text: str = "Acme: refund stuck p1", user: str = "U30REQ") -> Case:
    before = len(all_cases(bot.db))
    assert bot.driver.command(user, "/escalate", text, channel_id="C0GENERAL").status == 200
    wait_until(lambda: len(all_cases(bot.db)) > before and setup_settled(bot.db), message="the case set-up")
    return all_cases(bot.db)[-1]


def resolve(bot: Bot, case: Case, user: str = "U01ADV") -> None:
    assert bot.driver.command(user, "/case", "resolve", channel_id=case.channel_id).status == 200
    [view_id] = wait_until(lambda: bot.standin.open_views(user), message="the resolve modal")
    due = (bot.clock() + timedelta(days=7)).date().isoformat()
    answer = bot.driver.view_submission(user, view_id, {**RESOLVE, "prevention1_due": due})
    assert answer.status == 200 and answer.text == "", answer.text
    settle(bot)


def test_a_resolved_case_gets_a_did_the_fix_hold_follow_up(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)  # Acme, new: no advocate of its own; the case's owner is U01ADV
    bot.clock.advance(hours=2)
    resolve(bot, case)
    [follow_up] = [c for c in checkins(bot) if c.kind == "follow_up"]
    assert (follow_up.key, follow_up.case_id, follow_up.status) == (f"followup:{case.id}", case.id, "scheduled")
    assert follow_up.due_at == T0 + timedelta(hours=2) + 14 * DAY

    bot.clock.now = follow_up.due_at - timedelta(minutes=1)
    run_tick(bot)
    assert prompts(bot) == []
    run_tick(bot, minutes=1)
    run_tick(bot, minutes=1)
    [dm] = prompts(bot)
    assert key_of(dm) == f"checkin:{follow_up.id}:prompt:1"
    assert "did the fix for case #1 hold?" in dm.text and "Refund re-issued by hand" in json.dumps(dm.blocks)
    assert f"<#{case.channel_id}>" in json.dumps(dm.blocks)
    assert [c.advocate_id for c in checkins(bot) if c.kind == "follow_up"] == ["U01ADV"]  # the latest case's owner


def test_a_follow_up_whose_case_was_reopened_is_cancelled_and_planned_again_on_resolve(at_t0: Bot) -> None:
    bot = at_t0
    case = open_case(bot)
    resolve(bot, case)
    bot.clock.advance(days=3)
    assert "reopened" in bot.driver.command("U01ADV", "/case", "reopen 1 it came back", channel_id="C0GENERAL").text
    settle(bot)
    run_tick(bot, days=12)  # the follow-up's time: the case is open again
    [follow_up] = [c for c in checkins(bot) if c.kind == "follow_up"]
    assert (follow_up.status, follow_up.skip_reason) == ("cancelled", "the case was reopened")
    assert prompts(bot) == []

    resolve(bot, case)  # resolved again: the same follow-up, due 14 days from now
    [again] = [c for c in checkins(bot) if c.kind == "follow_up"]
    assert (again.id, again.status, again.due_at) == (follow_up.id, "scheduled", bot.clock() + 14 * DAY)
    run_tick(bot, days=14)
    assert [key_of(m) for m in prompts(bot)] == [f"checkin:{again.id}:prompt:2"]


# ---------------------------------------------------------------- the DM: when, and what it says


def test_the_suggested_time_is_inside_the_customers_hours_across_zones_and_dst(at_t0: Bot) -> None:
    bot = at_t0
    acme = due_now(bot, zone="America/New_York", hours="tue-thu 10:00-12:00")
    run_tick(bot)
    [dm] = prompts(bot)
    # New York 10:00-12:00 is 16:00-18:00 in Stockholm, where the advocate works until 17:00: 10:00 NY.
    suggested = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    text = json.dumps(dm.blocks)
    assert "Tue 24 Nov 10:00 (America/New_York) their time" in text
    assert f"<!date^{int(suggested.timestamp())}^" in text  # shown to the advocate in their own zone
    assert "tue-thu 10:00-12:00" in text
    assert one_open(bot, acme).suggested_at == suggested

    # March 2027: New York is on summer time from the 14th, Stockholm only from the 28th; 10:00 NY is 15:00
    # in Stockholm that week, so the whole morning window fits, and it starts an hour earlier in UTC.
    bot.clock.now = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)  # a Monday
    globex = due_now(bot, "Globex", zone="America/New_York", hours="tue-thu 10:00-12:00")
    run_tick(bot)
    latest = prompts(bot)[-1]
    assert "Globex" in latest.text and "Tue 16 Mar 10:00 (America/New_York) their time" in json.dumps(latest.blocks)
    assert one_open(bot, globex).suggested_at == datetime(2027, 3, 16, 14, 0, tzinfo=UTC)

    # A Stockholm customer with no preferred hours: the first time both are at work, i.e. now.
    bot.clock.now = datetime(2027, 3, 16, 9, 0, tzinfo=UTC)
    initech = due_now(bot, "Initech")
    run_tick(bot)
    assert one_open(bot, initech).suggested_at == bot.clock()
    assert "Tue 16 Mar 10:00 (Europe/Stockholm) their time" in json.dumps(prompts(bot)[-1].blocks)


def test_the_dm_waits_for_the_advocates_working_hours_in_their_own_zone(at_t0: Bot) -> None:
    bot = at_t0
    bot.standin.add_user("U01ADV", "ada.advocate", tz="America/Los_Angeles")  # Slack profile: Pacific time
    bot.clock.now = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # 03:00 in Los Angeles, noon in Stockholm
    acme = due_now(bot)
    run_tick(bot)
    assert prompts(bot) == [] and one_open(bot, acme).status == "prompted"
    [row] = [i for i in outbox(bot.db) if i.kind == "checkin.prompt"]
    opens = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 09:00 in Los Angeles
    assert (row.status, row.due_at, row.attempts) == ("pending", opens, 0)  # deferred: no attempt used
    assert "working hours (America/Los_Angeles)" in str(row.last_error)

    bot.clock.now = opens - timedelta(minutes=1)
    run_tick(bot)
    assert prompts(bot) == []
    run_tick(bot, minutes=1)
    run_tick(bot, minutes=30)
    [dm] = prompts(bot)
    assert "Acme" in dm.text and one_open(bot, acme).prompted_at == opens
    assert len(bot.standin.calls_to("users.info")) == 1  # the zone is cached


def test_the_dm_shows_the_customers_context(at_t0: Bot) -> None:
    bot = at_t0
    add_customer(bot, "Acme <Corp>", tier="strategic", created=T0 - 100 * DAY)
    older = open_case(bot, "Acme <Corp>: invoice wrong p2")
    resolve(bot, older)
    still = open_case(bot, "Acme <Corp>: delivery late p2")
    run_tick(bot)  # the first check-in was due 70 days ago
    [dm] = prompts(bot)
    bot.clock.advance(minutes=5)
    view = open_form(bot, dm, "checkin_log")
    submit(bot, view, {"how": "meeting", "nps": "8", "csat": "4"})
    settle(bot)
    with bot.db.transaction() as session:  # the next one is due now
        session.execute(update(CheckIn).where(CheckIn.status == "scheduled", CheckIn.kind == "cadence")
                        .values(due_at=bot.clock(), prompt_at=bot.clock()))
    run_tick(bot)
    latest = prompts(bot)[-1]
    text = json.dumps(latest.blocks)
    assert "*Acme &lt;Corp&gt;*" in latest.text  # escaped
    assert "*Tier:* strategic" in text and "*Status:* active" in text
    assert f"#2 <#{still.channel_id}> (new)" in text  # open cases, linked
    assert f"#1 <#{older.channel_id}> (resolved, resolved <!date^" in text  # resolved in the last 90 days
    assert "(meeting): NPS 8/10, CSAT 4/5" in text  # the last check-in and its scores
    assert buttons_of(latest) == ["checkin_log", "checkin_snooze", "checkin_skip"]


# ---------------------------------------------------------------- Snooze and Skip


def test_snooze_asks_again_in_a_week_and_skip_needs_a_reason(at_t0: Bot) -> None:
    bot = at_t0
    acme = due_now(bot)
    run_tick(bot)
    [dm] = prompts(bot)
    click(bot, dm, "checkin_snooze")
    settle(bot)
    row = one_open(bot, acme)
    assert (row.status, row.prompt_at, row.due_at, row.snoozed_until) == ("scheduled", T0 + 7 * DAY, T0, T0 + 7 * DAY)
    assert ":zzz: Snoozed until" in json.dumps(current(bot, dm).blocks)
    click(bot, dm, "checkin_snooze")  # a double click: the first one counts
    wait_until(lambda: responses(bot, "already snoozed until"), message="the refusal")
    assert one_open(bot, acme).prompt_at == T0 + 7 * DAY

    run_tick(bot, days=6, hours=23)
    assert len(prompts(bot)) == 1
    run_tick(bot, hours=1)
    _, second = prompts(bot)
    assert key_of(second) == f"checkin:{row.id}:prompt:2"  # a new prompt, a new key

    view = open_form(bot, second, "checkin_skip")
    assert bot.standin.views[view]["callback_id"] == "checkin_skip_form"
    assert submit(bot, view, {"reason": "   "}) == {"response_action": "errors",
                                                  "errors": {"reason": "Say why the check-in is skipped."}}
    assert one_open(bot, acme).status == "prompted"
    assert submit(bot, view, {"reason": "We saw them at the quarterly review"}) is None
    settle(bot)
    skipped, following = checkins(bot, acme)
    assert (skipped.status, skipped.skip_reason, skipped.done_by) == (
        "skipped", "We saw them at the quarterly review", "U01ADV")
    assert following.due_at == bot.clock() + 30 * DAY
    shown = current(bot, second)
    assert "skipped this check-in" in json.dumps(shown.blocks) and buttons_of(shown) == []
    assert feedback(bot) == []


# ---------------------------------------------------------------- Log


def test_the_log_form_validates_scores_and_how(at_t0: Bot) -> None:
    bot = at_t0
    acme = due_now(bot)
    run_tick(bot)
    view_id = open_form(bot, prompts(bot)[0], "checkin_log")
    view = bot.standin.views[view_id]
    assert view["callback_id"] == "checkin_log_form"
    assert "How likely is the customer to recommend us?" in json.dumps(view["blocks"])

    def errors(values: dict[str, Any]) -> dict[str, str]:
        answer = submit(bot, view_id, values)
        assert answer["response_action"] == "errors"
        return answer["errors"]

    assert set(errors({"nps": "11", "csat": "0"})) == {"how", "nps", "csat"}
    assert "out of range" in errors({"how": "call", "nps": "11"})["nps"]
    assert "from 1 to 5" in errors({"how": "call", "csat": "0"})["csat"]
    assert "whole number" in errors({"how": "call", "nps": "7.5"})["nps"]
    assert "call, meeting, email or chat" in errors({"nps": "9"})["how"]
    assert one_open(bot, acme).status == "prompted" and feedback(bot) == []


def test_logging_keeps_the_feedback_and_shows_the_outcome(at_t0: Bot) -> None:
    bot = at_t0
    acme = due_now(bot)
    run_tick(bot)
    [dm] = prompts(bot)
    row = one_open(bot, acme)
    view = open_form(bot, dm, "checkin_log")
    assert submit(bot, view, {"how": "email", "nps": "9", "csat": "4", "problems": "Reports are slow",
                              "feedback": "Happy with <support> & billing"}) is None
    settle(bot)
    [said] = feedback(bot)
    assert (said.key, said.source, said.channel, said.nps, said.csat, said.advocate_id, said.checkin_id) == (
        f"checkin:{row.id}", "checkin", "email", 9, 4, "U01ADV", row.id)
    assert (said.problems, said.comment, said.case_id) == ("Reports are slow", "Happy with <support> & billing", None)
    shown = current(bot, dm)
    assert "<@U01ADV> logged this check-in (email)" in json.dumps(shown.blocks) and buttons_of(shown) == []
    assert len(all_cases(bot.db)) == 0  # a happy customer: no case


def test_an_unhappy_customer_closes_the_loop_with_a_case(at_t0: Bot) -> None:
    bot = at_t0
    acme = due_now(bot)
    run_tick(bot)
    [dm] = prompts(bot)
    view = open_form(bot, dm, "checkin_log")
    submit(bot, view, {"how": "call", "nps": "3", "csat": "2", "problems": "The invoice arrives twice",
                       "feedback": "Thinking about leaving"})
    settle(bot)
    [case] = all_cases(bot.db)
    assert (case.customer_id, case.owner_id, case.reporter_id, case.severity) == (acme, "U01ADV", "U01ADV", "p2")
    assert "The invoice arrives twice" in case.summary and "Thinking about leaving" in case.summary
    assert "NPS 3/10" in case.summary and "CSAT 2/5" in case.summary
    assert [d.department for d in case.departments] == ["billing"]  # routed like /escalate: "invoice"
    [said] = feedback(bot)
    assert said.case_id == case.id
    assert f"Case #1 <#{case.channel_id}>" in json.dumps(current(bot, dm).blocks)  # the DM links it


def test_the_checkbox_opens_a_case_whatever_the_scores(at_t0: Bot) -> None:
    bot = at_t0
    due_now(bot)
    due_now(bot, "Globex")
    run_tick(bot)
    first, second = prompts(bot)
    submit(bot, open_form(bot, first, "checkin_log"), {"how": "chat", "nps": "10", "escalate": ["escalate"],
                                                        "problems": "Wants SSO before renewal"})
    submit(bot, open_form(bot, second, "checkin_log"), {"how": "chat", "nps": "10"})
    settle(bot)
    [case] = all_cases(bot.db)
    assert case.customer.name == "Acme" and "Wants SSO before renewal" in case.summary
    assert [f.case_id for f in feedback(bot)] == [case.id, None]


def test_double_clicks_and_double_submissions_record_once(at_t0: Bot) -> None:
    bot = at_t0
    acme = due_now(bot)
    run_tick(bot)
    [dm] = prompts(bot)
    first = open_form(bot, dm, "checkin_log")
    second = open_form(bot, dm, "checkin_log")  # clicked twice: two forms
    values = {"how": "call", "nps": "2"}
    assert submit(bot, first, values) is None
    assert submit(bot, first, values) is None  # the same form submitted twice
    answer = submit(bot, second, values)
    assert answer["response_action"] == "errors" and "already logged by <@U01ADV>" in answer["errors"]["how"]
    settle(bot)
    assert len(feedback(bot)) == 1 and len(all_cases(bot.db)) == 1
    assert [c.status for c in checkins(bot, acme)] == ["done", "scheduled"]

    row = checkins(bot, acme)[0]  # Snooze pressed on a DM not yet updated: the answered check-in stays
    dm_channel = str(bot.standin.dm_channel("U01ADV"))
    bot.driver.block_action("U01ADV", "checkin_snooze", value=str(row.id), channel_id=dm_channel, message_ts=dm.ts)
    wait_until(lambda: responses(bot, "already logged"), message="the refusal")
    assert [c.status for c in checkins(bot, acme)] == ["done", "scheduled"]


def test_only_the_customers_advocate_or_an_advocate_may_answer(at_t0: Bot) -> None:
    bot = at_t0
    due_now(bot, advocate="U01ADV")
    run_tick(bot)
    [dm] = prompts(bot)
    click(bot, dm, "checkin_log", user="U40OTHER")
    [refusal] = wait_until(lambda: responses(bot, "Only <@U01ADV>"), message="the refusal")
    assert refusal.response_type == "ephemeral" and "an advocate can answer" in str(refusal.text)
    assert bot.standin.open_views("U40OTHER") == []
    view = open_form(bot, dm, "checkin_log", user="U02ADV")  # any advocate may
    assert submit(bot, view, {"how": "call"}, user="U02ADV") is None
    assert feedback(bot)[0].advocate_id == "U02ADV"


# ---------------------------------------------------------------- churn, exactly once


def test_a_churned_customer_gets_no_prompt(at_t0: Bot) -> None:
    bot = at_t0
    acme = due_now(bot)
    globex = add_customer(bot, "Globex", tier="strategic", created=T0 - 29 * DAY)
    run_tick(bot)  # Acme is prompted; Globex is due tomorrow
    [dm] = prompts(bot)
    change_customer(bot, acme, status="churned")
    change_customer(bot, globex, status="churned")
    run_tick(bot, days=2)
    assert [m.ts for m in prompts(bot)] == [dm.ts]
    assert [(c.status, c.skip_reason) for c in checkins(bot)] == [("cancelled", "the customer churned")] * 2
    shown = current(bot, dm)
    assert "No longer needed: the customer churned" in json.dumps(shown.blocks) and buttons_of(shown) == []
    run_tick(bot, days=40)
    assert len(checkins(bot)) == 2 and [m.ts for m in prompts(bot)] == [dm.ts]


def test_prompts_once_across_ticks_and_a_killed_send(at_t0: Bot) -> None:
    bot = at_t0
    due_now(bot)
    run_tick(bot)
    run_tick(bot)
    run_tick(bot, minutes=10)
    assert len(prompts(bot)) == 1

    # A worker claims the DM and dies before sending it: nobody sends it within its lease; then once.
    due_now(bot, "Globex")
    ensure_checkins(bot.svc, bot.clock())
    prompt_checkins(bot.svc, bot.clock())
    with bot.db.transaction() as session:
        [claimed] = claim(session, now=bot.clock(), worker="killed-worker")
    assert claimed.kind == "checkin.prompt"
    bot.clock.advance(minutes=1)
    tick(bot.svc, bot.clock())  # within the lease
    assert len(prompts(bot)) == 1
    run_tick(bot, seconds=LEASE.total_seconds())
    assert [m.text.split("*")[1] for m in prompts(bot)] == ["Acme", "Globex"]

    # The post reaches Slack but its answer is lost (timeout): the retry finds it in the DM by its key.
    initech = due_now(bot, "Initech")
    bot.standin.fail("chat.postMessage", delay=3)  # the client gives up after 2 s
    tick(bot.svc, bot.clock())
    wait_until(lambda: len(prompts(bot)) == 3, message="the lost post to land")
    [row] = [i for i in outbox(bot.db) if i.kind == "checkin.prompt" and i.status == "pending"]
    assert row.attempts == 1 and row.last_error
    run_tick(bot, minutes=5)
    assert len(prompts(bot)) == 3
    posted = prompts(bot)[-1]
    assert one_open(bot, initech).message_ts == posted.ts and "Initech" in posted.text
    assert all(i.status == "done" for i in outbox(bot.db) if i.kind == "checkin.prompt")


# ---------------------------------------------------------------- the App Home


def open_home(bot: Bot, user: str) -> dict[str, Any]:
    before = json.dumps(bot.standin.home_views.get(user))
    assert bot.driver.event({"type": "app_home_opened", "user": user, "tab": "home"}).status == 200
    wait_until(lambda: json.dumps(bot.standin.home_views.get(user)) != before, message=f"{user}'s Home")
    return bot.standin.home_views[user]


def home_part(view: dict[str, Any]) -> list[str]:
    texts = [b["text"]["text"] if "text" in b else " ".join(e["text"] for e in b["elements"])
             for b in view["blocks"] if "text" in b or b["type"] == "context"]
    start = texts.index("*Check-ins due*")
    end = next(i for i in range(start + 1, len(texts)) if texts[i].startswith("*") and texts[i].endswith("*")
               and "·" not in texts[i])
    return texts[start + 1:end]


def test_the_home_lists_check_ins_due_with_the_same_buttons(at_t0: Bot) -> None:
    bot = at_t0
    acme = due_now(bot)
    add_customer(bot, "Globex", tier="strategic", created=T0 - 33 * DAY)  # 3 days overdue
    add_customer(bot, "Initech", tier="strategic", advocate="U02ADV", created=T0 - 30 * DAY)
    add_customer(bot, "Hooli", tier="strategic", created=T0 - 20 * DAY)  # not due for 10 days
    run_tick(bot)
    home = open_home(bot, "U01ADV")
    lines = home_part(home)
    assert [t.split("*")[1] for t in lines] == ["Globex", "Acme"]
    assert "strategic · check-in due <!date^" in lines[1] and "(3 days overdue)" in lines[0]
    checkin_buttons = [e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [e["action_id"] for e in checkin_buttons][:3] == ["checkin_log", "checkin_snooze", "checkin_skip"]
    assert [t.split("*")[1] for t in home_part(open_home(bot, "U02ADV"))] == ["Initech"]

    # Logged from the Home: the form, then the Home without it, and the DM shows the outcome.
    row = one_open(bot, acme)
    before = set(bot.standin.views)
    assert bot.driver.block_action("U01ADV", "checkin_log", value=str(row.id), view_id=home["id"]).status == 200
    view = wait_until(lambda: next(iter(set(bot.standin.views) - before), None), message="the form")
    assert json.loads(bot.standin.views[view]["private_metadata"]) == {"checkin": row.id, "home": True}
    assert submit(bot, view, {"how": "meeting", "csat": "5"}) is None
    wait_until(lambda: [t.split("*")[1] for t in home_part(bot.standin.home_views["U01ADV"])] == ["Globex"],
               message="the Home republished")
    settle(bot)
    acme_dm = next(m for m in prompts(bot) if "Acme" in m.text)
    assert "logged this check-in (meeting)" in json.dumps(current(bot, acme_dm).blocks)

    # Snoozed from the Home: still overdue, so still listed, with the snooze.
    globex = next(c for c in checkins(bot) if c.status == "prompted" and c.advocate_id == "U01ADV")
    assert bot.driver.block_action("U01ADV", "checkin_snooze", value=str(globex.id),
                                   view_id=bot.standin.home_views["U01ADV"]["id"]).status == 200
    wait_until(lambda: "snoozed until" in " ".join(home_part(bot.standin.home_views["U01ADV"])),
               message="the Home republished")
    settle(bot)


def test_without_a_default_tier_a_customer_whose_tier_is_cleared_has_no_check_in(db: Any, config: Any) -> None:
    from bot.config import CheckIns
    from bot.domain import checkins as domain

    tiers_only = config.model_copy(update={"checkins": CheckIns(tiers={"strategic": timedelta(days=30)})})
    with db.transaction() as session:
        session.add(Customer(name="Acme", name_key="acme", created_at=T0, tier="strategic", status="active"))
        session.add(Customer(name="Globex", name_key="globex", created_at=T0, status="active"))  # no tier, no default
        assert domain.ensure_checkins(session, T0, tiers_only).planned == 1
    with db.transaction() as session:
        session.execute(update(Customer).where(Customer.name == "Acme").values(tier=None, updated_at=T0 + DAY))
        sweep = domain.ensure_checkins(session, T0 + DAY, tiers_only)
        assert (sweep.cancelled, sweep.planned) == (1, 0)
        [row] = session.scalars(select(CheckIn)).all()
        assert (row.status, row.skip_reason) == ("cancelled", "the customer's tier has no check-in cadence")
    with db.transaction() as session:  # the tier is back: the same check-in is planned again
        session.execute(update(Customer).where(Customer.name == "Acme").values(tier="strategic"))
        assert domain.ensure_checkins(session, T0 + 2 * DAY, tiers_only).planned == 1
        [row] = session.scalars(select(CheckIn)).all()
        assert (row.status, row.due_at, row.skip_reason) == ("scheduled", T0 + 30 * DAY, None)


def test_an_advocate_who_cannot_be_dmed_is_reported_to_another_advocate(at_t0: Bot) -> None:
    bot = at_t0
    acme = due_now(bot)
    bot.standin.fail("chat.postMessage", error="user_not_found")  # the next post: the prompt
    run_tick(bot)
    [failed] = [i for i in outbox(bot.db) if i.kind == "checkin.prompt"]
    assert (failed.status, failed.last_error) == ("failed", "user_not_found")
    [warning] = [m for m in bot.standin.messages(str(bot.standin.dm_channel("U02ADV")))]
    assert "could not DM <@U01ADV> about the check-in with *Acme* (user_not_found)" in warning.text
    assert one_open(bot, acme).status == "prompted"  # still on U01ADV's Home until someone answers it
