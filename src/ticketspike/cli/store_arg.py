"""``--store`` for every command: an SQLite file or a ``postgresql://`` URL.

Without ``--store`` a command takes ``$TICKETSPIKE_STORE``; opening goes through
:func:`ticketspike.store.open_store`, so each command accepts both kinds alike.
"""

from __future__ import annotations

import argparse
import os

from ..errors import InputError
from ..store.base import Store
from ..store.opening import STORE_ENV, open_store, store_exists

__all__ = ["STORE_HELP", "add_store_arg", "existing_store", "require_store"]

STORE_HELP = f"the store: an SQLite file or a postgresql:// URL (default ${STORE_ENV})"


def add_store_arg(
    parser: argparse.ArgumentParser, *, required: bool = True, help: str = STORE_HELP
) -> None:
    """Add ``--store``; required unless ``$TICKETSPIKE_STORE`` names one."""
    from_env = os.environ.get(STORE_ENV) or None
    parser.add_argument(
        "--store",
        metavar="STORE",
        required=required and from_env is None,
        default=from_env,
        help=help,
    )


def require_store(location: str) -> None:
    """A one-line error when a file store does not exist yet."""
    if not store_exists(location):
        raise InputError(
            f"no store at {location} (a store is created by `ticketspike run`)", where="--store"
        )


def existing_store(location: str) -> Store:
    """Open a store that must exist already (a URL's schema must hold one)."""
    require_store(location)
    return open_store(location, create=False)
