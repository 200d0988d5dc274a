"""docs/records.md is true as written: its receiving example verifies real deliveries, and its
command-line session prints what it shows on the demo data."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("standardwebhooks", reason="the webhooks extra is not installed")

from support import webhook_receivers as _receivers
from ticketspike.cli import main  # noqa: E402
from ticketspike.events import emit  # noqa: E402
from ticketspike.outbound import (  # noqa: E402
    EndpointSettings,
    WebhookDispatcher,
    WebhookSettings,
)
from ticketspike.secrets import Secret  # noqa: E402
from ticketspike.store.memory import MemoryStore  # noqa: E402

DOC = (Path(__file__).resolve().parents[2] / "docs" / "records.md").read_text()
SECRET = "whsec_" + base64.b64encode(b"receiving-example-key-32-bytes!!").decode()


def _example() -> str:
    part = DOC[DOC.index("### Receiving them") :]
    found = re.search(r"```python\n(.*?)```", part, flags=re.S)
    assert found is not None
    return found.group(1)


def test_the_receiving_example_verifies_real_deliveries_and_dedupes_retries(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TICKETSPIKE_HOOK_SECRET", SECRET)
    namespace: dict[str, Any] = {}
    exec(compile(_example(), "docs/records.md", "exec"), namespace)  # noqa: S102
    receive = namespace["receive"]

    store = MemoryStore()
    now = datetime.now(timezone.utc)
    receiver = _receivers.Receiver(SECRET, check=receive)
    with _receivers.receiving(receiver):
        endpoint = EndpointSettings("docs", receiver.url, Secret(SECRET))
        hooks = WebhookDispatcher(
            store, WebhookSettings(endpoints=(endpoint,)), clock=lambda: datetime.now(timezone.utc)
        )
        hooks.register()
        emit(store, "task.created", {"id": "task_1"}, key="task_1:0", at=now)
        emit(store, "health_score.adjusted", {"customer_id": "techcorp"}, key="hs_1", at=now)
        assert hooks.run_once() == {"new": 2, "delivered": 2, "failed": 0}
        first = receiver.received[0]
        # A forged body is refused; a retry of a handled event is answered without redoing it.
        headers = {
            "webhook-id": first.webhook_id,
            "webhook-timestamp": str(first.timestamp),
            "webhook-signature": first.signature,
        }
        forged = httpx.post(receiver.url, content=first.body + b" ", headers=headers)
        again = httpx.post(receiver.url, content=first.body, headers=headers)
        hooks.close()
    assert [r.status for r in receiver.received] == [204, 204, 400, 204]
    assert forged.status_code == 400 and again.status_code == 204
    assert capsys.readouterr().out.splitlines() == [
        "task.created task_1",
        "health_score.adjusted techcorp",
    ]


def test_the_command_line_session_prints_what_the_page_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = resources.files("ticketspike.data")
    for name in ("demo.yaml", "demo_accounts.yaml", "demo_tickets.jsonl"):
        (tmp_path / name).write_text(data.joinpath(name).read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    session = DOC[DOC.index("```console\n") + len("```console\n") :]
    session = session[: session.index("```")]
    assert main(["run", "demo_tickets.jsonl", "--store", "s.db", "--config", "demo.yaml"]) == 0
    commands = re.split(r"^\$ ", session, flags=re.M)[1:]
    for block in commands:
        command, *expected = block.rstrip("\n").split("\n")
        argv = re.findall(r'"[^"]*"|\S+', command)
        assert argv[0] == "ticketspike"
        capsys.readouterr()
        assert main([a.strip('"') for a in argv[1:]]) == 0, command
        printed = capsys.readouterr().out.rstrip("\n").split("\n")
        assert len(printed) == len(expected), command
        for shown, got in zip(expected, printed, strict=True):
            pattern = re.escape(shown).replace(re.escape("<when the plan ran>"), r"\S+")
            assert re.fullmatch(pattern, got), (shown, got)
