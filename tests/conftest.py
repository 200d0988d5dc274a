"""Fixtures every test folder shares.

Every test keeps loopback requests off proxies (:mod:`support.network`): the fake vendor
servers listen on 127.0.0.1, and HTTP clients would otherwise send to a proxy the
environment names.

``any_store`` runs a test once per store implementation, so a store-level behaviour is checked
on every store the project ships; a new store joins by adding its kind to :data:`STORE_KINDS`
and a branch to :func:`make_store`.

The PostgreSQL store runs against a real server at ``$TICKETSPIKE_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``), each test in a schema of its own that
is dropped afterwards. Where no server answers those tests skip with one reason, unless
``TICKETSPIKE_REQUIRE_POSTGRES=1`` (CI), where they fail.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.network import keep_loopback_off_proxies
from ticketspike.store import MemoryStore, SQLiteStore, Store

STORE_KINDS = ["memory", "sqlite", "postgres"]
POSTGRES_URL = os.environ.get(
    "TICKETSPIKE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@functools.cache
def postgres_problem() -> str | None:
    """None when the test server answers; else why not (once per session)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'ticketspike[postgres]')"
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"no PostgreSQL server answers at {POSTGRES_URL}: {' '.join(str(exc).split())}"
    return None


def require_postgres() -> str:
    """The test server's URL; skips (or fails, with TICKETSPIKE_REQUIRE_POSTGRES=1) without one."""
    problem = postgres_problem()
    if problem is not None:
        if os.environ.get("TICKETSPIKE_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    return POSTGRES_URL


def fresh_schema() -> str:
    """A schema name no other test uses."""
    return f"t_{uuid.uuid4().hex[:16]}"


def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def make_store(kind: str, tmp_path: Path) -> Store:
    """A fresh, empty store of ``kind`` (one of :data:`STORE_KINDS`).

    A ``postgres`` store gets its own schema; :func:`drop_store` removes it.
    """
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "store.db")
    if kind == "postgres":
        url = require_postgres()  # skips first where psycopg is not installed
        from ticketspike.store.postgres import PostgresStore

        return PostgresStore(url, schema=fresh_schema())
    raise ValueError(f"unknown store kind {kind!r}; expected one of {STORE_KINDS}")


def drop_store(store: Store) -> None:
    """Close ``store`` and remove what it keeps outside the test's directory."""
    store.close()
    schema = getattr(store, "schema", None)
    if isinstance(schema, str):
        drop_schema(schema)


@pytest.fixture(params=STORE_KINDS)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each store implementation in turn, empty, closed (and its schema dropped) after."""
    made = make_store(request.param, tmp_path)
    yield made
    drop_store(made)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The test server's URL with a fresh ``?schema=``, dropped after the test."""
    base = require_postgres()
    schema = fresh_schema()
    yield f"{base}{'&' if '?' in base else '?'}schema={schema}"
    drop_schema(schema)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    keep_loopback_off_proxies(monkeypatch)
