"""``ticketspike check-config FILE``: validates, prints what it understood, never secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ticketspike.cli import main

CONFIG = """\
detection:
  threshold: 4
  critical_above: 6
routing:
  match: all
  channels:
    product: "#product-escalations"
  rules:
    - name: acme
      when: {organization: acme, categories: {technical: 0.5}}
      send_to: {teams: [acme_sre]}
workflow:
  name: our_escalation
  steps:
    - id: notify_csm
      action: slack_dm
      config: {urgency: high}
    - id: notify_manager
      condition: "{{severity}} == 'critical'"
      action: slack_dm
      config: {recipient: manager}
silences:
  - customer: c1
    end: 2026-04-01T00:00:00Z
    reason: migration week
plugins:
  slack:
    token_env: TS_TEST_SLACK_TOKEN
    signing_secret: do-not-print-me
    base_url: http://127.0.0.1:9
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TS_TEST_SLACK_TOKEN", "xoxb-very-secret-value")
    # Installed adapters would validate their sections too; these tests are about the core.
    monkeypatch.setenv("TICKETSPIKE_LOAD_PLUGINS", "")
    path = tmp_path / "ticketspike.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_text_report(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{config_file}: OK\n")
    assert "  threshold: 4.0" in out
    assert "Workflow our_escalation v1.0 (on ticket_spike, severity high, critical):" in out
    assert (
        "  2. notify_manager: direct_message if {{severity}} == 'critical' "
        "(recipient: manager)" in out
    )
    assert (
        "  rule acme: when organization=['acme']; categories={'technical': 0.5} -> "
        "acme_sre (defaults replace)" in out
    )
    assert "  team product posts in #product-escalations" in out
    assert "  silence customer c1 until 2026-04-01T00:00:00+00:00: migration week" in out
    assert "  slack.token_env: $TS_TEST_SLACK_TOKEN (set)" in out
    assert "  slack.signing_secret: <hidden>" in out
    assert "warning: plugins.slack.signing_secret looks like a secret" in out
    assert "xoxb-very-secret-value" not in out and "do-not-print-me" not in out


def test_json_report(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(config_file), "--format", "json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["valid"] is True
    assert report["detection"]["threshold"] == 4.0
    assert report["detection"]["critical_above"] == 6.0
    assert [s["id"] for s in report["workflow"]["steps"]] == ["notify_csm", "notify_manager"]
    assert report["workflow"]["steps"][1]["condition"] == "{{severity}} == 'critical'"
    assert report["routing"]["match"] == "all"
    assert report["routing"]["rules"][0]["send_to"]["teams"] == ["acme_sre"]
    assert report["silences"][0]["target"] == "c1"
    assert report["plugins"]["slack"]["token_env"] == {
        "variable": "TS_TEST_SLACK_TOKEN",
        "set": True,
    }
    assert report["plugins"]["slack"]["base_url"] == "http://127.0.0.1:9"
    assert "xoxb-very-secret-value" not in out and "do-not-print-me" not in out


def test_missing_environment_variable_is_reported(
    config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TS_TEST_SLACK_TOKEN")
    assert main(["check-config", str(config_file)]) == 0
    assert "slack.token_env: $TS_TEST_SLACK_TOKEN (NOT set)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "workflow:\n  steps:\n    - id: a\n      action: slack_dmm\n",
            "x.yaml:4: workflow.steps[0].action: unknown action 'slack_dmm'",
        ),
        (
            "workflow:\n  steps:\n    - id: a\n      action: create_task\n      config:\n"
            "        title: \"{{ ''.__class__.__mro__ }}\"\n",
            "x.yaml:6: workflow.steps[0].config.title: '__mro__' refers to Python internals",
        ),
        ("routing:\n  match: sometimes\n", "x.yaml:2: routing.match: expected one of first, all"),
        ("wokflow: {}\n", "x.yaml:1: wokflow: unknown key (did you mean 'workflow'?)"),
        ("workflow: [\n", "x.yaml:2: invalid YAML"),
    ],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err
    assert err.startswith(f"ticketspike: error: {tmp_path}/{expected}")


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: file not found" in capsys.readouterr().err
