"""``ticketspike sources``: each source's last delivery, expected gap, quiet since / ok."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from ticketspike.cli import main
from ticketspike.store import SQLiteStore
from ticketspike.testing import FixedClock, RecordingNotifier, StaticPlugin, memory_engine

from .test_engine_quiet_sources import steady


@pytest.fixture
def store_file(tmp_path: Path) -> tuple[Path, FixedClock]:
    path = tmp_path / "store.db"
    events = steady() + steady(days=3, source="intercom", seed=3)
    clock = FixedClock(max(e.at for e in events))
    store = SQLiteStore(path)
    engine = memory_engine(StaticPlugin(notifiers=[RecordingNotifier()]), clock=clock, store=store)
    engine.ingest_many(sorted(events, key=lambda e: e.at))
    clock.at = max(e.at for e in events if e.ticket.source == "api") + timedelta(hours=8)
    engine.tick(clock.at)  # api has been quiet long enough: warned
    store.close()
    return path, clock


def test_sources_as_json(
    store_file: tuple[Path, FixedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    path, clock = store_file
    at = clock.at.isoformat()
    assert main(["sources", "--store", str(path), "--at", at, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_name = {s["source"]: s for s in report["sources"]}
    assert sorted(by_name) == ["api", "intercom"]
    api = by_name["api"]
    assert api["status"] == "quiet" and api["warned_at"] == at
    assert api["quiet_since"] == api["last_delivery"]
    assert 0 < api["expected_gap_seconds"] < api["warn_after_seconds"] < 8 * 3600
    assert by_name["intercom"]["status"] == "learning"  # three days of history only


def test_sources_as_text(
    store_file: tuple[Path, FixedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    path, clock = store_file
    assert main(["sources", "--store", str(path), "--at", clock.at.isoformat()]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "SOURCE",
        "STATUS",
        "LAST",
        "DELIVERY",
        "EXPECTED",
        "GAP",
        "QUIET",
        "AFTER",
        "QUIET",
        "SINCE",
    ]
    api = next(line for line in out if line.startswith("api "))
    assert " quiet " in api and "(warned " in api
    assert out[-1] == "2 source(s), 1 quiet: api."


def test_sources_on_a_missing_store_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sources", "--store", str(tmp_path / "nope.db")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ticketspike: error: --store: no store at") and err.count("\n") == 1
