"""The engine's commands called in-process: outputs, formats, errors and backfill."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ticketspike.cli import main
from ticketspike.cli.engine_cmds import time_ordered
from ticketspike.store import SQLiteStore
from ticketspike.testing import ticket_event

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SPIKE_DAY = START + timedelta(days=40)


def write_tickets(path: Path, *, extra: list[dict[str, object]] | None = None) -> list[dict]:
    lines: list[dict[str, object]] = []
    for day in range(40):
        for k in range(2):
            at = START + timedelta(days=day, hours=9 + 4 * k)
            lines.append(
                ticket_event(
                    f"H{day}-{k}",
                    "techcorp",
                    at,
                    category="training",
                    subject="How do I export reports",
                ).ticket.to_json()
            )
    for i in range(15):
        at = SPIKE_DAY + timedelta(minutes=50 * i)
        lines.append(
            ticket_event(
                f"S{i}",
                "techcorp",
                at,
                subject="API returning 500 errors",
                priority="P1" if i < 3 else "P2",
            ).ticket.to_json()
        )
    lines.extend(extra or [])
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return lines


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "accounts.yaml").write_text(
        "- id: techcorp\n  name: TechCorp Inc\n  csm: {name: Mike Johnson}\n"
        "  champion: {name: Dana Lee, email: dana@techcorp.example}\n"
    )
    path = tmp_path / "ticketspike.yaml"
    path.write_text("accounts: accounts.yaml\n")
    return path


def test_run_prints_the_alert_and_a_summary(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tickets(tmp_path / "t.jsonl")
    store = tmp_path / "s.db"
    assert (
        main(["run", str(tmp_path / "t.jsonl"), "--store", str(store), "--config", str(config)])
        == 0
    )
    out = capsys.readouterr().out
    assert ":rotating_light: SUPPORT SPIKE ALERT: TechCorp Inc" in out  # the console notifier
    assert "Read 95 ticket events" in out and "95 new" in out
    assert "opened" in out and "techcorp" in out


def test_run_json_keeps_stdout_a_json_document(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tickets(tmp_path / "t.jsonl")
    assert (
        main(
            [
                "run",
                str(tmp_path / "t.jsonl"),
                "--store",
                str(tmp_path / "s.db"),
                "--config",
                str(config),
                "--format",
                "json",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["stored"] == 95 and data["transitions"][0]["transition"] == "opened"
    assert "SUPPORT SPIKE ALERT" in captured.err  # console messages moved to stderr


def test_a_bad_line_stops_the_run_before_anything_is_stored(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = write_tickets(tmp_path / "t.jsonl")
    bad = tmp_path / "t.jsonl"
    bad.write_text(
        bad.read_text() + '{"ticketId": "X", "customerId": "c", '
        '"createdAt": "2026-01-01T00:00:00"}\n'
    )
    store = tmp_path / "s.db"
    assert main(["run", str(bad), "--store", str(store), "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"t.jsonl:{len(lines) + 1}: createdAt:" in err and "no UTC offset" in err
    assert not store.exists()


def test_dry_run_plans_without_executing(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tickets(tmp_path / "t.jsonl")
    store = tmp_path / "s.db"
    assert (
        main(
            [
                "run",
                str(tmp_path / "t.jsonl"),
                "--store",
                str(store),
                "--config",
                str(config),
                "--dry-run",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "SUPPORT SPIKE ALERT" not in out and "not executed (dry run)" in out
    with SQLiteStore(store, create=False) as opened:
        assert opened.outbox() == [] and opened.actions()


def test_outbox_and_tickets_listings(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tickets(
        tmp_path / "t.jsonl",
        extra=[
            {
                "ticketId": "EVIL",
                "customerId": "other",
                "createdAt": "2026-02-01T10:00:00Z",
                "subject": "\x1b[2J\x1b[31mpwned\x07 <!channel>",
            }
        ],
    )
    store = str(tmp_path / "s.db")
    main(["run", str(tmp_path / "t.jsonl"), "--store", store, "--config", str(config)])
    capsys.readouterr()

    assert main(["outbox", "--store", store, "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert entries and {"key", "kind", "handler", "summary", "action"} <= set(entries[0])
    assert main(["outbox", "--store", store]) == 0
    text = capsys.readouterr().out
    assert f"{len(entries)} executed actions." in text

    assert main(["tickets", "--store", store, "--customer", "techcorp", "--format", "json"]) == 0
    tickets = json.loads(capsys.readouterr().out)
    assert len(tickets) == 95 and tickets[0]["ticketId"] == "H0-0"
    assert main(["tickets", "--store", store, "--customer", "other"]) == 0
    listing = capsys.readouterr().out
    assert "\x1b" not in listing and "\x07" not in listing  # hostile text cannot reach the tty
    assert "pwned" in listing and "1 ticket." in listing


def test_reading_a_store_that_does_not_exist_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("outbox", "tickets", "retry"):
        assert main([command, "--store", str(tmp_path / "missing.db")]) == 2
        assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists()


def test_backfill_from_the_builtin_ticket_source_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = write_tickets(tmp_path / "history.jsonl")
    cfg = tmp_path / "ticketspike.yaml"
    cfg.write_text("plugins:\n  ticket:\n    path: history.jsonl\n    page_size: 30\n")
    store = str(tmp_path / "s.db")
    args = [
        "backfill",
        "ticket",
        "--since",
        "2026-01-01T00:00:00Z",
        "--store",
        store,
        "--config",
        str(cfg),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"Backfilled {len(lines)} ticket events from ticket" in out and "complete" in out
    with SQLiteStore(store, create=False) as opened:
        assert opened.ticket_count() == len(lines)
        assert opened.get_cursor("backfill:ticket") == f"2026-01-01T00:00:00+00:00|{len(lines)}"
    # Run again: it resumes after the last line and finds nothing new.
    assert main([*args, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["resumed"] is True and report["events"] == 0


def test_backfill_needs_a_valid_since_and_a_known_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "s.db")
    assert main(["backfill", "ticket", "--since", "yesterday", "--store", store]) == 2
    assert "--since" in capsys.readouterr().err
    assert main(["backfill", "nosuch", "--since", "2026-01-01T00:00:00Z", "--store", store]) == 2
    assert "unknown ticket source 'nosuch'" in capsys.readouterr().err


def test_time_ordered_restores_order_within_the_lateness_bound() -> None:
    events = [
        ticket_event(f"T{i}", at=START + timedelta(hours=h))
        for i, h in enumerate([0, 3, 1, 2, 30, 29, 5])
    ]
    ordered = list(time_ordered(events, lateness_hours=24))
    assert [e.at for e in ordered] == sorted(e.at for e in events)
    assert len(ordered) == len(events)


@pytest.mark.parametrize("flag", ["--history-only", "--warm-up-until"])
def test_run_over_history_warms_up_without_executing_anything(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    write_tickets(tmp_path / "t.jsonl")
    store = tmp_path / "s.db"
    extra = [] if flag == "--history-only" else [(SPIKE_DAY + timedelta(days=1)).isoformat()]
    argv = ["run", str(tmp_path / "t.jsonl"), "--store", str(store), "--config", str(config)]
    assert main([*argv, flag, *extra, "--format", "json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert "SUPPORT SPIKE ALERT" not in captured.err
    opened = [t for t in data["transitions"] if t["transition"] == "opened"]
    assert opened and all(t["suppressed"] == "historical: warm-up" for t in opened)
    with SQLiteStore(store, create=False) as s:
        assert s.outbox() == [] and s.actions() == []
        # The store remembers when detection started watching: the first ticket.
        assert s.get_cursor("detection:watching_since") == (START + timedelta(hours=9)).isoformat()
    # The same store then carries on live: a new spike after the warm-up pages as usual.
    later = SPIKE_DAY + timedelta(days=5)
    fresh = [
        ticket_event(f"N{i}", "techcorp", later + timedelta(minutes=20 * i)).ticket.to_json()
        for i in range(12)
    ]
    (tmp_path / "u.jsonl").write_text("".join(json.dumps(t) + "\n" for t in fresh))
    argv[1] = str(tmp_path / "u.jsonl")
    assert main(argv) == 0
    assert "SUPPORT SPIKE ALERT: TechCorp Inc" in capsys.readouterr().out
