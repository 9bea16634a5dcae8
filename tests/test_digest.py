"""The weekly digest's figures for an ISO week in the team's timezone, with the week before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import TeamConfig
from bot.domain.customers import get_or_create_customer, update_customer
from bot.domain.digest import digest, digest_text
from bot.domain.weeks import Week
from storage.db import Database
from storage.models import Case, CaseDepartment, CheckIn, Feedback
from tests.cli_helpers import bot_env, cli, write_config

W47 = Week.parse("2026-W47")  # Monday 16 Nov 00:00 to Monday 23 Nov 00:00, Stockholm (UTC+1)
MON = datetime(2026, 11, 15, 23, 0, tzinfo=UTC)


def add_case(session: Any, number: int, customer: str, *, at: datetime, severity: str = "p2",
             resolved: datetime | None = None, impact: str | None = None, department: str = "billing",
             answered: datetime | None = None) -> Case:
    person = get_or_create_customer(session, customer, now=at)
    case = Case(number=number, customer_id=person.id, summary="s", severity=severity,
                status="resolved" if resolved else "new", owner_id="U01ADV", reporter_id="U30REQ",
                impact=Decimal(impact) if impact else None, created_at=at, updated_at=at, resolved_at=resolved)
    session.add(case)
    session.flush()
    session.add(CaseDepartment(case_id=case.id, department=department, heads=["U10BILL"], asked_at=at,
                               answered_by="U10BILL" if answered else None, answered_at=answered))
    return case


def history(db: Database) -> None:
    with db.transaction() as session:
        # the week before (W46): one case opened
        add_case(session, 1, "Acme", at=MON - timedelta(days=3))
        # W47: two opened (one at its very first instant), one resolved after 10 h, one at the last instant
        add_case(session, 2, "Globex", at=MON, resolved=MON + timedelta(hours=10), impact="500",
                 answered=MON + timedelta(hours=2))
        add_case(session, 3, "Initech", at=MON + timedelta(days=6, hours=23, minutes=59), severity="p1",
                 impact="12000")
        # W48: not in the week
        add_case(session, 4, "Umbrella", at=MON + timedelta(weeks=1))
        acme = get_or_create_customer(session, "Acme", now=MON)
        for i, score in enumerate((10, 9, 7, 3)):
            session.add(Feedback(key=f"f{i}", customer_id=acme.id, at=MON + timedelta(days=1), source="survey",
                                 nps=score, csat=5 if score > 8 else 2, created_at=MON))
        session.add(CheckIn(key="c1", customer_id=acme.id, kind="cadence", due_at=MON + timedelta(days=2),
                            prompt_at=MON, status="done", done_at=MON + timedelta(days=2), prompts=1, created_at=MON))
        session.add(CheckIn(key="c2", customer_id=acme.id, kind="cadence", due_at=MON + timedelta(days=3),
                            prompt_at=MON, status="prompted", prompts=1, created_at=MON))


def test_the_weeks_figures_with_the_week_before(db: Database, config: TeamConfig) -> None:
    history(db)
    with db.transaction() as session:
        data = digest(session, W47, config)
    assert (data["week"], data["start"], data["end"]) == ("2026-W47", "2026-11-15T23:00:00Z", "2026-11-22T23:00:00Z")
    assert (data["cases_opened"], data["cases_resolved"], data["open_at_end"]) == (2, 1, 2)
    assert data["time_to_resolution_hours"] == {"p50": 10.0, "p90": 10.0, "n": 1}
    assert data["first_response_hours"] == {"billing": {"p50": 2.0, "p90": 2.0, "n": 1}}
    assert data["nps"] == {"score": 25, "promoters": 2, "passives": 1, "detractors": 1, "n": 4}
    assert data["csat"] == {"score": 50, "satisfied": 2, "n": 4}
    assert data["checkins"] == {"done": 1, "due": 2}
    assert data["revenue_at_risk"] == "12000.00"
    assert [c["number"] for c in data["top_cases"]] == [3]
    assert data["attention"]["detractors"] == [{"customer_id": 1, "customer": "Acme", "nps": 3}]
    previous = data["previous"]
    assert (previous["week"], previous["cases_opened"], previous["open_at_end"], previous["nps"]["score"]) == (
        "2026-W46", 1, 1, None)
    text = digest_text(data)
    assert "Cases opened 2 (+1 on the week before), resolved 1 (+1 on the week before)" in text
    assert "NPS 25 (n 4" in text


def test_the_cli_prints_the_json(tmp_path: Path, team: dict[str, Any], database_url: str, db: Database) -> None:
    history(db)
    env = bot_env(ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)), DATABASE_URL=database_url)
    result = cli("digest", "--week", "2026-W47", "--format", "json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cases_opened"] == 2 and data["previous"]["week"] == "2026-W46"
    bad = cli("digest", "--week", "2026-47", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "2026-W47" in bad.stderr


# ---------------------------------------------------------------- posted weekly, with its chart

import pytest  # noqa: E402

from bot.digest_chart import chart_data  # noqa: E402
from tests.conftest import Bot, wait_until  # noqa: E402
from tests.helpers import outbox  # noqa: E402
from tests.test_reminders import open_case, run_tick  # noqa: E402

RUN = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 in Stockholm


@pytest.fixture
def weekly(team: dict[str, Any]) -> dict[str, Any]:
    team["digest"] = {"day": "monday", "time": "09:00"}
    team["leaders"] = ["U40OTHER"]
    return team


def digests(bot: Bot) -> list[Any]:
    """The digest posts (the leadership channel also gets overdue-update lines), by their outbox key."""
    return [m for m in bot.standin.messages("C0LEAD") if m.bot_id and not m.thread_ts
            and str(((m.metadata or {}).get("event_payload") or {}).get("key", "")).startswith("digest:")]


def eight_weeks(db: Database) -> None:
    """Cases, customer updates and answers in W41 to W46 that make each week's chart figures differ: shaped
    as the domain writes them (``tests.test_digest_weeks``' helpers); all resolved before W47, so the tick
    has nothing to remind about. Times are days from Monday 16 November, W47's first day, in Stockholm."""
    from tests.test_digest_weeks import answer, case, customer, resolve, t, updated

    with db.transaction() as session:
        hooli, vandelay = customer(session, "Hooli"), customer(session, "Vandelay")
        # W41: 2 opened; an update made on time; NPS +100 (n 1)
        one, two = case(session, 101, hooli, t(-42, 10)), case(session, 102, vandelay, t(-41, 10))
        updated(session, one, t(-41, 12), t(-41, 11))
        answer(session, hooli, t(-40, 9), nps=10)
        # W43: both resolved; one update on time, one late (50%); NPS 0 (a promoter, a detractor)
        resolve(session, one, t(-27, 9))
        resolve(session, two, t(-26, 9))
        updated(session, two, t(-28, 12), t(-28, 11))
        updated(session, two, t(-27, 12), t(-27, 14))
        answer(session, hooli, t(-27, 9), nps=9)
        answer(session, vandelay, t(-26, 9), nps=0)
        # W44: opened and resolved in the week; NPS -100
        resolve(session, case(session, 103, hooli, t(-21, 9)), t(-20, 9))
        answer(session, hooli, t(-20, 10), nps=3)
        # W45: 3 opened, 1 resolved; the one update due was made late (0%); NPS -33 (2 detractors, a promoter)
        four, five, six = (case(session, n, vandelay, t(day, 9)) for n, day in ((104, -14), (105, -13), (106, -12)))
        updated(session, four, t(-13, 12), t(-12, 12))
        resolve(session, four, t(-11, 9))
        for day, score in ((-11, 6), (-10, 6), (-9, 10)):
            answer(session, vandelay, t(day, 9), nps=score)
        # W46: the other 2 resolved
        resolve(session, five, t(-5, 9))
        resolve(session, six, t(-5, 10))


def test_the_digest_is_posted_once_with_its_chart_in_the_thread(weekly: dict[str, Any], bot: Bot) -> None:
    eight_weeks(bot.db)
    bot.clock.now = RUN - timedelta(days=3)
    open_case(bot, "Acme: refund stuck p1 $12k")
    run_tick(bot, days=2, hours=23, minutes=59)  # Sunday 23:59: the week is not over
    assert len(digests(bot)) <= 1 and all("2026-W46" in str(m.blocks) for m in digests(bot))
    before = len(digests(bot))
    run_tick(bot, minutes=1)
    run_tick(bot, minutes=30)
    new = digests(bot)[before:]
    assert len(new) == 1
    [post] = new
    assert "2026-W47" in post.text and "1 cases opened" in post.text and "Posted late" not in str(post.blocks)
    [chart] = [f for f in bot.standin.files().values() if f["name"] == "advocacy-digest-2026-W47.png"]
    assert chart["channels"] == ["C0LEAD"]
    thread = bot.standin.messages("C0LEAD", thread_ts=post.ts)
    assert any(m.files and m.files[0]["id"] == chart["id"] for m in thread)
    drawn = chart_data(chart["content"])
    weeks = [W47.shift(n) for n in range(-7, 1)]
    assert [d["week"] for d in drawn] == [str(w) for w in weeks]  # W40 to W47, oldest first
    # Each drawn week against that week's JSON, as `advocacy-bot digest --week W --format json` computes it.
    with bot.db.transaction() as session:
        json_weeks = [digest(session, w, bot.svc.config, now=bot.clock()) for w in weeks]
    assert drawn == [{"week": d["week"], "opened": d["cases_opened"], "resolved": d["cases_resolved"],
                      "nps": d["nps"]["score"], "compliance": d["update_compliance"]["ratio"]} for d in json_weeks]
    # The history differs week to week (else a chart drawing one week's figures 8 times would pass), and
    # each of the four series has more than one value.
    assert len({tuple(d.values()) for d in drawn}) >= 6
    assert all(len({d[k] for d in drawn}) >= 3 for k in ("opened", "resolved", "nps", "compliance"))


def test_a_chart_upload_whose_answer_was_lost_is_found_in_the_thread_not_uploaded_again(
        weekly: dict[str, Any], bot: Bot) -> None:
    name = "advocacy-digest-2026-W47.png"
    bot.clock.now = RUN - timedelta(minutes=1)
    run_tick(bot)  # the week before's digest, missed "while down", goes out now: not the one under test
    # Slack shares the file in the thread but answers files.completeUploadExternal after our 2 s timeout.
    bot.standin.fail("files.completeUploadExternal", delay=3)
    run_tick(bot, minutes=1)
    [post] = [m for m in digests(bot) if "2026-W47" in m.text]

    def shared() -> list[dict[str, Any]]:
        return [f for f in bot.standin.files().values() if f["name"] == name and f["channels"]]

    wait_until(shared, message="Slack to finish the upload after all")
    [chart] = [i for i in outbox(bot.db) if i.key == "digest:2026-W47:chart"]
    assert (chart.status, chart.attempts) == ("pending", 1)  # the lost answer left the row to retry

    run_tick(bot, minutes=1)  # past the retry's backoff
    in_thread = [f for m in bot.standin.messages("C0LEAD", thread_ts=post.ts) for f in m.files or []]
    assert [f["name"] for f in in_thread] == [name]  # the chart once in the thread
    assert [f["id"] for f in shared()] == [in_thread[0]["id"]]
    assert len([c for c in bot.standin.calls_to("files.getUploadURLExternal")
                if c.params.get("filename") == name]) == 1  # no second upload even started
    [chart] = [i for i in outbox(bot.db) if i.key == "digest:2026-W47:chart"]
    assert (chart.status, chart.attempts, chart.result) == ("done", 2, {"file": name, "reconciled": True})


def test_a_digest_missed_while_down_is_posted_late(weekly: dict[str, Any], bot: Bot) -> None:
    bot.clock.now = RUN + timedelta(days=2)
    run_tick(bot)
    run_tick(bot)
    [post] = [m for m in digests(bot) if "2026-W47" in m.text]
    assert "Posted late" in str(post.blocks)


def test_advocacy_digest_shows_the_week_so_far_to_advocates_and_leaders_only(weekly: dict[str, Any],
                                                                             bot: Bot) -> None:
    bot.clock.now = RUN + timedelta(days=1)
    refused = bot.driver.command("U30REQ", "/advocacy", "digest")
    assert "only advocates and the leaders" in refused.text
    for user in ("U01ADV", "U40OTHER"):
        assert "Adding it up" in bot.driver.command(user, "/advocacy", "digest").text
    def ours() -> list[Any]:
        return [r for r in bot.standin.responses if r.blocks and "(so far)" in str(r.blocks)]

    answers = wait_until(lambda: ours() if len(ours()) >= 2 else None, message="both answers")
    assert all("2026-W48 (so far)" in str(r.blocks) for r in answers)


def test_the_cli_posts_a_week_once(tmp_path: Path, team: dict[str, Any], database_url: str, db: Database,
                                   standin: Any) -> None:
    history(db)
    env = bot_env(ADVOCACY_CONFIG=str(write_config(tmp_path / "advocacy.yaml", team)), DATABASE_URL=database_url,
                  SLACK_BOT_TOKEN=standin.bot_token, SLACK_API_URL=standin.api_url)
    first = cli("digest", "--week", "2026-W47", "--post", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Cases opened 2" in first.stdout and "posted the digest of 2026-W47" in first.stderr
    posts = [m for m in standin.messages("C0LEAD") if m.bot_id and not m.thread_ts]
    assert len(posts) == 1 and "2026-W47" in posts[0].text
    assert any(f["name"] == "advocacy-digest-2026-W47.png" for f in standin.files().values())
    again = cli("digest", "--week", "2026-W47", "--post", env=env, cwd=tmp_path)
    assert again.returncode == 1 and "before" in again.stderr
    assert len([m for m in standin.messages("C0LEAD") if m.bot_id and not m.thread_ts]) == 1


def week_before_and_attention(db: Database) -> None:
    """On top of ``history``: a week before (W46) with a resolution, a first response, answers and a churn
    to compare with, and in W47 what needs leadership's attention (a P1 open for days, with a channel,
    escalated to leadership; a customer turned at-risk)."""
    from tests.test_digest_weeks import answer, customer, resolve, step
    from tests.test_digest_weeks import case as case_with_channel

    with db.transaction() as session:
        hooli, vandelay = customer(session, "Hooli"), customer(session, "Vandelay")
        update_customer(session, hooli, {"status": "churned"}, by="U01ADV", now=MON - timedelta(days=4))  # W46
        update_customer(session, vandelay, {"status": "at-risk"}, by="U01ADV", now=MON + timedelta(days=3))  # W47
        # #5, P3, opened in W45; billing answered after 96 h and it was resolved after 120 h, both in W46
        five = case_with_channel(session, 5, hooli, MON - timedelta(days=10), severity="p3",
                                 departments={"billing": MON - timedelta(days=6)})
        resolve(session, five, MON - timedelta(days=5))
        answer(session, hooli, MON - timedelta(days=5), nps=10, csat=5)  # W46: NPS 100, CSAT 100% (n 1)
        # #6, a P1 open since W45 in its channel, its customer update escalated to leadership in W47
        six = case_with_channel(session, 6, customer(session, "Initrode"), MON - timedelta(days=9),
                                severity="p1", impact="30000", departments={"logistics": None})
        step(session, six, MON + timedelta(days=1), "leadership", MON + timedelta(days=2), "fired")


def test_the_blocks_show_each_figure_with_its_change_and_the_breakdowns(db: Database, config: TeamConfig) -> None:
    from bot.blocks.digest import digest_blocks

    history(db)
    week_before_and_attention(db)
    with db.transaction() as session:
        data = digest(session, W47, config, now=MON + timedelta(weeks=1, hours=9))
    blocks = digest_blocks(data)
    fields = {f["text"].split("\n")[0].strip("*"): f["text"].split("\n")[1]
              for block in blocks if "fields" in block for f in block["fields"]}
    assert len(fields) <= 10 and all(len(v) < 2000 for v in fields.values())  # Slack's limits for fields
    assert fields["Cases opened"] == "2 :arrow_up_small: +1"  # Globex, Initech; W46: Acme
    assert fields["Cases resolved"] == "1 (=)"  # Globex; W46: #5
    assert fields["Open at the end"] == "3 :arrow_up_small: +1"  # #1, #3, #6; W46: #1, #6
    # Globex after 10 h; W46: #5 after 120 h
    assert fields["Time to resolution"] == ("p50 10.0 h :arrow_down_small: -110.0 h · "
                                            "p90 10.0 h :arrow_down_small: -110.0 h (n 1)")
    # #6's update was due and escalated, never made; W46 had none due: no change. Nothing is overdue now
    # (no case has a next update due), and "overdue now" has no week-before figure to compare with.
    assert fields["Updates on time"] == "0% (0/1) · overdue now 0"
    # Acme's 10, 9, 7, 3 (W46: Hooli's 10); CSAT 2 of 4 satisfied (W46: 1 of 1)
    assert fields["NPS"] == "25 :arrow_down_small: -75 (n 4 :arrow_up_small: +3)"
    assert fields["CSAT"] == "50% :arrow_down_small: -50 (n 4 :arrow_up_small: +3)"
    assert fields["Check-ins"] == "1 done :arrow_up_small: +1 of 2 due :arrow_up_small: +2"
    # 3 customers at each start (W46: Hooli, Vandelay, Initrode; W47: Acme, Vandelay, Initrode); Hooli churned
    # in W46, Vandelay turned at-risk in W47 (still a customer)
    assert fields["Retention"] == ("100% :arrow_up_small: +33% of 3 (=) · 0 churned :arrow_down_small: -1 · "
                                   "1 turned at-risk :arrow_up_small: +1")
    assert fields["Recurrence"] == "0% (=) (0/1) · prevention overdue 0 (=)"
    texts = [block["text"]["text"] for block in blocks if block["type"] == "section" and "text" in block]
    assert all(len(t) <= 3000 for t in texts) and len(blocks) <= 50  # Slack's limits
    text = "\n".join(texts)
    assert "*Revenue at risk* $42,000 in open cases :arrow_up_small: +$12,000 · credits issued $0 (=)" in text
    breakdown = text.split("\n")
    assert "*p1* (severity): opened 1 :arrow_up_small: +1 · resolved 0 (=) · open 2 :arrow_up_small: +1" in breakdown
    assert "*p2* (severity): opened 1 (=) · resolved 1 :arrow_up_small: +1 · open 1 (=)" in breakdown
    # billing's first response: Globex's after 2 h; W46: #5's after 96 h
    assert ("*billing* (department): opened 2 :arrow_up_small: +1 · resolved 1 (=) · open 2 :arrow_up_small: +1 · "
            "first response p50 2.0 h :arrow_down_small: -94.0 h (n 1)") in breakdown
    top = text.split("*Top cases by impact*\n")[1].split("\n")[:2]
    assert top == ["• #6 <#C0CASE6> Initrode (P1) $30,000", "• #3  Initech (P1) $12,000"]  # #3 has no channel
    attention = text.split(":rotating_light: *Needs leadership attention*\n")[1].split("\n")
    assert attention == ["• P1 open too long: #6 <#C0CASE6> Initrode (P1)",  # #3 is open a minute only
                         "• Customer update escalated to leadership: #6 <#C0CASE6> Initrode (P1)",
                         "• Detractor: Acme (NPS 3)",
                         "• Vandelay turned at-risk"]
