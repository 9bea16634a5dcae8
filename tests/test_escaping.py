"""User text in and out of Slack: the one mrkdwn-escaping function, and hostile text through the main surfaces.

Slack treats only ``&``, ``<`` and ``>`` as control characters in mrkdwn; ``<!channel>``, ``<!here>``,
``<@U…>``, ``<!subteam^…>`` and ``<https://…|label>`` are the sequences a person's text must never become.
``*bold*``, ``_italics_``, ``~strike~`` and backticks have no escape in mrkdwn and only format: they are left
as they are. What a person wrote is stored as they wrote it (unescaped, byte for byte) and escaped once, on
the way out, by ``bot.text.escape_mrkdwn``. NUL is the exception: PostgreSQL text cannot hold it, so it is
removed where a request comes in (``handlers/middleware.py``), on SQLite too, so both store the same.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select

import bot.sandbox.driver as driver_module
from bot.blocks.common import mrkdwn_user
from bot.domain.customers import NAME_MAX
from bot.domain.escalation import CUSTOMER_MAX, SUMMARY_MAX
from bot.text import drop_nul, escape_mrkdwn, unescape_slack
from storage.models import Case, CaseEvent, Customer
from tests.conftest import Bot, wait_until
from tests.helpers import all_cases, mrkdwn_texts, setup_settled, timeline
from tests.test_resolution import VALID, open_resolve_modal, reload, settle
from tests.test_resolution import open_case as open_case_at_t0

# ---------------------------------------------------------------- the function


def slack_unescape(text: str) -> str:
    """How Slack reads escaped mrkdwn: exactly three entities, in one pass."""
    return re.sub(r"&(amp|lt|gt);", lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], text)


@given(st.text())
@example("<!channel> & <@U01ADV> <https://evil.example|click> &amp; &lt;")
@example("&&amp;;<<>>")
def test_escaped_text_has_no_control_characters(text: str) -> None:
    escaped = escape_mrkdwn(text)
    assert "<" not in escaped and ">" not in escaped
    assert re.fullmatch(r"(?:[^&]|&(?:amp|lt|gt);)*", escaped, flags=re.DOTALL)


@given(st.text())
@example("&amp;lt; is how you write &lt;")
def test_unescaping_by_slacks_rules_gives_back_the_text(text: str) -> None:
    assert slack_unescape(escape_mrkdwn(text)) == text
    assert unescape_slack(escape_mrkdwn(text)) == text  # the bot's own reading of Slack's text agrees


@given(st.text())
def test_only_the_three_control_characters_change(text: str) -> None:
    """Everything else (formatting characters, control characters, any Unicode) is passed through as is."""
    escaped = escape_mrkdwn(text)
    assert re.sub(r"&(?:amp|lt|gt);", "", escaped) == re.sub(r"[&<>]", "", text)
    assert len(escaped) == len(text) + 4 * text.count("&") + 3 * (text.count("<") + text.count(">"))


@given(st.text())
def test_escaping_is_not_idempotent_and_must_happen_exactly_once(text: str) -> None:
    """Escaping twice is not escaping once: ``&lt;`` escaped again reads ``&amp;lt;``, which Slack shows as the
    four characters ``&lt;``, not as ``<``. So text is stored as the person wrote it and escaped once, when a
    message is built; an escaped copy must never be escaped again (or stored)."""
    once, twice = escape_mrkdwn(text), escape_mrkdwn(escape_mrkdwn(text))
    assert (once == twice) == (not any(c in text for c in "&<>"))
    assert slack_unescape(twice) == once


@given(st.text(), st.integers(min_value=1, max_value=3000))
def test_user_text_in_a_block_is_escaped_and_within_its_limit(text: str, limit: int) -> None:
    element = mrkdwn_user(text, limit)
    assert element["type"] == "mrkdwn" and len(element["text"]) <= limit
    assert "<" not in element["text"] and ">" not in element["text"]


KEYS = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=5)  # keys are Slack's field names


@given(st.recursive(st.text() | st.integers() | st.none(),
                    lambda inner: st.lists(inner) | st.dictionaries(KEYS, inner)))
def test_drop_nul_removes_nul_from_every_string_and_nothing_else(value: Any) -> None:
    before = json.dumps(value)
    after = json.dumps(drop_nul(value))
    assert "\\u0000" not in after
    assert after == before.replace("\\u0000", "")


# ---------------------------------------------------------------- hostile text through the surfaces

UNIT = ("Zu\u0308rich \U0001F469\u200D\U0001F4BB e\u0301 \u202eevil\u202c \u05e9\u05dc\u05d5\u05dd "
        "\u0645\u0631\u062d\u0628\u0627 \u6771\u4eac ")
HOSTILE = {
    "mrkdwn": "*bold* _it_ ~strike~ `code` ```block``` >quote",
    "broadcasts": "tell <!channel> and <!here> and <!everyone> now",
    "mentions": "ask <@U01ADV> and <@U99EVIL|evil> and <!subteam^S0EVIL|@evil-team>",
    "link": "see <https://evil.example/phish|your invoice> please",
    "entities": "AT&T &amp; &lt;b&gt; <b>bold</b> 5 > 3 & 2 < 4",
    "sql": "Robert'); DROP TABLE cases; -- \"x\" OR 1=1 /* */",
    "controls": "a\x01b\x07c\x1b[31mred\x1b[0m\x7fd\u200be\u202eevil\u202cf\ufeffg",
    "nul": "before\x00after",
    "huge-unicode": (UNIT * (100_000 // len(UNIT) + 1))[:99_999] + "!",  # combining marks, ZWJ emoji, RTL, CJK
}
# What must never reach Slack raw from a person's text (the bot itself mentions U01ADV, so not that one).
RAW = ("<!channel>", "<!here>", "<!everyone>", "<@U99EVIL", "<!subteam^S0EVIL", "<https://evil.example", "<b>")
MESSAGE_METHODS = {"chat.postMessage", "chat.update", "chat.postEphemeral", "chat.scheduleMessage"}
VIEW_METHODS = {"views.open", "views.update", "views.push", "views.publish"}


def stored(text: str) -> str:
    """What the database keeps: the text as written, without NUL (PostgreSQL cannot store it)."""
    return drop_nul(text)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def slack_texts(bot: Bot, answers: list[Any]) -> list[tuple[str, str]]:
    """Every text Slack would read as mrkdwn (or keep as a topic), with where it went.

    Message ``text`` and every mrkdwn object of blocks and views (plain_text is shown literally, so it
    is left out), channel topics, response_url posts, and the answers to our own requests (acks).
    """
    found: list[tuple[str, str]] = []
    for call in bot.standin.calls:
        params = call.params
        if call.method in MESSAGE_METHODS:
            if params.get("text") and params.get("mrkdwn") not in (False, "false"):
                found.append((call.method, str(params["text"])))
            found += [(f"{call.method} blocks", t) for t in mrkdwn_texts(_json(params.get("blocks")))]
        elif call.method in VIEW_METHODS:
            found += [(call.method, t) for t in mrkdwn_texts(_json(params.get("view")))]
        elif call.method in ("conversations.setTopic", "conversations.setPurpose"):
            found.append((call.method, str(params.get("topic") or params.get("purpose") or "")))
    for response in bot.standin.responses:
        if response.text:
            found.append(("response_url", response.text))
        found += [("response_url blocks", t) for t in mrkdwn_texts(response.blocks)]
    for answer in answers:
        body = answer.json()
        if isinstance(body, dict):
            if body.get("text"):
                found.append(("ack", str(body["text"])))
            found += [("ack blocks", t) for t in mrkdwn_texts([body.get("blocks"), body.get("view")])]
        elif answer.text:
            found.append(("ack", answer.text))
    return found


def assert_nothing_unescaped(bot: Bot, answers: list[Any], shown: str | None = None) -> None:
    """No raw control sequence from the person's text reached Slack; ``shown`` (escaped) did reach it."""
    texts = slack_texts(bot, answers)
    leaks = [(where, raw, text[:200]) for where, text in texts for raw in RAW if raw in text]
    assert leaks == []
    if shown is not None:
        head = escape_mrkdwn(stored(shown))[:60]
        assert any(head in text for _, text in texts), f"{head!r} never reached Slack"


def case_events(bot: Bot, case: Case, kind: str) -> list[CaseEvent]:
    return [e for e in timeline(bot.db, case.id) if e.kind == kind]


@pytest.fixture
def case(bot: Bot) -> Case:
    return open_case_at_t0(bot, "Acme: refund stuck")  # billing; owner U01ADV


@pytest.mark.parametrize("name", list(HOSTILE))
def test_escalate_summary(bot: Bot, name: str) -> None:
    text = HOSTILE[name]
    answer = bot.driver.command("U30REQ", "/escalate", f"Acme: {text}")
    assert answer.status == 200
    if len(text) > SUMMARY_MAX:
        assert f"Keep the summary under {SUMMARY_MAX} characters" in answer.text
        assert all_cases(bot.db) == []
        assert_nothing_unescaped(bot, [answer])
        return
    wait_until(lambda: all_cases(bot.db) and setup_settled(bot.db), message="the case set-up")
    [case] = all_cases(bot.db)
    assert case.summary == stored(text)
    pinned = bot.standin.message_json(str(case.channel_id), str(case.summary_ts)) or {}
    assert escape_mrkdwn(stored(text)) in " ".join(mrkdwn_texts(pinned.get("blocks")))
    assert escape_mrkdwn(stored(text)) in pinned["text"]
    assert_nothing_unescaped(bot, [answer], shown=text)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_escalate_modal_customer_name_and_summary(bot: Bot, name: str) -> None:
    """The form's inputs are plain text (never entity-escaped by Slack): the customer's name goes into the
    channel's name, topic, summary, the requester's reply and later messages."""
    text = HOSTILE[name]
    assert bot.driver.command("U30REQ", "/escalate", "").status == 200
    [view_id] = wait_until(lambda: bot.standin.open_views("U30REQ"), message="the escalation modal")
    answer = bot.driver.view_submission("U30REQ", view_id, {"customer": text, "summary": text})
    assert answer.status == 200
    if len(text) > CUSTOMER_MAX:
        errors = answer.json()["errors"]
        assert f"under {CUSTOMER_MAX} characters" in errors["customer"] and str(SUMMARY_MAX) in errors["summary"]
        assert all_cases(bot.db) == []
        assert_nothing_unescaped(bot, [answer])
        return
    wait_until(lambda: all_cases(bot.db) and setup_settled(bot.db), message="the case set-up")
    [case] = all_cases(bot.db)
    assert (case.customer.name, case.summary) == (stored(text), stored(text))
    channel = bot.standin.channel(str(case.channel_id))
    assert channel is not None and re.fullmatch(r"case-1-[a-z0-9-]+", channel.name)
    assert channel.topic.startswith(f"Case #1 · {escape_mrkdwn(stored(text))}"[:200])
    pinned = bot.standin.message_json(str(case.channel_id), str(case.summary_ts)) or {}
    header = next(b for b in pinned["blocks"] if b["type"] == "header")
    assert header["text"]["type"] == "plain_text"  # shown as typed: escaping it would show &lt; literally
    assert header["text"]["text"].startswith(f"Case #1 · {stored(text)}"[:140])
    assert_nothing_unescaped(bot, [answer], shown=text)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_thread_reply_in_the_case_channel(bot: Bot, case: Case, name: str) -> None:
    text = HOSTILE[name]
    ts, answer = bot.driver.say("U40OTHER", str(case.channel_id), text, thread_ts=case.summary_ts)
    assert answer.status == 200
    [message] = case_events(bot, case, "message")
    assert (message.text, message.slack_ts, message.thread_ts) == (stored(text), ts, case.summary_ts)
    shown = bot.driver.command("U40OTHER", "/case", "timeline", channel_id=str(case.channel_id))
    assert shown.status == 200
    assert_nothing_unescaped(bot, [shown], shown=text)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_case_note(bot: Bot, case: Case, name: str) -> None:
    text = HOSTILE[name]
    answer = bot.driver.command("U40OTHER", "/case", f"note {text}", channel_id=str(case.channel_id))
    assert answer.status == 200 and "Note added to case #1" in answer.text
    [note] = case_events(bot, case, "note")
    assert note.text == stored(text)
    notice = wait_until(lambda: [m for m in bot.standin.messages(str(case.channel_id)) if ":memo: Note from" in m.text],
                        message="the note's notice")
    assert escape_mrkdwn(stored(text))[:2000] in notice[0].text
    assert_nothing_unescaped(bot, [answer], shown=text)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_the_resolve_modal(bot: Bot, name: str) -> None:
    text = HOSTILE[name][:3000].rstrip()  # the modal's inputs hold 3,000 characters at most
    case = open_case_at_t0(bot, "Acme: refund stuck")
    view = open_resolve_modal(bot, case)
    answer = bot.driver.view_submission("U01ADV", view["id"], {**VALID, "resolution": text, "root_cause": text,
                                                               "prevention1_due": "2099-01-01"})
    assert answer.status == 200 and answer.text == "", answer.text
    settle(bot)
    resolved = reload(bot, case)
    assert (resolved.status, resolved.resolution, resolved.root_cause) == ("resolved", stored(text), stored(text))
    notice = wait_until(lambda: [m for m in bot.standin.messages(str(case.channel_id)) if "resolved case #1" in m.text],
                        message="the resolution notice")
    assert escape_mrkdwn(stored(text))[:500] in notice[0].text
    assert_nothing_unescaped(bot, [answer], shown=text)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_customer_named_in_advocacy_customer(bot: Bot, name: str) -> None:
    text = HOSTILE[name]
    answer = bot.driver.command("U01ADV", "/advocacy", f"customer add {text}")
    assert answer.status == 200
    if len(text) > NAME_MAX:
        assert f"longer than {NAME_MAX} characters" in answer.text
        assert_nothing_unescaped(bot, [answer])
        return
    [view_id] = wait_until(lambda: bot.standin.open_views("U01ADV"), message="the customer form")
    form = bot.standin.views[view_id]
    name_input = next(b for b in form["blocks"] if b.get("block_id") == "name")["element"]
    assert name_input["initial_value"] == stored(text)  # a plain-text input: as typed, not escaped
    saved = bot.driver.view_submission("U01ADV", view_id, {"name": text})
    assert saved.status == 200 and saved.text == "", saved.text
    with bot.db.transaction() as session:
        [customer] = session.scalars(select(Customer)).all()
        assert customer.name == stored(text)
    card = bot.driver.command("U30REQ", "/advocacy", f"customer show {text}")
    assert f"*{escape_mrkdwn(stored(text))}* — active" in card.text
    assert_nothing_unescaped(bot, [answer, saved, card], shown=text)


def test_a_customer_name_typed_with_brackets_is_escaped_wherever_it_goes(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Typed (not a mention picked from a menu), ``<!channel>`` reaches the bot as ``&lt;!channel&gt;``: it can
    name a customer from the command, and that name then reaches the topic and the second report's reply."""
    monkeypatch.setattr(driver_module, "escape", lambda text: text)  # the wire text below is Slack's already
    wire = "&lt;!channel&gt; &amp; &lt;@U99EVIL&gt; Corp: refund stuck"
    first = bot.driver.command("U30REQ", "/escalate", wire)
    wait_until(lambda: all_cases(bot.db) and setup_settled(bot.db), message="the case set-up")
    [case] = all_cases(bot.db)
    assert case.customer.name == "<!channel> & <@U99EVIL> Corp"
    topic = (bot.standin.channel(str(case.channel_id)) or pytest.fail()).topic
    assert topic.startswith("Case #1 · &lt;!channel&gt; &amp; &lt;@U99EVIL&gt; Corp · P2")
    second = bot.driver.command("U40OTHER", "/escalate", "&lt;!channel&gt; &amp; &lt;@U99EVIL&gt; corp: again")
    wait_until(lambda: [r for r in bot.standin.responses if "already has an open case" in (r.text or "")],
               message="the add-or-open choice")
    assert_nothing_unescaped(bot, [first, second], shown="<!channel> & <@U99EVIL> Corp")
