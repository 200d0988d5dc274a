"""``ticketspike replay`` prints incident transitions: 40 of 300 customers spiking on login issues
within an hour make one incident; two unrelated spikes the same day stay ordinary episodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import incident_stream as _s
from ticketspike.cli import main

AFFECTED, UNRELATED, stream, write = _s.AFFECTED, _s.UNRELATED, _s.stream, _s.write


def replay(capsys: pytest.CaptureFixture[str], path: str) -> list[dict[str, object]]:
    code = main(["replay", path, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_forty_customers_spiking_together_open_one_incident(capsys, tmp_path: Path) -> None:
    lines = replay(capsys, write(tmp_path / "t.jsonl", stream()))
    opened = [x for x in lines if x["transition"] == "incident_opened"]
    joined = [x for x in lines if x["transition"] == "incident_joined"]
    assert len(opened) == 1
    incident = opened[0]["incident_id"]
    assert {x["incident_id"] for x in joined} == {incident}
    members = list(opened[0]["customer_ids"]) + [c for x in joined for c in x["customer_ids"]]
    assert sorted(members) == sorted(AFFECTED)
    # The two unrelated spikes open ordinary episodes and join nothing.
    episodes = {x["customer_id"] for x in lines if x["transition"] == "opened"}
    assert set(UNRELATED) <= episodes
    assert not set(UNRELATED) & set(members)


def test_a_busy_monday_opens_no_incident(capsys, tmp_path: Path) -> None:
    rows = stream(incident=False, busy_monday=True)
    lines = replay(capsys, write(tmp_path / "t.jsonl", rows))
    assert not [x for x in lines if str(x["transition"]).startswith("incident_")]


def test_text_output_counts_incident_transitions(capsys, tmp_path: Path) -> None:
    code = main(["replay", write(tmp_path / "t.jsonl", stream())])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.splitlines()[-1].endswith(
        "1 incident_opened, 37 incident_joined, 0 incident_resolved"
    )
