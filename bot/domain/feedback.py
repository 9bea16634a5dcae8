"""Feedback as data: survey answers imported from a CSV file, and every answer exported.

``import_feedback`` reads ``customer,date,nps,csat,comment,source`` rows. It is all-or-nothing: every row is
checked first (the customer must exist, the date must parse, at least one score, each score in range), and
one bad row refuses the whole file with each bad row's line number. Each answer's ``key`` is a hash of what
it says (customer, instant, scores, comment, source), so importing the same file again adds nothing.

``export_feedback`` is every answer (imported or from a check-in) as plain data, oldest first; ``csv_rows``
is the same as a spreadsheet. No Slack here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import parse_instant
from bot.domain.csv_import import BadRow, ImportRefused, csv_records
from bot.domain.customers import find_customer, name_key
from bot.domain.export import csv_cell, iso_utc
from storage.models import Case, Customer, Feedback

COLUMNS = ("customer", "date", "nps", "csat", "comment", "source")
REQUIRED = ("customer", "date")
SCORES = {"nps": (0, 10), "csat": (1, 5)}
DEFAULT_SOURCE = "survey"
CHANNEL = "survey"  # how an imported answer reached us
SOURCE_MAX = 40  # Feedback.source
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_KEY_BATCH = 500


@dataclass(frozen=True)
class Imported:
    added: int  # new answers stored
    already: int  # rows whose answer was already stored (by an earlier import, or earlier in the file)

    def __str__(self) -> str:
        return f"added {self.added}, already there {self.already}"


@dataclass(frozen=True)
class _Answer:
    customer: Customer
    at: datetime
    nps: int | None
    csat: int | None
    comment: str | None
    source: str

    @property
    def key(self) -> str:
        said = [self.customer.id, iso_utc(self.at), self.nps, self.csat, self.comment, self.source]
        digest = hashlib.sha256(json.dumps(said, ensure_ascii=False).encode()).hexdigest()
        return f"import:{digest}"


def parse_when(text: str) -> datetime:
    """``2026-11-02`` (00:00 UTC that day) or an ISO 8601 instant (``2026-11-02T14:30:00+01:00``, ``…Z``;
    without an offset, UTC). ValueError otherwise."""
    if _DATE.fullmatch(text):
        return datetime.combine(date.fromisoformat(text), time(0), UTC)
    if len(text) > 10 and _DATE.match(text) and text[10] in "Tt ":
        return parse_instant(text)
    raise ValueError(text)


def _score(name: str, text: str) -> tuple[int | None, str | None]:
    """The score, or the problem with it; an empty cell is no score."""
    if not text:
        return None, None
    low, high = SCORES[name]
    if text.isascii() and text.isdigit() and low <= int(text) <= high:
        return int(text), None
    return None, f"{name} {text!r} is not a whole number from {low} to {high}"


def _header(line: int, fields: list[str]) -> list[str]:
    names = [field.strip().casefold() for field in fields]
    problems = [f"unknown column {name!r} (columns are: {', '.join(COLUMNS)})" for name in names
                if name not in COLUMNS]
    problems += [f"column {name!r} appears twice" for name in dict.fromkeys(names) if names.count(name) > 1]
    problems += [f"missing column {name!r}" for name in REQUIRED if name not in names]
    if not any(name in names for name in SCORES):
        problems.append("missing column: nps, csat or both")
    if problems:
        raise ImportRefused([BadRow(line, tuple(problems))])
    return names


def _check(session: Session, line: int, row: dict[str, str], customers: dict[str, Customer | None],
           ) -> _Answer | BadRow:
    problems: list[str] = []
    name = row.get("customer", "")
    customer = None
    if not name:
        problems.append("customer is empty")
    else:
        if name_key(name) not in customers:
            customers[name_key(name)] = find_customer(session, name)
        customer = customers[name_key(name)]
        if customer is None:
            problems.append(f"unknown customer {name!r}")
    at = None
    if not row.get("date"):
        problems.append("date is empty")
    else:
        try:
            at = parse_when(row["date"])
        except ValueError:
            problems.append(f"date {row['date']!r} is not YYYY-MM-DD or an ISO 8601 instant")
    nps, nps_problem = _score("nps", row.get("nps", ""))
    csat, csat_problem = _score("csat", row.get("csat", ""))
    problems += [p for p in (nps_problem, csat_problem) if p]
    if not row.get("nps") and not row.get("csat"):
        problems.append("no score: give nps, csat or both")
    source = row.get("source") or DEFAULT_SOURCE
    if len(source) > SOURCE_MAX:
        problems.append(f"source is longer than {SOURCE_MAX} characters")
    if problems:
        return BadRow(line, tuple(problems))
    assert customer is not None and at is not None
    return _Answer(customer=customer, at=at, nps=nps, csat=csat, comment=row.get("comment") or None, source=source)


def read_answers(session: Session, lines: Iterable[str]) -> list[_Answer]:
    """Every row of the file checked; ImportRefused with all the bad rows if there is any."""
    records = csv_records(lines)
    first = next(records, None)
    if first is None:
        raise ImportRefused([BadRow(1, ("the file is empty: expected the header " + ",".join(COLUMNS),))])
    header = _header(*first)
    answers: list[_Answer] = []
    bad: list[BadRow] = []
    customers: dict[str, Customer | None] = {}
    for line, fields in records:
        if len(fields) != len(header):
            missing = header[len(fields):]
            bad.append(BadRow(line, (f"missing column(s) {', '.join(missing)}" if missing else
                                     f"{len(fields)} fields, the header has {len(header)}",)))
            continue
        checked = _check(session, line, {k: v.strip() for k, v in zip(header, fields, strict=True)}, customers)
        if isinstance(checked, BadRow):
            bad.append(checked)
        else:
            answers.append(checked)
    if bad:
        raise ImportRefused(bad)
    return answers


def import_feedback(session: Session, lines: Iterable[str], *, now: datetime) -> Imported:
    """Store the file's answers not stored yet (all or nothing: ImportRefused names every bad row).

    ``lines``: the file opened with ``newline=""``. Each answer's advocate is the customer's advocate now;
    its channel is ``survey``.
    """
    answers = read_answers(session, lines)
    keys = [answer.key for answer in answers]
    stored: set[str] = set()
    for i in range(0, len(keys), _KEY_BATCH):
        stored |= set(session.scalars(select(Feedback.key).where(Feedback.key.in_(keys[i:i + _KEY_BATCH]))))
    added = 0
    for answer, key in zip(answers, keys, strict=True):
        if key in stored:
            continue
        stored.add(key)
        session.add(Feedback(key=key, customer_id=answer.customer.id, advocate_id=answer.customer.advocate_id,
                             at=answer.at, source=answer.source, channel=CHANNEL, nps=answer.nps, csat=answer.csat,
                             comment=answer.comment, created_at=now))
        added += 1
    session.flush()
    return Imported(added=added, already=len(answers) - added)


# ---------------------------------------------------------------- export


def export_feedback(session: Session, *, since: datetime | None = None) -> list[dict[str, Any]]:
    """Every answer (given at or after ``since``), oldest first; times in ISO 8601 UTC."""
    query = (select(Feedback, Customer.name, Case.number).join(Customer, Customer.id == Feedback.customer_id)
             .outerjoin(Case, Case.id == Feedback.case_id).order_by(Feedback.at, Feedback.id))
    if since is not None:
        query = query.where(Feedback.at >= since)
    return [
        {"customer": customer, "advocate": f.advocate_id, "date": iso_utc(f.at), "source": f.source,
         "channel": f.channel, "nps": f.nps, "csat": f.csat, "problems": f.problems, "comment": f.comment,
         "case": number}
        for f, customer, number in session.execute(query)
    ]


CSV_COLUMNS = ("customer", "advocate", "date", "source", "channel", "nps", "csat", "problems", "comment", "case")


def csv_rows(answers: list[dict[str, Any]]) -> Iterator[list[object]]:
    """The header, then one row per answer; free text never becomes a spreadsheet formula."""
    yield list(CSV_COLUMNS)
    for a in answers:
        yield [csv_cell(a["customer"]), a["advocate"] or "", a["date"], csv_cell(a["source"]), a["channel"] or "",
               "" if a["nps"] is None else a["nps"], "" if a["csat"] is None else a["csat"], csv_cell(a["problems"]),
               csv_cell(a["comment"]), "" if a["case"] is None else a["case"]]
