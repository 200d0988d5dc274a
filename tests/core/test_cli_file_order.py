"""``scan`` and ``replay`` on files out of time order, with outliers, and starting cold."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketspike._fileorder import OrderReport, OutOfOrder, guarded_rows
from ticketspike.cli import main
from ticketspike.model import ticket_row_from_json

from .test_cli_scan_replay import quiet, row, spike, stamp


def lines(path: Path, rows: list[dict[str, Any]]) -> str:
    """Write the rows in the order given (no sorting)."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def history() -> list[dict[str, Any]]:
    # acme spikes on day 31 (12 tickets on 2/day); globex stays quiet.
    rows = quiet("acme", 31) + quiet("globex", 32) + spike("acme", 31, 12)
    return sorted(rows, key=lambda r: r["createdAt"])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_shuffled_file_replays_exactly_like_the_sorted_one(capsys, tmp_path) -> None:
    rows = history()
    ordered = lines(tmp_path / "sorted.jsonl", rows)
    shuffled_rows = rows[:]
    random.Random(5).shuffle(shuffled_rows)
    shuffled = lines(tmp_path / "shuffled.jsonl", shuffled_rows)
    code_a, out_a, err_a = run(capsys, "replay", ordered, "--format", "json")
    code_b, out_b, err_b = run(capsys, "replay", shuffled, "--format", "json")
    assert code_a == code_b == 0, err_b
    assert out_a == out_b and '"opened"' in out_a
    assert "not in time order" not in err_a
    assert f"sorted {len(rows)} line(s) in memory" in err_b
    text_a = run(capsys, "replay", ordered)[1]
    text_b = run(capsys, "replay", shuffled)[1]
    assert text_a == text_b
    scan_a = run(capsys, "scan", ordered, "--format", "json")[1]
    scan_b = run(capsys, "scan", shuffled, "--format", "json")[1]
    assert scan_a == scan_b and json.loads(scan_a)[0]["customer_id"] == "acme"


def test_assume_sorted_drops_and_counts_and_fails_when_too_many_are_lost(capsys, tmp_path) -> None:
    rows = history()
    rows.reverse()
    path = lines(tmp_path / "reversed.jsonl", rows)
    code, out, err = run(capsys, "replay", path, "--assume-sorted")
    assert code == 1
    assert "ticket(s) arrived more than 24 h out of order and were not counted" in err
    assert "were not counted (more than 1%)" in err
    assert "sorted" not in err


def test_a_file_too_large_to_sort_is_refused_with_the_way_out(capsys, tmp_path) -> None:
    rows = history()
    rows.reverse()
    path = lines(tmp_path / "reversed.jsonl", rows)
    code, out, err = run(capsys, "scan", path, "--sort-memory-mb", "0")
    assert code == 2 and out == ""
    assert "not in time order" in err and "--assume-sorted" in err
    assert len(err.strip().splitlines()) == 1


def test_a_ticket_dated_9999_is_quarantined_and_silences_nothing(capsys, tmp_path) -> None:
    rows = history()
    far = row("zed", "far\u202e-1", 0, 1.0)
    far["createdAt"] = "9999-01-01T00:00:00Z"
    rows.insert(len(rows) // 2, far)
    path = lines(tmp_path / "outlier.jsonl", rows)
    code, out, err = run(capsys, "scan", path, "--format", "json")
    assert code == 0, err
    assert [s["customer_id"] for s in json.loads(out)] == ["acme"]
    assert "quarantined 1 ticket(s) dated more than 30 days beyond the rest" in err
    assert '"far\\u202e-1" at 9999-01-01T00:00:00+00:00' in err  # hostile id escaped
    code, out, err = run(capsys, "replay", path)
    assert code == 0 and " opened " in out and "quarantined 1" in err


def test_a_cold_file_warms_up_instead_of_flooding(capsys, tmp_path) -> None:
    # Ten established customers at 8 a day from the file's first hour: nothing to alert.
    rows = [
        row(f"c{c}", f"c{c}-{d}-{i}", d, 0.5 + i * 2.5)
        for c in range(10)
        for d in range(10)
        for i in range(8)
    ]
    rows.sort(key=lambda r: r["createdAt"])
    path = lines(tmp_path / "cold.jsonl", rows)
    # The per-window gate, which alone would judge them all against the industry rate.
    config = tmp_path / "ticketspike.yaml"
    config.write_text("detection:\n  gate: alpha\n", encoding="utf-8")
    code, out, err = run(capsys, "replay", path, "--config", str(config))
    assert code == 0
    assert out.strip().splitlines() == ["10 customers: 0 opened, 0 escalated, 0 resolved"]
    assert f"watching from the file's first ticket ({stamp(0, 0.5)[:-1]}+00:00)" in err
    assert "warm up for 7 days" in err
    # Taken as complete history, every one of them is "new" and 8x the industry rate.
    code, out, err = run(capsys, "replay", path, "--full-history", "--config", str(config))
    assert code == 0 and "10 customers: 10 opened" in out
    assert "watching from" not in err


def parsed(rows: list[dict[str, Any]]) -> list[Any]:
    return [ticket_row_from_json(r) for r in rows]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 20))
def test_guard_passes_files_in_order_within_the_bound(seed: int, jitter_hours: int) -> None:
    rng = random.Random(seed)
    base = [row("a", f"t{i}", i // 5, (i % 5) * 4.0) for i in range(60)]
    keyed = [(i * 4 * 3600 + rng.uniform(0, jitter_hours * 3600), r) for i, r in enumerate(base)]
    keyed.sort(key=lambda x: x[0])
    rows = parsed([r for _, r in keyed])
    report = OrderReport()
    out = list(guarded_rows(rows, report, lateness=24 * 3600.0, gap=30 * 86400.0))
    assert out == rows and report.rows == len(rows) and not report.quarantined


def test_guard_raises_beyond_the_bound_and_holds_back_the_far_future() -> None:
    rows = parsed([row("a", "t1", 2, 0.0), row("a", "t0", 0, 0.0)])
    with pytest.raises(OutOfOrder):
        list(guarded_rows(rows, OrderReport(), lateness=24 * 3600.0, gap=30 * 86400.0))
    # A row 40 days ahead that the stream later reaches is early, not an outlier.
    early = parsed([row("a", "t0", 0, 0.0), row("a", "t40", 40, 0.0)])
    early += parsed([row("a", f"u{d}", d, 0.0) for d in range(1, 41, 3)])
    report = OrderReport()
    out = list(guarded_rows(early, report, lateness=24 * 3600.0, gap=30 * 86400.0))
    ids = [r[3] for r in out]
    assert ids[-2:] == ["t40", "u40"] and not report.quarantined
    assert len(out) == len(early)
