"""The command line's small words: counts agree with their nouns, an empty file says so, a
bad ``--at`` names the flag once, and check-config shows a per-seat baseline as configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketspike.cli import main

ONE = '{"ticketId":"a","customerId":"x","createdAt":"2026-01-01T00:00:00Z"}\n'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_one_of_a_thing_is_singular(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tickets = tmp_path / "one.jsonl"
    tickets.write_text(ONE)
    assert (
        "no spikes among 1 customer at 2026-01-01T00:00:00+00:00"
        in run(capsys, "scan", str(tickets))[1]
    )
    assert run(capsys, "replay", str(tickets))[1].splitlines()[-1].startswith("1 customer: ")
    assert "\n1 ticket: 1 other" in run(capsys, "classify", str(tickets))[1]
    themes = run(capsys, "themes", str(tickets), "--customer", "x")[1]
    assert themes.startswith("Themes for x: 1 ticket in the 24 h")


def test_an_empty_file_says_there_is_nothing_to_assess(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, out, _ = run(capsys, "scan", str(empty))
    assert code == 0 and out.strip() == f"no tickets in {empty}: nothing to assess"


@pytest.mark.parametrize("command", [["scan"], ["themes", "--customer", "x"]])
def test_a_bad_at_names_the_flag_once(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tickets = tmp_path / "one.jsonl"
    tickets.write_text(ONE)
    code, _, err = run(capsys, command[0], str(tickets), *command[1:], "--at", "yesterday")
    assert code == 2
    assert err.startswith("ticketspike: error: --at: 'yesterday' is not an ISO-8601 timestamp")


def test_check_config_shows_a_per_seat_baseline_as_configured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ticketspike.yaml"
    config.write_text("industry_baselines:\n  default: 1.0\n  enterprise: {per_seat: 0.006}\n")
    code, out, _ = run(capsys, "check-config", str(config))
    assert code == 0
    assert "enterprise 0.006/seat/day (at least 0.05/day)" in out
    assert "default 1.0/day" in out
