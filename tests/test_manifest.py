"""The manifest and the code agree: commands, shortcuts, events and exactly the scopes the code uses."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import yaml
from slack_sdk import WebClient

from tests.conftest import Bot

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = [
    p for d in ("bot", "handlers", "jobs", "storage") for p in (ROOT / d).rglob("*.py") if "sandbox" not in p.parts
]

# Web API methods → the bot scopes they need (https://api.slack.com/methods). Both the public and the
# private-channel scope are needed where case channels may be either (config case_channels).
METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "views_open": set(),
    "views_update": set(),
    "views_publish": set(),
    "chat_getPermalink": set(),
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "conversations_create": {"channels:manage", "groups:write"},
    "conversations_invite": {"channels:manage", "groups:write"},
    "conversations_setTopic": {"channels:manage", "groups:write"},
    "conversations_archive": {"channels:manage", "groups:write"},
    "conversations_unarchive": {"channels:manage", "groups:write"},
    "conversations_list": {"channels:read", "groups:read"},
    "conversations_info": {"channels:read", "groups:read"},
    "conversations_history": {"channels:history", "groups:history", "im:history"},
    "pins_add": {"pins:write"},
    "bookmarks_add": {"bookmarks:write"},
    "files_upload_v2": {"files:write"},
    "conversations_replies": {"channels:history", "groups:history"},
    "users_info": {"users:read"},
    "usergroups_users_list": {"usergroups:read"},
}
# Events → the bot scopes Slack needs to deliver them.
EVENT_SCOPES: dict[str, set[str]] = {
    "app_home_opened": set(),
    "reaction_added": {"reactions:read"},
    "pin_added": {"pins:read"},
    "message": {"channels:history", "groups:history"},  # message.channels and message.groups
    "tokens_revoked": set(),
    "app_uninstalled": set(),
}


def manifest() -> dict:
    return yaml.safe_load((ROOT / "app.manifest.yaml").read_text(encoding="utf-8"))


def source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in PRODUCT)


def test_scopes_are_exactly_those_the_code_uses() -> None:
    # Web API methods only: a Socket Mode client's own calls (is_connected, ...) need no scope.
    called = {name for name in re.findall(r"\bclient\.([a-z]+_[A-Za-z0-9_]+)\(", source()) if hasattr(WebClient, name)}
    unknown = called - set(METHOD_SCOPES)
    assert not unknown, f"add these Web API methods to METHOD_SCOPES: {unknown}"
    events = set(re.findall(r'\bapp\.event\("([^"]+)"\)', source()))
    assert not events - set(EVENT_SCOPES), f"add these events to EVENT_SCOPES: {events - set(EVENT_SCOPES)}"
    needed = {"commands"} | set().union(*(METHOD_SCOPES[m] for m in called), *(EVENT_SCOPES[e] for e in events))
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == needed


def test_commands_shortcuts_and_events_match_the_registered_listeners() -> None:
    code = source()
    data = manifest()
    assert {c["command"] for c in data["features"]["slash_commands"]} == set(
        re.findall(r'\bapp\.command\("([^"]+)"\)', code)
    )
    shortcut_ids = set(re.findall(r'CALLBACK_ID = "([^"]+)"', (ROOT / "handlers" / "shortcuts.py").read_text()))
    assert {s["callback_id"] for s in data["features"]["shortcuts"]} == shortcut_ids
    # message.channels and message.groups both arrive as "message" events
    subscribed = {e.split(".")[0] for e in data["settings"]["event_subscriptions"]["bot_events"]}
    assert subscribed == set(re.findall(r'\bapp\.event\("([^"]+)"\)', code))
    for command in data["features"]["slash_commands"]:
        assert command["should_escape"] is True  # mentions arrive as <@U…> and text entity-escaped
    settings = data["settings"]
    urls = {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        settings["interactivity"]["message_menu_options_url"],
    } | {c["url"] for c in data["features"]["slash_commands"]}
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")


def test_every_manifest_surface_is_answered(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    """A signed request for each command, shortcut and event in the manifest reaches a listener: answered
    200, and not by the catch-all that acknowledges what no listener handles."""
    caplog.set_level(logging.INFO, logger="bot.web")
    data = manifest()
    for command in data["features"]["slash_commands"]:
        assert bot.driver.command("U30REQ", command["command"], "help").status == 200
    ts = bot.standin.add_message("C0GENERAL", "U30REQ", "hello")
    for shortcut in data["features"]["shortcuts"]:
        response = bot.driver.message_shortcut("U30REQ", shortcut["callback_id"], channel_id="C0GENERAL", message_ts=ts)
        assert response.status == 200
    for event in data["settings"]["event_subscriptions"]["bot_events"]:
        fields = {"type": event.split(".")[0], "user": "U30REQ", "tab": "home", "channel": "C0GENERAL",
                  "ts": ts, "text": "hello"}
        assert bot.driver.event(fields).status == 200
    unhandled = [r.getMessage() for r in caplog.records if "unhandled, acknowledged" in r.getMessage()]
    assert not unhandled, unhandled


def test_advocacy_command_is_declared_with_escaping_and_answers_help(bot: Bot) -> None:
    [command] = [c for c in manifest()["features"]["slash_commands"] if c["command"] == "/advocacy"]
    assert command["should_escape"] is True and "handover @from @to" in command["usage_hint"]
    assert len(command["description"]) <= 100  # Slack's limit for a command description
    assert re.search(r'@app\.command\("/advocacy"\)', (ROOT / "handlers" / "commands.py").read_text())
    answer = bot.driver.command("U30REQ", "/advocacy", "help")
    assert answer.status == 200 and "/advocacy handover @from @to [--reason text]" in answer.text
