"""SIGTERM to a real ``ticketspike serve`` while an action is running (against the fake Slack).

Finding 6 of the hostile-conditions report: SIGTERM abandoned the running action after 10 s
with the store closed under the worker, and it was delivered again after the restart. Now the
running action finishes within ``server.shutdown_grace_seconds``, the rest stay pending, and
if the grace period ends first the action is handed back (pending, its attempt marked
interrupted) before the store closes: never ``running`` behind a closed store.
"""

from __future__ import annotations

import importlib.metadata
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

try:
    importlib.metadata.distribution("ticketspike-slack")
    import uvicorn  # noqa: F401
except (importlib.metadata.PackageNotFoundError, ImportError):
    pytest.skip("ticketspike-slack or the server extra is not installed", allow_module_level=True)

from support import fake_slack
from support.fake_slack import Gate
from ticketspike import Plugins, ticket_event_from_json
from ticketspike.engine import Engine
from ticketspike.store import ActionStatus, SQLiteStore
from ticketspike.testing import FixedClock, RecordingSleep

NOW = datetime.now(timezone.utc).replace(microsecond=0)
START = NOW - timedelta(days=31)


def spike(tmp_path: Path, slack: Any, grace: float) -> tuple[Path, Path, dict[str, str]]:
    """A store with one open spike whose actions are all pending (nothing executed)."""
    (tmp_path / "accounts.yaml").write_text(
        "- id: techcorp\n  name: TechCorp Inc\n  csm: {name: Mike Johnson, slack_id: U0MIKE}\n"
    )
    config = tmp_path / "ticketspike.yaml"
    config.write_text(
        "accounts: accounts.yaml\n"
        "plugins:\n  slack:\n"
        f"    base_url: {slack.base_url}\n"
        "    team_channels: {support_lead: '#support-leads', product: '#product'}\n"
        f"server:\n  shutdown_grace_seconds: {grace}\n  interval_seconds: 3600\n"
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
    env = {"SLACK_BOT_TOKEN": fake_slack.TOKEN}
    store = tmp_path / "store.db"
    with Engine.from_config(
        config,
        store=store,
        env=env,
        plugins=Plugins(load_entrypoints=True, allow={"slack"}),
        clock=FixedClock(NOW),
        sleep=RecordingSleep(),
        execute=False,
    ) as engine:
        engine.ingest_many([ticket_event_from_json(r) for r in rows])
        assert engine.store.actions(status=ActionStatus.PENDING)
    return config, store, env


@contextmanager
def serving(config: Path, store: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ticketspike",
            "serve",
            "--port",
            "0",
            "--store",
            str(store),
            "--config",
            str(config),
            "--no-access-log",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **env, "TICKETSPIKE_API_TOKEN": "tok", "NO_PROXY": "127.0.0.1"},
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if re.search(r"serving on http://", lines.get(timeout=1)):
                    break
            except queue.Empty:
                assert proc.poll() is None, "serve exited during start-up"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        reader.join(10)
        if proc.stderr is not None:
            proc.stderr.close()


def running_key(store: Path) -> str:
    with SQLiteStore(store) as db:
        [record] = db.running_actions()
        return record.key


def test_sigterm_lets_the_running_action_finish_and_leaves_the_rest_pending(
    tmp_path: Path, slack: Any
) -> None:
    config, store, env = spike(tmp_path, slack, grace=20)
    gate = Gate()
    slack.hold["chat.postMessage"] = gate
    with serving(config, store, env) as proc:
        assert gate.arrived.wait(30), "the worker never reached Slack"
        key = running_key(store)
        proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # the shutdown has begun and waits on the action
        assert proc.poll() is None
        gate.set()  # Slack answers
        assert proc.wait(30) == -signal.SIGTERM
    with SQLiteStore(store) as db:
        assert db.running_actions() == []
        finished = db.action(key)
        assert finished is not None and finished.status is ActionStatus.DONE
        pending = db.actions(status=ActionStatus.PENDING)
        assert pending, "the actions after the running one stay for the next start"
        assert all(a.finished_at is not None for a in db.attempts())
    assert len([c for c in slack.calls("chat.postMessage")]) == 1


def test_when_the_grace_period_ends_the_action_is_handed_back_not_left_running(
    tmp_path: Path, slack: Any
) -> None:
    config, store, env = spike(tmp_path, slack, grace=1)
    gate = Gate()
    slack.hold["chat.postMessage"] = gate
    try:
        with serving(config, store, env) as proc:
            assert gate.arrived.wait(30), "the worker never reached Slack"
            key = running_key(store)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == -signal.SIGTERM  # Slack still has not answered
    finally:
        gate.set()
    with SQLiteStore(store) as db:
        assert db.running_actions() == []
        record = db.action(key)
        assert record is not None and record.status is ActionStatus.PENDING
        [attempt] = db.attempts(key)
        assert attempt.outcome == "interrupted" and "grace period" in (attempt.error or "")
    # The next start runs it (under the same key, so Slack sees it once).
    slack.hold.clear()
    with serving(config, store, env) as proc:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with SQLiteStore(store) as db:
                record = db.action(key)
            if record is not None and record.status is ActionStatus.DONE:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == -signal.SIGTERM
    assert record is not None and record.status is ActionStatus.DONE
