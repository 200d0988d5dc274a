"""The operator's view of a real ``ticketspike serve``: Prometheus metrics and JSON logs.

The bundled demo (six weeks of tickets ending in TechCorp's critical spike) is shifted to end
a few minutes ago, posted through signed webhooks, and the server runs it through detection
and the console notifier. Then ``/metrics`` is parsed with prometheus_client's own parser, and
every line the process logged is parsed as JSON and searched for the marker secrets it was
given in its environment.
"""

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
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from ticketspike import data

prometheus_parser = pytest.importorskip("prometheus_client.parser")

KEY = b"metrics-test-signing-key-32-byte"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
TOKEN = "marker-read-token-7f3a9c"
MARKERS = {
    "TICKETSPIKE_API_TOKEN": TOKEN,
    "TICKETSPIKE_WEBHOOK_SECRET": SECRET,
    "SLACK_BOT_TOKEN": "xoxb-marker-slack-token-51d2",
    "ZENDESK_API_TOKEN": "marker-zendesk-token-88e1",
}


def sign(body: bytes, msg_id: str, stamp: int) -> dict[str, str]:
    content = f"{msg_id}.{stamp}.".encode() + body
    mac = base64.b64encode(hmac.new(KEY, content, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": f"v1,{mac}",
    }


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str, lines: queue.Queue[str]) -> None:
        self.proc, self.url, self.lines = proc, url, lines

    def stop(self) -> list[str]:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        time.sleep(0.1)  # let the reader thread drain the pipe
        said: list[str] = []
        while not self.lines.empty():
            said.append(self.lines.get())
        return said


def start(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> Served:
    files = data.copy_to(tmp_path / "demo")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ticketspike",
            "serve",
            "--port",
            "0",
            *(
                []
                if "TICKETSPIKE_CONFIG" in (env or {})
                else ["--config", str(files[data.DEMO_CONFIG])]
            ),
            "--store",
            str(tmp_path / "store.db"),
            "--log-level",
            "debug",
            *extra,
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **MARKERS, "NO_PROXY": "127.0.0.1,localhost", **(env or {})},
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        proc.stderr.close()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 30
    url = None
    seen: list[str] = []
    while url is None and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert proc.poll() is None, f"serve exited during start-up: {seen}"
            continue
        seen.append(line)
        match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", line)
        url = match.group(1) if match else None
    assert url is not None, "serve did not say where it listens"
    for line in seen:
        lines.put(line)  # keep the start-up lines for the log checks
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    return Served(proc, url, lines)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = start(tmp_path, "--log-format", "json")
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(10)


def demo_tickets_ending_now() -> list[dict[str, object]]:
    path = Path(data.__file__).with_name(data.DEMO_TICKETS)
    tickets = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    times = [datetime.fromisoformat(str(t["createdAt"]).replace("Z", "+00:00")) for t in tickets]
    shift = datetime.now(timezone.utc) - timedelta(minutes=10) - max(times)
    for ticket, at in zip(tickets, times, strict=True):
        ticket["createdAt"] = (at + shift).strftime("%Y-%m-%dT%H:%M:%SZ")
    return tickets


def post_demo(client: httpx.Client) -> None:
    tickets = demo_tickets_ending_now()
    for n in range(0, len(tickets), 100):
        body = json.dumps({"tickets": tickets[n : n + 100]}).encode()
        headers = sign(body, f"msg-{n}", int(time.time()))
        answer = client.post("/api/webhooks/support/ticket", content=body, headers=headers)
        assert answer.status_code in (200, 202), answer.text
    # The same delivery again is a replay: counted as duplicates, stored nothing.
    body = json.dumps({"tickets": tickets[:100]}).encode()
    again = client.post(
        "/api/webhooks/support/ticket", content=body, headers=sign(body, "msg-0", int(time.time()))
    )
    assert again.status_code == 200 and again.json()["replayed"] is True


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in prometheus_parser.text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_after_the_demo_flow_and_json_logs_without_secrets(served: Served) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=served.url, timeout=30) as client:
        post_demo(client)
        assert client.get("/api/support/escalations").status_code == 401  # refused: no token
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            cards = client.get("/api/support/escalations", headers=auth).json()["escalations"]
            if cards:
                break
            time.sleep(0.2)
        assert [c["customerId"] for c in cards] == ["techcorp"]
        assert client.get("/metrics").status_code == 401  # the read token guards it
        while time.monotonic() < deadline:
            text = client.get("/metrics", headers=auth).text
            got = samples(text)
            if got.get(
                ("ticketspike_actions_total", (("kind", "direct_message"), ("outcome", "done")))
            ):
                break
            time.sleep(0.2)

    names = {name for name, _labels in got}
    assert all(name.startswith("ticketspike_") for name in names)
    received = got[("ticketspike_tickets_received_total", (("source", "ticket"),))]
    stored = got[("ticketspike_tickets_stored_total", (("source", "ticket"),))]
    duplicates = got[("ticketspike_tickets_duplicates_total", (("source", "ticket"),))]
    total = len(demo_tickets_ending_now())
    assert (received, stored, duplicates) == (total + 100, total, 100)
    assert got[("ticketspike_webhook_seconds_count", (("source", "ticket"),))] == 5
    assert got[("ticketspike_http_refused_requests_total", (("reason", "unauthorized"),))] == 2
    assert got[("ticketspike_episodes_total", (("event", "opened"),))] >= 1
    assert (
        got[("ticketspike_actions_total", (("kind", "direct_message"), ("outcome", "done")))] >= 1
    )
    assert not any(name == "ticketspike_action_retries_total" for name in names)  # none failed
    assert got[("ticketspike_inbox_depth", ())] == 0
    assert got[("ticketspike_inbox_oldest_age_seconds", ())] == 0
    # Every ticket seen by detection (a pass rolled back to compute themes sees some twice).
    assert got[("ticketspike_detection_lag_seconds_count", ())] >= total

    lines = served.stop()
    assert len(lines) > 10
    for line in lines:
        record = json.loads(line)  # every line is one JSON object
        assert set(record) == {"timestamp", "level", "logger", "event", "fields"}
        assert record["timestamp"].endswith("Z")
        for marker in MARKERS.values():
            assert marker not in line
    loggers = {json.loads(line)["logger"] for line in lines}
    assert {"ticketspike.engine", "uvicorn.error", "uvicorn.access"} <= loggers
    assert any("techcorp opened episode" in json.loads(line)["event"] for line in lines)


def test_metrics_public_opens_the_endpoint_and_text_logs_carry_a_timestamp(tmp_path: Path) -> None:
    config = tmp_path / "ticketspike.yaml"
    config.write_text("server:\n  metrics_public: true\n")
    server = start(tmp_path, env={"TICKETSPIKE_CONFIG": str(config)})
    try:
        answer = httpx.get(f"{server.url}/metrics", timeout=10)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        assert "ticketspike_inbox_depth 0.0" in answer.text
    finally:
        lines = server.stop()
    assert any("Application startup complete" in line for line in lines)
    stamped = [line for line in lines if re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line)]
    assert stamped and all(marker not in line for line in lines for marker in MARKERS.values())
