"""A click through a real ``ticketspike serve`` process, against the fake Slack Web API."""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

try:
    importlib.metadata.distribution("ticketspike-slack")
    import uvicorn  # noqa: F401
except (importlib.metadata.PackageNotFoundError, ImportError):
    pytest.skip("ticketspike-slack or the server extra is not installed", allow_module_level=True)

from support import fake_slack
from ticketspike import Plugins, ticket_event_from_json
from ticketspike.engine import Engine
from ticketspike.store import SQLiteStore
from ticketspike.testing import FixedClock, RecordingSleep

SECRET = "serve-signing-secret"
START = datetime(2026, 2, 1, tzinfo=timezone.utc)
SPIKE = START + timedelta(days=30)


def _events() -> list[Any]:
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
            "subject": "<!channel> API down",
            "createdAt": (SPIKE + timedelta(minutes=30 * i)).isoformat(),
        }
        for i in range(16)
    ]
    return [ticket_event_from_json(r) for r in rows]


def test_acknowledge_through_a_real_serve_process(tmp_path: Path, slack: Any) -> None:
    (tmp_path / "accounts.yaml").write_text(
        "- id: techcorp\n  name: TechCorp Inc\n  csm: {name: Mike Johnson, slack_id: U0MIKE}\n"
    )
    config = tmp_path / "ticketspike.yaml"
    config.write_text(
        "accounts: accounts.yaml\nplugins:\n  slack:\n"
        f"    base_url: {slack.base_url}\n"
        "    team_channels: {support_lead: '#support-leads', product: '#product'}\n"
    )
    env = {"SLACK_BOT_TOKEN": fake_slack.TOKEN, "SLACK_SIGNING_SECRET": SECRET}
    store = tmp_path / "store.db"
    with Engine.from_config(
        config,
        store=store,
        env=env,
        plugins=Plugins(load_entrypoints=True, allow={"slack"}),
        clock=FixedClock(SPIKE + timedelta(hours=8)),
        sleep=RecordingSleep(),
    ) as engine:
        engine.ingest_many(_events())
        [episode] = engine.store.episodes()
    [alert] = [m for m in slack.messages["D0MIKE"] if not m["thread_ts"]]
    actions = next(b for b in alert["blocks"] if b.get("type") == "actions")
    button = next(e for e in actions["elements"] if e["action_id"] == "acknowledge")

    def acked() -> list[dict[str, Any]]:
        # Updates of the clicked DM (the server's own ticks may update the thread's root).
        return [
            c
            for c in slack.calls("chat.update")
            if c["channel"] == "D0MIKE" and "Acknowledged by" in json.dumps(c.get("blocks"))
        ]

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ticketspike",
            "serve",
            "--host",
            "127.0.0.1",
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
        env={
            **os.environ,
            **env,
            "TICKETSPIKE_API_TOKEN": "tok",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        },
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            try:
                match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", lines.get(timeout=1))
            except queue.Empty:
                assert proc.poll() is None, "serve exited during start-up"
                continue
            url = match.group(1) if match else None
        assert url is not None
        payload = {
            "type": "block_actions",
            "user": {
                "id": "U0MIKE",
                "username": "mike",
                "name": "Mike Johnson",
                "team_id": "T0FAKETEAM",
            },
            "team": {"id": "T0FAKETEAM", "domain": "fake"},
            "container": {
                "type": "message",
                "message_ts": alert["ts"],
                "channel_id": "D0MIKE",
                "is_ephemeral": False,
            },
            "channel": {"id": "D0MIKE", "name": "directmessage"},
            "trigger_id": "1.2.3",
            "message": alert,
            "actions": [
                {
                    "type": "button",
                    "action_id": "acknowledge",
                    "block_id": actions["block_id"],
                    "value": button["value"],
                    "text": button["text"],
                    "action_ts": "1772000000.000001",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        with httpx.Client(base_url=url, timeout=10) as client:
            while time.monotonic() < deadline:
                try:
                    client.get("/api/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            codes = []
            now = int(time.time())
            for age in range(3):  # the same click three times, each freshly signed
                stamp = str(now - age)
                base = f"v0:{stamp}:".encode() + body
                mac = hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
                headers = {
                    "content-type": "application/x-www-form-urlencoded",
                    "x-slack-request-timestamp": stamp,
                    "x-slack-signature": f"v0={mac}",
                }
                codes.append(
                    client.post(
                        "/api/webhooks/slack/interactions", content=body, headers=headers
                    ).status_code
                )
            forged = client.post(
                "/api/webhooks/slack/interactions",
                content=body,
                headers={**headers, "x-slack-signature": "v0=" + "0" * 64},
            )
        assert codes == [200, 200, 200] and forged.status_code == 401
        deadline = time.monotonic() + 20
        while not acked() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(10)  # the pipe ends with the process
        assert proc.stderr is not None
        proc.stderr.close()
    assert len(acked()) == 1
    with SQLiteStore(store) as db:
        acks = [r for r in db.interactions() if r.kind == "acknowledge"]
        assert [(r.episode_id, r.by) for r in acks] == [(episode.episode_id, "Mike Johnson")]
