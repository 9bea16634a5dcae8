"""The browser sandbox without a browser: its JSON API over HTTP, the clock, the workspace file, the CLI.

Each test starts the real thing (``Workspace``: the bot, the Slack stand-in, the page's server) on a free
port with its own SQLite file; people act through ``POST /sandbox/api/…`` as the page does.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.cli import build_parser
from bot.sandbox import page, snapshot, viewer
from bot.sandbox.demo import ADA, BILL, GRACE, LEO, RITA, SAM
from bot.sandbox.standin import SlackStandIn
from bot.sandbox.timetravel import TravelClock, next_monday_morning
from bot.sandbox.workspace import SandboxUnavailable, Workspace, serve
from storage.models import Case, Customer
from tests.cli_helpers import bot_env

GENERAL, LEADERSHIP = "C0GENERAL", "C0LEAD"
ESCALATION = "/escalate Acme Corp: invoice charged twice after the upgrade p1 $12k"


class Api:
    """The page's side of the sandbox: GET state, POST actions (JSON), as app.js sends them."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, path: str, data: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None,
                timeout: float = 30) -> tuple[int, Any]:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(self.url + path, data=body, method="GET" if data is None else "POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def state(self, user: str = "", channel: str = "", after: int | None = None) -> dict[str, Any]:
        query = f"sandbox/api/state?user={user}&channel={channel}" + ("" if after is None else f"&after={after}")
        status, data = self.request(query)
        assert status == 200, data
        return data

    def act(self, action: str, user: str, **data: Any) -> dict[str, Any]:
        status, answer = self.request(f"sandbox/api/{action}", {"user": user, **data})
        assert status == 200, answer
        return answer

    def jump(self, kind: str) -> dict[str, Any]:
        status, answer = self.request("sandbox/api/clock", {"jump": kind})
        assert status == 200 and answer["ok"], answer
        return answer


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


def channel_named(state: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((c for c in state["channels"] if c["name"] == name), None)


def case_channel(api: Api, user: str = ADA, name: str = "case-1-acme-corp") -> str:
    return wait_for(lambda: channel_named(api.state(user), name), f"#{name} for {user}")["id"]


def messages(api: Api, user: str, channel: str) -> list[dict[str, Any]]:
    return api.state(user, channel)["channel"]["messages"]


def summary_of(api: Api, channel: str, user: str = ADA) -> dict[str, Any]:
    """The case's pinned summary, once the set-up (after the ack) has posted and pinned it."""
    return wait_for(lambda: next((m for m in messages(api, user, channel) if m["pinned"]), None), "the summary")


def reminder_in(api: Api, channel: str) -> dict[str, Any] | None:
    return next((m for m in messages(api, ADA, channel) if m["bot"] and "overdue" in m["text"]), None)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Workspace]]:
    """Start a sandbox on a free port (several in turn for the restart tests); all are stopped at the end."""
    running: list[Workspace] = []

    def begin(db: Path | None = None, **options: Any) -> Workspace:
        options.setdefault("tick_seconds", None)  # ticks only when a test jumps the clock: no surprises
        ws = Workspace(db or tmp_path / "sandbox.db", port=0, **options).start()
        running.append(ws)
        return ws

    yield begin
    for ws in running:
        ws.stop()


@pytest.fixture
def api(start: Callable[..., Workspace]) -> Api:
    return Api(start().url)


def escalate(api: Api) -> str:
    assert api.act("message", RITA, channel=GENERAL, text=ESCALATION) == {"ok": True}
    return case_channel(api, RITA)


# ---------------------------------------------------------------- the page and first start


def test_the_page_and_its_files_are_served_by_the_package(api: Api) -> None:
    with urllib.request.urlopen(api.url, timeout=10) as answer:
        html = answer.read().decode()
        assert answer.headers["Content-Type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in html
    for name, kind in (("app.js", "text/javascript"), ("blocks.js", "text/javascript"),
                       ("mrkdwn.js", "text/javascript"), ("dom.js", "text/javascript"), ("sandbox.css", "text/css")):
        with urllib.request.urlopen(f"{api.url}static/{name}", timeout=10) as answer:
            assert answer.headers["Content-Type"].startswith(kind) and answer.read()
    for bad in ("static/../workspace.py", "static/workspace.py", "static/nothing.js"):
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(api.url + bad, timeout=10)
        assert failed.value.code == 404
    with urllib.request.urlopen(f"{api.url}healthz", timeout=10) as answer:  # the bot, on the same port
        assert json.loads(answer.read()) == {"ok": True}


def test_the_first_start_seeds_the_sample_team_channels_and_customers(start: Callable[..., Workspace]) -> None:
    ws = start()
    api = Api(ws.url)
    state = api.state()  # no user yet: the page is given the first person
    people = {p["id"]: p for p in state["people"]}
    assert set(people) == {ADA, GRACE, BILL, SAM, RITA, LEO} and state["me"] == ADA
    assert people[ADA]["roles"] == ["advocate", "head of advocacy"] and people[BILL]["roles"] == ["head of billing"]
    assert people[LEO]["roles"] == ["leader"]
    assert [c["name"] for c in api.state(RITA)["channels"]] == ["general"]  # #leadership is private
    assert {c["name"] for c in api.state(LEO)["channels"]} == {"general", "leadership"}
    general = api.state(RITA, GENERAL)["channel"]
    assert general["member"] and "Initech just called me" in general["messages"][0]["text"]
    with ws.db.transaction() as session:
        customers = {c.name: c for c in session.scalars(select(Customer))}
        assert customers["Acme Corp"].tier == "strategic" and customers["Acme Corp"].advocate_id == ADA
        assert customers["Initech"].status == "at-risk"
        imported = customers["Globex"].created_at
    assert abs(ws.clock() - imported - timedelta(days=27)) < timedelta(minutes=1)
    assert ws.state_file.exists()


# ---------------------------------------------------------------- people acting


def test_an_escalation_through_the_api_opens_the_case_channel(api: Api) -> None:
    channel = escalate(api)
    acks = [e["text"] for e in api.state(RITA, GENERAL)["channel"]["ephemerals"]]
    assert acks[0] == ":hourglass_flowing_sand: Escalating for *Acme Corp*…"  # the command's ack, only to Rita
    wait_for(lambda: any(f"<#{channel}>" in e["text"] for e in api.state(RITA, GENERAL)["channel"]["ephemerals"]),
             "the link to the case channel")
    assert api.state(BILL, GENERAL)["channel"]["ephemerals"] == []  # nobody else sees them
    room = wait_for(lambda: (c := api.state(BILL, channel)["channel"])["pins"] and c["topic"] and c,
                    "the pinned summary and the topic")
    assert room["private"] and set(room["members"]) == {ADA, RITA, BILL}
    assert room["topic"].startswith("Case #1 · Acme Corp")
    [summary] = [m for m in room["messages"] if m["pinned"]]
    assert summary["bot"] and summary["blocks"][0]["type"] == "header" and "metadata" not in summary
    assert channel_named(api.state(LEO), "case-1-acme-corp") is None  # private: Leo is not in it
    assert api.state(LEO, channel)["channel"] is None


def test_a_heads_thread_reply_is_stored_and_counts_as_the_departments_answer(api: Api) -> None:
    channel = escalate(api)
    summary = summary_of(api, channel, BILL)
    answer = api.act("message", BILL, channel=channel, text="Refund issued, 3-5 days & sorry <b>",
                     thread_ts=summary["ts"])
    assert answer["ok"]
    reply = next(m for m in messages(api, BILL, channel) if m["ts"] == answer["ts"])
    assert reply["thread_ts"] == summary["ts"] and reply["user"] == BILL
    assert reply["text"] == "Refund issued, 3-5 days &amp; sorry &lt;b&gt;"  # stored as Slack sends it: escaped
    wait_for(lambda: "answered by <@U10BILL>" in json.dumps(next(m for m in messages(api, ADA, channel)
                                                                 if m["ts"] == summary["ts"])["blocks"]),
             "the summary to say billing answered")


def test_the_clock_jumps_run_the_tick_and_a_reaction_answers_the_reminder(start: Callable[..., Workspace]) -> None:
    ws = start()
    api = Api(ws.url)
    channel = escalate(api)
    summary_of(api, channel)
    before = ws.clock()
    first = api.jump("hour")
    assert datetime.fromisoformat(first["now"]) - before >= timedelta(hours=1)
    assert reminder_in(api, channel) is None  # p1: the update is due two hours after opening
    second = api.jump("hour")
    assert second["jobs"]["reminders"] == 1 and second["outbox"]["done"] >= 1 and second["errors"] == {}
    reminder = wait_for(lambda: reminder_in(api, channel), "the overdue reminder")
    assert "<@U01ADA>" in reminder["text"] and any(b["type"] == "actions" for b in reminder["blocks"])
    assert datetime.fromisoformat(api.state(ADA)["now"]) >= before + timedelta(hours=2)

    assert api.act("react", ADA, channel=channel, ts=reminder["ts"], name="white_check_mark") == {"ok": True}
    wait_for(lambda: "updated the customer" in json.dumps(next(m for m in messages(api, ADA, channel)
                                                               if m["ts"] == reminder["ts"])["blocks"]),
             "the reminder to say the customer was updated")
    again = api.act("react", ADA, channel=channel, ts=reminder["ts"], name="white_check_mark")
    assert again == {"ok": False, "error": "You already reacted :white_check_mark:."}


def test_next_monday_brings_the_digest_and_its_chart_to_leadership(start: Callable[..., Workspace]) -> None:
    ws = start()
    api = Api(ws.url)
    monday = next_monday_morning(ws.clock(), ZoneInfo("Europe/Stockholm"))
    answer = api.jump("monday")
    assert datetime.fromisoformat(answer["now"]) == monday and answer["jobs"]["digest"] == 1
    week = (monday - timedelta(days=7)).astimezone(ZoneInfo("Europe/Stockholm")).strftime("%G-W%V")
    found = wait_for(lambda: [m for m in messages(api, LEO, LEADERSHIP) if m["files"]], "the chart")
    chart = found[-1]["files"][0]
    assert chart["name"] == f"advocacy-digest-{week}.png" and chart["mimetype"] == "image/png"
    assert any(m["bot"] and m["ts"] == found[-1]["thread_ts"] for m in messages(api, LEO, LEADERSHIP))
    with urllib.request.urlopen(api.url + chart["url"].lstrip("/"), timeout=10) as image:
        assert image.headers["Content-Type"].startswith("image/png") and image.read().startswith(b"\x89PNG")


def test_a_click_on_an_ephemeral_choice_replaces_it_in_place(api: Api) -> None:
    channel = escalate(api)
    summary_of(api, channel)
    api.act("message", LEO, channel=GENERAL, text="/escalate acme corp: their CFO says a third charge appeared")
    choice = wait_for(lambda: next((e for e in api.state(LEO, GENERAL)["channel"]["ephemerals"] if e["blocks"]), None),
                      "the add-or-open choice")
    button = next(e for b in choice["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == "escalation_add_to_case")
    assert api.act("action", LEO, channel=GENERAL, ts=choice["ts"], action_id=button["action_id"],
                   block_id=choice["blocks"][-1]["block_id"], value=button["value"]) == {"ok": True}
    replaced = wait_for(lambda: next((e for e in api.state(LEO, GENERAL)["channel"]["ephemerals"]
                                      if e["ts"] == choice["ts"] and "Adding your report" in e["text"]), None),
                        "the answer in place of the choice")
    assert replaced["blocks"] is None  # the buttons are gone: the choice was replaced in place by the answer
    wait_for(lambda: LEO in (api.state(ADA, channel)["channel"]["members"]), "Leo to be invited")


def test_a_modal_opens_searches_and_answers_errors_by_block(api: Api) -> None:
    api.act("message", GRACE, channel=GENERAL, text="/escalate")
    modal = wait_for(lambda: api.state(GRACE)["modal"], "the escalation form")
    assert modal["title"]["text"] == "Escalate" and api.state(RITA)["modal"] is None
    zone = next(b for b in modal["blocks"] if b.get("element", {}).get("type") == "external_select")
    found = api.act("suggest", GRACE, view_id=modal["id"], action_id=zone["element"]["action_id"],
                    block_id=zone["block_id"], value="stockh")
    assert [o["value"] for o in found["options"]] == ["Europe/Stockholm"]
    refused = api.act("submit", GRACE, view_id=modal["id"], values={"customer": None, "summary": None})
    assert refused["ok"] is False and set(refused["errors"]) >= {"customer"}
    assert api.act("submit", RITA, view_id=modal["id"], values={})["error"] == "That form is not open for you any more."
    values = {"customer": "Globex", "summary": "Pallets delivered to the wrong warehouse", "severity": "p2",
              "departments": ["logistics"], "timezone": found["options"][0]}
    assert api.act("submit", GRACE, view_id=modal["id"], values=values) == {"ok": True}
    assert api.state(GRACE)["modal"] is None
    case_channel(api, SAM, "case-1-globex")


def test_resolving_and_closing_a_case_archives_its_channel(api: Api, start: Callable[..., Workspace]) -> None:
    channel = escalate(api)
    summary_of(api, channel)
    # Not within the second the case opened: reminder keys have whole seconds, and resolving restarts the
    # cadence, whose reminders would then clash with the first ones' (a bot issue, reported apart).
    api.jump("hour")
    api.act("message", ADA, channel=channel, text="/case resolve")
    modal = wait_for(lambda: api.state(ADA)["modal"], "the resolve form")
    due = (datetime.fromisoformat(api.state(ADA)["now"]) + timedelta(days=7)).date().isoformat()
    values = {"resolution": "Refund re-issued", "category": "process-gap", "root_cause": "The job ran twice",
              "final_update": "Your refund is on its way", "prevention1_what": "Run the job once",
              "prevention1_owner": BILL, "prevention1_due": due}
    assert api.act("submit", ADA, view_id=modal["id"], values=values) == {"ok": True}
    wait_for(lambda: any("resolved case #1" in m["text"] for m in messages(api, ADA, channel)), "the notice")
    api.act("message", ADA, channel=channel, text="/case close")
    wait_for(lambda: channel_named(api.state(ADA), "case-1-acme-corp")["archived"], "the channel to be archived")
    refused = api.act("message", ADA, channel=channel, text="one more thing")
    assert refused == {"ok": False, "error": "#case-1-acme-corp is archived: nobody can post or run commands there."}
    assert channel_named(api.state(BILL), "case-1-acme-corp")["archived"]  # still listed, greyed, for its members


def test_check_in_prompts_arrive_by_dm_as_the_days_pass(api: Api) -> None:
    for kind in ("day", "day", "day", "monday"):  # due in 3 days; sent in the advocate's business hours
        api.jump(kind)
    dm = wait_for(lambda: next((c for c in api.state(ADA)["channels"] if c["im"]), None), "Ada's DM from the bot")
    prompt = wait_for(lambda: next((m for m in messages(api, ADA, dm["id"]) if "Time to check in" in m["text"]), None),
                      "a check-in prompt")
    assert "*Acme Corp*" in prompt["text"] and any(b["type"] == "actions" for b in prompt["blocks"])
    assert not any(c["im"] for c in api.state(RITA)["channels"])  # not an advocate: no DM


def test_a_message_shortcut_opens_the_form_with_the_message(api: Api) -> None:
    source = api.state(LEO, GENERAL)["channel"]["messages"][0]
    assert api.act("shortcut", LEO, callback_id="escalate_message", channel=GENERAL, ts=source["ts"]) == {"ok": True}
    modal = wait_for(lambda: api.state(LEO)["modal"], "the escalation form")
    summary = next(b for b in modal["blocks"] if b["block_id"] == "summary")
    assert summary["element"]["initial_value"].startswith("Initech just called me")
    assert api.act("shortcut", LEO, callback_id="nope", channel=GENERAL, ts=source["ts"])["ok"] is False


def test_a_public_channel_is_joined_before_posting(start: Callable[..., Workspace]) -> None:
    ws = start()
    api = Api(ws.url)
    random = ws.standin.add_channel("random", members=[ADA])
    assert channel_named(api.state(RITA), "random") == {"id": random, "name": "random", "im": False, "private": False,
                                                       "archived": False, "member": False, "latest": None}
    assert api.act("message", RITA, channel=random, text="hi")["error"] == "Join #random first."
    assert api.act("join", RITA, channel=random) == {"ok": True}
    assert api.act("message", RITA, channel=random, text="hi")["ok"]
    texts = [m["text"] for m in messages(api, ADA, random)]
    assert texts == ["<@U30RITA> has joined the channel", "hi"]  # Slack's join notice, then her message


def test_home_opened_publishes_the_persons_home(api: Api) -> None:
    escalate(api)
    assert api.act("home", ADA) == {"ok": True}
    home = wait_for(lambda: api.state(ADA)["home"], "Ada's Home")
    assert "Acme Corp" in json.dumps(home["blocks"])
    assert api.state(RITA)["home"] is None  # published per person


def test_what_a_person_cannot_do_is_refused_with_a_reason(api: Api) -> None:
    channel = escalate(api)
    summary = summary_of(api, channel)
    refusals = {
        "not in the channel": api.act("message", LEO, channel=channel, text="hello"),
        "command in a thread": api.act("message", ADA, channel=channel, text="/case status investigating",
                                       thread_ts=summary["ts"]),
        "unknown command": api.act("message", ADA, channel=GENERAL, text="/giphy cats"),
        "nobody": api.act("message", "U999", channel=GENERAL, text="hi"),
        "empty": api.act("message", ADA, channel=GENERAL, text="  "),
    }
    assert all(answer["ok"] is False and answer["error"] for answer in refusals.values()), refusals
    assert "Slash commands cannot be used in threads" in refusals["command in a thread"]["error"]
    assert api.request("sandbox/api/message", {"user": ADA}, headers={"Content-Type": "text/plain"})[0] == 415
    assert api.request("sandbox/api/message", {"user": ADA}, headers={"Host": "evil.example:80"})[0] == 403
    assert api.request("sandbox/api/no-such-thing", {"user": ADA})[0] == 404
    assert api.request("sandbox/api/clock", {"jump": "year"})[1]["ok"] is False


def test_mentions_typed_by_name_reach_the_bot_as_slack_sends_them(api: Api) -> None:
    channel = escalate(api)
    summary_of(api, channel)
    api.act("message", ADA, channel=channel, text="/case owner @grace")
    wait_for(lambda: GRACE in api.state(ADA, channel)["channel"]["members"], "Grace to be invited as the new owner")
    said = api.act("message", ADA, channel=channel, text="@bill see #general, mail ada@example.com")
    text = next(m for m in messages(api, ADA, channel) if m["ts"] == said["ts"])["text"]
    assert text == "<@U10BILL> see <#C0GENERAL|general>, mail ada@example.com"


# ---------------------------------------------------------------- updates without reloading


def test_a_long_poll_answers_when_the_workspace_changes(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    version = api.state(ADA, GENERAL)["version"]
    got: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        got["state"] = api.state(ADA, GENERAL, after=version)
        got["seconds"] = time.monotonic() - started

    waiting = threading.Thread(target=poll)
    waiting.start()
    time.sleep(0.5)
    assert waiting.is_alive()  # nothing changed yet: it waits
    said = api.act("message", RITA, channel=GENERAL, text="anyone around?")
    waiting.join(timeout=5)
    assert not waiting.is_alive() and got["seconds"] < 5
    assert got["state"]["version"] > version and any(m["ts"] == said["ts"] for m in got["state"]["channel"]["messages"])

    monkeypatch.setattr(page, "LONG_POLL_SECONDS", 0.3)  # nothing changes: the answer comes at the timeout
    quiet = api.state(ADA, GENERAL, after=got["state"]["version"])
    assert quiet["version"] == got["state"]["version"]


def test_a_pages_new_poll_ends_its_previous_one(api: Api) -> None:
    version = api.state(ADA, GENERAL)["version"]
    done = threading.Event()

    def poll() -> None:
        api.request(f"sandbox/api/state?user={ADA}&channel={GENERAL}&after={version}&client=tab1")
        done.set()

    threading.Thread(target=poll, daemon=True).start()
    time.sleep(0.3)
    assert not done.is_set()
    threading.Thread(target=lambda: api.request(f"sandbox/api/state?user={BILL}&after={version}&client=tab1",
                                                timeout=30), daemon=True).start()
    assert done.wait(3), "the superseded poll still holds its server thread"


# ---------------------------------------------------------------- a restart resumes the workspace


def test_a_restart_with_the_same_database_resumes_the_workspace(start: Callable[..., Workspace],
                                                                tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    first = start(db)
    api = Api(first.url)
    channel = escalate(api)
    summary = summary_of(api, channel, BILL)
    api.act("message", BILL, channel=channel, text="On it", thread_ts=summary["ts"])
    api.jump("day")
    first.stop()  # lets the bot finish what it started, then writes the workspace file
    seen = viewer.state(first, ADA, channel)  # what it wrote
    assert any(m["text"] == "On it" for m in seen["channel"]["messages"])
    saved = snapshot.read(first.state_file)
    assert saved is not None
    stopped_at = saved[0]

    second = start(db)
    api = Api(second.url)
    resumed = api.state(ADA, channel)
    assert [c["name"] for c in resumed["channels"]] == [c["name"] for c in seen["channels"]]
    for part in ("messages", "pins", "topic", "members", "ephemerals", "bookmarks"):
        assert resumed["channel"][part] == seen["channel"][part], part
    assert timedelta(0) <= second.clock() - stopped_at < timedelta(seconds=30)  # the clock stood where it was
    with second.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 5  # seeded once only
        assert session.scalar(select(Case.channel_id)) == channel

    # The bot still works in the resumed workspace: a new case gets a channel of its own, no id reused.
    api.act("message", SAM, channel=GENERAL, text="/escalate Wayne Enterprises: pallets damaged in the shipment")
    new = case_channel(api, SAM, "case-2-wayne-enterprises")
    assert new != channel
    reply = api.act("message", BILL, channel=channel, text="Refund went out", thread_ts=summary["ts"])
    latest = max(float(m["ts"]) for m in seen["channel"]["messages"])
    assert reply["ok"] and float(reply["ts"]) > latest  # Slack's ts keep growing across the restart


def test_every_field_of_the_stand_in_is_persisted_or_declared_transient() -> None:
    fields = set(vars(SlackStandIn()))
    assert fields == snapshot.PERSISTED | snapshot.TRANSIENT, (
        f"decide whether these survive a sandbox restart (bot/sandbox/snapshot.py): "
        f"{sorted(fields ^ (snapshot.PERSISTED | snapshot.TRANSIENT))}")


def test_a_workspace_file_it_cannot_read_is_refused_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db.workspace.json"
    for content in (json.dumps({"format": 99}), "{not json", ""):
        path.write_text(content, encoding="utf-8")
        with pytest.raises(SandboxUnavailable, match="is not a workspace file this version can read"):
            serve(db_path=tmp_path / "sandbox.db", config_path=None, port=0)
        assert path.read_text(encoding="utf-8") == content


def test_a_database_with_cases_but_no_workspace_file_is_refused(start: Callable[..., Workspace],
                                                                tmp_path: Path) -> None:
    ws = start()
    escalate(Api(ws.url))
    ws.stop()
    ws.state_file.unlink()
    with pytest.raises(ValueError, match=r"holds 1 case\(s\) but sandbox.db.workspace.json is missing"):
        start()


def test_the_travel_clock_flows_jumps_and_never_goes_back() -> None:
    real = [1000.0]
    start = datetime(2026, 11, 20, 15, 0, tzinfo=ZoneInfo("UTC"))  # a Friday
    clock = TravelClock(start, real=lambda: real[0])
    real[0] += 90
    assert clock() == start + timedelta(seconds=90)
    stockholm = ZoneInfo("Europe/Stockholm")
    assert clock.jump("day", stockholm) == start + timedelta(days=1, seconds=90)
    monday = clock.jump("monday", stockholm)
    assert monday.astimezone(stockholm).isoformat() == "2026-11-23T09:00:00+01:00"
    real[0] += 10
    assert clock() == monday + timedelta(seconds=10)
    with pytest.raises(ValueError):
        clock.jump_to(monday)
    assert next_monday_morning(monday, stockholm).astimezone(stockholm).day == 30  # strictly after


# ---------------------------------------------------------------- the command


def test_the_sandbox_command_line() -> None:
    parser = build_parser()
    plain = parser.parse_args(["sandbox"])
    assert (plain.script, plain.port, plain.db, plain.config) == (None, None, None, None)
    full = parser.parse_args(["sandbox", "--port", "3100", "--db", "x.db", "--config", "team.yaml"])
    assert (full.port, full.db, full.config) == (3100, "x.db", "team.yaml")
    assert parser.parse_args(["sandbox", "--script", "demo"]).script == "demo"
    with pytest.raises(SystemExit):
        parser.parse_args(["sandbox", "--script", "nope"])


def _started(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    problem = "" if line else (process.stderr.read() if process.stderr else "")
    assert "advocacy-bot sandbox: open http://127.0.0.1:" in line, line + problem
    return line.split("open ", 1)[1].split(" ", 1)[0]


def test_advocacy_bot_sandbox_serves_until_interrupted_and_keeps_the_workspace_in_the_cwd(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bot.cli", "sandbox", "--port", "0"]
    process = subprocess.Popen(command, cwd=tmp_path, env=bot_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        url = _started(process)
        api = Api(url)
        assert api.act("message", RITA, channel=GENERAL, text="hello from the command line")["ok"]
        status, ready = api.request("readyz")
        assert status == 200 and ready["scheduler"] is True  # the tick runs every 30 s, as in `run`
    finally:
        process.send_signal(signal.SIGINT)
        # Stopping waits for a tick in progress (the first one renders last week's digest chart), which takes
        # far longer than usual on a loaded CI machine: the bound is for a hang, not a speed.
        try:
            out, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)  # the CLI dumps every thread's stack: say where it hangs
            time.sleep(2)
            process.kill()
            out, err = process.communicate()
            raise AssertionError(f"the sandbox did not stop on Ctrl-C\nstdout:\n{out}\nstderr:\n{err}") from None
    assert process.returncode == 0, err
    assert "start it again with the same --db to resume" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["advocacy-sandbox.db", "advocacy-sandbox.db.workspace.json"]
    kept = json.loads((tmp_path / "advocacy-sandbox.db.workspace.json").read_text(encoding="utf-8"))
    assert any(m["text"] == "hello from the command line" for m in kept["standin"]["messages"][GENERAL])


def test_a_port_that_cannot_be_served_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot.cli", "sandbox", "--port", "70000"], cwd=tmp_path,
                            env=bot_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "advocacy-bot: --port 70000 is not a port number (0-65535; 0 picks a free one)"]


def test_a_port_in_use_is_reported_and_leaves_nothing_running(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = threading.active_count()
        with pytest.raises(SandboxUnavailable, match=f"cannot serve on 127.0.0.1:{port} .*pass --port"):
            serve(db_path=tmp_path / "sandbox.db", config_path=None, port=port)
    wait_for(lambda: threading.active_count() <= before, "the stand-in's threads to end", timeout=5)
