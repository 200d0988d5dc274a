"""The bundled sample behind ``ticketspike demo``.

``demo_tickets.jsonl`` holds six weeks of canonical ticket JSON for five customers with normal
rates, ending in a critical spike at TechCorp Inc dominated by API errors and login issues (the
alert example of docs/workflow.md: 15 tickets in 24 hours on a 2.3/day baseline).
``demo_accounts.yaml`` gives their accounts, with CSMs, managers and champions; ``demo.yaml`` is
the configuration the demo runs with. Everything here is invented.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["DEMO_ACCOUNTS", "DEMO_CONFIG", "DEMO_FILES", "DEMO_TICKETS", "copy_to"]

DEMO_TICKETS = "demo_tickets.jsonl"
DEMO_ACCOUNTS = "demo_accounts.yaml"
DEMO_CONFIG = "demo.yaml"
DEMO_FILES = (DEMO_TICKETS, DEMO_ACCOUNTS, DEMO_CONFIG)


def copy_to(directory: Path) -> dict[str, Path]:
    """Copy the sample into ``directory`` (read through importlib, so zipped installs work)."""
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name in DEMO_FILES:
        target = directory / name
        target.write_bytes(resources.files(__name__).joinpath(name).read_bytes())
        out[name] = target
    return out
