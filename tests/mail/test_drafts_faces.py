"""``ticketspike drafts ...`` and the ``/api/drafts`` endpoints, sending through a real SMTP
server (aiosmtpd on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.mail_servers import MAIL_ENV, NOW, SmtpServer, email_yaml, write_inputs
from ticketspike.cli import main
from ticketspike.config import load_config
from ticketspike.engine import Engine
from ticketspike.http import ServerSettings, create_app
from ticketspike.store import DraftStatus, SQLiteStore
from ticketspike.testing import FixedClock, RecordingSleep, clean_plugins

TOKEN = "read-token-drafts-5b1e"


@pytest.fixture
def store_with_a_draft(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    for name, value in MAIL_ENV.items():
        monkeypatch.setenv(name, value)
    tickets, accounts = write_inputs(tmp_path)
    config = tmp_path / "ticketspike.yaml"
    config.write_text(email_yaml(smtp=smtp))
    store = tmp_path / "store.db"
    args = ["--store", str(store), "--config", str(config), "--accounts", str(accounts)]
    assert main(["run", str(tickets), *args, "--format", "json"]) == 0
    return {"store": str(store), "config": str(config), "accounts": str(accounts)}


def cli(
    capsys: pytest.CaptureFixture[str], paths: dict[str, str], *argv: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["drafts", *argv, "--store", paths["store"], "--config", paths["config"]])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_lists_shows_and_approves_a_draft_which_is_sent_once(
    store_with_a_draft: dict[str, str], smtp: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, store_with_a_draft, "list", "--format", "json")
    assert code == 0
    (listed,) = json.loads(out)
    assert {"id", "status", "to", "subject", "episode_id"} <= set(listed)
    assert listed["status"] == "awaiting_approval"
    assert listed["to"] == "Dana Lee <dana@techcorp.example>"
    draft_id = listed["id"]
    code, out, _ = cli(capsys, store_with_a_draft, "show", draft_id)
    assert code == 0 and "Hi Dana Lee," in out and "Status:     awaiting_approval" in out
    body = Path(store_with_a_draft["store"]).with_name("body.txt")
    body.write_text("Hi Dana,\n\nWe are on it.\n")
    code, out, err = cli(
        capsys, store_with_a_draft, "approve", draft_id, "--by", "mike", "--body-file", str(body)
    )
    assert code == 0, err
    assert out.startswith(f"Sent: {draft_id}  sent")
    ((_f, rcpts, message),) = smtp.room.accepted
    assert rcpts == ["dana@techcorp.example"]
    assert message.get_content().replace("\r\n", "\n") == "Hi Dana,\n\nWe are on it.\n"
    # Approving again exits 0 and sends nothing more.
    code, out, _ = cli(capsys, store_with_a_draft, "approve", draft_id, "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "sent"
    assert len(smtp.room.accepted) == 1
    code, out, _ = cli(capsys, store_with_a_draft, "list")
    assert code == 0 and f"{draft_id}  sent" in out


def test_cli_reject_sends_nothing_and_approving_it_later_exits_2(
    store_with_a_draft: dict[str, str], smtp: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = cli(capsys, store_with_a_draft, "list", "--format", "json")
    draft_id = json.loads(out)[0]["id"]
    code, out, _ = cli(
        capsys, store_with_a_draft, "reject", draft_id, "--by", "mike", "--reason", "calling"
    )
    assert code == 0 and "rejected" in out
    code, _, err = cli(capsys, store_with_a_draft, "approve", draft_id, "--by", "mike")
    assert code == 2
    assert err.startswith("ticketspike: error: ") and "never sent" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, store_with_a_draft, "approve", "dr_missing", "--by", "mike")
    assert code == 2 and "no e-mail draft 'dr_missing'" in err
    assert smtp.room.accepted == []


def test_cli_an_unreachable_server_exits_1_and_keeps_the_approval(
    tmp_path: Path,
    store_with_a_draft: dict[str, str],
    smtp: SmtpServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from support.mail_servers import free_port

    down = tmp_path / "down.yaml"
    down.write_text(email_yaml(smtp_port=free_port(), extra="  send_attempts: 1"))
    _, out, _ = cli(capsys, store_with_a_draft, "list", "--format", "json")
    draft_id = json.loads(out)[0]["id"]
    paths = {**store_with_a_draft, "config": str(down)}
    code, _, err = cli(capsys, paths, "approve", draft_id, "--by", "mike", "--subject", "Re: API")
    assert (
        code == 1 and "approved but not sent after 1 attempts" in err and "cannot reach SMTP" in err
    )
    with SQLiteStore(store_with_a_draft["store"]) as store:
        kept = store.draft(draft_id)
    assert kept is not None and kept.status is DraftStatus.APPROVED
    assert (kept.decided_by, kept.subject) == ("mike", "Re: API")


# -- HTTP -------------------------------------------------------------------------------
class AppClient:
    """Plain calls to the app through ``httpx.ASGITransport`` (no server, no lifespan)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.request(method, url, **options)

        return asyncio.run(go())

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)


def http_client(paths: dict[str, str]) -> tuple[AppClient, Engine]:
    config = load_config(paths["config"], env=MAIL_ENV)
    engine = Engine.from_config(
        config,
        store=paths["store"],
        plugins=clean_plugins(),
        accounts=paths["accounts"],
        clock=FixedClock(NOW),
        sleep=RecordingSleep(),
    )
    app = create_app(
        engine,
        settings=ServerSettings(background=False),
        env={"TICKETSPIKE_API_TOKEN": TOKEN},
    )
    return AppClient(app), engine


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_http_lists_approves_with_edits_and_rejects(
    store_with_a_draft: dict[str, str], smtp: SmtpServer
) -> None:
    client, engine = http_client(store_with_a_draft)
    assert client.get("/api/drafts").status_code == 401  # behind the read token
    answer = client.get("/api/drafts", headers=AUTH)
    assert answer.status_code == 200
    (draft,) = answer.json()["drafts"]
    assert draft["status"] == "awaiting_approval"
    one = client.get(f"/api/drafts/{draft['id']}", headers=AUTH).json()
    assert one["body"].startswith("Hi Dana Lee,")
    url = f"/api/drafts/{draft['id']}/approve"
    assert client.post(url, json={"by": "U0MIKE"}).status_code == 401
    refused = client.post(
        url, json={"by": "U0MIKE", "subject": "a\r\nBcc: x@evil.example"}, headers=AUTH
    )
    assert refused.status_code == 422 and "subject" in refused.json()["error"]["message"]
    assert client.post(url, json={}, headers=AUTH).status_code == 422
    assert smtp.room.accepted == []
    answer = client.post(
        url,
        json={"by": "U0MIKE", "subject": "About the API errors", "body": "Hi Dana,\n"},
        headers=AUTH,
    )
    assert answer.status_code == 200, answer.text
    sent = answer.json()
    assert (sent["status"], sent["decided_by"], sent["subject"]) == (
        "sent",
        "U0MIKE",
        "About the API errors",
    )
    ((_f, _r, message),) = smtp.room.accepted
    assert message["Subject"] == "About the API errors"
    # Rejecting a sent draft is a conflict; approving again is a no-op.
    conflict = client.post(f"/api/drafts/{draft['id']}/reject", json={"by": "x"}, headers=AUTH)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "draft_conflict"
    assert client.post(url, json={"by": "U0MIKE"}, headers=AUTH).json()["status"] == "sent"
    assert len(smtp.room.accepted) == 1
    missing = client.post("/api/drafts/dr_nope/approve", json={"by": "x"}, headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "draft_not_found"
    listed = client.get("/api/drafts?status=sent", headers=AUTH).json()["drafts"]
    assert [d["id"] for d in listed] == [draft["id"]]
    assert client.get("/api/drafts?status=bogus", headers=AUTH).status_code == 422
    engine.close()


def test_http_reject_then_approve_is_a_conflict_and_nothing_is_sent(
    store_with_a_draft: dict[str, str], smtp: SmtpServer
) -> None:
    client, engine = http_client(store_with_a_draft)
    (draft,) = client.get("/api/drafts", headers=AUTH).json()["drafts"]
    answer = client.post(
        f"/api/drafts/{draft['id']}/reject", json={"by": "U0MIKE", "reason": "call"}, headers=AUTH
    )
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    assert (data["status"], data["decided_by"], data["reason"]) == ("rejected", "U0MIKE", "call")
    again = client.post(f"/api/drafts/{draft['id']}/approve", json={"by": "x"}, headers=AUTH)
    assert again.status_code == 409
    bad = client.post(
        f"/api/drafts/{draft['id']}/approve",
        content=b"{not json",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert bad.status_code == 400
    assert smtp.room.accepted == []
    engine.close()


def test_http_a_mail_server_down_is_503_and_the_approval_is_kept(
    tmp_path: Path, store_with_a_draft: dict[str, str], smtp: SmtpServer
) -> None:
    from support.mail_servers import free_port

    down = tmp_path / "down.yaml"
    down.write_text(email_yaml(smtp_port=free_port()))
    client, engine = http_client({**store_with_a_draft, "config": str(down)})
    (draft,) = client.get("/api/drafts", headers=AUTH).json()["drafts"]
    answer = client.post(f"/api/drafts/{draft['id']}/approve", json={"by": "U0MIKE"}, headers=AUTH)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "mail_unavailable"
    kept = engine.draft(draft["id"])
    assert kept is not None and kept.status is DraftStatus.APPROVED
    assert kept.decided_by == "U0MIKE"
    engine.close()
