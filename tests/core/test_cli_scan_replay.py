"""``ticketspike scan`` and ``ticketspike replay`` end to end, through the real command line."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ticketspike.cli import main
from ticketspike.model import ticket_event_from_json
from ticketspike.text.classify import categorize

UTC = timezone.utc
START = datetime(2026, 3, 2, tzinfo=UTC)
RISK_KEYS = {"signal_type", "customer_id", "severity", "detected_at", "metadata"}
SIGNAL_METADATA = {
    "ticket_count",
    "baseline_daily_avg",
    "spike_multiplier",
    "period_hours",
    "ticket_breakdown",
    "severity_breakdown",
    "common_themes",
    "ticket_ids",
}
REPLAY_KEYS = {"transition", "at", "customer_id", "episode_id", "severity", "metadata"}


def stamp(day: int, hour: float) -> str:
    return (START + timedelta(days=day, hours=hour)).isoformat().replace("+00:00", "Z")


def row(cid: str, tid: str, day: int, hour: float, **extra: Any) -> dict[str, Any]:
    out = {
        "ticketId": tid,
        "customerId": cid,
        "category": "technical",
        "severity": "P3",
        "subject": "Question about reports",
        "createdAt": stamp(day, hour),
    }
    out.update(extra)
    return out


def quiet(cid: str, days: int, per_day: int = 2) -> list[dict[str, Any]]:
    return [row(cid, f"{cid}-q{d}-{i}", d, 0.3 * i) for d in range(days) for i in range(per_day)]


def spike(
    cid: str,
    day: int,
    count: int,
    *,
    subject: str = "Login page returns error 500",
    start: float = 1.0,
) -> list[dict[str, Any]]:
    return [
        row(
            cid,
            f"{cid}-s{day}-{i}",
            day,
            start + i * 0.2,
            subject=subject,
            severity="P1" if i < 3 else "P2",
            category="technical",
            url=f"https://support.example/{cid}/{i}",
        )
        for i in range(count)
    ]


def write(path: Path, rows: list[dict[str, Any]]) -> str:
    rows = sorted(rows, key=lambda r: r["createdAt"])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def tickets(tmp_path: Path) -> str:
    # acme spikes on day 31 (12 tickets on 2/day); globex stays quiet.
    rows = quiet("acme", 31) + quiet("globex", 32) + spike("acme", 31, 12)
    rows.append(row("globex", "g-last", 31, 6.0))
    return write(tmp_path / "tickets.jsonl", rows)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_json_prints_risk_signals_with_the_prd_keys(capsys, tickets) -> None:
    code, out, err = run(capsys, "scan", tickets, "--format", "json")
    assert code == 0, err
    signals = json.loads(out)
    assert [s["customer_id"] for s in signals] == ["acme"]
    signal = signals[0]
    assert set(signal) == RISK_KEYS
    assert signal["signal_type"] == "ticket_spike" and signal["severity"] == "critical"
    meta = signal["metadata"]
    assert SIGNAL_METADATA <= set(meta)
    assert meta["ticket_count"] == 12 and meta["period_hours"] == 24.0
    assert meta["ticket_ids"] == [f"acme-s31-{i}" for i in range(12)]
    assert meta["severity_breakdown"] == {"P1": 3, "P2": 9}
    assert meta["ticket_breakdown"] == {"technical": 12}
    assert meta["ticket_links"]["acme-s31-0"] == "https://support.example/acme/0"
    assert meta["baseline_source"] in ("own", "blended")
    # The default instant is the newest ticket's time.
    assert signal["detected_at"] == "2026-04-02T06:00:00+00:00"
    assert any(
        "login" in theme.lower() or "error" in theme.lower() for theme in meta["common_themes"]
    )


def test_scan_at_an_earlier_instant(capsys, tickets) -> None:
    code, out, _ = run(capsys, "scan", tickets, "--format", "json", "--at", stamp(30, 12.0))
    assert code == 0
    assert json.loads(out) == []
    code, out, _ = run(capsys, "scan", tickets, "--at", stamp(30, 12.0))
    assert out.startswith("no spikes among 2 customers at 2026-04-01T12:00:00+00:00")


def test_scan_text_names_the_spike_and_why(capsys, tickets) -> None:
    code, out, _ = run(capsys, "scan", tickets)
    assert code == 0
    assert "1 spike among 2 customers" in out
    assert "acme  critical  12 tickets in 24 h" in out
    assert "critical (above 5x)" in out
    assert "globex" not in out


def test_scan_plan_adds_each_signals_plan(capsys, tickets) -> None:
    code, out, err = run(capsys, "scan", tickets, "--format", "json", "--plan")
    assert code == 0, err
    (signal,) = json.loads(out)
    plan = signal["plan"]
    assert plan["transition"] == "opened" and plan["customer_id"] == "acme"
    assert plan["severity"] == "critical"
    assert plan["episode_id"].startswith("ep_")
    assert plan["actions"], plan["notes"]
    for action in plan["actions"]:
        assert {"kind", "step_id", "key"} <= set(action)


def test_replay_json_is_one_transition_per_line(capsys, tmp_path) -> None:
    rows = quiet("acme", 36) + spike("acme", 31, 12)
    path = write(tmp_path / "t.jsonl", rows)
    code, out, err = run(capsys, "replay", path, "--format", "json")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["transition"] for line in lines] == ["opened", "escalated", "resolved"]
    for line in lines:
        assert set(line) == REPLAY_KEYS
        assert SIGNAL_METADATA <= set(line["metadata"])
    assert len({line["episode_id"] for line in lines}) == 1
    opened, _, resolved = lines
    assert opened["at"] < resolved["at"]
    # Resolution comes from an hourly tick, not from the next ticket.
    assert resolved["at"].endswith(":00:00+00:00")


def test_replay_text_lists_transitions_and_a_summary(capsys, tmp_path) -> None:
    rows = quiet("acme", 36) + spike("acme", 31, 7)
    path = write(tmp_path / "t.jsonl", rows)
    code, out, _ = run(capsys, "replay", path)
    assert code == 0
    lines = out.splitlines()
    assert "opened" in lines[0] and "acme" in lines[0] and "high" in lines[0]
    assert lines[-1] == "1 customer: 1 opened, 0 escalated, 1 resolved"


def test_replay_reorders_late_lines_and_ignores_duplicates(capsys, tmp_path) -> None:
    rows = quiet("acme", 36) + spike("acme", 31, 12)
    ordered = write(tmp_path / "ordered.jsonl", rows)
    _, expected, _ = run(capsys, "replay", ordered, "--format", "json")
    shuffled = sorted(rows, key=lambda r: r["createdAt"])
    # Swap neighbours and deliver a few twice: within the one-day lateness bound.
    for i in range(0, len(shuffled) - 1, 2):
        shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
    shuffled += shuffled[-5:]
    path = tmp_path / "shuffled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in shuffled), encoding="utf-8")
    _, got, _ = run(capsys, "replay", str(path), "--format", "json")
    assert got == expected


def test_a_bad_line_stops_with_file_line_and_nothing_printed(capsys, tmp_path) -> None:
    rows = quiet("acme", 3)
    path = tmp_path / "bad.jsonl"
    text = "".join(json.dumps(r) + "\n" for r in rows)
    lines = text.splitlines(keepends=True)
    lines.insert(
        2,
        json.dumps({"ticketId": "x", "customerId": "acme", "createdAt": "2026-03-02 10:00"}) + "\n",
    )
    path.write_text("".join(lines), encoding="utf-8")
    for command in ("scan", "replay"):
        code, out, err = run(capsys, command, str(path), "--format", "json")
        assert code == 2
        assert out == ""
        assert err.startswith(f"ticketspike: error: {path}:3: createdAt: ")
        assert err.count("\n") == 1
    path.write_text('{"ticketId": "x", "customerId": \n', encoding="utf-8")
    code, out, err = run(capsys, "replay", str(path))
    assert code == 2 and f"{path}:1: malformed JSON" in err and out == ""


def test_missing_file_and_bad_at_are_input_errors(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "scan", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "file not found" in err
    path = write(tmp_path / "t.jsonl", quiet("acme", 2))
    code, _, err = run(capsys, "scan", path, "--at", "yesterday")
    assert code == 2 and "--at" in err


def test_config_changes_the_rule(capsys, tmp_path) -> None:
    # One ticket on a tenth-a-day baseline: spec mode alerts, the default does not.
    rows = [row("tiny", f"t{d}", d, 5.0) for d in (0, 10, 20)] + [row("tiny", "now", 31, 9.0)]
    path = write(tmp_path / "t.jsonl", rows)
    config = tmp_path / "ticketspike.yaml"
    config.write_text("detection:\n  mode: spec\n", encoding="utf-8")
    _, out, _ = run(capsys, "scan", path, "--format", "json")
    assert json.loads(out) == []
    code, out, _ = run(capsys, "scan", path, "--format", "json", "--config", str(config))
    assert code == 0
    assert [s["severity"] for s in json.loads(out)] == ["critical"]
    config.write_text("detection:\n  mode: literal\n", encoding="utf-8")
    code, _, err = run(capsys, "scan", path, "--config", str(config))
    assert code == 2 and f"{config}:2: detection.mode" in err


def test_accounts_file_gives_segment_baselines(capsys, tmp_path) -> None:
    # A brand-new customer with 10 tickets in its first hours: a spike against a small
    # segment's rate, not against an enterprise one scaled by its seats.
    rows = [row("newco", f"n{i}", 0, 1.0 + i * 0.1) for i in range(10)]
    path = write(tmp_path / "t.jsonl", rows)
    config = tmp_path / "ticketspike.yaml"
    config.write_text(
        "industry_baselines:\n  smb: 0.5\n  enterprise:\n    per_seat: 0.01\n", encoding="utf-8"
    )
    accounts = tmp_path / "accounts.yaml"
    # The account says it is new (first_seen): a file's first ticket alone would not.
    accounts.write_text(
        f"- id: newco\n  segment: smb\n  first_seen: '{stamp(0, 0.0)}'\n", encoding="utf-8"
    )
    _, out, err = run(
        capsys,
        "scan",
        path,
        "--format",
        "json",
        "--config",
        str(config),
        "--accounts",
        str(accounts),
    )
    (signal,) = json.loads(out)
    assert signal["metadata"]["baseline_source"] == "industry"
    assert signal["metadata"]["baseline_daily_avg"] == 0.5
    accounts.write_text("- id: newco\n  segment: enterprise\n  seats: 3000\n", encoding="utf-8")
    _, out, _ = run(
        capsys,
        "scan",
        path,
        "--format",
        "json",
        "--config",
        str(config),
        "--accounts",
        str(accounts),
    )
    assert json.loads(out) == []


def test_uncategorized_tickets_are_categorized_for_the_breakdown(capsys, tmp_path) -> None:
    subject = "I was charged twice on my invoice this month, please refund"
    rows = quiet("acme", 31) + [
        {k: v for k, v in r.items() if k != "category"}
        for r in spike("acme", 31, 10, subject=subject)
    ]
    path = write(tmp_path / "t.jsonl", rows)
    expected = categorize(ticket_event_from_json(rows[-1]).ticket).category.value
    code, out, _ = run(capsys, "scan", path, "--format", "json")
    (signal,) = json.loads(out)
    assert signal["metadata"]["ticket_breakdown"] == {expected: 10}
    assert expected != "other"


def test_hostile_ticket_text_is_never_printed(capsys, tmp_path) -> None:
    subject = "<!channel> {{ config }} <script>alert(1)</script>"
    rows = quiet("acme", 31) + spike("acme", 31, 12, subject=subject)
    path = write(tmp_path / "t.jsonl", rows)
    for argv in (
        ["scan", path],
        ["scan", path, "--format", "json"],
        ["replay", path],
        ["replay", path, "--format", "json"],
    ):
        _, out, _ = run(capsys, *argv)
        assert "<!channel>" not in out and "<script>" not in out and "{{" not in out
