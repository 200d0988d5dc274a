"""The SQLite schema as numbered migrations (``NNNN_name.sql``), applied in order.

A store file records its schema version in ``PRAGMA user_version``; opening a file applies the
missing migrations in one transaction, and refuses a file whose version is newer than the
newest migration here (a newer ticketspike wrote it). Add a migration by adding the next
numbered file; never edit a released one.
"""

from __future__ import annotations

import re
from importlib import resources

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "load_numbered"]

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def load_numbered(package: str) -> tuple[tuple[int, str], ...]:
    """The ``NNNN_name.sql`` files of ``package`` in order, checked to be numbered 1..n."""
    found: list[tuple[int, str]] = []
    for entry in resources.files(package).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, got {numbers}")
    return tuple(found)


MIGRATIONS: tuple[tuple[int, str], ...] = load_numbered(__name__)
SCHEMA_VERSION: int = MIGRATIONS[-1][0]
