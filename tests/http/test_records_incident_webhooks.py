"""Product incidents as outbound events: an engine run with a SQLite store and a real signed
receiver on 127.0.0.1 gets ``incident.opened``, each ``incident.joined`` and
``incident.resolved`` exactly once, with the same ids across a restart mid-incident and a
rerun of everything."""

from __future__ import annotations

import base64
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("standardwebhooks", reason="the webhooks extra is not installed")

from support import incident_stream as S  # noqa: E402
from support.webhook_receivers import Receiver, receiving  # noqa: E402
from ticketspike import TicketEvent, ticket_event_from_json  # noqa: E402
from ticketspike.engine import Engine  # noqa: E402
from ticketspike.errors import ConfigError  # noqa: E402
from ticketspike.testing import FixedClock, RecordingSleep  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"I" * 32).decode()


def _setup(tmp_path: Path, url: str) -> Path:
    lines = [
        f"- id: {cid}\n  name: Customer {cid}\n  arr: 100000\n  health_score: 70\n"
        f"  csm: {{name: CSM {cid}, email: csm.{cid}@example.com}}\n"
        for cid in S.CUSTOMERS
    ]
    (tmp_path / "accounts.yaml").write_text("".join(lines))
    config = tmp_path / "ticketspike.yaml"
    config.write_text(
        "accounts: accounts.yaml\n"
        "webhooks:\n"
        "  endpoints:\n"
        "    - id: incidents\n"
        f"      url: {url}\n"
        "      secret_env: HOOK_SECRET\n"
        '      events: ["incident.*"]\n'
    )
    return config


def _engine(config: Path, clock: FixedClock) -> Engine:
    return Engine.from_config(
        config,
        store=config.parent / "store.db",
        env={"HOOK_SECRET": SECRET},
        clock=clock,
        sleep=RecordingSleep(),
    )


def _events() -> list[TicketEvent]:
    return [ticket_event_from_json(row) for row in S.stream()]


def test_each_incident_change_is_delivered_once_signed_across_a_restart(tmp_path: Path) -> None:
    stream = _events()
    last = max(e.at for e in stream)
    cut = last.replace(hour=10, minute=20, second=0, microsecond=0)
    clock = FixedClock(last + timedelta(minutes=1))
    with receiving(Receiver(SECRET)) as hook:
        config = _setup(tmp_path, hook.url)
        with _engine(config, clock) as eng:
            eng.ingest_many([e for e in stream if e.at < cut])
            eng.webhooks.run_once()
        with _engine(config, clock) as eng:
            eng.ingest_many([e for e in stream if e.at >= cut])
            eng.tick(last + timedelta(days=2))  # every member resolved: the incident too
            eng.webhooks.run_once()
            (incident,) = eng.store.incidents()
        delivered = len(hook.received)
        with _engine(config, clock) as eng:  # everything again: nothing new to say
            eng.ingest_many(stream)
            eng.tick(last + timedelta(days=2))
            eng.webhooks.run_once()
            logged = [e for e in eng.store.outbound_events() if e.type.startswith("incident.")]
        assert len(hook.received) == delivered

    assert all(hook.signature_ok(r) for r in hook.received)
    accepted = hook.accepted()
    assert len(accepted) == len(hook.received)
    assert Counter(r.webhook_id for r in accepted) == Counter(e.id for e in logged)
    types = Counter(r.payload["type"] for r in accepted)
    assert types == {"incident.opened": 1, "incident.joined": 37, "incident.resolved": 1}
    by_type = {r.payload["type"]: r.payload["data"] for r in accepted}
    opened = by_type["incident.opened"]
    assert opened["incident_id"] == incident.incident_id
    assert len(opened["customer_ids"]) == opened["customers"] == 3
    assert {"key", "themes", "first_spike", "latest_spike", "ticket_count", "at"} <= set(opened)
    joined = {
        c
        for r in accepted
        if r.payload["type"] == "incident.joined"
        for c in r.payload["data"]["customer_ids"]
    }
    assert joined | set(opened["customer_ids"]) == set(S.AFFECTED)
    resolved = by_type["incident.resolved"]
    assert sorted(resolved["customer_ids"]) == sorted(S.AFFECTED)
    assert resolved["incident_id"] == incident.incident_id and incident.status == "resolved"


def test_an_endpoint_may_filter_on_incident_events_and_a_typo_fails_at_load(
    tmp_path: Path,
) -> None:
    config = _setup(tmp_path, "http://127.0.0.1:9/hooks")
    config.write_text(config.read_text().replace('"incident.*"', "incident.opend"))
    clock = FixedClock(max(e.at for e in _events()))
    with pytest.raises(ConfigError, match="incident.opend"):
        _engine(config, clock).close()
