"""A ticket source gone quiet, end to end: ``ticketspike run`` feeds it, ``serve`` notices.

History goes in through a real ``ticketspike run`` (a fortnight of steady deliveries that stop
eight hours ago); a real ``ticketspike serve`` on the same store judges the sources on each
worker pass and posts ONE warning to the coordination channel of the fake Slack Web API;
``/api/health`` shows it to a reader; a second ``run`` delivers again and the next pass clears
the warning with one "resumed" post. The source's name is hostile: it arrives escaped.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

try:
    importlib.metadata.distribution("ticketspike-slack")
    import uvicorn  # noqa: F401
except (importlib.metadata.PackageNotFoundError, ImportError):
    pytest.skip("ticketspike-slack or the server extra is not installed", allow_module_level=True)

from support import fake_slack

SOURCE = "<!here> feed"
TOKEN = "health-reader-token"


def _write_tickets(path: Path, times: list[datetime]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for n, at in enumerate(times):
            row = {
                "ticketId": f"{path.stem}-{n}",
                "customerId": f"cust{n % 40}",
                "category": "technical",
                "source": SOURCE,
                "createdAt": at.isoformat(),
            }
            out.write(json.dumps(row) + "\n")


def _until(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_one_warning_when_a_source_goes_quiet_and_one_note_when_it_resumes(
    tmp_path: Path, slack: Any
) -> None:
    config = tmp_path / "ticketspike.yaml"
    config.write_text(
        f"plugins:\n  slack:\n    base_url: {slack.base_url}\n"
        "server:\n  interval_seconds: 0.2\n  process_delay_seconds: 0\n",
        encoding="utf-8",
    )
    store = tmp_path / "store.db"
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": fake_slack.TOKEN,
        "TICKETSPIKE_API_TOKEN": TOKEN,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    now = datetime.now(timezone.utc)
    rng = random.Random(5)
    times: list[datetime] = []
    at = now - timedelta(days=15)
    while at < now - timedelta(hours=8):
        times.append(at)
        at += timedelta(minutes=rng.uniform(5, 25))
    history = tmp_path / "history.jsonl"
    _write_tickets(history, times)
    cli = [sys.executable, "-m", "ticketspike"]
    common = ["--store", str(store), "--config", str(config)]
    subprocess.run(
        [*cli, "run", str(history), *common, "--format", "json"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert slack.posted() == []  # feeding history posts nothing about sources

    def source_posts() -> list[dict[str, Any]]:
        return [m for m in slack.posted() if "TICKET SOURCE" in m["text"]]

    proc = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", "0", *common, "--no-access-log"],
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

    reader_thread = threading.Thread(target=pump, daemon=True)
    reader_thread.start()
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
        assert _until(lambda: len(source_posts()) >= 1), "no warning was posted"
        time.sleep(1.5)  # several more worker passes: still one warning
        (warning,) = source_posts()
        assert warning["channel"] == "C0ESCALATE"  # the coordination channel
        assert "TICKET SOURCE QUIET" in warning["text"]
        wire = json.dumps(warning["blocks"])
        assert "&lt;!here&gt; feed" in wire and "<!here>" not in wire
        assert "&lt;!here&gt; feed" in warning["text"] and "<!here>" not in warning["text"]
        with httpx.Client(base_url=url, timeout=10) as client:
            reader = {"Authorization": f"Bearer {TOKEN}"}
            assert client.get("/api/health").json() == {"status": "ok"}
            detail = client.get("/api/health", headers=reader).json()["detail"]
            assert detail["quiet_sources"] == [SOURCE]
            assert detail["sources"][0]["warned_at"] is not None

            fresh = tmp_path / "fresh.jsonl"
            _write_tickets(fresh, [datetime.now(timezone.utc) - timedelta(minutes=1)])
            subprocess.run(
                [*cli, "run", str(fresh), *common],
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
            assert _until(lambda: len(source_posts()) >= 2), "no resumed note was posted"
            time.sleep(1.0)
            detail = client.get("/api/health", headers=reader).json()["detail"]
            assert detail["quiet_sources"] == []
            assert detail["sources"][0]["status"] == "ok"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader_thread.join(10)  # the pipe is at its end once serve has exited
        assert proc.stderr is not None
        proc.stderr.close()
    titles = [m["text"].split(":", 1)[0] for m in source_posts()]
    assert titles == ["TICKET SOURCE QUIET", "TICKET SOURCE RESUMED"]
    listing = subprocess.run(
        [*cli, "sources", "--store", str(store), "--format", "json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    (row,) = json.loads(listing.stdout)["sources"]
    assert row["status"] == "ok" and row["warned_at"] is None
