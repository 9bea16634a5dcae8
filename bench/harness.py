"""What the request benchmarks share (``bench/escalate.py``, ``bench/load.py``): signed requests built ahead of
time, the targets served in processes of their own behind the production server, and the figures.

A target is the real bot or a no-op Bolt app, each behind ``bot.web.HttpServer`` (waitress) in a child process,
as in production: the load generator and the Slack stand-in (Slack's side) then do not share the served
interpreter and its GIL. Run as a script, this module is that child (``--serve noop|real``).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

import bot
from bot.app import create_app
from bot.config import load_config
from bot.sandbox.demo import SAMPLE_CONFIG
from bot.sandbox.driver import DriverResponse, SlackDriver
from bot.sandbox.standin import SlackStandIn
from bot.settings import Settings, normalize_database_url
from bot.slack_client import make_client
from bot.web import HttpServer, make_wsgi
from storage.db import Database
from storage.migrate import upgrade

TOKEN = "xoxb-bench-token"
SECRET = os.environ.get("BENCH_SIGNING_SECRET") or secrets.token_hex(16)  # a served child gets the parent's

Request = tuple[bytes, dict[str, str]]  # a signed body and its headers, ready to send
# The checkout this process runs: its children run the same code, whichever checkout the package was last
# installed from (``pip install -e`` elsewhere would otherwise change what a child imports).
CODE_ROOT = Path(bot.__file__).resolve().parents[1]


def child_env(**values: str) -> dict[str, str]:
    """This process's environment for a child process, running this checkout's code, plus ``values``."""
    path = os.pathsep.join(p for p in (str(CODE_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "BENCH_SIGNING_SECRET": SECRET, **values}


class PreparingDriver(SlackDriver):
    """Shapes and signs requests exactly as SlackDriver does, but keeps them to send later.

    Building them before the clock starts keeps signing and the stand-in's trigger/response-URL
    bookkeeping (under its lock, contended by the bot's own Slack calls) out of the measured latency.
    Each is sent on a connection of its own (``Connection: close``), as Slack's deliveries are.
    """

    def __init__(self, standin: SlackStandIn) -> None:
        super().__init__("http://unused/", signing_secret=SECRET, standin=standin)
        self.prepared: list[Request] = []

    def post(self, body: str, content_type: str, headers: dict[str, str] | None = None) -> DriverResponse:
        self.prepared.append((body.encode(), {"Content-Type": content_type, "Connection": "close",
                                              **self.sign(body), **(headers or {})}))
        return DriverResponse(0, "", {})

    def last(self) -> Request:
        return self.prepared[-1]


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank, as the README defines it for the digest; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float, width: int = 8) -> str:
    return f"{seconds * 1000:{width}.1f} ms"


def noop_app(api_url: str) -> Callable[..., Any]:
    """Bolt acknowledging everything the real bot is sent, and doing nothing else: the floor of the ack path."""
    app = App(signing_secret=SECRET, token_verification_enabled=False,
              client=WebClient(base_url=api_url, token=TOKEN))
    anything = re.compile(".*")

    @app.command("/escalate")  # first: the /escalate benchmark matches it at once, as before
    def escalate(ack: Ack) -> None:
        ack()

    @app.command(anything)
    def command(ack: Ack) -> None:
        ack()

    @app.event(anything)
    def event() -> None:
        return None

    @app.action(anything)
    def action(ack: Ack) -> None:
        ack()

    @app.view(anything)
    def view(ack: Ack) -> None:
        ack()

    @app.shortcut(anything)
    def shortcut(ack: Ack) -> None:
        ack()

    return SlackRequestHandler(app)


def real_database(stack: ExitStack, postgres: str | None) -> tuple[str, Database]:
    """A migrated database: the given PostgreSQL one, or a SQLite file in a folder removed afterwards."""
    if postgres:
        url = normalize_database_url(postgres)
    else:
        folder = tempfile.mkdtemp(prefix="advocacy-bench-")
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
    db = Database(url)
    stack.callback(db.dispose)
    upgrade(db.engine)
    return url, db


def real_app(api_url: str, database_url: str) -> Callable[..., Any]:
    settings = Settings(slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=api_url,
                        database_url=database_url, advocacy_config=SAMPLE_CONFIG, _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings, make_client(TOKEN, api_url, timeout=10), config=load_config(SAMPLE_CONFIG))
    return make_wsgi(app)


def serve_forever(kind: str, port: int, api_url: str, database_url: str) -> int:
    """The child process: one target app behind the production server, until the parent stops it."""
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    wsgi = noop_app(api_url) if kind == "noop" else real_app(api_url, database_url)
    server = HttpServer(wsgi, host="127.0.0.1", port=port)
    print("ready", flush=True)
    server.serve_forever()
    return 0


@dataclass(frozen=True)
class Target:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the serving process used so far (user + system, all threads); NaN off Linux."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spawn(stack: ExitStack, kind: str, api_url: str, database_url: str = "") -> Target:
    """Serve a target (``noop`` or ``real``: ``create_app`` without the scheduler) in a process of its own."""
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port), "--api-url", api_url,
         "--database-url", database_url],
        env=child_env(), stdout=subprocess.PIPE, text=True,
    )
    stack.callback(child.wait, 10)
    stack.callback(child.terminate)
    if child.stdout is None or child.stdout.readline().strip() != "ready":
        raise SystemExit(f"the {kind} server did not start")
    return Target(f"http://127.0.0.1:{port}/slack/events", child.pid)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="serve one benchmark target (started by the benchmarks)")
    parser.add_argument("--serve", choices=["noop", "real"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args(argv)
    return serve_forever(args.serve, args.port, args.api_url, args.database_url)


if __name__ == "__main__":
    sys.exit(main())
