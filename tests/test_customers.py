"""Customers: `/advocacy customer add|edit|show` end to end (the form, near-duplicates, status history, who
may), and `advocacy-bot customers import|export` (all or nothing, by name, round trip)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.domain.customer_csv import ImportRefused, import_customers, read_rows
from bot.domain.customers import (
    comparable,
    create_customer,
    similar_customers,
    update_customer,
)
from storage.db import Database
from storage.models import Case, Customer, CustomerStatusChange
from tests.cli_helpers import bot_env, cli, write_config
from tests.conftest import Bot, wait_until
from tests.helpers import all_cases, setup_settled

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TIERS = {"strategic": "30d", "standard": "90d"}
HEADER = "name,tier,timezone,preferred_hours,advocate,annual_revenue,status,external_ref"


@pytest.fixture
def team(team: dict[str, Any]) -> dict[str, Any]:
    team["checkins"] = {"tiers": dict(TIERS), "default_tier": "standard"}
    return team


@pytest.fixture
def at_t0(bot: Bot) -> Bot:
    bot.clock.now = T0
    return bot


# ---------------------------------------------------------------- helpers


def advocacy(bot: Bot, user: str, text: str) -> str:
    response = bot.driver.command(user, "/advocacy", text, channel_id="C0GENERAL")
    assert response.status == 200
    return response.text


def open_form(bot: Bot, user: str, text: str) -> dict[str, Any]:
    """Type the command; the form it opens (views.open comes after the ack)."""
    before = len(bot.standin.views)
    assert advocacy(bot, user, text) == ""  # an empty ack: the form is the answer
    wait_until(lambda: len(bot.standin.views) > before, message="views.open")
    return list(bot.standin.views.values())[-1]


def view_of(bot: Bot, view_id: str) -> dict[str, Any]:
    return bot.standin.views[view_id]


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def submit(bot: Bot, user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any] | None:
    response = bot.driver.view_submission(user, view["id"], values)
    assert response.status == 200, response.text
    return response.json() if response.text else None


def customers(db: Database) -> list[Customer]:
    with db.transaction() as session:
        return list(session.scalars(select(Customer).order_by(Customer.id)))


def history(db: Database, name: str) -> list[tuple[str | None, str, str, str | None]]:
    with db.transaction() as session:
        rows = session.scalars(select(CustomerStatusChange)
                               .join(Customer, Customer.id == CustomerStatusChange.customer_id)
                               .where(Customer.name == name).order_by(CustomerStatusChange.id))
        return [(r.from_status, r.to_status, r.by, r.note) for r in rows]


def make(db: Database, name: str, *, at: datetime = T0, by: str = "U01ADV", **values: Any) -> None:
    with db.transaction() as session:
        create_customer(session, {"name": name, **values}, by=by, now=at)


FULL = {
    "name": "Acme & Sons",
    "tier": "strategic",
    "timezone": "Europe/Stockholm",
    "preferred_hours": "Tue-Thu 10:00 - 12:00",
    "advocate": "U02ADV",
    "annual_revenue": "$250k",
    "status": "at-risk",
    "external_ref": "CRM-1",
    "status_note": "Renewal is wobbly",
}


# ---------------------------------------------------------------- the form


def test_add_opens_the_form_and_creates_the_customer_with_its_first_status_row(at_t0: Bot) -> None:
    bot = at_t0
    view = open_form(bot, "U01ADV", "customer add Acme & Sons")  # typed text arrives escaped: Acme &amp; Sons
    assert view["callback_id"] == "customer_form" and view["title"]["text"] == "New customer"
    assert block(view, "name")["element"]["initial_value"] == "Acme & Sons"
    assert view["private_metadata"] == ""
    assert [o["value"] for o in block(view, "tier")["element"]["options"]] == ["strategic", "standard", "-"]
    assert block(view, "status")["element"]["initial_option"]["value"] == "active"
    assert block(view, "advocate")["element"]["type"] == "users_select"
    assert all(b.get("block_id") != "confirm_new" for b in view["blocks"])  # no similar names: no checkbox
    # the timezone menu is the escalate form's external_select, answered by the same options handler
    zones = bot.driver.block_suggestion("U01ADV", "customer_timezone", "stockholm", view_id=view["id"],
                                        block_id="timezone")
    assert [o["value"] for o in zones.json()["options"]] == ["Europe/Stockholm"]

    assert submit(bot, "U01ADV", view, FULL) is None  # closed
    [customer] = customers(bot.db)
    assert (customer.name, customer.name_key, customer.tier, customer.timezone) == (
        "Acme & Sons", "acme & sons", "strategic", "Europe/Stockholm")
    assert customer.preferred_hours == "tue-thu 10:00-12:00"  # stored as parse_contact_hours reads it
    assert (customer.advocate_id, customer.annual_revenue, customer.status, customer.external_ref) == (
        "U02ADV", Decimal("250000.00"), "at-risk", "CRM-1")
    assert customer.created_at == T0
    assert history(bot.db, "Acme & Sons") == [(None, "at-risk", "U01ADV", "Renewal is wobbly")]


def test_edit_with_a_status_change_writes_history_with_who_when_and_the_note(at_t0: Bot) -> None:
    bot = at_t0
    make(bot.db, "Acme", tier="strategic", timezone="America/Chicago", preferred_hours="mon-fri 09:00-11:00",
         advocate_id="U01ADV", annual_revenue=Decimal("250000"), external_ref="CRM-7")
    bot.clock.advance(days=3)
    view = open_form(bot, "U02ADV", "customer edit  ACME ")  # any case and spacing finds it
    assert view["title"]["text"] == "Edit customer" and json.loads(view["private_metadata"]) == {
        "customer": customers(bot.db)[0].id}
    assert block(view, "name")["element"]["initial_value"] == "Acme"
    assert block(view, "tier")["element"]["initial_option"]["value"] == "strategic"
    assert block(view, "timezone")["element"]["initial_option"]["value"] == "America/Chicago"
    assert block(view, "preferred_hours")["element"]["initial_value"] == "mon-fri 09:00-11:00"
    assert block(view, "advocate")["element"]["initial_user"] == "U01ADV"
    assert block(view, "annual_revenue")["element"]["initial_value"] == "$250,000"
    assert block(view, "status")["element"]["initial_option"]["value"] == "active"

    assert submit(bot, "U02ADV", view, {"status": "churned",
                                        "status_note": "Moved to a competitor <!channel> & co"}) is None
    [customer] = customers(bot.db)
    # the untouched fields came back as they were: only the status changed
    assert (customer.status, customer.tier, customer.advocate_id, customer.annual_revenue) == (
        "churned", "strategic", "U01ADV", Decimal("250000.00"))
    assert customer.updated_at == T0 + timedelta(days=3)
    assert history(bot.db, "Acme") == [
        (None, "active", "U01ADV", None),
        ("active", "churned", "U02ADV", "Moved to a competitor <!channel> & co"),
    ]
    with bot.db.transaction() as session:
        last = session.scalars(select(CustomerStatusChange).order_by(CustomerStatusChange.id.desc())).first()
        assert last is not None and last.at == T0 + timedelta(days=3)

    card = advocacy(bot, "U30REQ", "customer show acme")  # anyone may look
    assert card.startswith("*Acme* — churned")
    assert "active → churned by <@U02ADV>: “Moved to a competitor &lt;!channel&gt; &amp; co”" in card
    assert "active (created) by <@U01ADV>" in card
    assert "Tier: strategic" in card and "Advocate: <@U01ADV>" in card and "Annual revenue: $250,000" in card
    assert "<!channel>" not in card

    # the tier can be cleared; renaming by case only is no near-duplicate question
    view = open_form(bot, "U02ADV", "customer edit Acme")
    assert submit(bot, "U02ADV", view, {"name": "ACME", "tier": "-", "preferred_hours": ""}) is None
    [customer] = customers(bot.db)
    assert (customer.name, customer.tier, customer.preferred_hours, customer.status) == ("ACME", None, None, "churned")
    assert len(history(bot.db, "ACME")) == 2


def test_each_field_is_validated_on_its_own_block_and_a_corrected_form_goes_through(at_t0: Bot) -> None:
    bot = at_t0
    view = open_form(bot, "U01ADV", "customer add")
    answer = submit(bot, "U01ADV", view, {
        "name": "   ",
        "tier": {"text": {"type": "plain_text", "text": "platinum"}, "value": "platinum"},  # the config changed
        "timezone": "Mars/Olympus_Mons",
        "preferred_hours": "whenever they like",
        "annual_revenue": "lots",
        "status": "active",
    })
    assert answer is not None and answer["response_action"] == "errors"
    errors = answer["errors"]
    assert set(errors) == {"name", "tier", "timezone", "preferred_hours", "annual_revenue"}
    assert "Write the customer's name" in errors["name"]
    assert "“platinum” is not a tier; tiers are: strategic, standard" in errors["tier"]
    assert "not an IANA timezone" in errors["timezone"]
    assert "tue-thu 10:00-12:00" in errors["preferred_hours"]
    assert "not an amount" in errors["annual_revenue"]
    answer = submit(bot, "U01ADV", view, {"name": "Initech", "preferred_hours": "mon-fri 25:00-26:00",
                                          "annual_revenue": "$2,000,000,000,000"})
    assert answer is not None and set(answer["errors"]) == {"preferred_hours", "annual_revenue"}
    # the owning advocate must be an advocate (escalations for the customer are assigned to them)
    answer = submit(bot, "U01ADV", view, {"name": "Initech", "advocate": "U30REQ"})
    assert answer is not None and set(answer["errors"]) == {"advocate"}
    assert customers(bot.db) == []
    # errors did not use up the view: the corrected form is saved
    assert submit(bot, "U01ADV", view, {"name": "Initech", "advocate": "U01ADV", "annual_revenue": "1234.5"}) is None
    [customer] = customers(bot.db)
    assert (customer.name, customer.advocate_id, customer.annual_revenue) == ("Initech", "U01ADV", Decimal("1234.50"))

    # a note with no status change would be lost: refused on the note
    view = open_form(bot, "U01ADV", "customer edit Initech")
    assert block(view, "annual_revenue")["element"]["initial_value"] == "1234.50"  # reads back as it was
    answer = submit(bot, "U01ADV", view, {"status_note": "Just so you know"})
    assert answer is not None and set(answer["errors"]) == {"status_note"}
    assert "goes with a status change" in answer["errors"]["status_note"]
    assert history(bot.db, "Initech") == [(None, "active", "U01ADV", None)]


def test_near_duplicates_are_offered_in_the_form_then_confirmed(at_t0: Bot) -> None:
    bot = at_t0
    make(bot.db, "ACME Corp.")
    make(bot.db, "Acme, Inc.")
    make(bot.db, "Globex Corporation")
    # the exact name (any case) is not a near-duplicate: it is the customer, and add says so
    exact = advocacy(bot, "U01ADV", "customer add acme corp.")
    assert exact.startswith(":warning: *ACME Corp.* already exists: `/advocacy customer edit ACME Corp.`")

    view = open_form(bot, "U01ADV", "customer add Acme")
    listed = block(view, "confirm_new")
    assert listed["element"]["options"][0]["text"]["text"] == "This is a new customer"
    context = json.dumps(view["blocks"])
    assert "Similar customers exist: ACME Corp., Acme, Inc." in context and "Globex" not in context
    answer = submit(bot, "U01ADV", view, {"name": "Acme"})
    assert answer is not None and answer["response_action"] == "errors"
    assert answer["errors"] == {"name": "Similar customers exist: ACME Corp., Acme, Inc. — use /advocacy customer "
                                         "edit <name>, or tick “This is a new customer”."}
    assert len(customers(bot.db)) == 3
    assert submit(bot, "U01ADV", view, {"name": "Acme", "confirm_new": ["new"]}) is None
    assert [c.name for c in customers(bot.db)] == ["ACME Corp.", "Acme, Inc.", "Globex Corporation", "Acme"]

    # a name first typed in the form: the matches and the checkbox come back into it, values kept
    view = open_form(bot, "U01ADV", "customer add")
    answer = submit(bot, "U01ADV", view, {"name": "GLOBEX", "external_ref": "CRM-9"})
    assert answer is not None and answer["response_action"] == "update"
    view = view_of(bot, view["id"])
    assert block(view, "name")["element"]["initial_value"] == "GLOBEX"
    assert block(view, "external_ref")["element"]["initial_value"] == "CRM-9"
    assert "Similar customers exist: Globex Corporation" in json.dumps(view["blocks"])
    answer = submit(bot, "U01ADV", view, {})
    assert answer is not None and "Globex Corporation" in answer["errors"]["name"]
    assert submit(bot, "U01ADV", view, {"confirm_new": ["new"]}) is None
    assert customers(bot.db)[-1].external_ref == "CRM-9"

    # renaming in the edit form asks too; renaming onto an existing name is refused
    make(bot.db, "Initech")
    view = open_form(bot, "U02ADV", "customer edit Initech")
    answer = submit(bot, "U02ADV", view, {"name": "Globex Corp"})
    assert answer is not None and answer["response_action"] == "update"
    view = view_of(bot, view["id"])
    assert block(view, "confirm_new")["element"]["options"][0]["text"]["text"] == "This is a different customer"
    answer = submit(bot, "U02ADV", view, {"name": "globex corporation"})
    assert answer is not None and "“Globex Corporation” already exists" in answer["errors"]["name"]
    assert submit(bot, "U02ADV", view, {"name": "Globex Corp", "confirm_new": ["new"]}) is None
    assert "Globex Corp" in [c.name for c in customers(bot.db)]


def test_a_form_submitted_twice_changes_once(at_t0: Bot) -> None:
    bot = at_t0
    view = open_form(bot, "U01ADV", "customer add Umbrella")
    values = {"status": "at-risk", "status_note": "Outage week"}
    assert submit(bot, "U01ADV", view, values) is None
    assert submit(bot, "U01ADV", view, values) is None  # the same view id: already done, closed again
    assert [c.name for c in customers(bot.db)] == ["Umbrella"]

    view = open_form(bot, "U02ADV", "customer edit Umbrella")
    values = {"status": "churned", "status_note": "Gone"}
    assert submit(bot, "U02ADV", view, values) is None
    assert submit(bot, "U02ADV", view, values) is None
    assert history(bot.db, "Umbrella") == [(None, "at-risk", "U01ADV", "Outage week"),
                                           ("at-risk", "churned", "U02ADV", "Gone")]


def test_only_advocates_add_or_edit(at_t0: Bot) -> None:
    bot = at_t0
    make(bot.db, "Acme")
    for text in ("customer add Hooli", "customer edit Acme"):
        answer = advocacy(bot, "U30REQ", text)
        assert answer.startswith(":warning: Only an advocate can add or edit customers; ask one of <@U01ADV>, "
                                 "<@U02ADV>.")
    assert bot.standin.calls_to("views.open") == []
    # a form opened by an advocate and submitted by someone else is refused too
    view = open_form(bot, "U01ADV", "customer edit Acme")
    answer = submit(bot, "U30REQ", view, {"status": "churned", "status_note": "mine now"})
    assert answer is not None and answer["errors"] == {"name": "Only an advocate can add or edit customers."}
    assert history(bot.db, "Acme") == [(None, "active", "U01ADV", None)]


def test_show_and_edit_of_an_unknown_name_offer_the_closest_matches(at_t0: Bot) -> None:
    bot = at_t0
    for name in ("Acme Corp", "Acme Logistics", "Globex", "Initech"):
        make(bot.db, name)
    answer = advocacy(bot, "U30REQ", "customer show acme")
    assert answer.startswith(":mag: I know no customer called “acme”. Closest: *Acme Corp*, *Acme Logistics*")
    assert "Globex" not in answer and "`/advocacy customer show Acme Corp`" in answer
    answer = advocacy(bot, "U01ADV", "customer edit Inittech")
    assert "Closest: *Initech*" in answer and "`/advocacy customer edit Initech`" in answer
    assert bot.standin.calls_to("views.open") == []
    answer = advocacy(bot, "U30REQ", "customer show <Zebra & Zoo>")
    assert answer == ":mag: I know no customer called “&lt;Zebra &amp; Zoo&gt;”. " \
                     "`/advocacy customer add &lt;Zebra &amp; Zoo&gt;` adds one."


def test_show_lists_details_history_and_open_and_recent_cases(at_t0: Bot) -> None:
    bot = at_t0
    for number, text in enumerate(("Acme: delivery late", "Acme: refund stuck <!here> p1"), start=1):
        bot.driver.command("U30REQ", "/escalate", text, channel_id="C0GENERAL")
        wait_until(lambda n=number: len(all_cases(bot.db)) == n and setup_settled(bot.db), message="set-up")
        if number == 1:  # ended: the next escalation is a new case, not a choice
            with bot.db.transaction() as session:
                session.execute(update(Case).where(Case.number == 1).values(
                    status="closed", resolved_at=T0, closed_at=T0, next_update_due=None))
    second = all_cases(bot.db)[1]
    card = advocacy(bot, "U40OTHER", "customer show Acme")
    assert card.startswith("*Acme* — active\nTier: not set · Advocate: not set")
    assert "active (created) by bot" in card  # the escalation created it
    assert f"*Open cases* (1)\n• #2 · P1 · new · <#{second.channel_id}> — refund stuck &lt;!here&gt;" in card
    assert "<!here>" not in card
    assert "*Recent cases*\n• #1 · closed <!date^" in card and "delivery late" in card


def test_usage_and_help(bot: Bot) -> None:
    assert "`/advocacy customer show|add|edit <name>`" in advocacy(bot, "U30REQ", "help")
    assert advocacy(bot, "U30REQ", "customer").startswith(":warning: Say what to do: `/advocacy customer show|add|")
    assert advocacy(bot, "U30REQ", "customer delete Acme").startswith(
        ":warning: `delete` is not a customer sub-command")
    assert "Name the customer" in advocacy(bot, "U30REQ", "customer show")
    assert "Name the customer" in advocacy(bot, "U01ADV", "customer edit")


# ---------------------------------------------------------------- the domain


def test_near_duplicate_names_ignore_case_punctuation_and_legal_suffixes(db: Database) -> None:
    assert comparable("ACME Corp.") == comparable("Acme, Inc.") == comparable("acme") == "acme"
    assert comparable("The Müller GmbH & Co. KG") == "muller"
    assert comparable("AB") == "ab"  # a suffix alone is the name
    for name in ("ACME Corp.", "Acme, Inc.", "Acme Ltd", "Acne", "Apex", "Initech"):
        make(db, name)
    with db.transaction() as session:
        found = [c.name for c in similar_customers(session, "Acme")]
        assert found == ["ACME Corp.", "Acme Ltd", "Acme, Inc."]
        assert [c.name for c in similar_customers(session, "acme corp.")] == ["Acme Ltd", "Acme, Inc."]  # not itself
        assert [c.name for c in similar_customers(session, "Acme", limit=1)] == ["ACME Corp."]
        assert [c.name for c in similar_customers(session, "Inittech")] == ["Initech"]
        assert similar_customers(session, "Globex") == []


def test_only_update_customer_changes_the_status_and_it_writes_the_history(db: Database) -> None:
    make(db, "Acme")
    with db.transaction() as session:
        acme = session.scalars(select(Customer)).one()
        assert update_customer(session, acme, {"status": "at-risk"}, by="bot", now=T0 + timedelta(hours=1)) == [
            "status"]
        assert update_customer(session, acme, {"status": "at-risk", "tier": None}, by="bot", now=T0) == []
    assert history(db, "Acme") == [(None, "active", "U01ADV", None), ("active", "at-risk", "bot", None)]


# ---------------------------------------------------------------- CSV import and export


def rows_of(text: str) -> list[Any]:
    return read_rows(io.StringIO(text), tiers=TIERS, advocates=["U01ADV", "U02ADV"])


def test_bad_rows_name_their_file_line_even_after_a_multi_line_cell() -> None:
    text = (f"{HEADER}\n"
            'Acme,strategic,Europe/Stockholm,tue-thu 10:00-12:00,U01ADV,$250k,active,"CRM\nsecond line"\n'
            "\n"
            "Globex,gold,Mars/Base,whenever,U30REQ,-5,gone,\n"
            ",standard,,,,,,\n"
            "ACME,,,,,,,\n"
            "Hooli,,,,,,,,extra\n")
    with pytest.raises(ImportRefused) as refused:
        rows_of(text)
    assert [str(b) for b in refused.value.bad] == [
        "line 5: tier: “gold” is not a tier; tiers are: strategic, standard.; "
        "timezone: “Mars/Base” is not an IANA timezone (e.g. Europe/Stockholm, America/New_York).; "
        "preferred_hours: 'whenever' is not contact hours; write days and times like tue-thu 10:00-12:00; "
        "annual_revenue: “-5” is not an amount ≥ 0; write it like $250k, $250,000 or 250000.; "
        "status: “gone” is not a status; use active, at-risk, churned.; "
        "advocate: U30REQ is not one of the team's advocates (U01ADV, U02ADV)",
        "line 6: name is empty",
        "line 7: “ACME” is also on line 2",
        "line 8: 9 cells, the header has 8",
    ]
    with pytest.raises(ImportRefused) as refused:
        rows_of("name,timezon,Status\nAcme,UTC,active\n")
    assert [str(b) for b in refused.value.bad] == [
        "line 1: unknown column 'timezon' (columns are: " + HEADER.replace(",", ", ") + ")"]
    with pytest.raises(ImportRefused) as refused:
        rows_of("tier,tier\n")
    assert str(refused.value.bad[0]) == "line 1: column 'tier' appears twice; missing column 'name'"
    # only name is required; columns may come in any order; status and tier are forgiving about case
    [row] = rows_of("Status,NAME\nAt Risk,  Acme   Corp \n")
    assert row.values == {"name": "Acme Corp", "status": "at-risk"}


def test_import_by_name_keeps_empty_cells_and_writes_status_history_by_import(db: Database) -> None:
    first = (f"{HEADER}\nAcme,strategic,Europe/Stockholm,tue-thu 10:00-12:00,U01ADV,$250k,active,CRM-1\n"
             "Globex,,,,,,at-risk,\n")
    with db.transaction() as session:
        assert str(import_customers(session, io.StringIO(first), now=T0, tiers=TIERS)) == (
            "created 2, updated 0, unchanged 0")
    again = "name,status,tier\nACME,churned,\nglobex,at-risk,standard\nInitech,,\n"
    with db.transaction() as session:
        report = import_customers(session, io.StringIO(again), now=T0 + timedelta(days=1), tiers=TIERS)
    assert (report.created, report.updated, report.unchanged) == (1, 2, 0)
    with db.transaction() as session:
        report = import_customers(session, io.StringIO(again), now=T0 + timedelta(days=2), tiers=TIERS)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    acme, globex, initech = customers(db)
    assert (acme.name, acme.tier, acme.timezone, acme.external_ref, acme.status) == (
        "Acme", "strategic", "Europe/Stockholm", "CRM-1", "churned")  # empty cells left it as it was
    assert acme.updated_at == T0 + timedelta(days=1)
    assert globex.tier == "standard" and initech.status == "active"
    assert history(db, "Acme") == [(None, "active", "import", None), ("active", "churned", "import", None)]
    assert history(db, "Globex") == [(None, "at-risk", "import", None)]


def test_cli_import_reports_bad_rows_imports_nothing_then_imports_and_round_trips(
        tmp_path: Path, team: dict[str, Any], database_url: str) -> None:
    config = write_config(tmp_path / "advocacy.yaml", team)
    env = bot_env(ADVOCACY_CONFIG=str(config), DATABASE_URL=database_url)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\nAcme,strategic,,,,,,\nGlobex,,Europe/Atlantis,,,,,\n", encoding="utf-8")
    result = cli("customers", "import", str(bad), env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"{bad}: line 3: timezone: “Europe/Atlantis” is not an IANA timezone" in result.stderr
    assert "nothing imported: 1 bad row(s)" in result.stderr and "Traceback" not in result.stderr
    db = Database(database_url)
    try:
        assert customers(db) == []

        good = tmp_path / "customers.csv"
        good.write_text(
            "\ufeff" + HEADER + "\n"  # a spreadsheet's byte-order mark is fine
            "Acme,strategic,Europe/Stockholm,tue-thu 10:00-12:00,<@U01ADV>,$250k,active,CRM-1\n"
            "=HYPERLINK(\"x\"),,,,,1234.50,at-risk,-42\n"
            "Globex,standard,America/New_York,,U02ADV,,churned,\n", encoding="utf-8")
        result = cli("customers", "import", str(good), env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{good}: created 3, updated 0, unchanged 0"
        assert history(db, "Globex") == [(None, "churned", "import", None)]

        exported = cli("customers", "export", env=env, cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
        table = list(csv.reader(io.StringIO(exported.stdout)))
        assert table[0] == [*HEADER.split(","), "id", "created_at", "updated_at"]
        assert table[1][:8] == ["'=HYPERLINK(\"x\")", "", "", "", "", "1234.50", "at-risk", "'-42"]  # kept as text
        assert table[2][:8] == ["Acme", "strategic", "Europe/Stockholm", "tue-thu 10:00-12:00", "U01ADV", "250000",
                                "active", "CRM-1"]
        round_trip = tmp_path / "export.csv"
        round_trip.write_text(exported.stdout, encoding="utf-8")
        result = cli("customers", "import", str(round_trip), env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{round_trip}: created 0, updated 0, unchanged 3"
        assert [c.name for c in customers(db)] == ["Acme", '=HYPERLINK("x")', "Globex"]
        assert customers(db)[1].external_ref == "-42"

        as_json = json.loads(cli("customers", "export", "--format", "json", env=env, cwd=tmp_path).stdout)
        assert [c["name"] for c in as_json] == ["=HYPERLINK(\"x\")", "Acme", "Globex"]
        assert as_json[2]["status_history"] == [{"at": as_json[2]["created_at"], "from": None, "to": "churned",
                                                 "by": "import", "note": None}]
        assert as_json[1]["annual_revenue"] == "250000" and as_json[1]["advocate"] == "U01ADV"
    finally:
        db.dispose()


def test_escalate_for_a_customer_with_an_advocate_makes_them_the_owner(at_t0: Bot) -> None:
    """The owning advocate is the customer's single point of contact, whoever escalates."""
    bot = at_t0
    make(bot.db, "Acme", advocate_id="U02ADV")
    make(bot.db, "Initech", advocate_id="U02ADV")
    # a sales rep, and an advocate (who would own it were the customer not someone else's)
    for requester, text in (("U30REQ", "Acme: refund stuck p1"), ("U01ADV", "initech: invoice wrong p2")):
        before = len(all_cases(bot.db))
        assert bot.driver.command(requester, "/escalate", text).status == 200
        wait_until(lambda before=before: len(all_cases(bot.db)) > before and setup_settled(bot.db),
                   message="the case set-up")
    first, second = all_cases(bot.db)
    assert (first.owner_id, second.owner_id) == ("U02ADV", "U02ADV")
    make(bot.db, "Globex")  # no advocate: the least busy advocate, as before
    bot.driver.command("U30REQ", "/escalate", "Globex: shipment late p2")
    wait_until(lambda: len(all_cases(bot.db)) == 3 and setup_settled(bot.db), message="the third set-up")
    assert all_cases(bot.db)[-1].owner_id == "U01ADV"
