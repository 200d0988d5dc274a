"""``--metrics-file PATH`` for the batch commands (``run``, ``backfill``).

A ``run`` or ``backfill`` process ends before anyone could scrape it, so it writes its series
(the same registry as ``/metrics``: tickets received/stored/updated/duplicates by source,
actions by kind and outcome, retries, episodes) in the Prometheus text format when it ends,
for node_exporter's textfile collector or a Pushgateway job. The file is replaced atomically
(written beside it, then renamed), so a collector never reads half of it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from .. import metrics
from ..errors import InputError

__all__ = ["add_metrics_file_arg", "check_metrics_file", "write_metrics_file"]


def add_metrics_file_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-file",
        metavar="PATH",
        default=None,
        help="when done, write the Prometheus metrics of this run to PATH (text format, "
        "for a textfile collector; needs the metrics extra)",
    )


def check_metrics_file(path: str | None) -> Path | None:
    """The path to write, checked before any work starts (extra installed, folder exists)."""
    if path is None:
        return None
    if not metrics.AVAILABLE:
        raise InputError(
            "needs the metrics extra: pip install '.[metrics]' in a checkout "
            "('ticketspike[metrics]' once published)",
            field="--metrics-file",
        )
    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(f"no folder {str(target.parent)!r} to write into", field="--metrics-file")
    return target


def write_metrics_file(target: Path | None) -> None:
    """Replace ``target`` with every series so far (nothing when ``target`` is None)."""
    if target is None:
        return
    fd, scratch = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(metrics.exposition())
        os.chmod(scratch, 0o644)
        os.replace(scratch, target)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
