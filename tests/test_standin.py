"""The local Slack stand-in and driver, exercised through the real slack_sdk / slack_bolt clients."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.driver import SlackDriver, escape
from bot.sandbox.standin import SlackError, SlackStandIn

SIGNING_SECRET = "sandbox-signing-secret"
START = 1_732_350_000.0


class FakeClock:
    """The stand-in's injected clock: frozen unless a test moves it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def standin(clock: FakeClock) -> Iterator[SlackStandIn]:
    slack = SlackStandIn(clock=clock).start()
    slack.add_user("U1", "alice", real_name="Alice Andersson", email="alice@example.com")
    slack.add_user("U2", "bob")
    slack.add_user("U3", "carol")
    slack.add_user("U9", "gone", deleted=True)
    yield slack
    slack.stop()


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    return WebClient(token=standin.bot_token, base_url=standin.api_url, retry_handlers=[], timeout=5)


def error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


def code(call: Any) -> str:
    return str(error_of(call).response["error"])


def raw(standin: SlackStandIn, path: str, data: bytes | None = None, headers: dict[str, str] | None = None,
        ) -> tuple[int, dict[str, str], str]:
    """A plain urllib request, to control the encoding exactly."""
    request = urllib.request.Request(standin.url + path, data=data, headers=headers or {},
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, dict(answer.headers.items()), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read().decode()


# ============================================================== auth and encodings
def test_auth_test_identifies_the_bot(client: WebClient) -> None:
    answer = client.auth_test()
    assert answer["user_id"] == "U0BOT" and answer["bot_id"] == "B0BOT" and answer["team_id"] == "T0SANDBOX"
    headers = {name.lower(): value for name, value in answer.headers.items()}
    assert headers["content-type"] == "application/json; charset=utf-8"


def test_bad_or_missing_token(standin: SlackStandIn) -> None:
    bad = WebClient(token="xoxb-wrong", base_url=standin.api_url, retry_handlers=[])
    assert error_of(bad.auth_test).response["error"] == "invalid_auth"
    anonymous = WebClient(base_url=standin.api_url, retry_handlers=[])
    assert error_of(anonymous.auth_test).response["error"] == "not_authed"
    assert [c.error for c in standin.calls] == ["invalid_auth", "not_authed"]


def test_unknown_method(client: WebClient) -> None:
    failure = error_of(lambda: client.api_call("cases.open"))
    assert failure.response.status_code == 404
    assert failure.response["error"] == "unknown_method"


def test_form_json_and_query_encodings(standin: SlackStandIn) -> None:
    channel = standin.add_channel("general", members=["U0BOT", "U1"])
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    form = urlencode({"token": standin.bot_token, "channel": channel, "blocks": json.dumps(blocks)}).encode()
    status, headers, body = raw(standin, "api/chat.postMessage", form,
                                {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and json.loads(body)["ok"]
    assert headers["Content-Type"] == "application/json; charset=utf-8"

    bearer = {"Authorization": f"Bearer {standin.bot_token}", "Content-Type": "application/json"}
    payload = json.dumps({"channel": channel, "blocks": blocks}).encode()
    _, _, body = raw(standin, "api/chat.postMessage", payload, bearer)
    assert json.loads(body)["ok"]

    query = urlencode({"token": standin.bot_token, "channel": channel})
    _, _, body = raw(standin, f"api/conversations.history?{query}")
    assert [m["blocks"][0]["text"]["text"] for m in json.loads(body)["messages"]] == ["hi", "hi"]

    # A token inside a JSON body does not count: Slack wants it in the Authorization header.
    _, _, body = raw(standin, "api/auth.test", json.dumps({"token": standin.bot_token}).encode(),
                     {"Content-Type": "application/json"})
    assert json.loads(body)["error"] == "not_authed"
    assert [type(c.params["blocks"]) for c in standin.calls_to("chat.postMessage")] == [list, list]


# ============================================================== channels
@pytest.mark.parametrize(("name", "error"), [
    ("", "invalid_name_required"),
    ("x" * 81, "invalid_name_maxlength"),
    ("Case-1", "invalid_name_specials"),
    ("case 1", "invalid_name_specials"),
    ("case.1", "invalid_name_specials"),
    ("--", "invalid_name_punctuation"),
])
def test_channel_name_rules(client: WebClient, name: str, error: str) -> None:
    assert error_of(lambda: client.conversations_create(name=name)).response["error"] == error


def test_create_channel_and_name_taken_even_when_archived(client: WebClient, standin: SlackStandIn) -> None:
    created = client.conversations_create(name="case-0042_acme", is_private=True)["channel"]
    assert created["id"].startswith("C") and created["is_private"] and created["is_member"]
    assert created["creator"] == "U0BOT" and created["topic"] == {"value": "", "creator": "", "last_set": 0}
    assert standin.channel(created["id"]).members == ["U0BOT"]
    assert code(lambda: client.conversations_create(name="case-0042_acme")) == "name_taken"
    client.conversations_archive(channel=created["id"])
    assert code(lambda: client.conversations_create(name="case-0042_acme")) == "name_taken"
    standin.add_channel("old-case", is_archived=True)
    assert code(lambda: client.conversations_create(name="old-case")) == "name_taken"


def test_invite_without_force_is_all_or_nothing(client: WebClient, standin: SlackStandIn) -> None:
    channel = client.conversations_create(name="case-1")["channel"]["id"]
    failure = error_of(lambda: client.conversations_invite(channel=channel, users=["U1", "UNOBODY"]))
    assert failure.response["error"] == "user_not_found"
    assert failure.response["errors"] == [{"user": "UNOBODY", "ok": False, "error": "user_not_found"}]
    assert standin.channel(channel).members == ["U0BOT"]

    assert client.conversations_invite(channel=channel, users="U1,U2")["channel"]["id"] == channel
    failure = error_of(lambda: client.conversations_invite(channel=channel, users="U1"))
    assert failure.response["error"] == "already_in_channel"
    assert code(lambda: client.conversations_invite(channel=channel, users="U0BOT")) == "cant_invite_self"


def test_invite_with_force_adds_the_valid_users(client: WebClient, standin: SlackStandIn) -> None:
    channel = client.conversations_create(name="case-2")["channel"]["id"]
    users = "U1,UNOBODY,U2"
    failure = error_of(lambda: client.conversations_invite(channel=channel, users=users, force=True))
    assert failure.response["errors"] == [{"user": "UNOBODY", "ok": False, "error": "user_not_found"}]
    assert standin.channel(channel).members == ["U0BOT", "U1", "U2"]


def test_invite_needs_membership(client: WebClient, standin: SlackStandIn) -> None:
    public = standin.add_channel("lobby", members=["U1"])
    secret = standin.add_channel("secret", is_private=True, members=["U1"])
    assert code(lambda: client.conversations_invite(channel=public, users="U2")) == "not_in_channel"
    assert code(lambda: client.conversations_invite(channel=secret, users="U2")) == "channel_not_found"


def test_topic_purpose_info_and_list(client: WebClient, standin: SlackStandIn) -> None:
    channel = client.conversations_create(name="case-3")["channel"]["id"]
    standin.add_channel("hidden", is_private=True, members=["U1"])
    standin.add_channel("lobby", members=["U1"])
    client.conversations_setTopic(channel=channel, topic="ACME refund")
    client.conversations_setPurpose(channel=channel, purpose="Escalation")
    assert code(lambda: client.conversations_setTopic(channel=channel, topic="x" * 251)) == "too_long"
    info = client.conversations_info(channel=channel, include_num_members=True)["channel"]
    assert info["topic"]["value"] == "ACME refund" and info["purpose"]["value"] == "Escalation"
    assert info["num_members"] == 1 and info["is_member"]

    first = client.conversations_list(types="public_channel,private_channel", limit=1)
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_list(types="public_channel,private_channel", limit=1, cursor=cursor)
    names = [c["name"] for c in first["channels"] + second["channels"]]
    assert names == ["case-3", "lobby"] and second["response_metadata"]["next_cursor"] == ""


# ============================================================== messages
def test_posting_needs_membership_and_content(client: WebClient, standin: SlackStandIn) -> None:
    lobby = standin.add_channel("lobby", members=["U1"])
    archived = standin.add_channel("archived", members=["U0BOT"], is_archived=True)
    assert code(lambda: client.chat_postMessage(channel=lobby, text="x")) == "not_in_channel"
    assert code(lambda: client.chat_postMessage(channel=archived, text="x")) == "is_archived"
    assert code(lambda: client.chat_postMessage(channel="C404", text="x")) == "channel_not_found"
    client.conversations_join(channel=lobby)
    assert code(lambda: client.api_call("chat.postMessage", json={"channel": lobby})) == "no_text"
    assert client.chat_postMessage(channel="#lobby", text="by name")["channel"] == lobby


def test_dm_by_user_id(client: WebClient, standin: SlackStandIn) -> None:
    first = client.chat_postMessage(channel="U1", text="Hello Alice")
    second = client.chat_postMessage(channel="U1", text="Again")
    dm = standin.dm_channel("U1")
    assert dm is not None and dm.startswith("D") and first["channel"] == second["channel"] == dm
    assert [m.text for m in standin.messages(dm)] == ["Hello Alice", "Again"]
    assert standin.channel(dm).is_im


def test_metadata_round_trip_and_ts_order(client: WebClient, standin: SlackStandIn) -> None:
    channel = client.conversations_create(name="case-4")["channel"]["id"]
    metadata = {"event_type": "case_created", "event_payload": {"case_id": 42}}
    posted = [client.chat_postMessage(channel=channel, text=f"m{i}", metadata=metadata) for i in range(3)]
    stamps = [p["ts"] for p in posted]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3  # frozen clock, still strictly increasing
    assert posted[0]["message"]["bot_id"] == "B0BOT" and posted[0]["message"]["user"] == "U0BOT"

    plain = client.conversations_history(channel=channel)["messages"]
    assert [m["text"] for m in plain] == ["m2", "m1", "m0"] and "metadata" not in plain[0]
    full = client.conversations_history(channel=channel, include_all_metadata=True, limit=2)
    assert full["messages"][0]["metadata"] == metadata and full["has_more"]
    older = client.conversations_history(channel=channel, latest=stamps[1])["messages"]
    assert [m["text"] for m in older] == ["m0"]

    client.chat_postMessage(channel=channel, text="reply", thread_ts=stamps[0])
    replies = client.conversations_replies(channel=channel, ts=stamps[0])["messages"]
    assert [m["text"] for m in replies] == ["m0", "reply"] and replies[0]["reply_count"] == 1
    assert len(client.conversations_history(channel=channel)["messages"]) == 3  # replies stay out


def test_update_ephemeral_permalink(client: WebClient, standin: SlackStandIn) -> None:
    channel = standin.add_channel("lobby", members=["U0BOT", "U1"])
    human = standin.add_message(channel, "U1", "from a human")
    ts = client.chat_postMessage(channel=channel, text="draft")["ts"]
    client.chat_update(channel=channel, ts=ts, text="final")
    assert standin.messages(channel)[-1].text == "final" and standin.messages(channel)[-1].edited
    assert code(lambda: client.chat_update(channel=channel, ts=human, text="x")) == "cant_update_message"
    assert code(lambda: client.chat_update(channel=channel, ts="1.000000", text="x")) == "message_not_found"
    client.chat_postEphemeral(channel=channel, user="U1", text="only you")
    stranger = code(lambda: client.chat_postEphemeral(channel=channel, user="U2", text="x"))
    assert stranger == "user_not_in_channel"
    assert standin.ephemerals[0]["user"] == "U1"
    link = client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
    assert link == f"https://sandbox.slack.com/archives/{channel}/p{ts.replace('.', '')}"


def test_pins_reactions_bookmarks(client: WebClient, standin: SlackStandIn) -> None:
    channel = client.conversations_create(name="case-5")["channel"]["id"]
    ts = client.chat_postMessage(channel=channel, text="summary")["ts"]
    client.pins_add(channel=channel, timestamp=ts)
    assert code(lambda: client.pins_add(channel=channel, timestamp=ts)) == "already_pinned"
    assert code(lambda: client.pins_add(channel=channel, timestamp="1.000001")) == "message_not_found"
    assert standin.pins(channel) == [ts]
    assert client.pins_list(channel=channel)["items"][0]["message"]["ts"] == ts

    client.reactions_add(channel=channel, timestamp=ts, name="eyes")
    assert code(lambda: client.reactions_add(channel=channel, timestamp=ts, name="eyes")) == "already_reacted"
    assert client.reactions_get(channel=channel, timestamp=ts)["message"]["reactions"][0]["count"] == 1

    added = client.bookmarks_add(channel_id=channel, title="CRM", type="link", link="https://crm.example/42")
    assert added["bookmark"]["id"].startswith("Bk") and added["bookmark"]["link"] == "https://crm.example/42"
    assert [b["title"] for b in client.bookmarks_list(channel_id=channel)["bookmarks"]] == ["CRM"]
    assert standin.bookmarks(channel)[0]["title"] == "CRM"


def test_users_and_usergroups(client: WebClient, standin: SlackStandIn) -> None:
    user = client.users_info(user="U1")["user"]
    assert user["real_name"] == "Alice Andersson" and user["profile"]["email"] == "alice@example.com"
    assert user["tz"] == "Europe/Stockholm" and user["tz_offset"] == 3600  # November: CET
    assert code(lambda: client.users_info(user="UNOBODY")) == "user_not_found"
    assert {m["id"] for m in client.users_list()["members"]} == {"U0BOT", "U1", "U2", "U3", "U9"}
    standin.add_usergroup("S1", "billing-heads", ["U2", "U3"])
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U2", "U3"]
    assert code(lambda: client.usergroups_users_list(usergroup="S404")) == "no_such_subteam"


# ============================================================== views
def modal(title: str = "Escalate", **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "callback_id": "escalation_form", "title": {"type": "plain_text", "text": title},
            "submit": {"type": "plain_text", "text": "Create"}, "private_metadata": "case-42",
            "blocks": [
                {"type": "input", "block_id": "summary", "label": {"type": "plain_text", "text": "Summary"},
                 "element": {"type": "plain_text_input", "action_id": "summary_input"}},
                {"type": "input", "block_id": "department", "label": {"type": "plain_text", "text": "Dept"},
                 "element": {"type": "static_select", "action_id": "department_select", "options": [
                     {"text": {"type": "plain_text", "text": "Billing"}, "value": "billing"},
                     {"text": {"type": "plain_text", "text": "Shipping"}, "value": "shipping"}]}},
                {"type": "input", "block_id": "heads", "optional": True,
                 "label": {"type": "plain_text", "text": "Heads"},
                 "element": {"type": "multi_users_select", "action_id": "heads_select"}},
                {"type": "input", "block_id": "customer", "optional": True,
                 "label": {"type": "plain_text", "text": "Customer"},
                 "element": {"type": "external_select", "action_id": "customer_lookup"}},
                {"type": "input", "block_id": "due", "optional": True,
                 "label": {"type": "plain_text", "text": "Due"},
                 "element": {"type": "datepicker", "action_id": "due_date"}},
                {"type": "actions", "block_id": "tools", "elements": [
                    {"type": "button", "action_id": "approve", "value": "yes",
                     "text": {"type": "plain_text", "text": "Approve"}}]},
            ], **extra}


def test_views_open_trigger_rules(client: WebClient, standin: SlackStandIn, clock: FakeClock) -> None:
    trigger = standin.new_trigger_id("U1")
    view = client.views_open(trigger_id=trigger, view=modal())["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "escalation_form" and view["hash"]
    assert view["state"] == {"values": {}} and view["root_view_id"] == view["id"] and view["app_id"]
    assert standin.views[view["id"]]["user"] == "U1" and standin.open_views("U1") == [view["id"]]
    assert code(lambda: client.views_open(trigger_id=trigger, view=modal())) == "exchanged_trigger_id"
    assert code(lambda: client.views_open(trigger_id="1.2.3", view=modal())) == "invalid_trigger_id"
    late = standin.new_trigger_id("U1")
    clock.advance(3.5)
    assert code(lambda: client.views_open(trigger_id=late, view=modal())) == "expired_trigger_id"
    fresh = standin.new_trigger_id("U1")
    too_long = modal(title="A title that is far too long")
    invalid = error_of(lambda: client.views_open(trigger_id=fresh, view=too_long))
    assert invalid.response["error"] == "invalid_arguments"
    assert "json-pointer:/view/title/text" in invalid.response["response_metadata"]["messages"][0]
    assert client.views_open(trigger_id=fresh, view=modal())["ok"]  # a refused call leaves the trigger unused


def test_views_push_stacks_up_to_three(client: WebClient, standin: SlackStandIn) -> None:
    root = client.views_open(trigger_id=standin.new_trigger_id("U1"), view=modal())["view"]["id"]
    from_root = standin.new_trigger_id("U1", view_id=root)
    pushed = client.views_push(trigger_id=from_root, view=modal("Step 2"))["view"]
    assert pushed["root_view_id"] == root and pushed["previous_view_id"] == root
    client.views_push(trigger_id=standin.new_trigger_id("U1", view_id=pushed["id"]), view=modal("Step 3"))
    fourth = standin.new_trigger_id("U1", view_id=root)
    assert code(lambda: client.views_push(trigger_id=fourth, view=modal("Step 4"))) == "push_limit_reached"
    assert len(standin.open_views("U1")) == 3


def test_views_update_hash_conflict_and_publish(client: WebClient, standin: SlackStandIn) -> None:
    view = client.views_open(trigger_id=standin.new_trigger_id("U1"), view=modal())["view"]
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=modal(title="Step 2"))["view"]
    assert updated["hash"] != view["hash"] and updated["title"]["text"] == "Step 2"
    stale = error_of(lambda: client.views_update(view_id=view["id"], hash=view["hash"], view=modal()))
    assert stale.response["error"] == "hash_conflict"
    assert code(lambda: client.views_update(view_id="V404", view=modal())) == "not_found"

    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Cases"}}]}
    published = client.views_publish(user_id="U1", view=home)["view"]
    again = client.views_publish(user_id="U1", view=home)["view"]
    assert published["id"] == again["id"] and standin.home_views["U1"]["type"] == "home"


# ============================================================== faults
def test_error_fault_is_consumed_and_has_no_effect(client: WebClient, standin: SlackStandIn) -> None:
    standin.fail("conversations.create", error="fatal_error")
    assert code(lambda: client.conversations_create(name="case-6")) == "fatal_error"
    assert standin.channel_by_name("case-6") is None
    assert client.conversations_create(name="case-6")["ok"]
    assert [c.ok for c in standin.calls_to("conversations.create")] == [False, True]


def test_rate_limit_and_server_errors(client: WebClient, standin: SlackStandIn) -> None:
    standin.fail("chat.postMessage", status=429, retry_after=7)
    standin.fail("chat.postMessage", status=500)
    standin.fail("chat.postMessage", status=503, error="service_unavailable")
    limited = error_of(lambda: client.chat_postMessage(channel="U1", text="x"))
    assert limited.response.status_code == 429 and limited.response.headers["retry-after"] == "7"
    assert limited.response["error"] == "ratelimited"
    broken = error_of(lambda: client.chat_postMessage(channel="U1", text="x"))
    assert broken.response.status_code == 500
    assert error_of(lambda: client.chat_postMessage(channel="U1", text="x")).response.status_code == 503
    assert client.chat_postMessage(channel="U1", text="x")["ok"]
    assert [c.status for c in standin.calls_to("chat.postMessage")] == [429, 500, 503, 200]
    assert len(standin.messages(standin.dm_channel("U1") or "")) == 1


def test_persistent_fault_and_delay(standin: SlackStandIn, client: WebClient) -> None:
    standin.fail("users.info", error="internal_error", times=None)
    for _ in range(3):
        assert code(lambda: client.users_info(user="U1")) == "internal_error"
    standin.clear_faults()
    standin.fail("auth.test", delay=0.2)
    started = time.monotonic()
    assert client.auth_test()["ok"]  # slow, but performed
    assert time.monotonic() - started >= 0.2

    standin.fail("chat.postMessage", delay=0.4)
    impatient = WebClient(token=standin.bot_token, base_url=standin.api_url, retry_handlers=[], timeout=0.1)
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel="U1", text="did it land?")
    # Like real Slack: the client gave up, but the message was posted all the same.
    deadline = time.monotonic() + 3
    while standin.dm_channel("U1") is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [m.text for m in standin.messages(standin.dm_channel("U1") or "")] == ["did it land?"]


def test_http_control_endpoints(standin: SlackStandIn, client: WebClient) -> None:
    spec = {"method": "conversations.create", "status": 429, "retry_after": 3}
    status, _, _ = raw(standin, "_standin/fault", json.dumps(spec).encode())
    assert status == 200
    assert error_of(lambda: client.conversations_create(name="case-7")).response.status_code == 429
    everything = {"method": "*", "error": "team_not_found", "times": None}
    raw(standin, "_standin/fault", json.dumps(everything).encode())
    raw(standin, "_standin/clear_faults", b"")
    assert client.conversations_create(name="case-7")["ok"]
    status, _, body = raw(standin, "_standin/state")
    state = json.loads(body)
    assert status == 200 and [c["name"] for c in state["channels"]] == ["case-7"]
    assert [c["status"] for c in state["calls"]] == [429, 200]


def test_response_url_limits(standin: SlackStandIn, clock: FakeClock) -> None:
    url = standin.new_response_url()
    body = json.dumps({"text": "Working on it", "response_type": "ephemeral"}).encode()
    path = url.removeprefix(standin.url)
    for _ in range(5):
        assert raw(standin, path, body, {"Content-Type": "application/json"})[::2] == (200, "ok")
    assert raw(standin, path, body, {"Content-Type": "application/json"})[::2] == (404, "used_url")
    assert standin.responses[0].text == "Working on it" and len(standin.responses) == 5
    later = standin.new_response_url().removeprefix(standin.url)
    clock.advance(30 * 60 + 1)
    assert raw(standin, later, body, {"Content-Type": "application/json"})[::2] == (404, "expired_url")


# ============================================================== driver against a real Bolt app
@dataclass
class BoltApp:
    url: str
    received: list[tuple[str, Any]] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.received]

    def last(self, kind: str) -> Any:
        return next(value for k, value in reversed(self.received) if k == kind)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def bolt(standin: SlackStandIn) -> Iterator[BoltApp]:
    client = WebClient(token=standin.bot_token, base_url=standin.api_url, retry_handlers=[])
    app = App(client=client, signing_secret=SIGNING_SECRET, token_verification_enabled=False,
              process_before_response=True)
    server = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=_QuietHandler)
    seen = BoltApp(f"http://127.0.0.1:{server.server_port}/slack/events")

    @app.command("/escalate")
    def on_command(ack: Any, command: dict[str, Any], respond: Any, client: WebClient) -> None:
        ack()
        seen.received.append(("command", command))
        respond("Opening the form")
        client.views_open(trigger_id=command["trigger_id"], view=modal())

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], request: Any) -> None:
        seen.received.append(("event", (event, request.headers.get("x-slack-retry-num"))))

    @app.event("message")
    def on_message(body: dict[str, Any]) -> None:
        seen.received.append(("message", body))

    @app.event("pin_added")
    def on_pin(body: dict[str, Any]) -> None:
        seen.received.append(("pin", body))

    @app.shortcut("make_case")
    def on_shortcut(ack: Any, shortcut: dict[str, Any]) -> None:
        ack()
        seen.received.append(("shortcut", shortcut))

    @app.action("approve")
    def on_approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        seen.received.append(("action", body))
        if body["container"]["type"] == "message":
            respond(text="Approved", replace_original=True)

    @app.options("customer_lookup")
    def on_options(ack: Any, payload: dict[str, Any]) -> None:
        seen.received.append(("options", payload))
        ack(options=[{"text": {"type": "plain_text", "text": "ACME AB"}, "value": "acme"}])

    @app.view("escalation_form")
    def on_submit(ack: Any, view: dict[str, Any]) -> None:
        seen.received.append(("view", view))
        if not view["state"]["values"]["summary"]["summary_input"]["value"]:
            ack(response_action="errors", errors={"summary": "Please describe the problem"})
        else:
            ack()

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def driver(bolt: BoltApp, standin: SlackStandIn) -> SlackDriver:
    return SlackDriver(bolt.url, signing_secret=SIGNING_SECRET, standin=standin)


def test_signatures_are_checked_by_bolt(driver: SlackDriver, bolt: BoltApp) -> None:
    assert driver.command("U1", "/escalate", signature="v0=" + "0" * 64).status == 401
    assert driver.command("U1", "/escalate", timestamp=int(time.time()) - 600).status == 401
    assert bolt.received == []


def test_command_opens_a_modal_with_its_trigger(driver: SlackDriver, bolt: BoltApp,
                                                 standin: SlackStandIn) -> None:
    answer = driver.command("U1", "/escalate", "ACME & <Co> <@U2|bob>")
    assert answer.status == 200
    command = bolt.last("command")
    assert command["text"] == "ACME &amp; &lt;Co&gt; <@U2|bob>" and command["user_name"] == "alice"
    assert command["team_id"] == "T0SANDBOX" and command["api_app_id"] == "A0ADVOCACY"
    assert standin.responses[0].text == "Opening the form"
    assert standin.open_views("U1") and standin.calls_to("views.open")[0].ok


def test_event_envelope(driver: SlackDriver, bolt: BoltApp, standin: SlackStandIn) -> None:
    channel = standin.add_channel("lobby", members=["U0BOT", "U1"])
    ts = standin.add_message(channel, "U1", "<@U0BOT> help")
    event = {"type": "app_mention", "user": "U1", "text": "<@U0BOT> help", "ts": ts, "channel": channel}
    assert driver.event(event).status == 200
    assert driver.event(event, event_id="Ev0SAME", retry_num=1).status == 200
    (first, first_retry), (again, retry) = [v for k, v in bolt.received if k == "event"]
    assert first["event_ts"] == ts and first_retry is None
    assert again["ts"] == ts and retry == ["1"]


def test_message_shortcut_and_message_button(driver: SlackDriver, bolt: BoltApp, standin: SlackStandIn,
                                             client: WebClient) -> None:
    channel = standin.add_channel("lobby", members=["U0BOT", "U1"])
    human = standin.add_message(channel, "U1", "Customer is angry")
    assert driver.message_shortcut("U1", "make_case", channel_id=channel, message_ts=human).status == 200
    shortcut = bolt.last("shortcut")
    assert shortcut["message"]["text"] == "Customer is angry" and shortcut["channel"]["name"] == "lobby"

    button = {"type": "actions", "block_id": "decide", "elements": [
        {"type": "button", "action_id": "approve", "value": "case-42",
         "text": {"type": "plain_text", "text": "OK"}}]}
    ts = client.chat_postMessage(channel=channel, text="Approve?", blocks=[button])["ts"]
    assert driver.block_action("U2", "approve", channel_id=channel, message_ts=ts).status == 200
    body = bolt.last("action")
    assert body["actions"][0] | {"action_ts": None} == {
        "action_id": "approve", "block_id": "decide", "type": "button", "value": "case-42",
        "text": {"type": "plain_text", "text": "OK"}, "action_ts": None}
    assert body["container"]["message_ts"] == ts and body["message"]["blocks"][0]["block_id"] == "decide"
    assert standin.messages(channel)[-1].text == "Approved"  # respond(replace_original=True) reached Slack


def test_view_submission_built_from_the_stored_view(driver: SlackDriver, bolt: BoltApp,
                                                    standin: SlackStandIn) -> None:
    driver.command("U1", "/escalate")
    view_id = standin.open_views("U1")[0]

    action = driver.block_action("U1", "approve", view_id=view_id)
    assert action.status == 200
    body = bolt.last("action")
    assert body["container"] == {"type": "view", "view_id": view_id} and "response_url" not in body
    assert body["view"]["state"]["values"]["summary"]["summary_input"] == {"type": "plain_text_input",
                                                                           "value": None}

    suggestion = driver.block_suggestion("U1", "customer_lookup", "ac", view_id=view_id)
    assert suggestion.json()["options"][0]["value"] == "acme"
    assert bolt.last("options")["block_id"] == "customer"

    rejected = driver.view_submission("U1", view_id, {"department": "billing"})
    assert rejected.json()["response_action"] == "errors" and standin.open_views("U1") == [view_id]

    accepted = driver.view_submission("U1", view_id, {"summary": "Refund stuck", "department": "billing",
                                                      "heads": ["U2", "U3"], "customer": "acme"})
    assert accepted.status == 200 and standin.open_views("U1") == []
    view = bolt.last("view")
    values = view["state"]["values"]
    assert view["private_metadata"] == "case-42" and view["id"] == view_id
    assert values["summary"]["summary_input"] == {"type": "plain_text_input", "value": "Refund stuck"}
    assert values["department"]["department_select"]["selected_option"] == {
        "text": {"type": "plain_text", "text": "Billing"}, "value": "billing"}
    assert values["heads"]["heads_select"] == {"type": "multi_users_select", "selected_users": ["U2", "U3"]}
    assert values["customer"]["customer_lookup"]["selected_option"]["value"] == "acme"
    assert values["due"]["due_date"] == {"type": "datepicker", "selected_date": None}
    with pytest.raises(ValueError, match="no blocks"):
        driver.view_submission("U1", view_id, {"typo": "x"})


def test_escape_spares_mentions_and_links() -> None:
    assert escape("a<b & <@U1|al> <https://x.y|x> <#C1>") == "a&lt;b &amp; <@U1|al> <https://x.y|x> <#C1>"


# ============================================================== people's actions, as Slack delivers them
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def event_of(bolt: BoltApp, kind: str = "message") -> dict[str, Any]:
    """The last event Bolt received of that kind (the whole envelope was signed and checked)."""
    body = bolt.last(kind)
    assert body["type"] == "event_callback" and body["team_id"] == "T0SANDBOX"
    return dict(body["event"])


def test_say_posts_and_sends_the_message_event(driver: SlackDriver, bolt: BoltApp, standin: SlackStandIn,
                                               client: WebClient) -> None:
    lobby = standin.add_channel("lobby", members=["U0BOT", "U1", "U2"])
    ts, answer = driver.say("U1", lobby, "Refund stuck & <@U2> see https://crm.example/42.")
    assert answer.status == 200
    event = event_of(bolt)
    wire = "Refund stuck &amp; <@U2> see <https://crm.example/42>."
    assert UUID.fullmatch(event.pop("client_msg_id"))
    block = event.pop("blocks")[0]
    assert event == {"type": "message", "text": wire, "user": "U1", "ts": ts, "team": "T0SANDBOX",
                     "channel": lobby, "event_ts": ts, "channel_type": "channel"}
    assert block["type"] == "rich_text" and block["block_id"]
    assert block["elements"] == [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "Refund stuck & "}, {"type": "user", "user_id": "U2"},
        {"type": "text", "text": " see "}, {"type": "link", "url": "https://crm.example/42"},
        {"type": "text", "text": "."}]}]
    stored = client.conversations_history(channel=lobby)["messages"][0]
    assert stored["text"] == wire and stored["user"] == "U1" and stored["blocks"] == [block]
    assert "bot_id" not in stored and "subtype" not in stored

    reply, _ = driver.say("U2", lobby, "On it", thread_ts=ts)
    event = event_of(bolt)
    assert event["thread_ts"] == ts and event["parent_user_id"] == "U1" and event["ts"] == reply
    deeper, _ = driver.say("U1", lobby, "Thanks", thread_ts=reply)  # a reply to a reply: same thread
    assert event_of(bolt)["thread_ts"] == ts and event_of(bolt)["parent_user_id"] == "U1"
    assert [m.ts for m in standin.thread(lobby, ts)] == [ts, reply, deeper]

    secret = standin.add_channel("secret", is_private=True, members=["U0BOT", "U1"])
    driver.say("U1", secret, "psst", event_id="Ev0PSST")
    assert event_of(bolt)["channel_type"] == "group" and bolt.last("message")["event_id"] == "Ev0PSST"


def test_edit_sends_message_changed_with_edited(driver: SlackDriver, bolt: BoltApp, standin: SlackStandIn,
                                                client: WebClient) -> None:
    lobby = standin.add_channel("lobby", members=["U0BOT", "U1", "U2"])
    ts, _ = driver.say("U1", lobby, "Refund is 10 EUR")
    original = event_of(bolt)
    assert driver.edit("U1", lobby, ts, "Refund is 100 EUR").status == 200
    event = event_of(bolt)
    message, previous = event.pop("message"), event.pop("previous_message")
    edit_ts = event["ts"]
    assert edit_ts > ts
    assert event == {"type": "message", "subtype": "message_changed", "hidden": True, "ts": edit_ts,
                     "channel": lobby, "event_ts": edit_ts, "channel_type": "channel"}
    assert message["edited"] == {"user": "U1", "ts": edit_ts}
    assert message["text"] == "Refund is 100 EUR" and message["ts"] == ts and message["user"] == "U1"
    assert message["client_msg_id"] == original["client_msg_id"]
    assert message["blocks"][0]["elements"][0]["elements"] == [{"type": "text", "text": "Refund is 100 EUR"}]
    assert previous["text"] == "Refund is 10 EUR" and previous["ts"] == ts and "edited" not in previous
    assert previous["blocks"] == original["blocks"]
    stored = client.conversations_history(channel=lobby)["messages"][0]
    assert stored["text"] == "Refund is 100 EUR" and stored["edited"] == {"user": "U1", "ts": edit_ts}

    reply, _ = driver.say("U2", lobby, "ok", thread_ts=ts)
    driver.edit("U2", lobby, reply, "ok, done")
    edited_reply = event_of(bolt)["message"]
    assert edited_reply["thread_ts"] == ts and edited_reply["parent_user_id"] == "U1"

    with pytest.raises(SlackError, match="cant_update_message"):  # only the author edits a message
        driver.edit("U2", lobby, ts, "hijacked")
    posted = client.chat_postMessage(channel=lobby, text="bot words")["ts"]
    with pytest.raises(SlackError, match="cant_update_message"):
        driver.edit("U1", lobby, posted, "hijacked")
    assert standin.messages(lobby)[0].text == "Refund is 100 EUR"


def test_unfurl_adds_attachments_without_an_edit(driver: SlackDriver, bolt: BoltApp, standin: SlackStandIn,
                                                 client: WebClient) -> None:
    lobby = standin.add_channel("lobby", members=["U0BOT", "U1"])
    ts, _ = driver.say("U1", lobby, "see https://crm.example/42 and <https://docs.example|the docs>")
    assert driver.unfurl(lobby, ts).status == 200
    event = event_of(bolt)
    message, previous = event["message"], event["previous_message"]
    assert event["subtype"] == "message_changed" and event["hidden"] is True and event["ts"] > ts
    assert "edited" not in message and "attachments" not in previous
    assert message["text"] == previous["text"] == "see <https://crm.example/42> and <https://docs.example|the docs>"
    assert [(a["id"], a["from_url"], a["original_url"]) for a in message["attachments"]] == [
        (1, "https://crm.example/42", "https://crm.example/42"), (2, "https://docs.example", "https://docs.example")]
    assert message["attachments"][0]["service_name"] == "crm.example"
    stored = client.conversations_history(channel=lobby)["messages"][0]
    assert len(stored["attachments"]) == 2 and "edited" not in stored

    custom = [{"id": 1, "from_url": "https://x.example", "title": "X", "fallback": "X"}]
    plain, _ = driver.say("U1", lobby, "no link here")
    with pytest.raises(ValueError, match="no link"):
        driver.unfurl(lobby, plain)
    driver.unfurl(lobby, plain, attachments=custom)
    assert event_of(bolt)["message"]["attachments"] == custom


def test_delete_removes_the_message_and_sends_message_deleted(driver: SlackDriver, bolt: BoltApp,
                                                               standin: SlackStandIn, client: WebClient) -> None:
    lobby = standin.add_channel("lobby", members=["U0BOT", "U1"])
    keep, _ = driver.say("U1", lobby, "keep me")
    ts, _ = driver.say("U1", lobby, "oops, wrong channel")
    driver.pin("U1", lobby, ts)
    assert driver.delete("U1", lobby, ts, event_id="Ev0GONE").status == 200
    event = event_of(bolt)
    previous = event.pop("previous_message")
    assert event == {"type": "message", "subtype": "message_deleted", "hidden": True, "deleted_ts": ts,
                     "ts": event["ts"], "channel": lobby, "event_ts": event["ts"], "channel_type": "channel"}
    assert event["ts"] > ts and bolt.last("message")["event_id"] == "Ev0GONE"
    assert previous["ts"] == ts and previous["text"] == "oops, wrong channel" and previous["user"] == "U1"
    assert [m.ts for m in standin.messages(lobby)] == [keep] and standin.pins(lobby) == []
    assert [m["ts"] for m in client.conversations_history(channel=lobby)["messages"]] == [keep]
    with pytest.raises(ValueError, match="no message"):
        driver.delete("U1", lobby, ts)


def test_join_and_topic_are_slack_notices(driver: SlackDriver, bolt: BoltApp, standin: SlackStandIn,
                                          client: WebClient) -> None:
    lobby = standin.add_channel("lobby", members=["U0BOT", "U1"])
    assert driver.join("U2", lobby).status == 200
    event = event_of(bolt)
    assert event == {"type": "message", "subtype": "channel_join", "ts": event["ts"], "user": "U2",
                     "text": "<@U2> has joined the channel", "channel": lobby, "event_ts": event["ts"],
                     "channel_type": "channel"}
    assert standin.channel(lobby).members == ["U0BOT", "U1", "U2"]
    notice = client.conversations_history(channel=lobby)["messages"][0]
    assert notice["subtype"] == "channel_join" and notice["user"] == "U2" and "team" not in notice
    with pytest.raises(ValueError, match="already"):
        driver.join("U2", lobby)

    secret = standin.add_channel("secret", is_private=True, members=["U0BOT", "U1"])
    driver.join("U3", secret, inviter="U1")
    event = event_of(bolt)
    assert event["inviter"] == "U1" and event["channel_type"] == "group" and event["subtype"] == "channel_join"
    assert client.conversations_history(channel=secret)["messages"][0]["inviter"] == "U1"

    assert driver.set_topic("U1", lobby, "ACME refund <urgent>").status == 200
    event = event_of(bolt)
    assert event == {"type": "message", "subtype": "channel_topic", "ts": event["ts"], "user": "U1",
                     "text": "set the channel topic: ACME refund &lt;urgent&gt;",
                     "topic": "ACME refund &lt;urgent&gt;", "channel": lobby, "event_ts": event["ts"],
                     "channel_type": "channel"}
    topic = client.conversations_info(channel=lobby)["channel"]["topic"]
    assert topic["value"] == "ACME refund &lt;urgent&gt;" and topic["creator"] == "U1"
    assert topic["last_set"] == int(START)


def test_pin_sends_pin_added(driver: SlackDriver, bolt: BoltApp, standin: SlackStandIn,
                             client: WebClient) -> None:
    case = client.conversations_create(name="case-8")["channel"]["id"]
    client.conversations_invite(channel=case, users="U1")
    ts = client.chat_postMessage(channel=case, text="Summary")["ts"]
    assert driver.pin("U1", case, ts).status == 200
    event = event_of(bolt, "pin")
    item = event.pop("item")
    message = item.pop("message")
    assert event == {"type": "pin_added", "user": "U1", "channel_id": case, "item_user": "U0BOT",
                     "pin_count": 1, "pinned_info": {"channel": case, "pinned_by": "U1", "pinned_ts": int(START)},
                     "event_ts": event["event_ts"]}
    assert item == {"type": "message", "created": int(START), "created_by": "U1", "channel": case}
    assert message["ts"] == ts and message["text"] == "Summary" and message["bot_id"] == "B0BOT"
    assert message["pinned_to"] == [case]
    assert message["permalink"] == f"https://sandbox.slack.com/archives/{case}/p{ts.replace('.', '')}"
    assert standin.pins(case) == [ts]
    assert client.pins_list(channel=case)["items"][0]["created_by"] == "U1"
    assert code(lambda: client.pins_add(channel=case, timestamp=ts)) == "already_pinned"
    with pytest.raises(ValueError, match="already is pinned"):
        driver.pin("U2", case, ts)

    second, _ = driver.say("U1", case, "key fact")
    driver.pin("U1", case, second)
    assert event_of(bolt, "pin")["pin_count"] == 2 and event_of(bolt, "pin")["item_user"] == "U1"


@dataclass
class Inbox:
    """A bare HTTP endpoint that keeps every JSON body it is sent (to see exactly what a driver sends)."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received = Inbox(f"http://127.0.0.1:{server.server_address[1]}/slack/events")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()


def test_echo_of_the_bots_own_post(driver: SlackDriver, bolt: BoltApp, standin: SlackStandIn,
                                   client: WebClient, inbox: Inbox) -> None:
    lobby = standin.add_channel("lobby", members=["U0BOT", "U1"])
    ts = client.chat_postMessage(channel=lobby, text="Reminder: please answer")["ts"]
    driver.say("U1", lobby, "answering", thread_ts=ts)  # the post has a thread by now: not in its echo
    assert driver.echo(lobby, ts).status == 200
    assert "bot_id" not in event_of(bolt)  # Bolt drops the app's own messages before any listener

    raw_driver = SlackDriver(inbox.url, signing_secret=SIGNING_SECRET, standin=standin)
    raw_driver.echo(lobby, ts, event_id="Ev0ECHO")
    body = inbox.bodies[-1]
    event = body["event"]
    profile = event.pop("bot_profile")
    assert body["event_id"] == "Ev0ECHO" and body["authorizations"][0]["user_id"] == "U0BOT"
    assert event == {"type": "message", "text": "Reminder: please answer", "user": "U0BOT", "ts": ts,
                     "team": "T0SANDBOX", "bot_id": "B0BOT", "app_id": "A0ADVOCACY", "channel": lobby,
                     "event_ts": ts, "channel_type": "channel"}
    assert profile["id"] == "B0BOT" and profile["app_id"] == "A0ADVOCACY"
    human, _ = driver.say("U1", lobby, "mine")
    with pytest.raises(ValueError, match="not the bot's"):
        driver.echo(lobby, human)


def test_driver_without_a_standin_still_sends_slack_shapes(inbox: Inbox) -> None:
    bare = SlackDriver(inbox.url, signing_secret=SIGNING_SECRET)
    ts, answer = bare.say("U1", "G0SECRET", "hi", thread_ts="1.000001")
    assert answer.status == 200
    event = inbox.bodies[-1]["event"]
    assert event["ts"] == ts and event["thread_ts"] == "1.000001" and event["channel_type"] == "group"
    bare.edit("U1", "C0LOBBY", ts, "hello")
    assert inbox.bodies[-1]["event"]["message"]["edited"]["user"] == "U1"
    bare.delete("U1", "C0LOBBY", ts)
    assert inbox.bodies[-1]["event"]["deleted_ts"] == ts
    with pytest.raises(ValueError, match="stand-in"):
        bare.unfurl("C0LOBBY", ts)


# ============================================================== archived channels and unarchiving
def test_archived_channel_refuses_writes(client: WebClient, standin: SlackStandIn) -> None:
    channel = client.conversations_create(name="case-9")["channel"]["id"]
    ts = client.chat_postMessage(channel=channel, text="summary")["ts"]
    assert client.conversations_archive(channel=channel)["ok"]
    assert standin.channel(channel).is_archived
    assert code(lambda: client.conversations_archive(channel=channel)) == "already_archived"
    assert code(lambda: client.chat_postMessage(channel=channel, text="x")) == "is_archived"
    assert code(lambda: client.conversations_invite(channel=channel, users="U1")) == "is_archived"
    assert code(lambda: client.pins_add(channel=channel, timestamp=ts)) == "is_archived"
    assert code(lambda: client.reactions_add(channel=channel, timestamp=ts, name="eyes")) == "is_archived"
    assert code(lambda: client.conversations_setTopic(channel=channel, topic="x")) == "is_archived"
    # people cannot act there either
    with pytest.raises(SlackError, match="is_archived"):
        standin.pin_as(channel, ts, "U1")
    with pytest.raises(SlackError, match="is_archived"):
        standin.add_member(channel, "U1")


def test_driver_refuses_people_posting_in_an_archived_channel(driver: SlackDriver,
                                                              standin: SlackStandIn) -> None:
    archived = standin.add_channel("old", members=["U0BOT", "U1"], is_archived=True)
    with pytest.raises(ValueError, match="archived"):
        driver.say("U1", archived, "hello?")
    assert standin.messages(archived) == []


def test_bot_token_cannot_unarchive(client: WebClient, standin: SlackStandIn) -> None:
    channel = client.conversations_create(name="case-10", is_private=True)["channel"]["id"]
    client.conversations_archive(channel=channel)
    assert code(lambda: client.conversations_unarchive(channel=channel)) == "not_in_channel"
    assert standin.channel(channel).is_archived
    assert code(lambda: client.conversations_unarchive(channel="C404")) == "channel_not_found"
    client.chat_postMessage(channel="U1", text="hi")
    dm = standin.dm_channel("U1") or ""
    assert code(lambda: client.conversations_unarchive(channel=dm)) == "method_not_supported_for_channel_type"
    live = client.conversations_create(name="case-11")["channel"]["id"]
    assert code(lambda: client.conversations_unarchive(channel=live)) == "not_archived"
    lobby = standin.add_channel("lobby", members=["U1"])
    assert code(lambda: client.conversations_unarchive(channel=lobby)) == "not_in_channel"


def test_unarchive_when_allowed(client: WebClient, standin: SlackStandIn) -> None:
    assert SlackStandIn(bot_can_unarchive=True).bot_can_unarchive
    channel = client.conversations_create(name="case-12")["channel"]["id"]
    client.conversations_archive(channel=channel)
    standin.bot_can_unarchive = True
    assert client.conversations_unarchive(channel=channel)["ok"]
    assert not standin.channel(channel).is_archived
    assert code(lambda: client.conversations_unarchive(channel=channel)) == "not_archived"
    assert client.chat_postMessage(channel=channel, text="reopened")["ok"]
    old = standin.add_channel("old", members=["U1"], is_archived=True)  # the caller is added, as in Slack
    assert client.conversations_unarchive(channel=old)["ok"]
    assert standin.channel(old).members == ["U1", "U0BOT"]


def test_people_helpers(standin: SlackStandIn) -> None:
    lobby = standin.add_channel("lobby", members=["U0BOT", "U1"])
    ts = standin.add_message(lobby, "U1", "hello")
    edited = standin.edit_message(lobby, ts, "U1", "hello there")
    message = standin.messages(lobby)[0]
    assert message.text == "hello there" and message.edited and message.edited_ts == edited
    with pytest.raises(SlackError, match="cant_update_message"):
        standin.edit_message(lobby, ts, "U2", "not mine")
    assert standin.add_member(lobby, "U2") and not standin.add_member(lobby, "U2")
    assert standin.pin_as(lobby, ts, "U2") and not standin.pin_as(lobby, ts, "U1")
    assert standin.pin_info(lobby, ts) == (int(START), "U2")
    standin.delete_message(lobby, ts)
    assert standin.messages(lobby) == [] and standin.pins(lobby) == [] and standin.pin_info(lobby, ts) is None
    with pytest.raises(SlackError, match="message_not_found"):
        standin.delete_message(lobby, ts)


def test_files_upload_v2_shares_the_file_in_a_thread(standin: SlackStandIn, client: WebClient) -> None:
    channel = standin.add_channel("leadership", members=[standin.bot_user_id])
    parent = client.chat_postMessage(channel=channel, text="Weekly digest")["ts"]
    png = b"\x89PNG\r\n\x1a\nchart"
    answer = client.files_upload_v2(content=png, filename="digest-2026-W47.png", title="Digest 2026-W47",
                                    channel=channel, thread_ts=parent, alt_txt="opened vs resolved")
    file_id = answer["file"]["id"]
    assert answer["file"]["title"] == "Digest 2026-W47"
    stored = standin.files()[file_id]
    assert (stored["content"], stored["size"], stored["mimetype"], stored["channels"]) == (
        png, len(png), "image/png", [channel])
    [reply] = [m for m in standin.messages(channel, thread_ts=parent) if m.ts != parent]
    assert reply.files and reply.files[0]["id"] == file_id and reply.thread_ts == parent
    assert client.files_info(file=file_id)["file"]["name"] == "digest-2026-W47.png"
    replies = client.conversations_replies(channel=channel, ts=parent)["messages"]
    assert replies[-1]["files"][0]["title"] == "Digest 2026-W47"


def test_an_upload_must_be_sent_before_it_is_completed(standin: SlackStandIn, client: WebClient) -> None:
    channel = standin.add_channel("leadership", members=[standin.bot_user_id])
    ticket = client.files_getUploadURLExternal(filename="chart.png", length=5)
    assert code(lambda: client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}],
                                                            channel_id=channel)) == "upload_not_found"
    assert code(lambda: client.files_completeUploadExternal(files=[{"id": "F0NOPE"}])) == "file_not_found"
    assert code(lambda: client.files_getUploadURLExternal(filename="chart.png", length=0)) == "invalid_arguments"
