"""Shared pieces of the command line: exit codes, output formats, progress.

Errors go to stderr as one line, and the exit status says what kind:
2 for bad input (a :class:`~ticketspike.errors.InputError`), 1 for failures,
0 for success (docs/cli.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from .progress import Progress

if TYPE_CHECKING:
    from ..config import Config

from .store_arg import add_store_arg

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INPUT",
    "EXIT_OK",
    "Progress",
    "add_config_arg",
    "add_config_args",
    "add_format_arg",
    "add_store_arg",
    "count",
    "config_from_args",
    "print_json",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INPUT = 2


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--accounts``, defaulting to ``$TICKETSPIKE_CONFIG`` and
    ``$TICKETSPIKE_ACCOUNTS`` (so a container is pointed at its files by environment)."""
    add_config_arg(parser)
    parser.add_argument(
        "--accounts",
        metavar="FILE",
        default=_env("TICKETSPIKE_ACCOUNTS"),
        help="accounts file, YAML or JSON list (default $TICKETSPIKE_ACCOUNTS)",
    )


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    """``--config``, defaulting to ``$TICKETSPIKE_CONFIG``."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=_env("TICKETSPIKE_CONFIG"),
        help="ticketspike.yaml to use (default $TICKETSPIKE_CONFIG)",
    )


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def add_format_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def config_from_args(args: argparse.Namespace, *, env: Mapping[str, str] | None = None) -> Config:
    from ..config import load_config

    return load_config(getattr(args, "config", None), env=env)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 ticket``, ``2 tickets``, ``1,000 customers``."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def print_json(obj: Any, *, out: IO[str] | None = None) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False, default=str), file=out or sys.stdout)
