"""The package as the Docker image installs it: a wheel, installed outside the source tree, runs migrations
and serves health checks with nothing from the repository (migrations and sample config are package data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180) -> str:
    done = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_wheel_installed_elsewhere_migrates_and_serves_health(tmp_path: Path) -> None:
    # What the Dockerfile's build stage does (without build isolation: no download needed here)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir",
        str(tmp_path / "wheels"), str(ROOT), cwd=tmp_path)
    (wheel,) = (tmp_path / "wheels").glob("advocacy_bot-*.whl")
    # A fresh environment seeing the installed dependencies but not the source tree
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", str(venv), cwd=tmp_path)
    python, cli = venv / "bin" / "python", venv / "bin" / "advocacy-bot"
    run(str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel), cwd=tmp_path)
    where = run(str(python), "-c", "import bot, storage; print(bot.__file__); print(storage.__file__)", cwd=tmp_path)
    assert all(line.startswith(str(venv)) for line in where.split()), where  # the wheel's code, not the tree's

    config = tmp_path / "advocacy.yaml"
    config.write_text(yaml.safe_dump({
        "timezone": "Europe/Stockholm", "advocates": ["U01ADV"], "triage_department": "advocacy",
        "departments": {"advocacy": {"heads": ["U01ADV"]}},
        "severities": {"p1": {"update_every": "2h"}}, "default_severity": "p1"}))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
           "ADVOCACY_CONFIG": str(config)}
    assert "head" in run(str(cli), "migrate", cwd=tmp_path, env=env).lower() or (tmp_path / "bot.db").exists()
    run(str(cli), "config", "check", cwd=tmp_path, env=env)

    # The image's HEALTHCHECK probe against `run` (HTTP mode; Slack is never reached for /healthz)
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(cli), "run"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**env, "PORT": str(port), "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret-of-test",
             "SLACK_API_URL": "http://127.0.0.1:9/api/"})
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.3)
        assert answer == b'{"ok": true}', server.stdout.read() if server.poll() is not None else "no answer"
        # Slack is unreachable (nothing listens on SLACK_API_URL): the bot serves, but is not ready
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2)
            raise AssertionError("/readyz answered 200 without Slack auth")
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
            assert exc.code == 503 and {k: body[k] for k in ("ok", "slack_auth", "database", "scheduler")} == {
                "ok": False, "slack_auth": False, "database": True, "scheduler": True}
            assert any("auth.test" in reason for reason in body["reasons"])
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_the_compose_file_runs_migrations_before_the_bot_on_postgresql() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    bot, db = compose["services"]["bot"], compose["services"]["db"]
    assert bot["build"] == "." and bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://") and "pgdata" in compose["volumes"]
    assert bot["command"][-1].startswith("advocacy-bot migrate && exec advocacy-bot run")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER advocacy\n" in dockerfile and "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
