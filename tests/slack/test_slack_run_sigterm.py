"""SIGTERM and Ctrl-C to a real ``ticketspike run`` while an action is running (fake Slack).

``run`` had no signal handler: SIGTERM killed it with the action ``running`` until the next
start noticed the dead owner. Now the action in hand finishes within ``--grace`` seconds, the
rest stay pending, the store is closed, and ``run`` exits 128 + the signal with one line; if
the grace period ends first the action is handed back (pending, its attempt interrupted). The
next ``run`` delivers everything left, each once.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
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
from support.fake_slack import Gate
from ticketspike.store import ActionStatus, SQLiteStore

NOW = datetime.now(timezone.utc).replace(microsecond=0)
START = NOW - timedelta(days=31)


def spike_file(tmp_path: Path, slack: Any) -> tuple[Path, Path]:
    """A config for the fake Slack and a ticket file with one spike (a month of baseline)."""
    (tmp_path / "accounts.yaml").write_text(
        "- id: techcorp\n  name: TechCorp Inc\n  csm: {name: Mike Johnson, slack_id: U0MIKE}\n"
    )
    config = tmp_path / "ticketspike.yaml"
    config.write_text(
        "accounts: accounts.yaml\n"
        "plugins:\n  slack:\n"
        f"    base_url: {slack.base_url}\n"
        "    team_channels: {support_lead: '#support-leads', product: '#product'}\n"
    )
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
    tickets = tmp_path / "tickets.jsonl"
    tickets.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return config, tickets


def start_run(config: Path, tickets: Path, store: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ticketspike", "run", str(tickets), "--store", str(store)]
        + ["--config", str(config), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "SLACK_BOT_TOKEN": fake_slack.TOKEN,
            "NO_PROXY": "127.0.0.1,localhost",
        },
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def held_key(store: Path) -> str:
    with SQLiteStore(store) as db:
        [record] = db.running_actions()
        return record.key


def assert_nothing_running(store: Path) -> list[str]:
    """No action running, every attempt closed; the pending keys."""
    with SQLiteStore(store) as db:
        assert db.running_actions() == []
        assert all(a.finished_at is not None for a in db.attempts())
        return [a.key for a in db.actions(status=ActionStatus.PENDING)]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_lets_the_running_action_finish_and_leaves_the_rest_pending(
    tmp_path: Path, slack: Any, signum: signal.Signals
) -> None:
    config, tickets = spike_file(tmp_path, slack)
    store = tmp_path / "store.db"
    gate = Gate()
    slack.hold["chat.postMessage"] = gate
    proc = start_run(config, tickets, store, "--grace", "30")
    try:
        assert gate.arrived.wait(60), "run never reached Slack"
        key = held_key(store)
        proc.send_signal(signum)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(1.0)  # it waits on the action in hand
        gate.set()  # Slack answers
        code, _out, err = finish(proc)
    finally:
        gate.set()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert code == 128 + signum
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert lines[-1].startswith(f"ticketspike: stopped by {signum.name} (after the action in hand)")
    pending = assert_nothing_running(store)
    assert f"{len(pending)} action" in lines[-1] and "none running" in lines[-1]
    assert pending, "the actions after the running one stay for the next run"
    with SQLiteStore(store) as db:
        done = db.action(key)
        assert done is not None and done.status is ActionStatus.DONE
    assert len(slack.calls("chat.postMessage")) == 1
    # the next run delivers the rest, and the finished one is not sent again
    del slack.hold["chat.postMessage"]
    code, out, err = finish(start_run(config, tickets, store))
    assert code == 0, err
    assert assert_nothing_running(store) == []
    keys = [c["metadata"]["event_payload"]["key"] for c in slack.calls("chat.postMessage")]
    assert key in keys and len(keys) == len(set(keys)), "each action posted once"


def test_when_the_grace_period_ends_the_action_is_handed_back_not_left_running(
    tmp_path: Path, slack: Any
) -> None:
    config, tickets = spike_file(tmp_path, slack)
    store = tmp_path / "store.db"
    gate = Gate()
    slack.hold["chat.postMessage"] = gate
    proc = start_run(config, tickets, store, "--grace", "1")
    try:
        assert gate.arrived.wait(60), "run never reached Slack"
        key = held_key(store)
        proc.send_signal(signal.SIGTERM)
        code, _out, err = finish(proc)  # Slack never answers
    finally:
        gate.set()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert code == 128 + signal.SIGTERM
    assert "Traceback" not in err
    [last] = err.strip().splitlines()[-1:]
    assert last.startswith("ticketspike: stopped by SIGTERM (the action in hand did not finish")
    pending = assert_nothing_running(store)
    assert key in pending
    with SQLiteStore(store) as db:
        [attempt] = db.attempts(key)
        assert attempt.outcome == "interrupted"


def test_a_bad_grace_is_one_line(tmp_path: Path, slack: Any) -> None:
    config, tickets = spike_file(tmp_path, slack)
    code, _out, err = finish(start_run(config, tickets, tmp_path / "s.db", "--grace", "nan"))
    assert code == 2
    assert err.strip() == (
        "ticketspike: error: --grace: expected a finite number of seconds >= 0, got nan"
    )
