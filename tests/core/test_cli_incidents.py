"""``ticketspike incidents``: the incidents an engine recorded in a store, as text or JSON."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from support import incident_stream
from ticketspike.cli import main
from ticketspike.engine import Engine
from ticketspike.model import ticket_event_from_json
from ticketspike.store import SQLiteStore
from ticketspike.testing import FixedClock, clean_plugins


def stream() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = incident_stream.stream()
    return rows


def test_incidents_lists_what_the_engine_recorded(tmp_path: Path, capsys) -> None:
    rows = stream()
    events = [ticket_event_from_json(r) for r in rows]
    store = SQLiteStore(tmp_path / "store.db")
    clock = FixedClock(max(e.at for e in events) + timedelta(minutes=1))
    with Engine(store=store, plugins=clean_plugins(), clock=clock) as engine:
        engine.ingest_many(events)
    store.close()
    capsys.readouterr()  # the console notifier's alerts
    assert main(["incidents", "--store", str(tmp_path / "store.db"), "--format", "json"]) == 0
    (incident,) = json.loads(capsys.readouterr().out)
    assert len(incident["customer_ids"]) == 40 and incident["status"] == "open"
    assert main(["incidents", "--store", str(tmp_path / "store.db")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(incident["incident_id"]) and "40 customers" in line


def test_incidents_without_a_store_is_one_clear_error(tmp_path: Path, capsys) -> None:
    code = main(["incidents", "--store", str(tmp_path / "none.db")])
    err = capsys.readouterr().err
    assert code != 0 and "no store at" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["--open"], []])
def test_an_empty_store_has_no_incidents(tmp_path: Path, capsys, args) -> None:
    SQLiteStore(tmp_path / "s.db").close()
    assert main(["incidents", "--store", str(tmp_path / "s.db"), *args]) == 0
    assert capsys.readouterr().out.strip() == "No incidents."
