"""Feedback: `advocacy-bot feedback import FILE.csv` (all or nothing, idempotent) and `export feedback`."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain.customers import name_key
from bot.domain.feedback import BadRow, Imported, ImportRefused, import_feedback
from storage.db import Database
from storage.models import Case, Customer, CustomerStatusChange, Feedback
from tests.cli_helpers import bot_env, cli

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")  # alembic's, on SQLite
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HEADER = "customer,date,nps,csat,comment,source\n"
GOOD = (HEADER
        + "acme corp,2026-11-02,9,5,Great help,\n"  # the customer's name in another case
        + 'Globex,2026-11-03T14:30:00+01:00,3,,"Slow, and the invoice\nwas wrong",delighted\n'  # two lines
        + "Globex,2026-11-04T08:00:00Z,,4,,\n")  # CSAT only


def add_customer(session: Any, name: str, *, advocate: str | None = None, tier: str | None = None) -> Customer:
    customer = Customer(name=name, name_key=name_key(name), created_at=datetime(2026, 1, 1, tzinfo=UTC),
                        status="active", advocate_id=advocate, tier=tier)
    session.add(customer)
    session.flush()
    session.add(CustomerStatusChange(customer_id=customer.id, at=customer.created_at, from_status=None,
                                     to_status="active", by="import"))
    return customer


@pytest.fixture
def customers(db: Database) -> Database:
    with db.transaction() as session:
        add_customer(session, "Acme Corp", advocate="U01ADV", tier="gold")
        add_customer(session, "Globex", advocate="U02ADV")
    return db


def run_import(db: Database, text: str) -> Imported:
    with db.transaction() as session:
        return import_feedback(session, io.StringIO(text, newline=""), now=NOW)


def answers(db: Database) -> list[Feedback]:
    with db.transaction() as session:
        return list(session.scalars(select(Feedback).order_by(Feedback.at)))


def test_import_stores_each_answer_with_the_customers_advocate(customers: Database) -> None:
    assert run_import(customers, GOOD) == Imported(added=3, already=0)
    acme, slow, csat_only = answers(customers)
    assert (acme.at, acme.nps, acme.csat, acme.comment, acme.source, acme.channel, acme.advocate_id) == (
        datetime(2026, 11, 2, tzinfo=UTC), 9, 5, "Great help", "survey", "survey", "U01ADV")
    assert (slow.at, slow.nps, slow.csat, slow.comment, slow.source, slow.advocate_id) == (
        datetime(2026, 11, 3, 13, 30, tzinfo=UTC), 3, None, "Slow, and the invoice\nwas wrong", "delighted", "U02ADV")
    assert (csat_only.at, csat_only.nps, csat_only.csat, csat_only.comment) == (
        datetime(2026, 11, 4, 8, 0, tzinfo=UTC), None, 4, None)
    assert all(a.key.startswith("import:") and a.created_at == NOW and a.case_id is None for a in (acme, slow))
    assert len({a.key for a in (acme, slow, csat_only)}) == 3


def test_importing_again_adds_nothing(customers: Database) -> None:
    run_import(customers, GOOD)
    assert run_import(customers, GOOD) == Imported(added=0, already=3)
    # the same answer written differently (name case, spacing, the instant as a date) is the same answer
    more = HEADER + "ACME CORP , 2026-11-02T00:00:00Z, 9 ,5, Great help ,survey\nGlobex,2026-11-05,10,,,\n"
    assert run_import(customers, more) == Imported(added=1, already=1)
    twice = HEADER + "Globex,2026-11-06,8,,,\nGlobex,2026-11-06,8,,,\n"
    assert run_import(customers, twice) == Imported(added=1, already=1)
    assert len(answers(customers)) == 5
    # a different score, comment or source is another answer
    assert run_import(customers, HEADER + "Globex,2026-11-06,7,,,\nGlobex,2026-11-06,8,,,nps-tool\n").added == 2


@pytest.mark.parametrize(("row", "problem"), [
    ("Initech,2026-11-05,9,,,", "unknown customer 'Initech'"),
    ("Globex,2026-11-05,11,,,", "nps '11' is not a whole number from 0 to 10"),
    ("Globex,2026-11-05,,0,,", "csat '0' is not a whole number from 1 to 5"),
    ("Globex,2026-11-05,7.5,,,", "nps '7.5' is not a whole number from 0 to 10"),
    ("Globex,05/11/2026,9,,,", "date '05/11/2026' is not YYYY-MM-DD or an ISO 8601 instant"),
    ("Globex,2026-02-30,9,,,", "date '2026-02-30' is not YYYY-MM-DD or an ISO 8601 instant"),
    ("Globex,2026-11-05,,,just words,", "no score: give nps, csat or both"),
    (",2026-11-05,9,,,", "customer is empty"),
    ("Globex,,9,,,", "date is empty"),
    ("Globex,2026-11-05,9", "missing column(s) csat, comment, source"),
    ("Globex,2026-11-05,9,,,survey,extra", "7 fields, the header has 6"),
])
def test_a_bad_row_refuses_the_whole_file_with_its_line_number(customers: Database, row: str, problem: str) -> None:
    # lines 3-4 are one row (a two-line comment): the bad row is on line 6 of the file
    text = GOOD + row + "\n" + "Acme Corp,2026-11-06,10,,,\n"
    with pytest.raises(ImportRefused) as refused:
        run_import(customers, text)
    assert refused.value.bad == [BadRow(line=6, problems=(problem,))]
    assert answers(customers) == []


def test_every_bad_row_is_reported_with_all_its_problems(customers: Database) -> None:
    text = (HEADER + "Globex,2026-11-05,9,,,\n" + "\n"  # a blank line still counts
            + "Initech,yesterday,12,6,,\n" + "Globex,2026-11-05,-1,,,\n")
    with pytest.raises(ImportRefused) as refused:
        run_import(customers, text)
    assert [str(bad) for bad in refused.value.bad] == [
        "line 4: unknown customer 'Initech'; date 'yesterday' is not YYYY-MM-DD or an ISO 8601 instant; "
        "nps '12' is not a whole number from 0 to 10; csat '6' is not a whole number from 1 to 5",
        "line 5: nps '-1' is not a whole number from 0 to 10",
    ]


@pytest.mark.parametrize(("header", "problems"), [
    ("customer,nps,csat", ("missing column 'date'",)),
    ("customer,date,comment", ("missing column: nps, csat or both",)),
    ("Customer,Date,NPS,score", ("unknown column 'score' (columns are: customer, date, nps, csat, comment, source)",)),
    ("customer,date,nps,nps", ("column 'nps' appears twice",)),
])
def test_a_bad_header_is_line_1(customers: Database, header: str, problems: tuple[str, ...]) -> None:
    with pytest.raises(ImportRefused) as refused:
        run_import(customers, header + "\nGlobex,2026-11-05,9,4\n")
    assert refused.value.bad == [BadRow(line=1, problems=problems)]
    with pytest.raises(ImportRefused) as empty:
        run_import(customers, "\n\n")
    assert empty.value.bad[0].line == 1 and "the file is empty" in str(empty.value.bad[0])


def test_columns_may_come_in_any_order_and_optional_ones_may_be_left_out(customers: Database) -> None:
    assert run_import(customers, "nps,Customer,date\n6,Globex,2026-11-05\n") == Imported(added=1, already=0)
    [answer] = answers(customers)
    assert (answer.nps, answer.csat, answer.source, answer.comment) == (6, None, "survey", None)


# ---------------------------------------------------------------- the command


def test_the_command_imports_reports_and_refuses(customers: Database, database_url: str, tmp_path: Path) -> None:
    env = bot_env(DATABASE_URL=database_url)
    good = tmp_path / "survey.csv"
    good.write_text("\ufeff" + GOOD, encoding="utf-8")  # spreadsheets write a byte-order mark
    first = cli("feedback", "import", str(good), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"{good}: added 3, already there 0"
    again = cli("feedback", "import", str(good), env=env, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.strip() == f"{good}: added 0, already there 3"

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "Globex,2026-11-20,10,,,\nGlobex,2026-11-21,11,,,\nInitech,2026-11-21,9,,,\n",
                   encoding="utf-8")
    refused = cli("feedback", "import", str(bad), env=env, cwd=tmp_path)
    assert refused.returncode == 1
    assert [line for line in refused.stderr.splitlines() if not LOG_LINE.match(line)] == [
        f"{bad}: line 3: nps '11' is not a whole number from 0 to 10",
        f"{bad}: line 4: unknown customer 'Initech'",
        "nothing imported: 2 bad row(s)",
    ]
    assert len(answers(customers)) == 3  # the good row of the bad file was not imported either

    missing = cli("feedback", "import", str(tmp_path / "nope.csv"), env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr


def test_export_feedback_as_json_and_csv(customers: Database, database_url: str, tmp_path: Path) -> None:
    run_import(customers, GOOD)
    with customers.transaction() as session:
        globex = session.scalars(select(Customer).where(Customer.name == "Globex")).one()
        case = Case(number=7, customer_id=globex.id, summary="invoice wrong", severity="p2", status="new",
                    owner_id="U02ADV", reporter_id="U02ADV", created_at=NOW, updated_at=NOW)
        session.add(case)
        session.flush()
        session.add(Feedback(key="checkin:1", customer_id=globex.id, advocate_id="U02ADV",
                             at=datetime(2026, 11, 10, 9, tzinfo=UTC), source="checkin", channel="call", nps=2,
                             problems="=invoice twice", comment="-angry", case_id=case.id, created_at=NOW))
    env = bot_env(DATABASE_URL=database_url)
    result = cli("export", "feedback", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    exported = json.loads(result.stdout)
    assert exported[0] == {"customer": "Acme Corp", "advocate": "U01ADV", "date": "2026-11-02T00:00:00Z",
                           "source": "survey", "channel": "survey", "nps": 9, "csat": 5, "problems": None,
                           "comment": "Great help", "case": None}
    assert [(a["date"], a["nps"], a["csat"]) for a in exported] == [
        ("2026-11-02T00:00:00Z", 9, 5), ("2026-11-03T13:30:00Z", 3, None), ("2026-11-04T08:00:00Z", None, 4),
        ("2026-11-10T09:00:00Z", 2, None)]
    assert exported[3] == {"customer": "Globex", "advocate": "U02ADV", "date": "2026-11-10T09:00:00Z",
                           "source": "checkin", "channel": "call", "nps": 2, "csat": None,
                           "problems": "=invoice twice", "comment": "-angry", "case": 7}

    result = cli("export", "feedback", "--format", "csv", "--since", "2026-11-04", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows == [
        ["customer", "advocate", "date", "source", "channel", "nps", "csat", "problems", "comment", "case"],
        ["Globex", "U02ADV", "2026-11-04T08:00:00Z", "survey", "survey", "", "4", "", "", ""],
        ["Globex", "U02ADV", "2026-11-10T09:00:00Z", "checkin", "call", "2", "", "'=invoice twice", "'-angry", "7"],
    ]
    with customers.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Feedback)) == 4
