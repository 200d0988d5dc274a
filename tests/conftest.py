"""Fixtures every test folder shares.

Every test keeps loopback requests off proxies (:mod:`support.network`): the fake vendor
servers listen on 127.0.0.1, and HTTP clients would otherwise send to a proxy the
environment names.

``any_store`` runs a test once per store implementation, so a store-level behaviour is checked
on every store the project ships; a new store joins by adding its kind to :data:`STORE_KINDS`
and a branch to :func:`make_store`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.network import keep_loopback_off_proxies
from ticketspike.store import MemoryStore, SQLiteStore, Store

STORE_KINDS = ["memory", "sqlite"]


def make_store(kind: str, tmp_path: Path) -> Store:
    """A fresh, empty store of ``kind`` (one of :data:`STORE_KINDS`)."""
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "store.db")
    raise ValueError(f"unknown store kind {kind!r}; expected one of {STORE_KINDS}")


@pytest.fixture(params=STORE_KINDS)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each store implementation in turn, empty, closed after the test."""
    made = make_store(request.param, tmp_path)
    yield made
    made.close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    keep_loopback_off_proxies(monkeypatch)
