"""``advocacy-bot sandbox --script demo``: the real bot against the local Slack stand-in, as a story.

Nothing is faked on the bot's side: the app is built with ``create_app``, served by ``HttpServer``
and driven by signed HTTP requests, as Slack would. The story checks its outcomes as it goes, so it
doubles as a smoke test: when a step falls short it prints one line naming the step and returns 1.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from bot.app import create_app
from bot.clock import FixedClock
from bot.config import TeamConfig, load_config
from bot.durations import format_duration
from bot.sandbox.driver import DriverResponse, SlackDriver
from bot.sandbox.standin import SlackStandIn
from bot.services import Services
from bot.settings import Settings
from bot.slack_client import make_client
from bot.web import HttpServer, make_wsgi
from handlers.shortcuts import CALLBACK_ID as SHORTCUT_CALLBACK_ID
from handlers.shortcuts import LOG_UPDATE_CALLBACK_ID
from jobs.case_setup import STEP_NAMES
from jobs.tick import tick
from storage.db import Database
from storage.models import Case, OutboxItem

SAMPLE_CONFIG = Path(__file__).with_name("sample_team.yaml")
ADA, GRACE, BILL, SAM, RITA, LEO = "U01ADA", "U02GRACE", "U10BILL", "U20SAM", "U30RITA", "U40LEO"
CAST = {  # the people of sample_team.yaml: user ID -> (handle, who they are)
    ADA: ("ada", "Ada Park, customer advocate"), GRACE: ("grace", "Grace Kim, customer advocate"),
    BILL: ("bill", "Bill Moss, head of billing"), SAM: ("sam", "Sam Ortiz, head of logistics"),
    RITA: ("rita", "Rita Diaz, sales"), LEO: ("leo", "Leo Grant, VP customer success"),
}
GENERAL = "C0GENERAL"
WAIT_SECONDS = 10.0  # after-ack work takes milliseconds here: this bounds a hung step, it is no delay
_CONTROL = re.compile(r"<([^<>]*)>")
_FIELD_TITLE = re.compile(r"^\*([^*\n]+)\*\n")


class StoryError(Exception):
    """A step of the story did not produce what it should; the message says what is missing."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise StoryError(message)


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    """Bounded poll: the bot works after its ack, in Bolt's listener threads."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise StoryError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)
    return value


def ack_text(response: DriverResponse) -> str:
    """Bolt answers ``ack(text=…)`` with a plain-text body, richer acks with JSON."""
    body = response.json()
    return str(body.get("text") or "") if isinstance(body, dict) else response.text


def prefilled(view: dict[str, Any]) -> dict[str, Any]:
    """The initial values of a view's inputs, for the transcript."""
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        element = block.get("element") or {}
        if "initial_value" in element:
            values[block["block_id"]] = element["initial_value"]
        elif "initial_option" in element:
            values[block["block_id"]] = element["initial_option"]["value"]
        elif "initial_options" in element:
            values[block["block_id"]] = [o["value"] for o in element["initial_options"]]
    return values


def shown(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


class Transcript:
    """Prints the story: what people do, and what appeared in Slack since the last look."""

    def __init__(self, standin: SlackStandIn, out: TextIO = sys.stdout) -> None:
        self.standin, self.out = standin, out
        self._remember()

    def _remember(self) -> None:
        s = self.standin
        self.seen_channels = {c.id: c for c in s.channels}
        self.seen_messages = {(c.id, m.ts) for c in s.channels for m in s.messages(c.id)}
        self.seen_pins = {(c.id, ts) for c in s.channels for ts in s.pins(c.id)}
        self.seen_bookmarks = {b["id"] for c in s.channels for b in s.bookmarks(c.id)}
        self.seen_views, self.seen_calls, self.seen_ephemerals = set(s.views), len(s.calls), len(s.ephemerals)

    def print(self, text: str = "", indent: int = 0) -> None:
        for line in text.splitlines() or [""]:
            print(" " * indent + line, file=self.out, flush=True)

    def name(self, user: str | None) -> str:
        return "@" + self.standin.user_name(user or "?")

    def channel(self, channel_id: str | None) -> str:
        channel = self.standin.channel(channel_id or "")
        if channel is None:
            return f"#{channel_id}"
        return f"a DM with {self.name(channel.im_user)}" if channel.is_im else f"#{channel.name}"

    def render(self, text: str) -> str:
        """Slack mrkdwn as text: <@U…> as @name, <#C…> as #name, dates by their fallback, &amp; as &."""

        def control(match: re.Match[str]) -> str:
            target, _, label = match.group(1).partition("|")
            if target[:1] in ("@", "#"):
                return (target[0] + label) if label else (self.name if target[0] == "@" else self.channel)(target[1:])
            if target.startswith(("!date^", "!subteam^")):
                return label or "@" + target.split("^")[1]
            return "@" + target[1:] if target.startswith("!") else f"{label} ({target})" if label else target

        return html.unescape(_CONTROL.sub(control, text))

    def show(self, text: str | None, blocks: list[dict[str, Any]] | None = None) -> str:
        """A message or view: its blocks when it has them (as Slack shows them), else its text."""
        lines = [] if blocks else [self.render(text or "")]
        for block in blocks or []:
            kind = block.get("type")
            if kind == "header":
                lines.append(f"== {block['text']['text']} ==")
            elif kind == "section":
                lines += [self.render(block["text"]["text"])] if block.get("text") else []
                lines += [self.render(_FIELD_TITLE.sub(r"\1: ", f["text"])) for f in block.get("fields", [])]
            elif kind == "context":
                lines.append(" | ".join(self.render(e.get("text", "")) for e in block["elements"]))
            elif kind == "actions":
                lines.append(" ".join(f"[{e['text']['text']}]" for e in block["elements"] if "text" in e))
            elif kind == "input":
                value = prefilled({"blocks": [block]}).get(block["block_id"], "")
                lines.append(f"{block['label']['text']}: [{shown(value)}]")
            elif kind == "rich_text":  # what people type: the text says the same
                lines.append(self.render(text or ""))
        return "\n".join(lines)

    def acts(self, user: str, what: str) -> None:
        self.print(f"{self.name(user)} in #general: {what}")

    def answered(self, user: str, response: DriverResponse) -> None:
        if text := ack_text(response):
            self.print(f"bot -> {self.name(user)} only (the ack): {self.render(text)}", 2)

    def changes(self) -> None:
        """Everything new in the stand-in since the last look, grouped by where it appeared."""
        s = self.standin
        for view_id, view in s.views.items():
            if view_id not in self.seen_views:
                self.print(f"modal \"{view['title']['text']}\" opens for {self.name(view['user'])}:", 2)
                self.print(self.show(None, view["blocks"]), 4)
        for call in s.calls[self.seen_calls :]:
            if not call.ok:
                self.print(f"Slack answers {call.method}: {call.error or f'HTTP {call.status}'}", 2)
        for channel in s.channels:
            self._channel_changes(channel.id)
        for ephemeral in s.ephemerals[self.seen_ephemerals :]:
            self.print(f"bot -> {self.name(ephemeral['user'])} only, in {self.channel(ephemeral['channel'])}:", 2)
            self.print(self.show(ephemeral.get("text"), ephemeral.get("blocks")), 4)
        self._remember()

    def _channel_changes(self, channel_id: str) -> None:
        s, old, channel = self.standin, self.seen_channels.get(channel_id), self.standin.channel(channel_id)
        assert channel is not None
        where, pins = self.channel(channel_id), s.pins(channel_id)
        if old is None and not channel.is_im:
            self.print(f"{where} is created ({'private' if channel.is_private else 'public'})", 2)
        invited = [m for m in channel.members if m not in (old.members if old else []) and m != s.bot_user_id]
        if invited and not channel.is_im:
            self.print(f"invited to {where}: {', '.join(map(self.name, invited))}", 2)
        if channel.topic != (old.topic if old else ""):
            self.print(f"topic of {where}: {channel.topic}", 2)
        for message in s.messages(channel_id):
            key = (channel_id, message.ts)
            pinned = message.ts in pins and key not in self.seen_pins
            if key not in self.seen_messages:
                self.print(f"{where} <- {self.name(message.user)}{' (pinned)' if pinned else ''}:", 2)
                self.print(self.show(message.text, message.blocks), 4)
            elif pinned:
                self.print(f"{where}: now pinned: {self.show(message.text, message.blocks).splitlines()[0]}", 2)
        for bookmark in s.bookmarks(channel_id):
            if bookmark["id"] not in self.seen_bookmarks:
                self.print(f"bookmark in {where}: {bookmark['title']} -> {bookmark['link']}", 2)


def read_cases(db: Database) -> list[Case]:
    with db.transaction() as session:
        cases = list(session.scalars(select(Case).order_by(Case.number)))
        for case in cases:
            _ = case.customer, list(case.departments)  # load before the session closes
        return cases


def read_outbox(db: Database, case_id: int | None = None) -> list[OutboxItem]:
    query = select(OutboxItem).order_by(OutboxItem.id)
    with db.transaction() as session:
        return list(session.scalars(query if case_id is None else query.where(OutboxItem.case_id == case_id)))


def outbox_quiet(items: list[OutboxItem], now: datetime) -> bool:
    """Nothing is being worked on or could be claimed now (a retry due later is fine)."""
    pending = {item.id for item in items if item.status == "pending"}
    return not any(
        item.status == "pending"
        and (item.lease_owner is not None or (item.due_at <= now and item.after_id not in pending))
        for item in items
    )


@dataclass
class Sandbox:
    standin: SlackStandIn
    driver: SlackDriver
    svc: Services
    clock: FixedClock
    out: Transcript
    source_ts: str  # the #general message the story escalates with the shortcut

    def command(self, user: str, text: str, *, refused: bool = False) -> DriverResponse:
        self.out.acts(user, f"/escalate {text}".rstrip())
        response = self.driver.command(user, "/escalate", text, channel_id=GENERAL)
        check(response.status == 200, f"/escalate was answered with HTTP {response.status}")
        self.out.answered(user, response)
        # the bot marks a refusal with :warning: in its ack; fail now rather than wait for a set-up
        answer = ack_text(response)
        check(refused == (":warning:" in answer), f"/escalate was {'accepted' if refused else 'refused'}: {answer}")
        return response

    def settle(self, act: Callable[[], object], what: str) -> None:
        """Do ``act``, then wait until it wrote outbox rows and the bot did all it could of them."""
        before = len(read_outbox(self.svc.db))
        act()
        wait_for(lambda: len(items := read_outbox(self.svc.db)) > before and outbox_quiet(items, self.clock()),
                 what)
        self.out.changes()

    def open_modal(self, act: Callable[[], object]) -> dict[str, Any]:
        before = set(self.standin.views)
        act()
        view_id = wait_for(lambda: next((v for v in self.standin.views if v not in before), None), "the modal")
        self.out.changes()
        return self.standin.views[view_id]

    def submit(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> None:
        labels = {b["block_id"]: b["label"]["text"] for b in view["blocks"] if b.get("type") == "input"}
        self.out.print(f"{self.out.name(user)} submits the modal: "
                       + "; ".join(f"{labels[k]} = {shown(v)}" for k, v in values.items()))
        # untouched inputs keep their initial values: the driver submits them as Slack does
        response = self.driver.view_submission(user, view["id"], values)
        body = response.json()
        check(response.status == 200 and not (isinstance(body, dict) and body.get("errors")),
              f"the modal was refused: HTTP {response.status} {response.text}")

    def case_of(self, customer: str) -> Case:
        found = [c for c in read_cases(self.svc.db) if c.customer.name.casefold() == customer.casefold()]
        check(found, f"no case was opened for {customer}")
        return found[-1]

    def replied(self, user: str, channel_id: str | None) -> bool:
        return any(e["user"] == user and f"<#{channel_id}>" in (e["text"] or "") for e in self.standin.ephemerals)

    def check_case_channel(self, case: Case) -> None:
        """The set-up is complete: the right people invited, topic, one summary pinned, link sent."""
        channel = self.standin.channel(case.channel_id or "")
        check(channel is not None, f"case #{case.number} has no channel in Slack")
        assert channel is not None
        wanted = {case.owner_id, case.reporter_id} | {h for d in case.departments for h in d.heads}
        missing = set(self.svc.directory.expand(sorted(wanted))) - set(channel.members)
        check(not missing, f"#{channel.name} is missing {', '.join(map(self.out.name, sorted(missing)))}")
        check(f"Case #{case.number}" in channel.topic, f"#{channel.name} has no case topic")
        summaries = [m.ts for m in self.standin.messages(channel.id) if m.bot_id]
        check(summaries == [case.summary_ts], f"#{channel.name} has {len(summaries)} bot messages, not one summary")
        check(self.standin.pins(channel.id) == [case.summary_ts], f"the summary in #{channel.name} is not pinned")
        check(self.replied(case.reporter_id, channel.id), f"{self.out.name(case.reporter_id)} got no link")


# ---------------------------------------------------------------- the story


def text_escalation(sb: Sandbox) -> None:
    sb.settle(lambda: sb.command(RITA, "Acme Corp: invoice charged twice after the upgrade p1 $12k"), "set-up")
    case = sb.case_of("Acme Corp")
    check(case.severity == "p1" and case.impact is not None, "severity or impact was not read from the text")
    sb.check_case_channel(case)


def modal_escalation(sb: Sandbox) -> None:
    view = sb.open_modal(lambda: sb.command(GRACE, ""))
    # the story's picks when the team config has them, else its first ones (for --config)
    severity = "p2" if "p2" in sb.svc.config.severities else next(iter(sb.svc.config.severities))
    department = "logistics" if "logistics" in sb.svc.config.departments else next(iter(sb.svc.config.departments))
    values = {"customer": "Globex", "summary": "Pallets delivered to the wrong warehouse; their line stopped",
              "severity": severity, "departments": [department]}
    sb.settle(lambda: sb.submit(GRACE, view, values), "set-up")
    case = sb.case_of("Globex")
    check(case.severity == severity and [d.department for d in case.departments] == [department],
          "the case does not have the severity and department chosen in the form")
    sb.check_case_channel(case)


def shortcut_escalation(sb: Sandbox) -> None:
    sb.out.print(f"{sb.out.name(LEO)} uses \"Escalate this message\" on {sb.out.name(RITA)}'s message in #general")
    view = sb.open_modal(lambda: sb.driver.message_shortcut(LEO, SHORTCUT_CALLBACK_ID, channel_id=GENERAL,
                                                            message_ts=sb.source_ts))
    sb.settle(lambda: sb.submit(LEO, view, {"customer": "Initech"}), "set-up")
    case = sb.case_of("Initech")
    check(case.source_ts == sb.source_ts, "the case does not point at the original message")
    check(sb.standin.bookmarks(case.channel_id or ""), "the case channel has no bookmark to the original message")
    sb.check_case_channel(case)


def bad_department(sb: Sandbox) -> None:
    bad = next(n for n in ("finance", "finance-team", "no-such-department") if n not in sb.svc.config.departments)
    cases, creates = len(read_cases(sb.svc.db)), len(sb.standin.calls_to("conversations.create"))
    text = ack_text(sb.command(RITA, f"Umbrella Corp: refund still pending +{bad}", refused=True))
    check(f"+{bad}" in text and all(f"+{d}" in text for d in sb.svc.config.departments),
          f"+{bad} was not answered with the list of valid departments")
    check(len(read_cases(sb.svc.db)) == cases and len(sb.standin.calls_to("conversations.create")) == creates,
          f"something was created for +{bad}")
    sb.out.print(f"(+{bad} is rejected: nothing was created)", 2)


def second_report(sb: Sandbox) -> None:
    case, count, before = sb.case_of("Acme Corp"), len(read_cases(sb.svc.db)), len(sb.standin.ephemerals)
    sb.command(LEO, "acme corp: their CFO says a third charge appeared today")
    choice = wait_for(lambda: [e for e in sb.standin.ephemerals[before:] if e["user"] == LEO and any(
        b["type"] == "actions" for b in e.get("blocks") or [])], "the add-or-open choice")[-1]
    sb.out.changes()
    check(len(read_cases(sb.svc.db)) == count, "a case was created before the choice was made")
    add = next((e for b in choice["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "escalation_add_to_case"), None)
    check(add, "the choice has no button to add the report to the open case")
    assert add is not None
    sb.out.print(f"{sb.out.name(LEO)} clicks [{add['text']['text']}]")
    sb.settle(lambda: sb.driver.block_action(LEO, add["action_id"], value=add["value"], channel_id=GENERAL,
                                             message_ts=choice["message_ts"]), "the report to be added")
    channel = sb.standin.channel(case.channel_id or "")
    check(channel is not None and LEO in channel.members, "the reporter was not invited to the open case")
    check(any("third charge" in m.text for m in sb.standin.messages(case.channel_id or "")),
          "the report was not posted in the open case")
    check(len(read_cases(sb.svc.db)) == count, "a new case was opened instead")
    check(sb.replied(LEO, case.channel_id), f"{sb.out.name(LEO)} got no link to the case")


def slack_failure_recovered(sb: Sandbox) -> None:
    sb.standin.fail("pins.add", status=500)
    sb.out.print("(the stand-in will answer the next pins.add with HTTP 500)", 2)
    sb.settle(lambda: sb.command(SAM, "Wayne Enterprises: pallets damaged in the shipment, replacement needed"),
              "set-up")
    case = sb.case_of("Wayne Enterprises")
    pin = next((i for i in read_outbox(sb.svc.db, case.id) if i.kind == "case.pin_summary"), None)
    check(case.summary_ts and not sb.standin.pins(case.channel_id or ""), "the summary was not left unpinned")
    check(pin is not None and pin.status == "pending" and pin.last_error, "the failed pin was not kept for a retry")
    assert pin is not None
    wait = (pin.due_at - sb.clock()).total_seconds()
    sb.out.print(f"(outbox: \"{STEP_NAMES[pin.kind]}\" is pending after attempt {pin.attempts} failed; "
                 f"next try in {wait:.0f} s)", 2)
    report = tick(sb.svc, now=sb.clock.advance(seconds=wait))
    sb.out.print(f"the tick runs at +{wait:.0f} s: outbox done {report.outbox.done}, "
                 f"retried {report.outbox.retried}, failed {report.outbox.failed}")
    sb.out.changes()
    check(all(i.status == "done" for i in read_outbox(sb.svc.db, case.id)), "the tick left set-up steps undone")
    sb.check_case_channel(case)
    sb.out.print(f"(recovered: one summary in #{case.channel_name}, pinned)", 2)


def reminder_answered(sb: Sandbox) -> None:
    case = sb.case_of("Acme Corp")
    check(case.next_update_due is not None, "the open case has no customer update due")
    assert case.next_update_due is not None and case.channel_id is not None
    wait = case.next_update_due - sb.clock()
    report = tick(sb.svc, now=sb.clock.advance(seconds=wait.total_seconds()))
    sb.out.print(f"(the clock moves {format_duration(wait)} on, to the update due for case #{case.number}: "
                 f"the tick fires {report.jobs.get('reminders', 0)} reminder)", 2)
    wait_for(lambda: outbox_quiet(read_outbox(sb.svc.db), sb.clock()), "the reminder")
    sb.out.changes()
    reminder = next((m for m in sb.standin.messages(case.channel_id) if m.bot_id and str(
        ((m.metadata or {}).get("event_payload") or {}).get("key", "")).startswith("reminder:")), None)
    check(reminder is not None, f"no reminder was posted in #{case.channel_name}")
    assert reminder is not None
    sb.out.print(f"{sb.out.name(case.owner_id)} called the customer, and reacts :white_check_mark: on the reminder")
    sb.driver.react(case.owner_id, case.channel_id, reminder.ts, "white_check_mark")
    edited = wait_for(lambda: next((m for m in sb.standin.messages(case.channel_id) if m.ts == reminder.ts
                                    and "updated the customer" in str(m.blocks)), None), "the reminder to be updated")
    sb.out.print(f"{sb.out.channel(case.channel_id)}: the reminder now reads:", 2)
    sb.out.print(sb.out.show(edited.text, edited.blocks), 4)
    after = sb.case_of("Acme Corp")
    check(after.next_update_due == sb.clock() + sb.svc.config.update_every(after.severity),
          "the cadence did not restart at the customer update")
    assert after.next_update_due is not None
    sb.out.print(f"(customer update recorded; the next one is due in "
                 f"{format_duration(after.next_update_due - sb.clock())})", 2)
    sb.out.changes()


def case_room(sb: Sandbox) -> None:
    """The head answers in the summary's thread; the advocate logs that reply as the customer update."""
    case = sb.case_of("Acme Corp")
    channel = case.channel_id or ""
    head = next((h for d in case.departments for h in d.heads if h != case.owner_id), case.owner_id)
    sb.out.print(f"{sb.out.name(head)} replies in the thread of the pinned summary")
    sb.clock.advance(minutes=10)
    reply = ""

    def answer() -> None:
        nonlocal reply
        reply, _ = sb.driver.say(head, channel, "Found it: the upgrade re-ran the invoice job. Refund issued, "
                                                "3-5 days.", thread_ts=case.summary_ts)

    sb.settle(answer, "the summary to show the answer")
    answered = [d for d in sb.case_of("Acme Corp").departments if d.answered_by == head]
    check(answered, f"{sb.out.name(head)}'s reply did not count as the department's response")
    summary = sb.standin.message_json(channel, case.summary_ts or "") or {}
    check(f"answered by <@{head}>" in str(summary.get("blocks")), "the pinned summary does not show who answered")
    sb.out.print(f"(the pinned summary now says {answered[0].department} answered, by whom and when)", 2)

    sb.out.print(f"{sb.out.name(case.owner_id)} uses \"Log as customer update\" on that reply (threads take no "
                 "slash commands)")
    sb.settle(lambda: sb.driver.message_shortcut(case.owner_id, LOG_UPDATE_CALLBACK_ID, channel_id=channel,
                                                 message_ts=reply), "the customer update")
    after = sb.case_of("Acme Corp")
    check(after.last_customer_update_at == sb.clock(), "the reply was not recorded as a customer update")
    sb.out.print(f"{sb.out.name(case.owner_id)} in {sb.out.channel(channel)}: /case status investigating")
    response = sb.driver.command(case.owner_id, "/case", "status investigating", channel_id=channel)
    sb.out.answered(case.owner_id, response)
    wait_for(lambda: outbox_quiet(read_outbox(sb.svc.db), sb.clock()), "the status notice")
    sb.out.changes()
    check(sb.case_of("Acme Corp").status == "investigating", "/case status did not change the status")


def resolved_for_good(sb: Sandbox) -> None:
    """The owner resolves the case with a root cause and a prevention action owned by the head."""
    case = sb.case_of("Acme Corp")
    channel = case.channel_id or ""
    head = next((h for d in case.departments for h in d.heads if h != case.owner_id), case.owner_id)
    sb.out.print(f"{sb.out.name(case.owner_id)} in {sb.out.channel(channel)}: /case resolve")
    view = sb.open_modal(lambda: sb.driver.command(case.owner_id, "/case", "resolve", channel_id=channel))
    due = (sb.clock() + timedelta(days=7)).astimezone(sb.svc.config.zone).date().isoformat()
    values = {"resolution": "Refund re-issued; the duplicate charge was reversed.",
              "category": sb.svc.config.root_causes[0],
              "root_cause": "The upgrade re-ran the monthly invoice job.",
              "final_update": "Your refund is on its way and the double charge is reversed; sorry for the trouble.",
              "prevention1_what": "Make the invoice job refuse to run twice for a month",
              "prevention1_owner": head, "prevention1_due": due}
    sb.settle(lambda: sb.submit(case.owner_id, view, values), "the resolution")
    after = sb.case_of("Acme Corp")
    check(after.status == "resolved" and after.root_cause_category == values["category"],
          "the case was not resolved with its root cause")
    check(after.next_update_due is None, "a resolved case still has a customer update due")
    check(sb.standin.dm_channel(head) is not None, f"{sb.out.name(head)} got no DM about the prevention action")


STORY: tuple[tuple[str, Callable[[Sandbox], None]], ...] = (
    ("A sales rep escalates in one line", text_escalation),
    ("An advocate escalates with the form", modal_escalation),
    ("A leader escalates a message in #general", shortcut_escalation),
    ("A department that does not exist", bad_department),
    ("A second report for a customer with an open case", second_report),
    ("Slack fails while pinning; the tick recovers", slack_failure_recovered),
    ("The customer update comes due; a reaction answers the reminder", reminder_answered),
    ("The head of billing answers in the thread; the advocate logs it for the customer", case_room),
    ("The case is resolved, with a prevention action so it cannot happen again", resolved_for_good),
)


def print_cases(sb: Sandbox) -> None:
    rows = [("#", "customer", "sev", "owner", "channel", "departments")]
    rows += [(str(c.number), c.customer.name, c.severity, sb.out.name(c.owner_id), f"#{c.channel_name}",
              ", ".join(d.department for d in c.departments)) for c in read_cases(sb.svc.db)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    sb.out.print("\n--- Cases in the database ---")
    for row in rows:
        sb.out.print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# ---------------------------------------------------------------- set-up


def seed_workspace(standin: SlackStandIn, config: TeamConfig) -> str:
    """The sample team, plus anyone a --config names (so that inviting them works); returns the ts to escalate."""
    for user_id, (handle, who) in CAST.items():
        standin.add_user(user_id, handle, real_name=who)
    for entry in sorted({*config.advocates, *(h for d in config.departments.values() for h in d.heads)} - set(CAST)):
        member = "U" + entry[1:] if entry.startswith("S") else entry  # a user group (S…) gets one member
        standin.add_user(member, member.lower())
        if entry.startswith("S"):
            standin.add_usergroup(entry, entry.lower(), [member])
    standin.add_channel("general", channel_id=GENERAL, members=[*CAST, standin.bot_user_id])
    standin.add_channel("leadership", channel_id=config.leadership_channel or "C0LEAD", is_private=True,
                        members=[LEO, ADA, standin.bot_user_id])
    return standin.add_message(GENERAL, RITA, "Initech just called me: their shipment is late for the third "
                                              "time this month, and they are talking about cancelling.")


def start(stack: ExitStack, db_path: str | None, config_path: str | None) -> Sandbox:
    from storage.migrate import upgrade  # imported here: alembic logs at import, before run_demo quiets logs

    token, secret = f"xoxb-sandbox-{secrets.token_hex(8)}", secrets.token_hex(16)  # per run: nothing to leak
    config_file = Path(config_path) if config_path else SAMPLE_CONFIG
    config = load_config(config_file)
    standin = SlackStandIn(bot_token=token).start()
    stack.callback(standin.stop)
    source_ts = seed_workspace(standin, config)
    if db_path is None:
        folder = tempfile.mkdtemp(prefix="advocacy-sandbox-")
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        db_path = str(Path(folder) / "sandbox.db")
    db = Database(f"sqlite:///{Path(db_path).resolve()}")
    stack.callback(db.dispose)
    upgrade(db.engine)
    check(not read_cases(db), f"{db_path} already holds cases; the story needs an empty database")
    settings = Settings(slack_bot_token=token, slack_signing_secret=secret, slack_api_url=standin.api_url,
                        database_url=db.url, advocacy_config=config_file, _env_file=None)  # type: ignore[call-arg]
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))  # the tick's "later" is then exact
    app = create_app(settings, make_client(token, standin.api_url, timeout=5), config=config, db=db, clock=clock)
    server = HttpServer(make_wsgi(app), host="127.0.0.1", port=0).start()
    stack.callback(server.stop)
    # HttpServer.stop closes waitress while a request thread may still be finishing (OSError: Bad file
    # descriptor in pull_trigger); let those threads end first.
    stack.callback(server.server.task_dispatcher.shutdown)
    driver = SlackDriver(f"{server.url}/slack/events", signing_secret=secret, standin=standin)
    return Sandbox(standin, driver, app.services, clock, Transcript(standin), source_ts)


def run_demo(script: str = "demo", db_path: str | None = None, config_path: str | None = None, *,
             quiet_logs: bool = True) -> int:
    if script != "demo":
        print(f"sandbox: unknown script {script!r} (available: demo)", file=sys.stderr)
        return 1
    # The transcript is the output: the bot's INFO logs would interleave with it on a terminal (unless
    # they are JSON lines for a collector: quiet_logs=False), and the story injects a Slack failure on
    # purpose (the transcript shows it; slack_sdk's ERROR line about it is noise).
    if quiet_logs:
        logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("slack_sdk").setLevel(logging.CRITICAL)
    step = "set-up"
    with ExitStack() as stack:
        try:
            sb = start(stack, db_path, config_path)
            sb.out.print("The sandbox team: " + "; ".join(f"@{h} ({who})" for h, who in CAST.values()))
            sb.out.print(f"#general <- @rita: {sb.standin.messages(GENERAL)[-1].text}")
            for number, (title, play) in enumerate(STORY, start=1):
                step = f"step {number} ({title})"
                sb.out.print(f"\n--- {number}. {title} ---")
                play(sb)
            print_cases(sb)
        except StoryError as exc:
            print(f"sandbox: {step} failed: {' '.join(str(exc).split())}", file=sys.stderr)  # one line
            return 1
    print("\nsandbox: the story played as expected")
    return 0
