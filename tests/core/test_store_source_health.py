"""Source rhythms in every store: kept across reopening, written by compare-and-set."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from ticketspike.source_health import SourcePolicy, observe
from ticketspike.store import SQLiteStore, Store

AT = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
POLICY = SourcePolicy()


def test_a_rhythm_is_stored_and_read_back(any_store: Store) -> None:
    assert any_store.source_rhythm("zendesk") is None
    assert any_store.source_rhythms() == []
    rhythm = observe(None, "zendesk", [AT.timestamp(), AT.timestamp() + 900], policy=POLICY)
    assert any_store.put_source_rhythm(rhythm, version=0, at=AT)
    found = any_store.source_rhythm("zendesk")
    assert found is not None
    version, back = found
    assert version == 1
    assert (back.source, back.deliveries, back.last_ts) == ("zendesk", 2, rhythm.last_ts)
    assert [r.source for _v, r in any_store.source_rhythms()] == ["zendesk"]


def test_a_stale_version_writes_nothing(any_store: Store) -> None:
    first = observe(None, "intercom", [AT.timestamp()], policy=POLICY)
    assert any_store.put_source_rhythm(first, version=0, at=AT)
    assert not any_store.put_source_rhythm(first, version=0, at=AT)  # someone created it
    later = observe(first, "intercom", [AT.timestamp() + 3600], policy=POLICY)
    assert any_store.put_source_rhythm(later, version=1, at=AT)
    lost = observe(first, "intercom", [AT.timestamp() + 60], policy=POLICY)
    assert not any_store.put_source_rhythm(lost, version=1, at=AT)  # read before the write
    found = any_store.source_rhythm("intercom")
    assert found is not None and found[0] == 2 and found[1].deliveries == 2


def test_a_rolled_back_transaction_keeps_the_old_rhythm(any_store: Store) -> None:
    first = observe(None, "api", [AT.timestamp()], policy=POLICY)
    any_store.put_source_rhythm(first, version=0, at=AT)
    try:
        with any_store.transaction():
            later = observe(first, "api", [AT.timestamp() + 3600], policy=POLICY)
            assert any_store.put_source_rhythm(later, version=1, at=AT)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    found = any_store.source_rhythm("api")
    assert found is not None and found[0] == 1 and found[1].deliveries == 1


def test_a_reopened_file_keeps_what_was_learned(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    rhythm = observe(None, "zendesk", [AT.timestamp() + i * 600 for i in range(30)], policy=POLICY)
    with SQLiteStore(path) as store:
        store.put_source_rhythm(rhythm, version=0, at=AT)
    with SQLiteStore(path, create=False) as store:
        found = store.source_rhythm("zendesk")
    assert found is not None and found[1].deliveries == 30 and found[1].open_ts == rhythm.open_ts
