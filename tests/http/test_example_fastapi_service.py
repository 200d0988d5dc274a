"""``examples/fastapi_service.py`` as a user runs it: uvicorn, the API mounted under
``/ticketspike``, its worker started at start-up, a signed webhook processed, the mounted docs
and OpenAPI document, and a clean shutdown that leaves nothing pending."""

from __future__ import annotations

import base64
import hashlib
import hmac
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

import httpx
import pytest

from ticketspike import Engine
from ticketspike.store.sqlite import SQLiteStore

pytest.importorskip("fastapi", reason="the example needs FastAPI (the test dependency group)")

ROOT = Path(__file__).resolve().parents[2]
KEY = b"example-service-signing-key-32by"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
TOKEN = "example-read-token"


def signed(body: bytes, msg_id: str) -> dict[str, str]:
    stamp = int(time.time())
    mac = hmac.new(KEY, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def ticket(ticket_id: str, minutes_ago: int) -> bytes:
    at = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return json.dumps(
        {
            "ticketId": ticket_id,
            "customerId": "acme",
            "category": "technical",
            "subject": "API returns 502 on export",
            "createdAt": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ).encode()


def test_the_example_service_mounts_processes_documents_and_shuts_down(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    config = tmp_path / "ticketspike.yaml"
    config.write_text("server:\n  interval_seconds: 0.2\n")
    # Left in the inbox by "an earlier run": the worker must take it at start-up, unasked.
    with Engine.from_config(
        str(config), store=str(store), env={"TICKETSPIKE_WEBHOOK_SECRET": SECRET}
    ) as engine:
        body = ticket("TKT-0", 30)
        engine.ingest_webhook("ticket", body, signed(body, "msg-0"), now=engine.clock())
        assert engine.store.pending_event_count() == 1

    env = {
        **os.environ,
        "TICKETSPIKE_API_TOKEN": TOKEN,
        "TICKETSPIKE_WEBHOOK_SECRET": SECRET,
        "TICKETSPIKE_CONFIG": str(config),
        "TICKETSPIKE_STORE": str(store),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            "examples",
            "fastapi_service:app",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        proc.stderr.close()

    threading.Thread(target=pump, daemon=True).start()
    said: list[str] = []
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            try:
                said.append(lines.get(timeout=1))
            except queue.Empty:
                assert proc.poll() is None, "".join(said)
                continue
            match = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", said[-1])
            url = match.group(1) if match else None
        assert url is not None, "".join(said)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/").json()["ticketspike"] == "/ticketspike/docs"
            summary = {}
            while time.monotonic() < deadline:  # the earlier run's ticket, no webhook needed
                summary = client.get("/ticketspike/api/support/summary/acme", headers=auth).json()
                if summary.get("ticketCount") == 1:
                    break
                time.sleep(0.1)
            assert summary["ticketCount"] == 1

            body = ticket("TKT-1", 5)
            answer = client.post(
                "/ticketspike/api/webhooks/support/ticket", content=body, headers=signed(body, "m1")
            )
            assert answer.status_code == 202, answer.text
            while time.monotonic() < deadline:
                summary = client.get("/ticketspike/api/support/summary/acme", headers=auth).json()
                if summary["ticketCount"] == 2:
                    break
                time.sleep(0.1)
            assert [t["ticketId"] for t in summary["recentTickets"]] == ["TKT-1", "TKT-0"]
            banner = client.get("/ticketspike/api/support/banner/acme", headers=auth).json()
            assert banner["link"] == "/ticketspike/api/support/summary/acme"

            document = client.get("/ticketspike/openapi.json").json()
            assert document["servers"] == [{"url": "/ticketspike"}]
            assert "/api/support/summary/{customerId}" in document["paths"]
            page = client.get("/ticketspike/docs")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert '"/ticketspike/openapi.json"' in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    time.sleep(0.1)
    while not lines.empty():
        said.append(lines.get())
    assert any("Application shutdown complete" in line for line in said)
    assert not any("Traceback" in line for line in said), "".join(said)
    with SQLiteStore(store) as done:
        assert done.ticket_count() == 2
        assert done.pending_event_count() == 0
