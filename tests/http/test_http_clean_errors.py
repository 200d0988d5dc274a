"""Clean errors where a 500 or a traceback used to come out.

* hostile JSON (a lone surrogate in an id, 100,000 nested ``[``) is a 400 at every endpoint and
  in every ticket file, with orjson and with the standard library parser;
* a store that cannot write (SQLite's own "database or disk is full") answers 503 with
  Retry-After, and ``/api/health`` says unavailable until the store can write again;
* a corrupt store file is one line from the CLI, exit 1, no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ticketspike import jsontext
from ticketspike.errors import InvalidTicket
from ticketspike.store.sqlite import SQLiteStore
from ticketspike.ticketfile import read_ticket_events

PATH = "/api/webhooks/support/ticket"
DEEP = b"[" * 100_000
SURROGATE_ID = (
    b'{"ticketId": "T-\\ud800", "customerId": "acme", "category": "technical",'
    b' "severity": "P2", "subject": "x", "createdAt": "2026-03-02T11:00:00Z"}'
)


@pytest.fixture(params=["orjson", "stdlib"])
def parser(request, monkeypatch):
    """Both parsers ticketspike may run with (orjson comes with ``ticketspike[fast]``)."""
    if request.param == "stdlib":
        monkeypatch.setattr(jsontext, "_parse", json.loads)
        monkeypatch.setattr(jsontext, "_PARSE_ERRORS", ())
    else:
        pytest.importorskip("orjson")
    return request.param


@pytest.mark.parametrize("body", [DEEP, SURROGATE_ID], ids=["deep", "surrogate"])
def test_hostile_json_in_a_signed_webhook_is_a_400_that_stores_nothing(harness, kit, parser, body):
    answer = harness.client.post(PATH, content=body, headers=kit.signed(body))

    assert answer.status_code == 400, answer.text
    message = answer.json()["error"]["message"]
    assert "nested deeper" in message or "lone surrogate" in message
    assert harness.stored == 0


@pytest.mark.parametrize(
    "body", [DEEP, b'{"customerId": "\\udfff"}', b"[" * 2000 + b"]" * 2000], ids=str
)
def test_hostile_json_in_check_spike_is_a_400(harness, parser, body):
    answer = harness.client.post(
        "/api/support/check-spike",
        content=body,
        headers={**harness.auth, "content-type": "application/json"},
    )

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_json"


def test_a_ticket_file_with_hostile_lines_names_the_line(tmp_path, parser):
    path = tmp_path / "t.jsonl"
    path.write_bytes(SURROGATE_ID.replace(b"\\ud800", b"ok") + b"\n" + DEEP + b"\n")

    with pytest.raises(InvalidTicket) as caught:
        read_ticket_events(path)

    assert f"{path}:2" in str(caught.value)
    assert "nested deeper" in str(caught.value)


def test_valid_json_near_the_depth_limit_still_parses(parser):
    depth = jsontext.MAX_DEPTH
    assert jsontext.loads("[" * depth + "]" * depth) is not None
    assert jsontext.loads('{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}
    with pytest.raises(jsontext.JsonError):
        jsontext.loads("[" * (depth + 1) + "]" * (depth + 1))


def _fill(store: SQLiteStore) -> None:
    """Let SQLite refuse new pages from now on: its real "database or disk is full" path."""
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_store_answers_503_with_retry_after_and_health_turns_unavailable(
    harness_factory, kit
):
    harness = harness_factory(sqlite=True)
    store = harness.engine.store
    assert harness.client.get("/api/health").json() == {"status": "ok"}
    _fill(store)

    statuses = []
    for number in range(60):
        filler = "x" * 3000
        body = kit.encode(kit.ticket(f"TKT-{number}", subject=filler, body=filler))
        answer = harness.client.post(
            PATH, content=body, headers=kit.signed(body, msg_id=f"m{number}")
        )
        statuses.append(answer.status_code)
        if answer.status_code == 503:
            break

    assert statuses[-1] == 503, statuses
    assert 500 not in statuses
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["error"]["code"] == "store_unavailable"
    health = harness.client.get("/api/health")
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert "retry-after" in health.headers

    store._db.execute("PRAGMA max_page_count = 1073741823")  # space again
    assert harness.client.get("/api/health").json() == {"status": "ok"}
    again = harness.client.post(PATH, content=body, headers=kit.signed(body, msg_id="again"))
    assert again.status_code == 202


def _corrupt(tmp_path: Path) -> Path:
    good = tmp_path / "good.db"
    SQLiteStore(good).close()
    data = bytearray(good.read_bytes())
    for index in range(4096, len(data), 53):
        data[index] = 0xAB
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(data))
    return bad


@pytest.mark.parametrize(
    "command",
    [["run", "--store", "{store}", "{tickets}"], ["outbox", "--store", "{store}"]],
    ids=["run", "outbox"],
)
def test_a_corrupt_store_is_one_line_and_exit_1(tmp_path, command):
    store = _corrupt(tmp_path)
    tickets = tmp_path / "t.jsonl"
    tickets.write_text(
        '{"ticketId": "T1", "customerId": "acme", "category": "technical",'
        ' "severity": "P2", "subject": "x", "createdAt": "2026-03-02T11:00:00Z"}\n'
    )
    argv = [part.format(store=store, tickets=tickets) for part in command]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from ticketspike.cli import main; sys.exit(main())",
            *argv,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )

    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ticketspike: error: ")
    assert "Traceback" not in done.stderr
