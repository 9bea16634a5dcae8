"""The sandbox page in a real browser: Debian's Chromium, headless, driven by Playwright.

The story of issue 8: a person runs /escalate, the case channel appears, a head replies in a thread, the
clock jumps, the reminder arrives and is answered by a reaction, the case is resolved through the modal,
the digest appears. Screenshots of each step go to $TEST_ARTIFACTS_DIR (default tests/artifacts/), and
the page must log no console error.

Without /usr/bin/chromium (``.ci/run`` installs it) the tests are skipped on a developer's machine and
fail in CI (``CI`` set): CI must really run them. ``playwright install`` is never needed: Playwright drives
the system's Chromium.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.sandbox.demo import ADA, BILL, LEO, RITA, SAM
from bot.sandbox.workspace import Workspace
from storage.models import Case, CheckIn, Customer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR") or Path(__file__).with_name("artifacts"))
TIMEOUT_MS = 15_000  # each wait; the bot answers in milliseconds, the digest's chart takes a second or two


def _browser_or_skip() -> Any:
    """Playwright's sync API, or skip (locally) / fail (in CI) when the browser cannot run here."""
    problem = None
    try:
        from playwright import sync_api
    except ImportError:
        problem, sync_api = "the playwright package is not installed (pip install -e '.[dev]')", None
    if problem is None and not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)"
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests, but {problem}")
        pytest.skip(problem)
    return sync_api


@dataclass
class Browser:
    page: Any
    expect: Callable[..., Any]
    ws: Workspace
    name: str
    errors: list[str] = field(default_factory=list)
    shots: int = 0

    def shot(self, what: str) -> None:
        self.shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{self.shots:02d}-{what}.png"), full_page=True)

    def act_as(self, user: str) -> None:
        self.page.select_option("#person", user)
        self.expect(self.page.locator("#person")).to_have_value(user)

    def open(self, channel_name: str) -> None:
        self.page.click(f'#sidebar [data-channel-name="{channel_name}"]')
        self.expect(self.page.locator("#channel-name")).to_have_text(channel_name)

    def type(self, box: str, text: str) -> None:
        self.page.fill(box, text)
        self.page.press(box, "Enter")
        self.expect(self.page.locator(box)).to_have_value("")  # sent: the box is cleared only on success

    def message(self, text: str) -> Any:
        return self.page.locator("#messages .msg", has_text=text).last

    def no_console_errors(self) -> None:
        assert self.errors == [], f"the page logged errors: {self.errors}"


@pytest.fixture
def browser(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Browser]:
    sync_api = _browser_or_skip()
    ws = Workspace(tmp_path / "sandbox.db", port=0, tick_seconds=None).start()
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)  # a fresh user data dir for every test
    try:
        with sync_api.sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 900}, locale="en-GB")
            context.set_default_timeout(TIMEOUT_MS)
            sync_api.expect.set_options(timeout=TIMEOUT_MS)
            page = context.pages[0] if context.pages else context.new_page()
            seen = Browser(page, sync_api.expect, ws, request.node.name.removeprefix("test_"))
            page.on("console", lambda m: seen.errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.errors.append(f"pageerror: {e}"))
            page.goto(ws.url)
            yield seen
            context.close()
    finally:
        ws.stop()


def test_the_whole_story_in_the_browser(browser: Browser) -> None:
    b, page, expect = browser, browser.page, browser.expect

    # A sales rep runs /escalate in #general; the case channel appears in her sidebar.
    b.act_as(RITA)
    b.open("general")
    b.type("#composer-text", "/escalate Acme Corp: invoice charged twice after the upgrade p1 $12k")
    expect(page.locator("#messages .msg.ephemeral").last).to_contain_text("is open in #case-1-acme-corp")
    expect(page.locator("#messages .msg.ephemeral").first).to_contain_text("Only visible to you")
    expect(page.locator('#sidebar [data-channel-name="case-1-acme-corp"]')).to_be_visible()
    b.shot("escalated")

    # The head of billing answers in the thread of the pinned summary; the summary says so.
    b.act_as(BILL)
    b.open("case-1-acme-corp")
    summary = b.message("Case #1 · Acme Corp")
    expect(summary.locator(".pinned")).to_be_visible()
    expect(summary.locator(".header")).to_have_text("Case #1 · Acme Corp")
    expect(summary.locator(".mention", has_text="@bill")).to_be_visible()  # <@U10BILL> shown by name
    summary.hover()
    summary.locator(".reply-in-thread").click()
    b.type("#reply-text", "Found it: the upgrade re-ran the invoice job. Refund issued, 3-5 days.")
    expect(page.locator("#thread-messages .msg", has_text="Found it")).to_be_visible()
    expect(summary).to_contain_text("answered by @bill")
    expect(summary.locator(".replies")).to_have_text("1 reply")
    b.shot("thread-reply")

    # Two hours on (a P1's update cadence): the tick posts the overdue reminder for the owner.
    b.act_as(ADA)
    b.open("case-1-acme-corp")
    for _ in range(2):
        before = page.locator("#toasts .toast", has_text="Tick at").count()
        page.click('[data-jump="hour"]')
        expect(page.locator("#toasts .toast", has_text="Tick at")).to_have_count(before + 1)
    reminder = b.message("is overdue since")
    expect(reminder.locator(".mention", has_text="@ada")).to_be_visible()
    expect(reminder.locator("button", has_text="Log update")).to_be_visible()
    b.shot("reminder")

    # The owner answers it with a reaction; the reminder is edited to say so.
    reminder.hover()
    reminder.locator(".add-reaction").click()
    page.click('#popover [data-reaction="white_check_mark"]')
    expect(reminder.locator('.reaction[data-reaction="white_check_mark"]')).to_have_text(re.compile(r"1$"))
    expect(reminder).to_contain_text("updated the customer")
    b.shot("reaction")

    # /case resolve opens the modal; a bare submit is answered by block, a complete one resolves the case.
    b.type("#composer-text", "/case resolve")
    modal = page.locator(".modal")
    expect(modal.locator(".modal-title")).to_have_text("Resolve case #1")
    modal.locator(".modal-submit").click()
    expect(modal.locator('.input-block[data-block-id="resolution"] .input-error')).to_be_visible()
    b.shot("resolve-errors")
    due = (b.ws.clock() + timedelta(days=7)).astimezone(b.ws.config.zone).date().isoformat()
    fill = {"resolution": "Refund re-issued; the duplicate charge was reversed.",
            "root_cause": "The upgrade re-ran the monthly invoice job.",
            "final_update": "Your refund is on its way; sorry for the trouble.",
            "prevention1_what": "Make the invoice job refuse to run twice a month"}
    for block, text in fill.items():
        modal.locator(f'.input-block[data-block-id="{block}"] .input').fill(text)
    modal.locator('.input-block[data-block-id="category"] select').select_option("process-gap")
    modal.locator('.input-block[data-block-id="prevention1_owner"] select').select_option(BILL)
    modal.locator('.input-block[data-block-id="prevention1_due"] input').fill(due)
    b.shot("resolve-form")
    modal.locator(".modal-submit").click()
    expect(modal).to_have_count(0)
    notice = b.message("resolved case #1")
    expect(notice).to_contain_text("Update reminders have stopped.")
    expect(notice.locator("blockquote").first).to_have_text("Refund re-issued; the duplicate charge was reversed.")
    b.shot("resolved")

    # Closing it archives the channel (the sample team's archive_on_close): greyed, and nobody can post.
    b.type("#composer-text", "/case close")
    expect(page.locator('#sidebar [data-channel-name="case-1-acme-corp"]')).to_have_class(re.compile(r"\barchived\b"))
    expect(page.locator("#composer-note")).to_contain_text("is archived")
    expect(page.locator("#composer")).to_be_hidden()

    # The leader opens #leadership and jumps to Monday 09:00: the weekly digest and its chart appear.
    b.act_as(LEO)
    b.open("leadership")
    page.click('[data-jump="monday"]')
    digest = page.locator("#messages .msg", has=page.locator(".header", has_text="Customer advocacy")).last
    expect(digest).to_contain_text("Cases opened")
    expect(digest.locator(".context", has_text="Posted late")).to_have_count(0)  # on time: Monday 09:00
    digest.locator(".replies").click()
    chart = page.locator("#thread-messages img.file-image")
    expect(chart).to_be_visible()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", chart.element_handle())
    b.shot("digest")
    b.no_console_errors()


def test_mrkdwn_is_rendered_and_typed_markup_stays_text(browser: Browser) -> None:
    b, expect = browser, browser.expect
    b.act_as(RITA)
    b.open("general")
    b.type("#composer-text", "*bold* _it_ ~gone~ `x<y` <b>not bold</b> <img src=x onerror=alert(1)> "
                             "@leo #general <!here> https://example.com/a?b=1&c=2")
    said = b.message("not bold")
    expect(said.locator("b", has_text="bold")).to_have_count(1)
    expect(said.locator("i")).to_have_text("it")
    expect(said.locator("s")).to_have_text("gone")
    expect(said.locator("code")).to_have_text("x<y")
    expect(said.locator(".mention", has_text="@leo")).to_be_visible()
    expect(said.locator(".channel-link")).to_have_text("#general")
    expect(said.locator(".broadcast")).to_have_text("@here")
    expect(said.locator("a.link")).to_have_attribute("href", "https://example.com/a?b=1&c=2")
    expect(said.locator("img")).to_have_count(0)  # what was typed as markup is text
    expect(said).to_contain_text("<b>not bold</b> <img src=x onerror=alert(1)>")
    b.shot("mrkdwn")
    b.no_console_errors()


def test_the_home_tab_and_the_person_switcher_show_each_persons_view(browser: Browser) -> None:
    b, page, expect = browser, browser.page, browser.expect
    b.act_as(RITA)
    b.open("general")
    b.type("#composer-text", "/escalate Globex: pallets delivered to the wrong warehouse +logistics")
    expect(page.locator('#sidebar [data-channel-name="case-1-globex"]')).to_be_visible()
    b.act_as(LEO)  # not in the private case channel, and Rita's ephemeral answers are hers alone
    expect(page.locator('#sidebar [data-channel-name="case-1-globex"]')).to_have_count(0)
    expect(page.locator('#sidebar [data-channel-name="leadership"]')).to_be_visible()
    b.open("general")
    expect(page.locator("#messages .msg.ephemeral")).to_have_count(0)
    b.act_as(b.ws.config.advocates[1])  # Grace, Globex's advocate, owns the case
    page.click('#sidebar [data-channel="home"]')
    expect(page.locator("#messages .home")).to_contain_text("Globex")
    b.shot("home")
    b.no_console_errors()


def test_a_message_shortcut_escalates_through_the_modal_and_the_bookmark_leads_back(browser: Browser) -> None:
    """The ⋯ "Escalate this message" shortcut, the modal's multi select and external select (block_suggestion),
    then the case channel's bookmark to the source message, opened inside the page."""
    b, page, expect, ws = browser, browser.page, browser.expect, browser.ws
    b.act_as(LEO)
    b.open("general")
    source = b.message("Initech just called me")
    source_ts = source.get_attribute("data-ts")
    source.hover()
    source.locator(".more-actions").click()
    page.click('#popover [data-shortcut="escalate_message"]')
    modal = page.locator(".modal")
    expect(modal.locator(".modal-title")).to_have_text("Escalate")
    expect(modal.locator('.input-block[data-block-id="summary"] textarea')).to_have_value(
        re.compile(r"^Initech just called me: their shipment is late"))

    modal.locator('.input-block[data-block-id="customer"] .input').fill("Hooli")
    modal.locator('.input-block[data-block-id="departments"] select').select_option(["billing", "logistics"])
    zone = modal.locator('.input-block[data-block-id="timezone"]')
    zone.locator("input").press_sequentially("los ang")  # typed: block_suggestion, the bot's options appear
    expect(zone.locator(".suggestion")).to_have_text(["America/Los_Angeles"])
    b.shot("timezone-options")
    zone.locator(".suggestion").click()
    expect(zone.locator(".suggestions")).to_be_hidden()
    expect(zone.locator("input")).to_have_value("America/Los_Angeles")
    b.shot("escalate-form")
    modal.locator(".modal-submit").click()
    expect(modal).to_have_count(0)
    expect(page.locator("#messages .msg.ephemeral", has_text="is open in #case-1-hooli")).to_be_visible()

    # The case channel: the chosen heads are in it, and the bookmarks bar links to the source message.
    b.open("case-1-hooli")
    summary = b.message("Case #1 · Hooli")
    expect(summary.locator(".pinned")).to_be_visible()
    for head in ("@bill", "@sam"):
        expect(summary.locator(".mention", has_text=head).first).to_be_visible()
    bookmark = page.locator("#bookmarks .bookmark")
    expect(page.locator("#bookmarks")).to_be_visible()
    expect(bookmark).to_have_text("🔖 Original message")  # one bookmark, a link (not "[object …]" text)
    b.shot("bookmark")

    with ws.db.transaction() as session:
        case = session.scalars(select(Case)).one()
        assert case.customer.name == "Hooli" and case.customer.timezone == "America/Los_Angeles"
        assert sorted(d.department for d in case.departments) == ["billing", "logistics"]
        assert (case.source_channel_id, case.source_ts) == ("C0GENERAL", source_ts)
        channel_id = case.channel_id or ""
    room = ws.standin.channel(channel_id)
    assert room is not None and {LEO, BILL, SAM} <= set(room.members)
    [saved] = ws.standin.bookmarks(channel_id)
    assert saved["link"].endswith(f"/archives/C0GENERAL/p{(source_ts or '').replace('.', '')}")

    # The bookmark opens the permalink in the page: #general, with the source message highlighted in view.
    bookmark.click()
    expect(page.locator("#channel-name")).to_have_text("general")
    shown = page.locator(f'#messages .msg[data-ts="{source_ts}"]')
    expect(shown).to_have_class(re.compile(r"\bhighlight\b"))
    expect(shown).to_be_in_viewport()
    b.shot("permalink")
    b.no_console_errors()


def test_the_bots_dm_shows_a_check_in_prompt_and_its_button_snoozes_it(browser: Browser) -> None:
    """Days pass on the clock: the check-in prompt arrives in Ada's DM (the sidebar's Direct messages), and
    its Block Kit button, clicked, snoozes the check-in: the prompt is edited to say so."""
    b, page, expect, ws = browser, browser.page, browser.expect, browser.ws
    b.act_as(ADA)
    b.open("general")
    page.fill("#composer-text", "/ca")  # typing a command lists the app's matching commands
    expect(page.locator("#command-hints .hint-item")).to_have_count(1)
    expect(page.locator("#command-hints .hint-item b")).to_have_text("/case")
    page.fill("#composer-text", "")
    expect(page.locator("#command-hints")).to_be_hidden()
    dms = page.locator('#sidebar .section-title:has-text("Direct messages") + ul')
    expect(dms.locator(".empty")).to_have_text("No messages from the bot yet")
    for kind in ("day", "day", "day", "monday"):  # due in 3 days; sent in the advocate's business hours
        before = page.locator("#toasts .toast", has_text="Tick at").count()
        page.click(f'[data-jump="{kind}"]')
        expect(page.locator("#toasts .toast", has_text="Tick at")).to_have_count(before + 1)
    dm = dms.locator("a.channel")
    expect(dm).to_have_count(1)
    bot_name = ws.standin.user_name(ws.standin.bot_user_id)
    expect(dm).to_contain_text(bot_name)
    dm.click()
    expect(page.locator("#channel-name")).to_have_text(bot_name)
    expect(page.locator("#composer")).to_be_hidden()  # the app's Messages tab is read-only
    expect(page.locator("#composer-note")).to_contain_text("turned off")
    prompt = b.message("Time to check in with")
    expect(prompt.locator("b", has_text="Acme Corp").first).to_be_visible()
    expect(prompt.locator("button", has_text="Log check-in")).to_be_visible()
    b.shot("check-in-dm")

    prompt.locator('button[data-action-id="checkin_snooze"]').click()
    expect(prompt).to_contain_text("Snoozed until")
    expect(prompt.locator(".edited")).to_be_visible()
    b.shot("snoozed")

    with ws.db.transaction() as session:
        checkin = session.scalars(select(CheckIn).join(Customer, CheckIn.customer_id == Customer.id)
                                  .where(Customer.name == "Acme Corp")).one()
        assert checkin.status == "scheduled" and checkin.snoozed_until is not None
    b.no_console_errors()
