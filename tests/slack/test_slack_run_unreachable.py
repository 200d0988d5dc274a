"""``ticketspike run`` against a Slack that is not there ends promptly, nothing lost.

Before, every Slack action backed off through all its attempts in turn (1 + 2 + 4 + 8 s each),
so a run with a dozen notifications took minutes. Now the first action's backoff decides: the
rest of Slack's actions are parked untried, other actions go ahead, the run prints one line
saying what is parked and until when, and a later run (or ``ticketspike retry``) delivers them
exactly once.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

try:
    importlib.metadata.distribution("ticketspike-slack")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-slack is not installed", allow_module_level=True)

from support import fake_slack
from ticketspike.store import ActionStatus, SQLiteStore

NOW = datetime.now(timezone.utc).replace(microsecond=0)
START = NOW - timedelta(days=31)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tickets(path: Path) -> Path:
    rows = [
        {
            "ticketId": f"B{d}-{k}",
            "customerId": "techcorp",
            "category": "billing",
            "createdAt": (START + timedelta(days=d, hours=3 + 5 * k)).isoformat(),
        }
        for d in range(30)
        for k in range(2)
    ] + [
        {
            "ticketId": f"S{i}",
            "customerId": "techcorp",
            "category": "technical",
            "severity": "P1",
            "subject": "API down",
            "createdAt": (NOW - timedelta(hours=4) + timedelta(minutes=10 * i)).isoformat(),
        }
        for i in range(16)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(tmp_path: Path, base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "accounts.yaml").write_text(
        "- id: techcorp\n  name: TechCorp Inc\n  csm: {name: Mike Johnson, slack_id: U0MIKE}\n"
    )
    config = tmp_path / "ticketspike.yaml"
    config.write_text(
        "accounts: accounts.yaml\nplugins:\n  slack:\n"
        f"    base_url: {base_url}\n"
        "    team_channels: {support_lead: '#support-leads', product: '#product'}\n"
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ticketspike",
            *args,
            "--config",
            str(config),
            "--store",
            str(tmp_path / "store.db"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SLACK_BOT_TOKEN": fake_slack.TOKEN, "NO_PROXY": "127.0.0.1"},
    )


def test_a_run_against_an_unreachable_slack_parks_its_actions_and_says_so(
    tmp_path: Path, slack: Any
) -> None:
    file = tickets(tmp_path / "tickets.jsonl")
    result = run(tmp_path, f"http://127.0.0.1:{closed_port()}/api/", "run", str(file))
    assert result.returncode == 0, result.stderr
    [line] = [t for t in result.stdout.splitlines() if t.startswith("Actions:")]
    assert " parked (a service refused or did not answer; the first runs again from " in line
    with SQLiteStore(tmp_path / "store.db") as store:
        assert store.running_actions() == [] and store.actions(status=ActionStatus.FAILED) == []
        parked = store.parked_actions()
        assert len(parked) >= 4
        # One Slack action was tried (its backoff inside park_after); the rest not at all.
        tried = {a.key for a in store.attempts() if a.outcome == "transient"}
        assert len(tried) == 1 and tried <= set(parked)
        assert len(store.attempts(next(iter(tried)))) <= 4
        # Actions of other plugins did not wait for Slack.
        done = store.actions(status=ActionStatus.DONE)
        assert done and all(a.key not in parked for a in done)

    # Slack is back: `retry` delivers every parked action, each once.
    result = run(tmp_path, slack.base_url, "retry")
    assert result.returncode == 0, result.stderr
    with SQLiteStore(tmp_path / "store.db") as store:
        assert store.parked_actions() == {}
        assert {a.key for a in store.actions(status=ActionStatus.DONE)} >= set(parked)
    keys = [
        c.get("metadata", {}).get("event_payload", {}).get("key")
        for c in slack.calls("chat.postMessage")
    ]
    posted = [k for k in keys if k]
    assert posted and len(posted) == len(set(posted))
