"""/escalate as a modal, and the message shortcut: views.open at once, validation in the modal,
context carried in private_metadata, one case per view even when submitted twice."""

from __future__ import annotations

import json

from storage.db import Database
from tests.conftest import Bot, over_both_transports, wait_until
from tests.helpers import all_cases, setup_settled

pytestmark = over_both_transports  # every test here runs over HTTP and over Socket Mode


def opened_view(bot: Bot) -> dict:
    call = wait_until(lambda: [c for c in bot.standin.calls_to("views.open") if c.ok], message="views.open")[-1]
    view_id = call.response["view"]["id"] if getattr(call, "response", None) else None
    if view_id is None:
        view_id = list(bot.standin.views)[-1]
    return bot.standin.views[view_id]


def element(view: dict, block_id: str) -> dict:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)["element"]


def test_bare_command_opens_the_modal_and_submission_opens_a_case(bot: Bot) -> None:
    response = bot.driver.command("U30REQ", "/escalate", "", channel_id="C0GENERAL")
    assert response.status == 200 and response.text == ""
    view = opened_view(bot)
    assert view["callback_id"] == "escalate"
    metadata = json.loads(view["private_metadata"])
    assert metadata["channel"] == "C0GENERAL" and metadata["response_url"].startswith("http")

    result = bot.driver.view_submission(
        "U30REQ",
        view["id"],
        {
            "customer": "Initech",
            "summary": "TPS reports lost in the shipment",
            "severity": "p1",
            "departments": ["billing"],
            "impact": "$4,500",
            "timezone": "America/Chicago",
            "external_ref": "CRM-42",
        },
    )
    assert result.status == 200
    wait_until(lambda: setup_settled(bot.db))
    [case] = all_cases(bot.db)
    assert (case.customer.name, case.severity, str(case.impact)) == ("Initech", "p1", "4500.00")
    assert case.customer.timezone == "America/Chicago" and case.customer.external_ref == "CRM-42"
    assert [d.department for d in case.departments] == ["billing"]
    assert case.request_channel_id == "C0GENERAL"
    # the view submission had no response_url; the one from private_metadata answered the requester
    wait_until(lambda: any(f"<#{case.channel_id}>" in (r.text or "") for r in bot.standin.responses))


def test_text_without_customer_prefills_the_modal(bot: Bot) -> None:
    bot.driver.command("U30REQ", "/escalate", "checkout broken p1 +billing $2k")
    view = opened_view(bot)
    assert element(view, "summary")["initial_value"] == "checkout broken $2k"
    assert element(view, "severity")["initial_option"]["value"] == "p1"
    assert [o["value"] for o in element(view, "departments")["initial_options"]] == ["billing"]
    assert element(view, "impact")["initial_value"] == "$2,000"
    assert "initial_value" not in element(view, "customer")


def test_modal_validation_errors_come_back_in_the_modal(bot: Bot) -> None:
    bot.driver.command("U30REQ", "/escalate", "")
    view = opened_view(bot)
    result = bot.driver.view_submission("U30REQ", view["id"], {"customer": "Acme", "summary": "", "impact": "lots"})
    body = result.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"summary", "impact"}
    assert all_cases(bot.db) == []


def test_a_view_submitted_twice_opens_one_case(bot: Bot) -> None:
    bot.driver.command("U30REQ", "/escalate", "")
    view = opened_view(bot)
    values = {"customer": "Acme", "summary": "refund stuck", "severity": "p2"}
    first = bot.driver.view_submission("U30REQ", view["id"], values)
    second = bot.driver.view_submission("U30REQ", view["id"], values)
    assert first.status == second.status == 200
    wait_until(lambda: setup_settled(bot.db))
    assert len(all_cases(bot.db)) == 1
    assert len(bot.standin.calls_to("conversations.create")) == 1


def test_timezone_search_offers_matching_zones(bot: Bot) -> None:
    bot.driver.command("U30REQ", "/escalate", "")
    view = opened_view(bot)
    response = bot.driver.block_suggestion("U30REQ", "customer_timezone", "new york", view_id=view["id"],
                                           block_id="timezone")
    values = [o["value"] for o in response.json()["options"]]
    assert values == ["America/New_York"]
    many = bot.driver.block_suggestion("U30REQ", "customer_timezone", "a", view_id=view["id"], block_id="timezone")
    assert len(many.json()["options"]) == 100  # Slack shows at most 100


def test_message_shortcut_prefills_and_keeps_a_permalink_and_bookmark(bot: Bot) -> None:
    long_text = "Customer Acme says the delivery is late again. " * 100  # over the input's 3,000 characters
    ts = bot.standin.add_message("C0GENERAL", "U40OTHER", long_text)
    bot.driver.message_shortcut("U40OTHER", "escalate_message", channel_id="C0GENERAL", message_ts=ts)
    view = opened_view(bot)
    prefilled = element(view, "summary")["initial_value"]
    assert len(prefilled) == 3000 and prefilled.startswith("Customer Acme says")

    bot.driver.view_submission("U40OTHER", view["id"], {"customer": "Acme", "summary": prefilled[:500]})
    wait_until(lambda: setup_settled(bot.db))
    [case] = all_cases(bot.db)
    assert case.source_ts == ts and case.source_channel_id == "C0GENERAL"
    assert case.source_permalink and ts.replace(".", "") in case.source_permalink
    [bookmark] = bot.standin.bookmarks(case.channel_id)
    assert bookmark["link"] == case.source_permalink
    assert [d.department for d in case.departments] == ["logistics"]  # routed by "delivery", "late"


def test_a_database_outage_is_shown_in_the_modal(bot: Bot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bot.driver.command("U30REQ", "/escalate", "")
    view = opened_view(bot)
    working = bot.svc.db
    bot.svc.db = Database(f"sqlite:///{tmp_path}/missing/dir/advocacy.db")  # cannot be opened
    try:
        result = bot.driver.view_submission("U30REQ", view["id"], {"customer": "Acme", "summary": "refund stuck"})
    finally:
        bot.svc.db.dispose()
        bot.svc.db = working
    body = result.json()
    assert body["response_action"] == "errors" and "could not record" in body["errors"]["summary"]
    assert all_cases(bot.db) == []
