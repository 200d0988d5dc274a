"""Source rhythms in every store: kept across reopening, written by compare-and-set."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import attrs

from ticketspike.source_health import SourcePolicy, observe
from ticketspike.store import SQLiteStore, Store

AT = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
T = AT.timestamp()
POLICY = SourcePolicy()


def test_a_rhythm_is_stored_and_read_back(any_store: Store) -> None:
    assert any_store.source_rhythm("zendesk") is None
    assert any_store.source_rhythm_head("zendesk") is None
    assert any_store.source_rhythms() == []
    rhythm = observe(None, "zendesk", [T, T + 900], policy=POLICY)
    assert any_store.put_source_rhythm(rhythm, version=0, at=AT)
    found = any_store.source_rhythm("zendesk")
    assert found is not None
    head, back = found
    assert (head.version, head.deliveries, head.last_ts) == (1, 2, T + 900)
    assert back == attrs.evolve(rhythm)  # the same rhythm, through its stored form
    assert [r.source for _h, r in any_store.source_rhythms()] == ["zendesk"]
    assert any_store.source_names() == ["zendesk"]


def test_a_small_write_moves_only_the_counts(any_store: Store) -> None:
    first = observe(None, "api", [T], policy=POLICY)
    any_store.put_source_rhythm(first, version=0, at=AT)
    same_interval = observe(first, "api", [T + 60, T + 120], policy=POLICY)
    assert same_interval.open_ts == first.open_ts
    before = any_store.source_rhythm_head("api")
    assert any_store.put_source_rhythm(same_interval, version=1, at=AT, learned=False)
    head = any_store.source_rhythm_head("api")
    assert head is not None and before is not None
    assert (head.version, head.rev, head.deliveries) == (2, before.rev, 3)
    found = any_store.source_rhythm("api")
    assert found is not None and found[1] == same_interval
    later = observe(same_interval, "api", [T + 3600], policy=POLICY)
    assert any_store.put_source_rhythm(later, version=2, at=AT)
    found = any_store.source_rhythm("api")
    assert found is not None and found[0].rev != before.rev and found[1] == later


def test_a_stale_version_writes_nothing(any_store: Store) -> None:
    first = observe(None, "intercom", [T], policy=POLICY)
    assert any_store.put_source_rhythm(first, version=0, at=AT)
    assert not any_store.put_source_rhythm(first, version=0, at=AT)  # someone created it
    later = observe(first, "intercom", [T + 3600], policy=POLICY)
    assert any_store.put_source_rhythm(later, version=1, at=AT)
    lost = observe(first, "intercom", [T + 60], policy=POLICY)
    assert not any_store.put_source_rhythm(lost, version=1, at=AT)  # read before the write
    assert not any_store.put_source_rhythm(lost, version=1, at=AT, learned=False)
    found = any_store.source_rhythm("intercom")
    assert found is not None and found[0].version == 2 and found[1].deliveries == 2


def test_a_rolled_back_transaction_keeps_the_old_rhythm(any_store: Store) -> None:
    first = observe(None, "api", [T], policy=POLICY)
    any_store.put_source_rhythm(first, version=0, at=AT)
    try:
        with any_store.transaction():
            later = observe(first, "api", [T + 3600], policy=POLICY)
            assert any_store.put_source_rhythm(later, version=1, at=AT)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    found = any_store.source_rhythm("api")
    assert found is not None and found[0].version == 1 and found[1] == first


def test_a_reopened_file_keeps_what_was_learned(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    rhythm = observe(None, "zendesk", [T + i * 600 for i in range(30)], policy=POLICY)
    with SQLiteStore(path) as store:
        store.put_source_rhythm(rhythm, version=0, at=AT)
    with SQLiteStore(path, create=False) as store:
        found = store.source_rhythm("zendesk")
    assert found is not None and found[1] == rhythm
