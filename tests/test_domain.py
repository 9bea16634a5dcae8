"""The domain without Slack: parsing, routing, owners, numbers, names, durations, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.config import TeamConfig
from bot.domain.cases import Origin, choose_owner, open_case
from bot.domain.escalation import EscalationError, EscalationRequest, parse_escalate_text, parse_impact, route
from bot.durations import format_duration, parse_duration
from bot.settings import SettingsError, load_settings, normalize_database_url
from bot.text import channel_name, escape_mrkdwn, unescape_slack
from storage.db import Database
from storage.models import Case

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "customer", "summary", "severity", "departments", "impact"),
    [
        ("Acme: refund stuck", "Acme", "refund stuck", None, (), None),
        ("AT&amp;T: bill &lt;wrong&gt;", "AT&T", "bill <wrong>", None, (), None),
        ("Acme: P1 down +billing +Logistics $12k", "Acme", "down $12k", "p1", ("billing", "logistics"), "12000"),
        ("Acme: lost $12,000 today", "Acme", "lost $12,000 today", None, (), "12000"),
        ("Acme: lost $1.5m", "Acme", "lost $1.5m", None, (), "1500000"),
        ("see https://status.example.com: down", None, "see https://status.example.com: down", None, (), None),
        ("<@U30REQ|rita> says: call me", None, "<@U30REQ|rita> says: call me", None, (), None),
        ("just a sentence", None, "just a sentence", None, (), None),
        ("", None, "", None, (), None),
    ],
)
def test_parse_escalate_text(
    config: TeamConfig,
    text: str,
    customer: str | None,
    summary: str,
    severity: str | None,
    departments: tuple,
    impact: str | None,
) -> None:
    request = parse_escalate_text(text, config)
    assert request.customer == customer
    assert request.summary == summary
    assert request.severity == severity
    assert request.departments == departments
    assert request.impact == (Decimal(impact) if impact else None)


@pytest.mark.parametrize("text", ["Acme: broken +finance", "Acme: broken p4", "Acme: broken sev2"])
def test_unknown_tokens_are_errors(config: TeamConfig, text: str) -> None:
    with pytest.raises(EscalationError):
        parse_escalate_text(text, config)


def test_routing_uses_whole_words(config: TeamConfig) -> None:
    assert route("the invoices are fine", (), config).departments == ("advocacy",)  # "invoices" ≠ "invoice"
    assert route("Late DELIVERY!", (), config).departments == ("logistics",)
    assert route("refund for the late shipment", (), config).matched == {
        "billing": ["refund"],
        "logistics": ["shipment", "late"],
    }
    assert route("anything", ("billing",), config).reason == "explicit"


def test_impact_formats() -> None:
    assert parse_impact("$12k") == Decimal("12000.00")
    assert parse_impact("12,500") == Decimal("12500.00")
    with pytest.raises(EscalationError):
        parse_impact("twelve")


def test_owner_is_the_advocate_with_fewest_open_cases(db: Database, config: TeamConfig) -> None:
    advocates = ["U01ADV", "U02ADV"]
    with db.transaction() as session:
        assert choose_owner(session, "U02ADV", advocates) == "U02ADV"
        owners = []
        for n in range(3):
            request = EscalationRequest(customer=f"Customer {n}", summary="broken")
            case = open_case(
                session, request, origin=Origin(requester="U30REQ"), config=config, advocates=advocates, now=NOW
            )
            owners.append(case.owner_id)
        assert owners == ["U01ADV", "U02ADV", "U01ADV"]
        session.get_one(Case, 1).status = "resolved"  # resolved cases do not count
        assert choose_owner(session, "U30REQ", advocates) == "U01ADV"


def test_case_numbers_are_sequential_and_customers_unique_by_name(db: Database, config: TeamConfig) -> None:
    with db.transaction() as session:
        first = open_case(
            session,
            EscalationRequest(customer="Acme", summary="a"),
            origin=Origin("U30REQ"),
            config=config,
            advocates=["U01ADV"],
            now=NOW,
        )
        second = open_case(
            session,
            EscalationRequest(customer="  ACME ", summary="b"),
            origin=Origin("U30REQ"),
            config=config,
            advocates=["U01ADV"],
            now=NOW,
        )
        assert (first.number, second.number) == (1, 2)
        assert first.customer_id == second.customer_id
        assert first.created_at == NOW and first.created_at.tzinfo is not None
        assert first.next_update_due == NOW + timedelta(days=1)


def test_channel_names_are_valid_slack_names() -> None:
    assert channel_name("case-7", "Acme, Inc.") == "case-7-acme-inc"
    assert channel_name("case-7", "Société Générale") == "case-7-societe-generale"
    assert channel_name("case-7", "Ω") == "case-7-o"
    assert channel_name("case-7", "!!!") == "case-7-customer"
    long = channel_name("case-12345", "word " * 100, suffix="3")
    assert len(long) <= 80 and long.endswith("-3") and "--" not in long


def test_escape_and_unescape() -> None:
    assert escape_mrkdwn("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert unescape_slack("AT&amp;T &lt;x&gt;") == "AT&T <x>"


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2w") == timedelta(days=14)
    assert format_duration(timedelta(days=1, hours=2)) == "1d 2h"
    for bad in ("", "2", "h", "-1h", "0m", "2 hours"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert normalize_database_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalize_database_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-secret")
    settings = load_settings(_env_file=None)
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.socket_mode
    assert "xapp-1-secret" not in repr(settings)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-wrong-kind")
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None)
    assert "SLACK_APP_TOKEN" in str(error.value) and "xoxb-wrong-kind" not in str(error.value)
