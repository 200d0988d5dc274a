"""The incidents role of every store: an incident's latest view, kept and listed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ticketspike.store import Store
from ticketspike.store.incidents import IncidentRecord

T0 = datetime(2026, 3, 5, 10, tzinfo=timezone.utc)


def record(iid: str, status: str = "open", *, hours: int = 0, n: int = 3) -> IncidentRecord:
    return IncidentRecord(
        incident_id=iid,
        status=status,
        first_spike=T0 + timedelta(hours=hours),
        updated_at=T0 + timedelta(hours=hours, minutes=n),
        data={"incident_id": iid, "status": status, "customer_ids": [f"c{i}" for i in range(n)]},
    )


def test_an_incident_is_kept_and_its_newer_view_replaces_the_older(any_store: Store) -> None:
    any_store.put_incident(record("inc_b", hours=2))
    any_store.put_incident(record("inc_a"))
    any_store.put_incident(record("inc_a", "resolved", n=5))
    assert [r.incident_id for r in any_store.incidents()] == ["inc_a", "inc_b"]
    found = any_store.incident("inc_a")
    assert found is not None and found.status == "resolved"
    assert found.data["customer_ids"] == ["c0", "c1", "c2", "c3", "c4"]
    assert found.to_json()["updated_at"] == (T0 + timedelta(minutes=5)).isoformat()
    assert [r.incident_id for r in any_store.incidents(status="open")] == ["inc_b"]
    assert any_store.incident("inc_zzz") is None


def test_a_failed_transaction_keeps_nothing(any_store: Store) -> None:
    try:
        with any_store.transaction():
            any_store.put_incident(record("inc_a"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert any_store.incidents() == []
