"""Exactly once across a restart, wherever it happens: an engine on a SQLite store that stops
at any point of the stream and starts again plans each action once, finds the same incident,
and (unless the stop falls between the incident's first spike and its opening, when the first
customers' held plans were released as ordinary at the end of the first call) plans exactly
what one uninterrupted run plans."""

from __future__ import annotations

import contextlib
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import incident_stream
from ticketspike.engine import Engine
from ticketspike.model import Account, Person, ticket_event_from_json
from ticketspike.store import SQLiteStore
from ticketspike.testing import FakeAccounts, FixedClock, StaticPlugin, clean_plugins

EVENTS = [
    ticket_event_from_json(r) for r in incident_stream.stream(customers=30, affected=8, days=12)
]
CLOCK = FixedClock(max(e.at for e in EVENTS) + timedelta(minutes=1))
ACCOUNTS = FakeAccounts(
    [
        Account(id=cid, name=cid, csm=Person(name=f"CSM {cid}", email=f"csm@{cid}.example"))
        for cid in {e.ticket.customer_id for e in EVENTS}
    ]
)


def _actions(path: Path, parts: list[list[Any]]) -> tuple[list[str], list[Any]]:
    """Feed ``parts`` to a fresh engine each (a restart between parts)."""
    with contextlib.redirect_stdout(io.StringIO()):  # the console notifier's alerts
        for part in parts:
            store = SQLiteStore(path)
            plugins = clean_plugins(StaticPlugin(directories=[ACCOUNTS]))
            with Engine(store=store, plugins=plugins, clock=CLOCK) as engine:
                engine.ingest_many(part)
            store.close()
    store = SQLiteStore(path)
    try:
        keys = [a.key for a in store.actions()]
        incidents = []
        for record in store.incidents():
            opened = store.plan(f"{record.incident_id}:opened")
            assert opened is not None
            incidents.append(
                (
                    record.incident_id,
                    sorted(record.data["customer_ids"]),
                    record.first_spike,
                    opened.plan.at,
                )
            )
        return keys, incidents
    finally:
        store.close()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.integers(min_value=1, max_value=len(EVENTS) - 1), st.booleans())
def test_a_restart_anywhere_plans_each_action_once(tmp_path_factory, cut, again) -> None:
    whole = tmp_path_factory.mktemp("whole") / "store.db"
    expected, expected_incidents = _actions(whole, [EVENTS])
    assert len(expected_incidents) == 1 and len(expected) == len(set(expected))
    split = tmp_path_factory.mktemp("split") / "store.db"
    parts = [EVENTS[:cut], EVENTS[cut:]] + ([EVENTS] if again else [])
    keys, incidents = _actions(split, parts)
    assert incidents == expected_incidents
    assert len(keys) == len(set(keys))
    iid, _members, first_spike, opened_at = expected_incidents[0]
    assert sorted(k for k in keys if k.startswith(iid)) == sorted(
        k for k in expected if k.startswith(iid)
    )
    if not first_spike <= EVENTS[cut].at <= opened_at:
        assert sorted(keys) == sorted(expected)
    # Nobody is both escalated on their own and told of the incident.
    dm = {k.split(":")[0] for k in keys if k.endswith(":opened:incident_dm")}
    full = {k.split(":")[0] for k in keys if k.endswith(":opened:notify_csm")}
    assert len(dm) >= 5 and not dm & full
