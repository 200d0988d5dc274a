"""`ticketspike classify` and `ticketspike themes` from a ticket file."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ticketspike.cli import main

AT = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)


def write(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def row(
    tid: str, subject: str, *, at: datetime = AT, customer: str = "acme", **extra: Any
) -> dict[str, Any]:
    return {
        "ticketId": tid,
        "customerId": customer,
        "createdAt": at.isoformat(),
        "subject": subject,
        **extra,
    }


@pytest.fixture
def spike_file(tmp_path: Path) -> str:
    rows = []
    background = ["How do I add a user?", "Question about our invoice", "Export to CSV slow"]
    for day in range(1, 31):
        for k, subject in enumerate(background):
            rows.append(row(f"B{day}-{k}", subject, at=AT - timedelta(days=day, hours=k)))
    for k in range(12):
        rows.append(
            row(
                f"S{k}",
                "SSO login failing with SAML error <!channel> {{ x }}",
                at=AT - timedelta(minutes=40 * k),
            )
        )
    rows.append(row("N1", "How do I add a user?", at=AT - timedelta(hours=3)))
    rows.append(
        row(
            "Z1", "Charged twice", customer="globex", at=AT - timedelta(hours=1), category="billing"
        )
    )
    return write(tmp_path / "tickets.jsonl", rows)


def test_classify_prints_category_and_confidence_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "t.jsonl",
        [
            row("T1", "We were charged twice this month"),
            row("T2", "API returns 500 on every call"),
            row("T3", "How do I invite a colleague?", tags=["how_to"]),
            row("T4", "Invoice", category="technical"),
            row("T5", "Danke"),
        ],
    )
    assert main(["classify", path, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    by_id = {o["ticketId"]: o for o in out}
    assert set(by_id) == {"T1", "T2", "T3", "T5"}  # T4's category was given
    assert by_id["T1"]["category"] == "billing" and by_id["T1"]["confidence"] >= 0.5
    assert by_id["T2"]["category"] == "technical"
    assert by_id["T3"] == {
        "ticketId": "T3",
        "customerId": "acme",
        "category": "training",
        "confidence": 0.95,
        "given": False,
        "reason": "tag 'how_to'",
    }
    assert by_id["T5"]["category"] == "other" and by_id["T5"]["confidence"] == 0.0
    assert main(["classify", path, "--all", "--format", "json"]) == 0
    given = {o["ticketId"]: o for o in json.loads(capsys.readouterr().out)}["T4"]
    assert given["category"] == "technical" and given["given"] is True


def test_classify_text_lists_tickets_without_their_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "t.jsonl",
        [row("T1", "Refund <!channel> please {{ token }}"), row("T2", "App crashes on launch")],
    )
    assert main(["classify", path]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["T1", "billing"]
    assert lines[1].split()[:2] == ["T2", "technical"]
    assert "channel" not in out and "token" not in out and "crashes" not in out
    assert "2 tickets: 1 billing, 1 technical" in out


def test_classify_uses_the_organizations_keywords(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "t.jsonl", [row("T1", "Frobnicator wonky")])
    config = tmp_path / "ticketspike.yaml"
    config.write_text("classification:\n  keywords:\n    technical: [frobnicator]\n")
    assert main(["classify", path, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["category"] == "other"
    assert main(["classify", path, "--format", "json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["category"] == "technical"


def test_themes_names_the_spike_for_the_customer(
    spike_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["themes", spike_file, "--customer", "acme", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["window_tickets"] == 13 and out["baseline_tickets"] == 90
    assert out["baseline_of"] == "customer"
    assert out["period_end"] == AT.isoformat()  # the newest ticket's time
    first = out["themes"][0]
    assert "SSO" in first["phrase"] and first["area"] == "Authentication"
    assert first["count"] == 12 and first["ticket_ids"] == ["S0", "S1", "S2"]
    phrases = " ".join(t["phrase"].lower() for t in out["themes"])
    assert "user" not in phrases and "invoice" not in phrases

    assert main(["themes", spike_file, "--customer", "acme"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Themes for acme: 13 tickets in the 24 h to 2026-03-31T12:00:00")
    assert "1. SSO" in text and "(12 tickets; area: Authentication)" in text
    assert "channel" not in text and "{{" not in text


def test_themes_at_an_earlier_instant_sees_that_window(
    spike_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    at = (AT - timedelta(days=5)).isoformat().replace("+00:00", "Z")
    assert main(["themes", spike_file, "--customer", "acme", "--at", at, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["window_tickets"] == 3 and out["themes"] == []
    assert main(["themes", spike_file, "--customer", "acme", "--at", at]) == 0
    assert "no theme stands out" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--customer", "nobody"], "tickets.jsonl: no tickets for customer 'nobody'"),
        (["--customer", "acme", "--at", "yesterday"], "--at: 'yesterday' is not an ISO-8601"),
        (["--customer", "acme", "--at", "2026-03-01T10:00:00"], "--at: '2026-03-01T10:00:00' has"),
        (["--customer", "acme", "--limit", "0"], "--limit: expected a whole number >= 1"),
    ],
)
def test_themes_errors_are_one_line_with_exit_status_2(
    spike_file: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["themes", spike_file, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ticketspike: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_bad_files_and_configs_fail_with_file_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(row("T1", "ok")) + "\n{not json\n")
    assert main(["classify", str(bad)]) == 2
    assert f"{bad}:2: malformed JSON" in capsys.readouterr().err
    assert main(["classify", str(tmp_path / "missing.jsonl")]) == 2
    assert "file not found" in capsys.readouterr().err
    good = write(tmp_path / "t.jsonl", [row("T1", "ok")])
    config = tmp_path / "c.yaml"
    config.write_text("themes:\n  limit: -1\n")
    assert main(["themes", good, "--customer", "acme", "--config", str(config)]) == 2
    assert f"{config}:2: themes.limit: expected a whole number >= 1" in capsys.readouterr().err


def test_a_new_customer_is_contrasted_with_every_customers_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        row(f"O{d}-{k}", subject, customer=f"old{k}", at=AT - timedelta(days=d, hours=k))
        for d in range(2, 30)
        for k, subject in enumerate(["How do I add a user?", "Webhook question"])
    ]
    rows += [
        row(f"N{k}", "Webhook deliveries failing", customer="newco", at=AT - timedelta(hours=k))
        for k in range(5)
    ]
    rows += [
        row(f"U{k}", "How do I add a user?", customer="newco", at=AT - timedelta(hours=k))
        for k in range(5)
    ]
    path = write(tmp_path / "t.jsonl", rows)
    assert main(["themes", path, "--customer", "newco", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["baseline_of"] == "all customers" and out["baseline_tickets"] == 56
    assert [t["phrase"] for t in out["themes"]][:1] == ["webhook deliveries failing"]
    assert all("user" not in t["phrase"] for t in out["themes"])
    assert main(["themes", path, "--customer", "newco"]) == 0
    assert "days before (from all customers)" in capsys.readouterr().out
