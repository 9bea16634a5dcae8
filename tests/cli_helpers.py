"""Running the real ``advocacy-bot`` command in a subprocess, with a clean environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_env(**values: str) -> dict[str, str]:
    """The parent's environment without any Slack or database settings, plus ``values``."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "DATABASE_URL", "ADVOCACY_", "PORT"))}
    return {**keep, **values}


def write_config(path: Path, team: dict) -> Path:
    path.write_text(yaml.safe_dump(team), encoding="utf-8")
    return path


def cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
