"""``run`` and ``backfill`` count tickets like webhooks do, and write them with --metrics-file.

A batch process ends before anyone scrapes it, so its series go to a file in the Prometheus
text format (for a textfile collector); each command is a real process here, so the counts
are that run's own. The backfill counters live in ``Engine.backfill``, so a host that
backfills inside its service sees them at ``/metrics`` too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client", reason="the metrics extra is not installed")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def tickets(path: Path, count: int) -> Path:
    rows = [
        {
            "ticketId": f"T{n}",
            "customerId": f"c{n % 3}",
            "category": "technical",
            "createdAt": (NOW - timedelta(days=3) + timedelta(minutes=7 * n)).isoformat(),
        }
        for n in range(count)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ticketspike", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
    )


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def ticket_counts(path: Path, source: str) -> dict[str, float]:
    got = samples(path)
    return {
        kind: got.get((f"ticketspike_tickets_{kind}_total", (("source", source),)), 0.0)
        for kind in ("received", "stored", "updated", "duplicates")
    }


def test_run_counts_its_tickets_into_the_metrics_file(tmp_path: Path) -> None:
    file = tickets(tmp_path / "t.jsonl", 40)
    prom = tmp_path / "run.prom"
    args = ["run", str(file), "--store", str(tmp_path / "s.db"), "--metrics-file", str(prom)]
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ticket_counts(prom, "file") == {
        "received": 40,
        "stored": 40,
        "updated": 0,
        "duplicates": 0,
    }
    done = cli(*args, cwd=tmp_path)  # the same file again: every ticket already stored
    assert done.returncode == 0, done.stderr
    assert ticket_counts(prom, "file") == {
        "received": 40,
        "stored": 0,
        "updated": 0,
        "duplicates": 40,
    }
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run.prom.")]


def test_backfill_counts_by_source_into_the_metrics_file(tmp_path: Path) -> None:
    tickets(tmp_path / "history.jsonl", 25)
    (tmp_path / "ticketspike.yaml").write_text(
        "plugins:\n  ticket:\n    path: history.jsonl\n    page_size: 10\n"
    )
    prom = tmp_path / "backfill.prom"
    since = (NOW - timedelta(days=10)).isoformat()
    done = cli(
        "backfill",
        "ticket",
        "--since",
        since,
        "--store",
        str(tmp_path / "s.db"),
        "--config",
        "ticketspike.yaml",
        "--metrics-file",
        str(prom),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert ticket_counts(prom, "ticket") == {
        "received": 25,
        "stored": 25,
        "updated": 0,
        "duplicates": 0,
    }


def test_a_metrics_file_in_a_missing_folder_is_one_line_before_any_work(tmp_path: Path) -> None:
    file = tickets(tmp_path / "t.jsonl", 3)
    bad = tmp_path / "nowhere" / "run.prom"
    done = cli(
        "run",
        str(file),
        "--store",
        str(tmp_path / "s.db"),
        "--metrics-file",
        str(bad),
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"ticketspike: error: --metrics-file: no folder {str(bad.parent)!r} to write into"
    )
    assert not (tmp_path / "s.db").exists()
