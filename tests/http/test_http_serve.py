"""``ticketspike serve`` as a real process on 127.0.0.1, and the core without the extra."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ticketspike.store.sqlite import SQLiteStore

KEY = b"serve-test-signing-key-of-32-by"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
TOKEN = "serve-read-token"


def sign(body: bytes, msg_id: str, stamp: int) -> dict[str, str]:
    content = f"{msg_id}.{stamp}.".encode() + body
    mac = base64.b64encode(hmac.new(KEY, content, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": f"v1,{mac}",
    }


def run_cli(
    *args: str, env: dict[str, str] | None = None, prelude: str = ""
) -> subprocess.CompletedProcess[str]:
    code = f"{prelude}\nimport sys\nfrom ticketspike.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


class Server:
    def __init__(self, proc: subprocess.Popen[str], url: str, lines: queue.Queue[str]) -> None:
        self.proc = proc
        self.url = url
        self.lines = lines


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = {
        **os.environ,
        "TICKETSPIKE_API_TOKEN": TOKEN,
        "TICKETSPIKE_WEBHOOK_SECRET": SECRET,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
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
            str(tmp_path / "store.db"),
            "--no-access-log",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    url = None
    deadline = time.monotonic() + 30
    while url is None and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert proc.poll() is None, "serve exited during start-up"
            continue
        match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", line)
        url = match.group(1) if match else None
    assert url is not None, "serve did not say where it listens"
    # Poll until the server answers (the port is bound before uvicorn starts serving).
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        pytest.fail("serve never answered /api/health")
    try:
        yield Server(proc, url, lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(10)  # the pipe ends with the process
        assert proc.stderr is not None
        proc.stderr.close()


def test_a_real_server_stores_once_answers_reads_and_shuts_down_cleanly(server, tmp_path):
    now = int(time.time())
    ticket = {
        "ticketId": "TKT-1",
        "customerId": "acme",
        "category": "billing",
        "severity": "P2",
        "subject": "Invoice total is wrong",
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
    }
    body = json.dumps(ticket).encode()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        codes = [
            client.post(
                "/api/webhooks/support/ticket", content=body, headers=sign(body, "msg-1", now)
            ).status_code
            for _ in range(3)
        ]
        assert codes == [202, 200, 200]
        assert client.get("/api/support/summary/acme").status_code == 401

        deadline = time.monotonic() + 20
        while True:  # the worker thread processes the inbox after the responses
            summary = client.get("/api/support/summary/acme", headers=auth).json()
            if summary["ticketCount"] == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert summary["ticketCount"] == 1
        assert [t["ticketId"] for t in summary["recentTickets"]] == ["TKT-1"]
        assert summary["isSpike"] is False

    # Ctrl-C: uvicorn shuts the app down (worker stopped, store closed), then the command
    # ends with the shell's status for an interrupt.
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(20) == 130
    said = []
    while not server.lines.empty():
        said.append(server.lines.get())
    assert any("Application shutdown complete" in line for line in said)
    with SQLiteStore(tmp_path / "store.db") as store:
        assert store.ticket_count() == 1
        assert store.pending_event_count() == 0


def test_a_huge_declared_body_is_refused_before_it_is_sent(server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/webhooks/support/ticket HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
        )
        # Not one byte of the 50 MB body is sent; the answer comes anyway.
        reply = ""
        while '"}}' not in reply:
            chunk = sock.recv(4096).decode()
            if not chunk:
                break
            reply += chunk
    assert reply.startswith("HTTP/1.1 413")
    assert '"payload_too_large"' in reply
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/api/health").status_code == 200  # still serving


def test_serve_without_a_store_is_a_usage_error():
    result = run_cli("serve", "--port", "0")
    assert result.returncode == 2
    assert "--store" in result.stderr and result.stderr.count("\n") == 1


def test_serve_with_a_bad_server_section_names_the_line(tmp_path):
    config = tmp_path / "ticketspike.yaml"
    config.write_text("server:\n  max_body_bytes: huge\n")
    result = run_cli("serve", "--config", str(config), "--store", str(tmp_path / "s.db"))
    assert result.returncode == 2
    assert f"{config}:2: server.max_body_bytes: expected a whole number" in result.stderr


BLOCK_SERVER_EXTRA = "import sys\nsys.modules['starlette'] = None\nsys.modules['uvicorn'] = None"


def test_serve_without_the_server_extra_says_how_to_install_it(tmp_path):
    result = run_cli("serve", "--store", str(tmp_path / "s.db"), prelude=BLOCK_SERVER_EXTRA)
    assert result.returncode == 1
    assert "pip install 'ticketspike[server]'" in result.stderr


def test_the_core_imports_and_validates_config_without_starlette():
    code = (
        BLOCK_SERVER_EXTRA + "\n"
        "import ticketspike, ticketspike.engine, ticketspike.cli\n"
        "from ticketspike.http import ServerSettings, server_settings_from_config\n"
        "assert server_settings_from_config(None) == ServerSettings()\n"
        "try:\n"
        "    from ticketspike.http import create_app\n"
        "except ImportError:\n"
        "    print('no app without the extra')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no app without the extra"
