"""``ticketspike episodes``, ``ack``, ``snooze``, ``resolve`` on a store file."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ticketspike.cli import main
from ticketspike.store import SQLiteStore
from ticketspike.testing import ticket_event

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def write_tickets(path: Path) -> None:
    events = [
        ticket_event(
            f"H{d}-{k}", "techcorp", START + timedelta(days=d, hours=9 + 4 * k), category="training"
        )
        for d in range(40)
        for k in range(2)
    ] + [
        ticket_event(
            f"S{i}",
            "techcorp",
            START + timedelta(days=40, minutes=50 * i),
            subject="API returning 500 errors",
            priority="P1" if i < 3 else "P2",
        )
        for i in range(15)
    ]
    path.write_text("".join(json.dumps(e.ticket.to_json()) + "\n" for e in events))


@pytest.fixture
def store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (tmp_path / "accounts.yaml").write_text(
        "- id: techcorp\n  name: TechCorp Inc\n  csm: {name: Mike Johnson}\n"
    )
    (tmp_path / "ticketspike.yaml").write_text("accounts: accounts.yaml\n")
    write_tickets(tmp_path / "t.jsonl")
    path = tmp_path / "s.db"
    config = str(tmp_path / "ticketspike.yaml")
    assert main(["run", str(tmp_path / "t.jsonl"), "--store", str(path), "--config", config]) == 0
    capsys.readouterr()
    return path


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ack_snooze_resolve_and_the_history(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [episode] = _json(capsys, ["episodes", "--store", str(store)])  # type: ignore[misc]
    assert episode["status"] == "active" and episode["acknowledged_by"] is None
    eid = episode["episode_id"]

    first = _json(capsys, ["ack", eid, "--store", str(store), "--by", "Mike Johnson"])
    again = _json(capsys, ["ack", eid, "--store", str(store), "--by", "Sarah"])
    assert first == again and first["by"] == "Mike Johnson"  # type: ignore[index]

    snoozed = _json(capsys, ["snooze", "techcorp", "--for", "4h", "--store", str(store)])
    assert snoozed["kind"] == "snooze" and snoozed["episode_id"] == eid  # type: ignore[index]

    assert main(["resolve", eid, "--store", str(store), "--by", "Mike Johnson"]) == 0
    assert f"{eid} resolved" in capsys.readouterr().out
    assert main(["resolve", eid, "--store", str(store)]) == 0
    assert "resolved" in capsys.readouterr().out

    [view] = _json(capsys, ["episodes", "--store", str(store)])  # type: ignore[misc]
    assert view["status"] == "resolved" and view["acknowledged_by"] == "Mike Johnson"
    assert view["snoozed_until"] is not None
    history = _json(capsys, ["episodes", eid, "--store", str(store)])
    whats = [h["what"] for h in history]  # type: ignore[union-attr]
    assert whats.index("opened") < whats.index("acknowledge") < whats.index("resolve")
    with SQLiteStore(store, create=False) as db:
        assert [r.kind for r in db.interactions()] == ["acknowledge", "snooze", "resolve"]
        assert len(db.recorded_silences()) == 1

    assert main(["episodes", "--store", str(store)]) == 0
    text = capsys.readouterr().out
    assert "acked by Mike Johnson" in text and "snoozed until" in text


def test_bad_input_is_one_line_and_changes_nothing(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["snooze", "techcorp", "--for", "forever", "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "30m, 4h or 1d" in err
    assert main(["ack", "no-such-episode", "--store", str(store)]) == 2
    assert "no episode" in capsys.readouterr().err
    assert main(["ack", "x", "--store", str(store.parent / "missing.db")]) == 2
    with SQLiteStore(store, create=False) as db:
        assert db.interactions() == [] and db.recorded_silences() == []
