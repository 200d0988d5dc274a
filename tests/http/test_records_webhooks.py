"""The issue's "done when", end to end on the demo data.

After ``ticketspike run`` on the demo tickets, the task, the health adjustment (78 -> 63), the
war-room entry and the escalation history are listed by the CLI and over HTTP, and each change
is delivered once, signed, to two real receivers on 127.0.0.1: one is down for its first
attempts and catches up with the same delivery ids. Retry timing runs on an injected clock and
sleep, not real minutes.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import pytest

pytest.importorskip("standardwebhooks", reason="the webhooks extra is not installed")

import asyncio  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

from support import webhook_receivers as _receivers
from ticketspike.cli import main  # noqa: E402
from ticketspike.engine import Engine  # noqa: E402
from ticketspike.http import ServerSettings, create_app  # noqa: E402
from ticketspike.testing import FixedClock  # noqa: E402

Receiver = _receivers.Receiver
receiving = _receivers.receiving


class _Api:
    """Plain calls into the app over ``httpx.ASGITransport`` (no lifespan, like a mount)."""

    def __init__(self, engine: Engine) -> None:
        self.app = create_app(
            engine,
            settings=ServerSettings(background=False),
            env={"TICKETSPIKE_API_TOKEN": TOKEN},
        )

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.request(method, url, **options)

        return asyncio.run(go())

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)


@contextmanager
def TestClient(app_engine: Engine) -> Any:  # noqa: N802 - reads like the usual client
    yield _Api(app_engine)


SECRET_A = "whsec_" + base64.b64encode(b"A" * 32).decode()
SECRET_B = "whsec_" + base64.b64encode(b"B" * 32).decode()
TOKEN = "read-token-records"


def _demo(tmp_path: Path, a: Receiver, b: Receiver, *, extra: str = "") -> Path:
    data = resources.files("ticketspike.data")
    for name in ("demo.yaml", "demo_accounts.yaml", "demo_tickets.jsonl"):
        (tmp_path / name).write_text(data.joinpath(name).read_text(encoding="utf-8"))
    config = tmp_path / "demo.yaml"
    config.write_text(
        config.read_text()
        + f"""
webhooks:
  endpoints:
    - id: all-events
      url: {a.url}
      secret_env: HOOK_SECRET_A
    - id: tasks-and-health
      url: {b.url}
      secret_env: HOOK_SECRET_B
      events: ["task.*", health_score.adjusted, escalation.opened]
{extra}"""
    )
    return config


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().out


class _Sleep:
    """Waits by moving the injected clock; remembers each wait."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds=seconds)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET_A", SECRET_A)
    monkeypatch.setenv("HOOK_SECRET_B", SECRET_B)
    monkeypatch.setenv("TICKETSPIKE_API_TOKEN", TOKEN)


def test_demo_records_are_listed_and_each_change_reaches_both_receivers_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], env: None
) -> None:
    store = str(tmp_path / "store.db")
    with receiving(Receiver(SECRET_A)) as a, receiving(Receiver(SECRET_B, fail_first=3)) as b:
        config = str(_demo(tmp_path, a, b))
        code, out = _cli(
            capsys,
            "run",
            str(tmp_path / "demo_tickets.jsonl"),
            "--store",
            store,
            "--config",
            config,
        )
        assert code == 0, out
        assert "Health Score: 63 (was 78)" in out
        assert "Webhooks:" in out

        # The records, from the command line.
        code, out = _cli(capsys, "tasks", "--store", store, "--config", config, "--format", "json")
        (task,) = json.loads(out)
        assert {"id", "title", "priority", "due_at", "status", "customer_id", "episode_id"} <= set(
            task
        )
        assert (task["status"], task["customer_id"]) == ("open", "techcorp")
        assert task["title"].startswith("URGENT: Support spike for TechCorp Inc")
        code, out = _cli(
            capsys, "health", "--store", store, "--customer", "techcorp", "--format", "json"
        )
        health = json.loads(out)
        assert (health["base"], health["current"]) == (78.0, 63.0)
        assert [(x["delta"], x["episode_id"]) for x in health["adjustments"]] == [
            (-15.0, task["episode_id"])
        ]
        assert set(health["adjustments"][0]) == {"delta", "reason", "episode_id", "at"}
        code, out = _cli(capsys, "history", "--store", store, "--format", "json")
        (escalation,) = json.loads(out)
        assert escalation["episode_id"] == task["episode_id"]
        assert [w["war_room"] for w in escalation["war_room_entries"]] == [
            "q1-enterprise-escalations"
        ]
        assert [s["status"] for s in escalation["syncs"]] == ["scheduled"]
        assert {"acknowledged_by", "resolved_at", "status"} <= set(escalation)
        taken = [(x["kind"], x["status"]) for x in escalation["actions_taken"]]
        assert ("create_task", "done") in taken and ("add_to_war_room", "done") in taken

        # The same over HTTP, behind the read token.
        with Engine.from_config(config, store=store) as engine:
            with TestClient(engine) as client:
                auth = {"authorization": f"Bearer {TOKEN}"}
                assert client.get("/api/tasks").status_code == 401
                assert client.get("/api/tasks", headers=auth).json()["tasks"] == [task]
                assert client.get("/api/customers/techcorp/health", headers=auth).json() == health
                (seen,) = client.get("/api/history", headers=auth).json()["escalations"]
                assert seen["war_room_entries"] == escalation["war_room_entries"]
                assert client.get("/api/health").json()["webhooks"] == {
                    "endpoints": 2,
                    "disabled": [],
                }

        # After run: A has everything; B failed its first attempt and waits for its retry.
        assert b.accepted() == [] and len(b.received) == 1
        clock = FixedClock(datetime.now(timezone.utc))
        sleep = _Sleep(clock)
        with Engine.from_config(config, store=store, clock=clock, sleep=sleep) as engine:
            engine.webhooks.drain(within=6 * 3600)
            events = engine.store.outbound_events()
        # Exponential backoff on the injected clock (the first wait began during `run`).
        assert 0 < sleep.waits[0] <= 30.0 and sleep.waits[1:] == [60.0, 120.0]

    types = Counter(e.type for e in events)
    assert types["task.created"] == 1 and types["health_score.adjusted"] == 1
    assert types["escalation.opened"] == 1 and types["escalation.escalated"] == 1
    assert types["draft.created"] == 1
    # Each event once to A, and once (accepted) to B when its filter takes it: same ids.
    assert Counter(r.webhook_id for r in a.accepted()) == Counter(e.id for e in events)
    wanted_b = [
        e.id
        for e in events
        if e.type.startswith("task.") or e.type in ("health_score.adjusted", "escalation.opened")
    ]
    assert [r.webhook_id for r in b.accepted()] == wanted_b
    assert {r.webhook_id for r in b.received if r.status == 503} == {wanted_b[0]}
    for receiver in (a, b):
        for item in receiver.received:
            assert receiver.signature_ok(item)
            assert set(item.payload) == {"type", "timestamp", "data"}
    by_type = {r.payload["type"]: r.payload["data"] for r in b.accepted()}
    assert by_type["health_score.adjusted"]["before"] == 78.0
    assert by_type["health_score.adjusted"]["current"] == 63.0
    assert by_type["task.created"]["id"] == task["id"]


def test_closing_a_task_is_recorded_and_delivered_as_task_updated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], env: None
) -> None:
    store = str(tmp_path / "store.db")
    with receiving(Receiver(SECRET_A)) as a, receiving(Receiver(SECRET_B)) as b:
        config = str(_demo(tmp_path, a, b))
        _cli(
            capsys,
            "run",
            str(tmp_path / "demo_tickets.jsonl"),
            "--store",
            store,
            "--config",
            config,
        )
        code, out = _cli(capsys, "tasks", "--store", store, "--format", "json")
        task_id = json.loads(out)[0]["id"]
        code, out = _cli(
            capsys,
            "tasks",
            "done",
            task_id,
            "--store",
            store,
            "--config",
            config,
            "--by",
            "Mike Johnson",
            "--format",
            "json",
        )
        assert code == 0 and json.loads(out)["status"] == "done"
        # A repeated click changes nothing and reports nothing new.
        _cli(capsys, "tasks", "done", task_id, "--store", store, "--config", config, "--by", "Mike")
        with Engine.from_config(config, store=store) as engine:
            with TestClient(engine) as client:
                auth = {"authorization": f"Bearer {TOKEN}"}
                reopened = client.post(
                    f"/api/tasks/{task_id}", headers=auth, json={"status": "open", "by": "Sarah"}
                )
                assert reopened.status_code == 200 and reopened.json()["status"] == "open"
                missing = client.post(
                    "/api/tasks/task_nope", headers=auth, json={"status": "done", "by": "Sarah"}
                )
                assert missing.status_code == 404
                bad = client.post(
                    f"/api/tasks/{task_id}",
                    headers=auth,
                    json={"status": "finished", "by": "Sarah"},
                )
                assert bad.status_code == 422
                garbled = client.post(
                    f"/api/tasks/{task_id}",
                    headers={**auth, "content-type": "application/json"},
                    content=b"\xff{not json",
                )
                # Refused as the OpenAPI document says: 400 is among updateTask's answers.
                assert garbled.status_code == 400
                assert garbled.json()["error"]["code"] == "invalid_json"
                spec = client.get("/openapi.json").json()
                assert "400" in spec["paths"]["/api/tasks/{taskId}"]["post"]["responses"]
            engine.webhooks.run_once()
        code, out = _cli(capsys, "tasks", "--store", store, "--status", "open", "--format", "json")
        assert [t["id"] for t in json.loads(out)] == [task_id]
    updates = [r.payload["data"] for r in b.accepted() if r.payload["type"] == "task.updated"]
    assert [(u["status"], u["changed_by"]) for u in updates] == [
        ("done", "Mike Johnson"),
        ("open", "Sarah"),
    ]
    assert len({r.webhook_id for r in a.accepted()}) == len(a.accepted())


def test_an_endpoint_down_for_good_is_disabled_visibly_and_resent_when_enabled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], env: None
) -> None:
    store = str(tmp_path / "store.db")
    retry = "  max_attempts: 3\n"
    with receiving(Receiver(SECRET_A)) as a, receiving(Receiver(SECRET_B, fail_first=99)) as b:
        config = str(_demo(tmp_path, a, b, extra=retry))
        _cli(
            capsys,
            "run",
            str(tmp_path / "demo_tickets.jsonl"),
            "--store",
            store,
            "--config",
            config,
        )
        clock = FixedClock(datetime.now(timezone.utc))
        with Engine.from_config(config, store=store, clock=clock, sleep=_Sleep(clock)) as engine:
            engine.webhooks.drain(within=24 * 3600)
        code, out = _cli(
            capsys, "webhooks", "--store", store, "--config", config, "--format", "json"
        )
        assert code == 1  # something needs a person
        states = {e["id"]: e for e in json.loads(out)["endpoints"]}
        assert states["all-events"]["enabled"] is True
        assert states["tasks-and-health"]["enabled"] is False
        assert "failed 3 times" in states["tasks-and-health"]["disabled_reason"]
        assert SECRET_B not in out and "whsec_" not in out
        code, out = _cli(
            capsys, "webhooks", "--log", "--store", store, "--config", config, "--format", "json"
        )
        log = [x for x in json.loads(out)["attempts"] if x["endpoint_id"] == "tasks-and-health"]
        assert [(x["number"], x["outcome"], x["status_code"]) for x in log] == [
            (1, "failed", 503),
            (2, "failed", 503),
            (3, "failed", 503),
        ]
        with Engine.from_config(config, store=store) as engine:
            with TestClient(engine) as client:
                assert client.get("/api/health").json()["webhooks"]["disabled"] == [
                    "tasks-and-health"
                ]
        failed_ids = [r.webhook_id for r in b.received]
        b.fail_first = 0
        code, out = _cli(
            capsys, "webhooks", "enable", "tasks-and-health", "--store", store, "--config", config
        )
        assert code == 0, out
    accepted = [r.webhook_id for r in b.accepted()]
    assert accepted[0] == failed_ids[0]  # the same delivery id, caught up
    assert len(accepted) == len(set(accepted)) == 3  # opened, task, health: nothing twice


def test_a_resolved_spike_gives_back_the_configured_part_of_its_health_adjustment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], env: None
) -> None:
    store = str(tmp_path / "store.db")
    with receiving(Receiver(SECRET_A)) as a, receiving(Receiver(SECRET_B)) as b:
        config = str(_demo(tmp_path, a, b, extra="records:\n  health_restore_on_resolve: 0.5\n"))
        _cli(
            capsys,
            "run",
            str(tmp_path / "demo_tickets.jsonl"),
            "--store",
            store,
            "--config",
            config,
        )
        code, out = _cli(capsys, "history", "--store", store, "--format", "json")
        episode = json.loads(out)[0]["episode_id"]
        code, out = _cli(
            capsys, "resolve", episode, "--store", store, "--config", config, "--by", "Mike"
        )
        assert code == 0, out
        with Engine.from_config(config, store=store) as engine:
            engine.webhooks.run_once()
        code, out = _cli(
            capsys, "health", "--store", store, "--customer", "techcorp", "--format", "json"
        )
        health = json.loads(out)
        assert [x["delta"] for x in health["adjustments"]] == [-15.0, 7.5]
        assert health["current"] == 70.5
        code, out = _cli(
            capsys, "history", "--store", store, "--status", "resolved", "--format", "json"
        )
        (resolved,) = json.loads(out)
        assert [w["status"] for w in resolved["war_room_entries"]] == ["closed"]
    kinds = [r.payload["type"] for r in a.accepted()]
    assert kinds.count("escalation.resolved") == 1
    assert kinds.count("health_score.adjusted") == 2
