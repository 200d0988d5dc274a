"""``summary``, ``banner``, ``dashboard`` and ``metrics`` on a demo store: JSON is the typed
value's ``to_json()``, text is one line per fact, and bad input is one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ticketspike.cli import main

AT = "2026-02-20T12:50:00Z"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--dir", str(directory), "--format", "json"]) == 0
    return directory


def run(capsys: Any, demo: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(
        [*args, "--store", str(demo / "ticketspike.sqlite3"), "--config", str(demo / "demo.yaml")]
    )
    out = capsys.readouterr()
    return status, out.out, out.err


def test_dashboard_lists_the_demo_escalation(capsys: Any, demo: Path) -> None:
    status, out, _ = run(capsys, demo, "dashboard", "--at", AT)
    assert status == 0
    assert out.startswith("TechCorp Inc [critical] ep_")
    assert "detected 7 h 30 min ago, not acked" in out and "tickets 0/18 resolved" in out
    status, out, _ = run(capsys, demo, "dashboard", "--at", AT, "--format", "json")
    [card] = json.loads(out)["escalations"]
    assert card["customerName"] == "TechCorp Inc" and card["progress"]["ticketsTotal"] == 18


def test_banner_and_summary(capsys: Any, demo: Path) -> None:
    status, out, _ = run(capsys, demo, "banner", "techcorp", "--at", AT)
    assert status == 0 and "SUPPORT SPIKE (critical) TechCorp Inc: 15 tickets" in out
    _, out, _ = run(capsys, demo, "banner", "globex", "--at", AT, "--format", "json")
    assert json.loads(out)["active"] is False
    _, out, _ = run(capsys, demo, "summary", "techcorp", "--at", AT, "--limit", "2")
    assert out.startswith("techcorp: SPIKE (critical), 15 tickets in 24 h")
    assert len(out.strip().splitlines()) == 4  # the line, themes, two tickets
    _, out, _ = run(capsys, demo, "summary", "techcorp", "--at", AT, "--format", "json")
    assert json.loads(out)["ticketCount"] == 15


def test_metrics_per_period_and_csm(capsys: Any, demo: Path) -> None:
    status, out, _ = run(capsys, demo, "metrics", "--at", AT, "--period", "day")
    assert status == 0 and "per day:" in out and "2026-02-20" in out and "Mike Johnson" in out
    _, out, _ = run(capsys, demo, "metrics", "--at", AT, "--format", "json")
    assert json.loads(out)["byCsm"][0]["label"] == "Mike Johnson"


def test_bad_input_is_one_line(capsys: Any, demo: Path, tmp_path: Path) -> None:
    status, _, err = run(capsys, demo, "summary", "techcorp", "--limit", "0")
    assert status == 2 and err.count("\n") == 1 and "--limit" in err
    status, _, err = run(capsys, demo, "banner", "ac\nme", "--at", AT)
    assert status == 2 and err.count("\n") == 1
    status, _, err = run(capsys, demo, "dashboard", "--at", "yesterday")
    assert status == 2 and "--at" in err
    assert main(["dashboard", "--store", str(tmp_path / "none.db")]) == 2
