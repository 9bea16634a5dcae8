"""The team config (YAML): who the advocates are, which departments exist and how cases are routed.

Unknown keys, unknown departments, bad zones and bad durations are errors naming the YAML path.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.domain.business_hours import BusinessHours, parse_clock
from bot.durations import parse_duration


class ConfigError(Exception):
    """The team config cannot be used; the message names the file and the YAML path."""


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; write e.g. 30m, 2h, 1d")
    return parse_duration(value)


def _zone(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be an IANA timezone name such as Europe/Stockholm")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA timezone (e.g. Europe/Stockholm, America/New_York)") from None
    return value


Duration = Annotated[timedelta, PlainValidator(_duration)]
Zone = Annotated[str, PlainValidator(_zone)]
UserId = Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,}$")]
UserOrGroupId = Annotated[str, Field(pattern=r"^[UWS][A-Z0-9]{2,}$")]
ChannelId = Annotated[str, Field(pattern=r"^[CGD][A-Z0-9]{2,}$")]
_PATTERN_HINTS = {
    r"^[UW][A-Z0-9]{2,}$": "must be a Slack user ID such as U01ABCDEF",
    r"^[UWS][A-Z0-9]{2,}$": "must be a Slack user ID (U…) or user group ID (S…)",
    r"^[CGD][A-Z0-9]{2,}$": "must be a Slack channel ID such as C01ABCDEF",
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Department(_Strict):
    heads: list[UserOrGroupId] = Field(min_length=1)
    deputies: list[UserOrGroupId] = []  # answer for the department as its heads do
    keywords: list[str] = []
    respond_within: Duration = timedelta(hours=4)  # no reply in the case channel by then: one nudge


class Severity(_Strict):
    update_every: Duration
    # count the cadence only inside business_hours, in the customer's timezone (else the team's)
    business_hours: bool = False


class Reminders(_Strict):
    remind_before: Duration = timedelta(minutes=30)  # heads-up before an update is due
    escalate_after: Duration | None = None  # after due, mention the advocates; default one more cadence, >= 1h
    leadership_after: Duration = timedelta(days=1)  # after due, one line in the leadership channel

    def escalate_after_for(self, cadence: timedelta) -> timedelta:
        return self.escalate_after if self.escalate_after is not None else max(cadence, timedelta(hours=1))


class CheckIns(_Strict):
    """Proactive check-ins: how often each customer tier hears from its advocate unprompted."""

    tiers: dict[str, Duration] = {}  # tier name -> cadence, e.g. strategic: 30d, standard: 90d
    default_tier: str | None = None  # the cadence of customers with no tier; none when unset
    after_resolution: Duration | None = timedelta(days=14)  # "did the fix hold?" after a resolved case
    close_the_loop: bool = False  # an NPS of 0-6 or a CSAT of 1-2 opens a case

    @field_validator("tiers")
    @classmethod
    def _tier_names(cls, value: dict[str, timedelta]) -> dict[str, timedelta]:
        for name, cadence in value.items():
            if not _NAME.match(name):
                raise ValueError(f"tier {name!r} must be lowercase letters, digits, - or _")
            if cadence <= timedelta(0):
                raise ValueError(f"tier {name!r}: the cadence must be longer than zero")
        return value

    @field_validator("default_tier")
    @classmethod
    def _known_tier(cls, value: str | None, info: ValidationInfo) -> str | None:
        tiers = info.data.get("tiers")
        if value is not None and tiers is not None and value not in tiers:
            raise ValueError(f"unknown tier {value!r}; tiers are: {', '.join(tiers) or '(none)'}")
        return value

    def cadence(self, tier: str | None) -> timedelta | None:
        return self.tiers.get(tier or self.default_tier or "") if (tier or self.default_tier) else None


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Clock = Annotated[time, PlainValidator(lambda v: parse_clock(v, "time"))]


class Digest(_Strict):
    """The weekly digest to leadership_channel, for the ISO week just ended (team timezone)."""

    day: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    time: Clock = time(9)
    attention_after: Duration = timedelta(days=3)  # P1s open longer than this need leadership's attention

    @property
    def weekday(self) -> int:
        return WEEKDAYS.index(self.day)


class Review(_Strict):
    """The monthly stakeholder review: an agenda for each department head, in the advocacy team's channel."""

    day_of_month: int = Field(default=1, ge=1, le=28)  # 28 at most: every month has that day
    time: Clock = time(10)
    channel: ChannelId


def _days(value: object) -> int:
    # whole days only: "365d", "1y" or 365.5 are refused rather than guessed at (and True is an int in Python)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{value!r} is not a number of days; write a whole number greater than 0, e.g. 365")
    return value


class Retention(_Strict):
    """How long the words people wrote are kept. Events, times and figures are kept for good."""

    # stored message text (summaries, timeline texts, updates, notes, comments, …) older than this is removed
    message_text_days: Annotated[int, PlainValidator(_days)] = 365


class TeamConfig(_Strict):
    timezone: Zone = "UTC"
    advocates: list[UserOrGroupId] = Field(min_length=1)
    leadership_channel: ChannelId | None = None
    # departments and severities come before the keys that refer to them, so validators can see them
    departments: dict[str, Department] = Field(min_length=1)
    severities: dict[str, Severity] = Field(min_length=1)
    triage_department: str
    default_severity: str
    case_channels: Literal["private", "public"] = "private"
    business_hours: BusinessHours = BusinessHours()
    reminders: Reminders = Reminders()
    # categories offered in the resolve modal; recurrence is counted per customer and category
    root_causes: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        default=["product-defect", "process-gap", "human-error", "third-party", "communication", "other"],
        min_length=1)
    archive_on_close: bool = False  # /case close archives the case channel
    checkins: CheckIns = CheckIns()
    digest: Digest | None = None  # unset: no weekly digest is posted (the figures stay available)
    leaders: list[UserOrGroupId] = []  # with the advocates, may see /advocacy digest (it shows revenue)
    review: Review | None = None
    retention: Retention = Retention()

    @field_validator("departments", "severities")
    @classmethod
    def _names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"{name!r} must be lowercase letters, digits, - or _ (it is typed as +{name})")
        return value

    @field_validator("triage_department", "default_severity")
    @classmethod
    def _known_name(cls, value: str, info: ValidationInfo) -> str:
        # checked only when the referenced mapping itself was valid (else its own error says why)
        mapping, label = (
            ("departments", "department") if info.field_name == "triage_department" else ("severities", "severity")
        )
        known = info.data.get(mapping)
        if known is not None and value not in known:
            raise ValueError(f"unknown {label} {value!r}; {mapping} are: {', '.join(known)}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def update_every(self, severity: str) -> timedelta:
        return self.severities[severity].update_every


def yaml_path(loc: tuple[str | int, ...]) -> str:
    """``('departments', 'billing', 'heads', 0)`` → ``departments.billing.heads[0]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_config(data: object, *, source: str = "config") -> TeamConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys (timezone, advocates, …)")
    try:
        return TeamConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = tuple(p for p in error["loc"] if p not in ("function-plain", "[key]"))
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            elif error["type"] == "string_pattern_mismatch":
                message = _PATTERN_HINTS.get(str(error.get("ctx", {}).get("pattern")), message)
            lines.append(f"{source}: {yaml_path(loc)}: {message}")
        raise ConfigError("\n".join(lines)) from None


def load_config(path: Path | str) -> TeamConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: team config not found (set ADVOCACY_CONFIG or copy advocacy.example.yaml)"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    return parse_config(data, source=str(path))
