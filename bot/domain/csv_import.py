"""What every all-or-nothing CSV import shares: a bad row (its file line and what is wrong) and the refusal."""

from __future__ import annotations

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
