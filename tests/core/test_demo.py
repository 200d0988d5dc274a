"""``ticketspike demo`` in a fresh process: a real spike and its plan, with no network at all."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

NO_NETWORK = """
import socket

def _refuse(*args, **kwargs):
    raise OSError("network access attempted during the demo")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
"""


@pytest.fixture
def offline_env(tmp_path: Path) -> dict[str, str]:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NO_NETWORK)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(guard), *filter(None, [env.get("PYTHONPATH")])])
    env["SLACK_BOT_TOKEN"] = "xoxb-not-used"  # an adapter must not wake up because of it
    return env


def demo(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ticketspike", "demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_demo_shows_the_spike_the_alert_the_plan_and_the_outbox(
    tmp_path: Path, offline_env: dict[str, str]
) -> None:
    done = demo(["--dir", str(tmp_path / "demo")], offline_env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "1. Detected spike" in out
    assert "opened    TechCorp Inc: high" in out and "escalated TechCorp Inc: critical" in out
    # The sample's numbers are the example alert's: 15 tickets on about 2.3 a day.
    assert re.search(
        r"15 tickets in the last 24 hours against a baseline of 2\.\d/day "
        r"\((6|7)\.\dx, critical\)",
        out,
    ), out
    assert ":rotating_light: SUPPORT SPIKE ALERT: TechCorp Inc" in out
    assert "CSM: Mike Johnson" in out and "ARR: $500,000" in out
    assert "notify_csm" in out and "notify_manager" in out and "draft_acknowledgment" in out
    store = tmp_path / "demo" / "ticketspike.sqlite3"
    assert f"executed actions recorded in {store}" in out
    assert store.is_file()
    assert list((tmp_path / "demo" / "drafts").glob("*.eml"))


def test_demo_json_carries_the_prd_numbers(tmp_path: Path, offline_env: dict[str, str]) -> None:
    done = demo(["--dir", str(tmp_path / "demo"), "--format", "json"], offline_env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    signal = data["risk_signal"]
    assert (signal["signal_type"], signal["customer_id"], signal["severity"]) == (
        "ticket_spike",
        "techcorp",
        "critical",
    )
    meta = signal["metadata"]
    assert meta["ticket_count"] == 15 and 5.0 < meta["spike_multiplier"] < 8.0
    assert 2.0 <= meta["baseline_daily_avg"] <= 2.6
    assert meta["ticket_breakdown"] == {"technical": 10, "billing": 2, "training": 3}
    assert meta["severity_breakdown"] == {"P1": 3, "P2": 7, "P3": 5}
    assert any("API" in theme for theme in meta["common_themes"])
    assert [t["transition"] for t in data["transitions"]] == ["opened", "escalated"]
    assert len(data["outbox"]) == sum(len(p["actions"]) for p in data["plans"])
    assert data["alert"].startswith(":rotating_light: SUPPORT SPIKE ALERT: TechCorp Inc")


def test_demo_twice_in_one_directory_starts_over(
    tmp_path: Path, offline_env: dict[str, str]
) -> None:
    first = demo(["--dir", str(tmp_path), "--format", "json"], offline_env)
    second = demo(["--dir", str(tmp_path), "--format", "json"], offline_env)
    assert first.returncode == second.returncode == 0
    assert len(json.loads(second.stdout)["outbox"]) == len(json.loads(first.stdout)["outbox"])
