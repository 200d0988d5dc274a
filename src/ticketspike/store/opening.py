"""One way to open a store from a location string, for every command and ``serve``.

A location is a PostgreSQL URL (``postgresql://user@host:5432/db``, optionally
``?schema=NAME``) or a path to an SQLite file. psycopg is imported only for a URL, so the
SQLite store needs nothing beyond the standard library.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import StoreError
from .base import Store
from .sqlite import SQLiteStore

__all__ = ["STORE_ENV", "is_postgres_url", "open_store", "store_exists"]

# The environment variable naming the store when neither --store nor the config does.
STORE_ENV = "TICKETSPIKE_STORE"
_MISSING = "a postgresql:// store needs the postgres extra: pip install 'ticketspike[postgres]'"


def is_postgres_url(location: str | Path) -> bool:
    """True for ``postgresql://...`` and ``postgres://...`` locations."""
    return str(location).startswith(("postgresql://", "postgres://"))


def open_store(
    location: str | Path,
    *,
    create: bool = True,
    synchronous: str = "full",
    schema: str | None = None,
) -> Store:
    """The store at ``location``: :class:`PostgresStore` for a URL, else :class:`SQLiteStore`.

    ``create`` False refuses a location holding no store yet; ``synchronous`` applies to SQLite,
    ``schema`` to PostgreSQL (``?schema=`` in the URL wins over the default, ``schema`` over
    both).
    """
    if is_postgres_url(location):
        try:
            from .postgres import PostgresStore
        except ImportError:
            raise StoreError(_MISSING) from None
        return PostgresStore(str(location), schema=schema, create=create)
    return SQLiteStore(location, create=create, synchronous=synchronous)


def store_exists(location: str | Path) -> bool:
    """Whether a file store exists (a URL is assumed to: opening it tells for sure)."""
    return is_postgres_url(location) or Path(location).is_file()
