"""The PostgreSQL schema as numbered migrations (``NNNN_name.sql``), applied in order.

The store records the version it reached in its schema's ``schema_version`` table; opening
applies the missing migrations in one transaction under an advisory lock (replicas starting
together migrate once) and refuses a schema whose version is newer than the newest file here.
Add a migration by adding the next numbered file; never edit a released one.
"""

from __future__ import annotations

from ..migrations import load_numbered

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: tuple[tuple[int, str], ...] = load_numbered(__name__)
SCHEMA_VERSION: int = MIGRATIONS[-1][0]
