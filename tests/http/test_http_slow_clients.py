"""``ticketspike serve`` against slow, idle and too many clients, as a real process.

Finding 4 of the hostile-conditions report: a body trickled at 1 byte/s was held 62 s and
never answered, and 1,500 idle connections against a 1,024 file limit took the service down
while the accept loop wrote 264 MB of tracebacks in a minute. Here the server runs with that
same file limit (set in the child before it starts) and the limits of its ``server:`` section.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ticketspike._lograte import RateLimit  # noqa: E402
from ticketspike.config import load_config  # noqa: E402
from ticketspike.errors import ConfigError  # noqa: E402
from ticketspike.http import server_settings_from_config  # noqa: E402
from ticketspike.http.connections import (  # noqa: E402
    ACCEPT_BATCH,
    ACCEPT_HEADROOM,
    FD_RESERVE,
    connection_cap,
)  # noqa: E402

KEY = b"slow-client-signing-key-32bytes!"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
TOKEN = "slow-read-token"
FILE_LIMIT = 1024


class Serve:
    def __init__(self, proc: subprocess.Popen[str], port: int, lines: queue.Queue[str]) -> None:
        self.proc, self.port, self.lines = proc, port, lines

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        said = []
        while not self.lines.empty():
            said.append(self.lines.get())
        return "".join(said)


@contextmanager
def serve(
    tmp_path: Path, server_section: str = "", *, file_limit: int = FILE_LIMIT
) -> Iterator[Serve]:
    config = tmp_path / "ticketspike.yaml"
    config.write_text("server:\n  interval_seconds: 3600\n" + server_section)
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({file_limit}, {file_limit}))\n"
        "from ticketspike.cli import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "serve",
            "--port",
            "0",
            "--config",
            str(config),
            "--store",
            str(tmp_path / "store.db"),
            "--no-access-log",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={
            **os.environ,
            "TICKETSPIKE_API_TOKEN": TOKEN,
            "TICKETSPIKE_WEBHOOK_SECRET": SECRET,
            "NO_PROXY": "127.0.0.1,localhost",
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
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            try:
                match = re.search(r"serving on http://127\.0\.0\.1:(\d+)", lines.get(timeout=1))
            except queue.Empty:
                assert proc.poll() is None, "serve exited during start-up"
                continue
            port = int(match.group(1)) if match else None
        assert port is not None, "serve did not say where it listens"
        server = Serve(proc, port, lines)
        with httpx.Client(base_url=server.url, timeout=2) as client:
            while time.monotonic() < deadline:
                try:
                    if client.get("/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        reader.join(10)
        if proc.stderr is not None:
            proc.stderr.close()


def connect(server: Serve) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def read_reply(sock: socket.socket) -> bytes:
    """Everything until the peer closes (or 10 s pass)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def signed_ticket(number: int) -> tuple[bytes, dict[str, str]]:
    stamp = int(time.time())
    body = json.dumps(
        {
            "ticketId": f"T-{number}",
            "customerId": "acme",
            "category": "technical",
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp - 60)),
        }
    ).encode()
    msg_id = f"msg-{number}"
    content = f"{msg_id}.{stamp}.".encode() + body
    mac = base64.b64encode(hmac.new(KEY, content, hashlib.sha256).digest()).decode()
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": f"v1,{mac}",
    }
    return body, headers


SLOW_HEAD = b"POST /api/webhooks/support/ticket HTTP/1.1\r\nHost: x\r\nX-Slow: "


def test_1500_idle_and_slowloris_connections_leave_health_and_webhooks_answered(
    tmp_path: Path,
) -> None:
    with serve(tmp_path) as server, ExitStack() as held:
        sockets = []
        for n in range(1500):
            sock = held.enter_context(connect(server))
            if n % 2:
                sock.sendall(SLOW_HEAD)  # a head that never ends
            sockets.append(sock)
        for sock in sockets[1::2]:
            sock.sendall(b"a")  # ...trickled on
        with httpx.Client(base_url=server.url, timeout=5) as client:
            for number in range(5):
                health = client.get("/api/health", headers={"connection": "close"})
                assert health.status_code == 200, health.text
                body, headers = signed_ticket(number)
                reply = client.post(
                    "/api/webhooks/support/ticket",
                    content=body,
                    headers={**headers, "connection": "close"},
                )
                assert reply.status_code == 202, reply.text
        assert server.proc.poll() is None
        log = server.log()
        assert "Traceback" not in log and "out of system resource" not in log
        assert len(log) < 20_000


def test_a_trickled_body_is_answered_408_when_its_time_is_up(tmp_path: Path) -> None:
    with serve(tmp_path, "  body_timeout_seconds: 1\n") as server, connect(server) as sock:
        sock.sendall(
            b"POST /api/webhooks/support/ticket HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        for _ in range(3):
            try:
                sock.sendall(b" ")  # one byte now and then
            except OSError:
                break
            time.sleep(0.3)
        reply = read_reply(sock)
        assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert b'"request_timeout"' in reply and b"connection: close" in reply
        with httpx.Client(base_url=server.url, timeout=5) as client:
            assert client.get("/api/health").status_code == 200
        assert "ClientDisconnect" not in server.log()


def test_a_head_that_never_ends_and_an_idle_connection_are_closed(tmp_path: Path) -> None:
    with serve(tmp_path, "  header_timeout_seconds: 1\n") as server:
        with connect(server) as slow, connect(server) as idle:
            slow.sendall(SLOW_HEAD)
            assert read_reply(slow) == b""  # closed, not held
            assert read_reply(idle) == b""


def test_keep_alive_ends_after_the_request_limit(tmp_path: Path) -> None:
    with serve(tmp_path, "  keep_alive_max_requests: 2\n") as server:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            first = client.get("/api/health")
            second = client.get("/api/health")
        assert first.headers.get("connection") != "close"
        assert second.headers.get("connection") == "close"


def test_past_the_cap_an_idle_connection_makes_room_and_busy_ones_get_503(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, "  max_connections: 3\n") as server, ExitStack() as held:
        idle = [held.enter_context(connect(server)) for _ in range(3)]
        time.sleep(0.2)
        with httpx.Client(base_url=server.url, timeout=5) as client:
            assert client.get("/api/health", headers={"connection": "close"}).status_code == 200
        assert read_reply(idle[0]) == b""  # the oldest idle one made room
        # Connections in the middle of a request are never closed to make room.
        for sock in idle[1:]:
            sock.close()
        busy = [held.enter_context(connect(server)) for _ in range(3)]
        for sock in busy:
            sock.sendall(
                b"POST /api/webhooks/support/ticket HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
        time.sleep(0.2)
        with connect(server) as extra:
            extra.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = read_reply(extra)
        assert reply.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert b"retry-after: 1\r\n" in reply and b'"overloaded"' in reply


def test_server_section_limits_have_defaults_and_refuse_nonsense(tmp_path: Path) -> None:
    defaults = server_settings_from_config(None)
    assert (defaults.header_timeout_seconds, defaults.body_timeout_seconds) == (10.0, 30.0)
    assert (defaults.max_connections, defaults.shutdown_grace_seconds) == (1000, 30.0)
    path = tmp_path / "ticketspike.yaml"
    path.write_text("server:\n  max_connections: 0\n")
    with pytest.raises(ConfigError, match=r":2: server\.max_connections"):
        server_settings_from_config(load_config(path).section("server"))
    path.write_text("server:\n  header_timeout_seconds: .inf\n")
    with pytest.raises(ConfigError, match=r"header_timeout_seconds"):
        server_settings_from_config(load_config(path).section("server"))
    assert connection_cap(1000, 1024) == 1024 - FD_RESERVE - ACCEPT_HEADROOM * ACCEPT_BATCH
    assert connection_cap(1000, 65536) == 1000


def test_repeated_errors_are_logged_a_few_times_then_counted() -> None:
    now = [0.0]
    limit = RateLimit(burst=3, period=60.0, clock=lambda: now[0])
    logger = logging.getLogger("ticketspike.tests.lograte")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(limit)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for n in range(1000):
            logger.error("accept failed: %s", n)
        logger.info("an access line %s", 1)  # below WARNING: never limited
        now[0] = 61.0
        logger.error("accept failed: %s", "again")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    messages = [r.getMessage() for r in records]
    assert messages[:3] == ["accept failed: 0", "accept failed: 1", "accept failed: 2"]
    assert messages[3] == "an access line 1"
    assert messages[4] == "accept failed: again (997 similar messages suppressed)"
    assert len(messages) == 5
