"""What every all-or-nothing CSV import shares: a bad row (its file line and what is wrong) and the refusal."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class BadRow:
    """A line of the file (the header is line 1) and what is wrong with it."""

    line: int
    problems: tuple[str, ...]

    def __str__(self) -> str:
        return f"line {self.line}: {'; '.join(self.problems)}"


class ImportRefused(Exception):
    """The file has bad rows: nothing was imported."""

    def __init__(self, bad: list[BadRow]) -> None:
        super().__init__(f"{len(bad)} bad row(s)")
        self.bad = bad


def csv_records(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields) for each non-blank record; a quoted field may span lines."""
    reader = csv.reader(lines)
    previous = 0
    try:
        for fields in reader:
            line, previous = previous + 1, reader.line_num
            if any(field.strip() for field in fields):
                yield line, fields
    except csv.Error as exc:
        raise ImportRefused([BadRow(previous + 1, (f"not readable as CSV: {exc}",))]) from None
