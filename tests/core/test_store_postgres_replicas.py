"""Four ``ticketspike serve`` replicas on one PostgreSQL schema, one of them killed mid-load.

A client spreads signed webhooks round robin over the replicas (100 customers, 10 of them
spiking); when a replica stops answering, the client sends what it did not acknowledge to the
next one, with the same delivery id, as a load balancer's retry would. Then every accepted
ticket is stored once, each spiking customer has exactly one episode (and no quiet one has
any), and every planned action ran exactly once: the notifier below appends each key it
delivers to a file shared by all replicas, which is the ground truth. A second test kills a
replica while it holds an action's lease, and another replica finishes that action once.

``bench/bench_postgres.py`` runs the same shape at full size (20,000 tickets) and measures it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO

from ticketspike.store import ActionStatus
from ticketspike.store.postgres import PostgresStore

KEY = os.urandom(32)
SECRET = "whsec_" + base64.b64encode(KEY).decode()
REPLICAS = 4
CUSTOMERS = 100
HOT = 10
TICKETS = 1_600
_DRAINS: dict[int, threading.Thread] = {}

PLUGIN = '''
"""keylog: a notifier that appends every delivered action key to one file."""
import os
import time

from ticketspike import ActionResult, hookimpl


class KeyLog:
    name = "keylog"
    kinds = frozenset({"direct_message", "channel_post", "thread_reply", "update_message",
                       "notify_team"})

    def __init__(self, log, hang):
        self.log, self.hang = log, hang

    def execute(self, action, ctx):
        if self.hang:
            open(self.log + ".hanging", "w").close()
            time.sleep(600)  # the test kills the replica here, holding the action's lease
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (action.key + "\\n").encode())
        os.close(fd)
        return ActionResult(ref={"channel": "keylog", "ts": action.key}, summary="logged")


@hookimpl
def register_action_handlers(register, config):
    section = config.section("keylog")
    if section is not None:
        register(KeyLog(section.get_str("log"), section.get_bool("hang", False)))
'''


def _install_plugin(site: Path) -> None:
    site.mkdir(parents=True)
    (site / "keylog_notifier.py").write_text(PLUGIN)
    info = site / "keylog_notifier-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: keylog-notifier\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ticketspike]\nkeylog = keylog_notifier\n")


def _customer(n: int) -> str:
    """Quiet customers get two tickets each (never a spike); the rest go to the hot ones."""
    quiet = CUSTOMERS - HOT
    if n < 2 * quiet:
        return f"quiet-{n % quiet}"
    return f"hot-{n % HOT}"


def _requests(count: int) -> list[tuple[str, bytes]]:
    now = datetime.now(timezone.utc)
    out = []
    for n in range(count):
        ticket = {
            "ticketId": f"R-{n}",
            "customerId": _customer(n),
            "category": "technical",
            "severity": "P2",
            "subject": "Export job fails with error 502",
            "createdAt": (now - timedelta(milliseconds=10 * (count - n))).isoformat(),
        }
        out.append((f"msg_{n}", json.dumps(ticket).encode()))
    return out


def _raw(port: int, msg_id: str, body: bytes) -> bytes:
    stamp = int(time.time())
    content = f"{msg_id}.{stamp}.".encode() + body
    signature = "v1," + base64.b64encode(hmac.new(KEY, content, hashlib.sha256).digest()).decode()
    head = [
        "POST /api/webhooks/support/ticket HTTP/1.1",
        f"host: 127.0.0.1:{port}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        f"webhook-id: {msg_id}",
        f"webhook-timestamp: {stamp}",
        f"webhook-signature: {signature}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _post(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        return int(head[9:12])
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def _load(
    ports: list[int], work: list[tuple[str, bytes]], kill: subprocess.Popen[str]
) -> set[str]:
    """Round robin; a replica that fails is skipped from then on. Returns acknowledged ids."""
    alive = list(ports)
    acked: set[str] = set()
    position = 0

    async def sender(lane: int) -> None:
        nonlocal position
        while position < len(work):
            msg_id, body = work[position]
            position += 1
            if position == len(work) // 2 and kill.poll() is None:
                kill.send_signal(signal.SIGKILL)
            turn = lane + position
            while True:
                port = alive[turn % len(alive)]
                try:
                    status = await _post(port, _raw(port, msg_id, body))
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                    if port in alive and len(alive) > 1:
                        alive.remove(port)
                    turn += 1
                    continue
                assert 200 <= status < 300, status
                acked.add(msg_id)
                break

    await asyncio.gather(*(sender(lane) for lane in range(2 * len(ports))))
    return acked


def _serve(url: str, config: Path, site: Path) -> tuple[subprocess.Popen[str], int]:
    env = {
        **os.environ,
        "TICKETSPIKE_WEBHOOK_SECRET": SECRET,
        "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ticketspike", "serve", "--port", "0", "--store", url]
        + ["--config", str(config), "--no-access-log", "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        match = re.search(r"serving on http://127\.0\.0\.1:(\d+)", line)
        if match:
            # Keep reading, so a chatty replica never blocks on a full pipe.
            drain = threading.Thread(target=_drain, args=(proc.stderr,), daemon=True)
            drain.start()
            _DRAINS[proc.pid] = drain
            return proc, int(match.group(1))
    proc.wait(10)
    proc.stderr.close()
    raise AssertionError(f"serve did not start (exit {proc.returncode})")


def _drain(stream: IO[str]) -> None:
    with stream:
        for line in stream:
            if "Traceback" in line or "ERROR" in line:
                sys.stderr.write(f"replica: {line}")


def test_four_replicas_one_killed_store_once_alert_once_act_once(
    postgres_url: str, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    _install_plugin(site)
    log = tmp_path / "delivered.log"
    config = tmp_path / "ticketspike.yaml"
    config.write_text(
        f"plugins:\n  keylog:\n    log: {log}\nserver:\n  interval_seconds: 0.5\n"
        "  process_delay_seconds: 0.02\n"
    )
    with PostgresStore(postgres_url) as store:
        # Detection has been watching for weeks: a new customer is judged against the
        # industry rate at once instead of warming up.
        since = datetime.now(timezone.utc) - timedelta(days=60)
        store.set_cursor("detection:watching_since", since.isoformat(), at=since)

    procs: list[subprocess.Popen[str]] = []
    ports: list[int] = []
    try:
        for _ in range(REPLICAS):
            proc, port = _serve(postgres_url, config, site)
            procs.append(proc)
            ports.append(port)
        work = _requests(TICKETS)
        acked = asyncio.run(_load(ports, work, kill=procs[1]))
        assert procs[1].wait(10) == -signal.SIGKILL

        with PostgresStore(postgres_url) as store:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                busy = (
                    store.pending_event_count()
                    or store.actions(status=ActionStatus.PENDING)
                    or store.running_actions()
                )
                if not busy:
                    break
                time.sleep(0.25)
            ids = {r.ticket.ticket_id for r in store.tickets()}
            episodes = store.episodes()
            actions = store.actions()
            outbox = store.outbox()
            assert store.pending_event_count() == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            _DRAINS.pop(proc.pid).join(10)

    assert len(acked) == TICKETS
    assert ids == {f"R-{n}" for n in range(TICKETS)}  # each accepted ticket, stored once
    per_customer = Counter(e.customer_id for e in episodes)
    assert per_customer == {f"hot-{h}": 1 for h in range(HOT)}
    assert actions and {a.status for a in actions} == {ActionStatus.DONE}
    # Each action once: the notifier's own log has each of its keys exactly once, and the
    # outbox has every action exactly once.
    delivered = log.read_text().split()
    assert len(delivered) == len(set(delivered))
    assert set(delivered) == {a.key for a in actions if a.handler == "keylog"} != set()
    assert sorted(e.key for e in outbox) == sorted(a.key for a in actions)


def test_a_lease_of_a_killed_replica_is_finished_by_another_once(
    postgres_url: str, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    _install_plugin(site)
    log = tmp_path / "delivered.log"
    configs = {}
    for name, hang in (("hangs", "true"), ("works", "false")):
        configs[name] = tmp_path / f"{name}.yaml"
        configs[name].write_text(
            f"plugins:\n  keylog:\n    log: {log}\n    hang: {hang}\n"
            "server:\n  interval_seconds: 0.5\n  process_delay_seconds: 0.02\n"
        )
    with PostgresStore(postgres_url) as store:
        since = datetime.now(timezone.utc) - timedelta(days=60)
        store.set_cursor("detection:watching_since", since.isoformat(), at=since)
    work = [(m, b) for m, b in _requests(TICKETS) if b"hot-0" in b][:12]
    hanging, port = _serve(postgres_url, configs["hangs"], site)
    procs = [hanging]
    try:
        for msg_id, body in work:
            assert 200 <= asyncio.run(_post(port, _raw(port, msg_id, body))) < 300
        marker = Path(f"{log}.hanging")
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the first replica never ran an action"
        hanging.send_signal(signal.SIGKILL)
        hanging.wait(10)
        with PostgresStore(postgres_url) as store:
            [stuck] = store.running_actions()
            assert stuck.owner is not None and f":{hanging.pid}:" in stuck.owner

        other, other_port = _serve(postgres_url, configs["works"], site)
        procs.append(other)
        # Any webhook wakes the other replica's worker, which takes over the dead lease.
        quiet = _requests(1)[0]
        assert 200 <= asyncio.run(_post(other_port, _raw(other_port, *quiet))) < 300
        with PostgresStore(postgres_url) as store:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if {a.status for a in store.actions()} == {ActionStatus.DONE}:
                    break
                time.sleep(0.2)
            done = store.action(stuck.key)
            attempts = store.attempts(stuck.key)
            actions = store.actions()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            _DRAINS.pop(proc.pid).join(10)

    assert done is not None and done.status is ActionStatus.DONE
    assert [a.outcome for a in attempts] == ["interrupted", "done"]
    delivered = log.read_text().split()
    assert delivered.count(stuck.key) == 1
    assert (
        len(delivered) == len(set(delivered)) == len([a for a in actions if a.handler == "keylog"])
    )
