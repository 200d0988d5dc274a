"""docs/configuration.md covers every top-level key, and its examples load as printed."""

from __future__ import annotations

import re
from pathlib import Path

from ticketspike.accounts import parse_accounts
from ticketspike.config import TOP_LEVEL_KEYS, load_config
from ticketspike.testing import clean_plugins

DOC = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
YAML = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)


def test_every_top_level_key_has_its_own_heading() -> None:
    headings = set(re.findall(r"^### `([a-z_]+)`$", DOC, flags=re.M))
    assert headings == set(TOP_LEVEL_KEYS)


def test_the_complete_example_loads_and_the_built_ins_accept_their_sections() -> None:
    config = load_config(text=YAML[0], env={})
    assert set(config.root) == set(TOP_LEVEL_KEYS)
    handlers = clean_plugins().action_handlers(config.plugins)
    assert handlers["draft_email"].drafts_dir is not None  # type: ignore[attr-defined]
    assert config.store_path == "data/ticketspike.sqlite3"
    assert [s.reason for s in config.silences] == [
        "planned data migration",
        "status page incident 4711",
    ]
    # The example extends the default workflow: every default step but the one it removes
    # stays, and its own step comes last.
    from ticketspike.planner.workflow import default_workflow

    default = [s.id for s in default_workflow().steps]
    assert [s.id for s in config.workflow.steps] == [
        *(i for i in default if i != "schedule_sync"),
        "tell_finance",
    ]


def test_the_accounts_example_parses() -> None:
    account = parse_accounts(YAML[1])["techcorp"]
    assert account.csm is not None and account.csm.manager is not None
    assert account.csm.manager.name == "Sarah Chen"
