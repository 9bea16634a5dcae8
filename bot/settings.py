"""Process settings from the environment or a ``.env`` file (pydantic-settings).

A bad or missing setting stops start-up with one line that names it, never its value.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.durations import parse_duration

DEFAULT_API_URL = "https://slack.com/api/"


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and never shows a value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_API_URL
    database_url: str = "sqlite:///advocacy.db"
    # An unreachable database at start: ``run``, ``migrate`` and ``tick`` try again (after 1, 2, 4, 8, then
    # every 15 s) for this many seconds in all, then exit 3; each attempt gives up after the connect timeout.
    database_start_wait: float = Field(default=60, ge=0)
    database_connect_timeout: float = Field(default=5, gt=0)
    advocacy_config: Path = Path("advocacy.yaml")
    port: int = Field(default=3000, ge=1, le=65535)
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for log collectors
    # Tests and rehearsals only: ``run`` acts as if it were this much later (``3h``, ``-1d``), so that a test
    # can bring real replicas' schedulers to work that is due without waiting for it. Off unless set, and
    # logged as a warning at start. Slack's request signatures are still checked against the real time.
    advocacy_clock_offset: timedelta = timedelta(0)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("advocacy_clock_offset", mode="before")
    @classmethod
    def _clock_offset(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text in ("", "0"):
            return timedelta(0)
        sign, text = (-1, text[1:]) if text.startswith("-") else (1, text.removeprefix("+"))
        return sign * parse_duration(text)  # ValueError names the accepted form: 30m, 2h, 1d, 1h30m

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        # WebClient joins method names onto base_url: without the slash the method name is lost.
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def require_for_run(self) -> None:
        """``run`` needs a bot token, and a signing secret unless it uses Socket Mode."""
        if self.slack_bot_token is None:
            raise SettingsError("SLACK_BOT_TOKEN is required to run the bot (a bot token, xoxb-…)")
        if not self.socket_mode and self.slack_signing_secret is None:
            raise SettingsError(
                "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
            )


def normalize_database_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as users write them; we drive PostgreSQL with psycopg 3."""
    if "://" in url and url.split("://", 1)[1].split("/", 1)[0].count("@") > 1:
        # The URL parser would split at the first @ and show the rest of the password as the host name in
        # every error message; say what is wrong without echoing any of it.
        raise ValueError("the password (or user name) contains '@': percent-encode it in the URL (@ is %40)")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not url.startswith(("sqlite:", "postgresql+")):
        raise ValueError("must be a sqlite:/// or postgresql:// URL")
    return url


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into one :class:`SettingsError` line per problem."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = str(error["loc"][0]).upper() if error["loc"] else "settings"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message}")
        raise SettingsError("; ".join(problems)) from None
