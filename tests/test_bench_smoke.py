"""``bench/load.py`` kept working: a short, slow run of the whole harness (stand-in, seeded cases, the replica
as ``advocacy-bot run``, the no-op app, the load generator, the checks for lost and doubled effects).

It asserts what the run did, never how fast: speed is for the benchmark itself to print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif((os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql"),
                    reason="once per CI run: the benchmark on its default database (SQLite)")
def test_the_load_benchmark_runs_and_loses_or_doubles_nothing(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "bench/load.py", "--quick", "--rate", "40", "--latency-ms", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    print(done.stdout, done.stderr)  # shown if the test fails
    assert done.returncode == 0
    rows = {m["target"]: (int(m["sent"]), int(m["errors"]), m["lost"], m["doubled"]) for m in re.finditer(
        r"^(?P<target>no-op Bolt app|real bot, Slack 0 ms)\s+(?P<sent>\d+)\s+(?P<errors>\d+)\s+(?P<lost>\S+)\s+"
        r"(?P<doubled>\S+)", done.stdout, re.MULTILINE)}
    assert rows == {"no-op Bolt app": (200, 0, "-", "-"), "real bot, Slack 0 ms": (200, 0, "0", "0")}
    assert re.search(r"^ack p50 / p99 by kind", done.stdout, re.MULTILINE)
    assert "outbox {'done':" in done.stdout and "failed" not in done.stdout.split("outbox", 1)[1].split("}")[0]
