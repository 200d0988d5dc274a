"""Exactly once means the side effect: real SIGKILLs, including between effect and record.

The executor runs in a subprocess over a real SQLite store with the built-in handlers
(console notifier, e-mail drafter writing ``.eml`` files, outbox sinks). It is killed with
SIGKILL again and again: right after a handler's side effect and before the executor records
it (:class:`ticketspike.testing.KillAfterEffect`), and at random moments. Restarted each time,
it finishes the plan; then every console message, draft file and outbox entry exists once.
"""

from __future__ import annotations

import collections
import os
import random
import re
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest

from ticketspike.planner.plan import DraftEmail
from ticketspike.store.base import ActionStatus
from ticketspike.store.sqlite import SQLiteStore
from ticketspike.testing import execute_killed_after_effect

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL needs a POSIX system")

DRIVER = """
import sys
from ticketspike.engine import Engine
from ticketspike.testing import KillAfterEffect

config, store, after = sys.argv[1], sys.argv[2], int(sys.argv[3])
engine = Engine.from_config(config, store=store)
if after:
    wrapped = {}
    for kind, handler in engine.executor.handlers.items():
        wrapped.setdefault(id(handler), KillAfterEffect(handler, after=after))
        engine.executor.handlers[kind] = wrapped[id(handler)]
engine.run_pending()
engine.close()
"""
HEADER = re.compile(r"^--- (.+) ---$", re.MULTILINE)


def _data(name: str) -> Path:
    return Path(str(resources.files("ticketspike.data").joinpath(name)))


def _plan(folder: Path) -> tuple[Path, Path]:
    """A store holding the demo's escalation plans, every action still pending."""
    folder.mkdir()
    config = folder / "ticketspike.yaml"
    demo = _data("demo.yaml").read_text(encoding="utf-8")
    demo = demo.replace("accounts: demo_accounts.yaml", f"accounts: {_data('demo_accounts.yaml')}")
    demo = demo.replace("drafts_dir: drafts", f"drafts_dir: {folder / 'drafts'}")
    config.write_text(demo, encoding="utf-8")
    store = folder / "store.db"
    subprocess.run(
        [sys.executable, "-c", "import sys; from ticketspike.cli import main; sys.exit(main())",
         "run", "--dry-run", "--store", str(store), "--config", str(config),
         str(_data("demo_tickets.jsonl"))],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    with SQLiteStore(store) as opened:
        assert len(opened.actions(status=ActionStatus.PENDING)) >= 6
    return config, store


@pytest.fixture
def planned(tmp_path):
    return _plan(tmp_path / "plan")


def _run(config: Path, store: Path, out: Path, *, after: int = 0, kill_at: float | None = None):
    with out.open("ab") as sink:
        child = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(config), str(store), str(after)],
            stdout=sink,
            stderr=subprocess.DEVNULL,
        )
        if kill_at is not None:
            time.sleep(kill_at)
            child.send_signal(signal.SIGKILL)
        return child.wait(timeout=300)


def _round(folder: Path, rng: random.Random) -> int:
    """Kill, restart, kill ... until a run finishes; check every effect happened once."""
    config, store = _plan(folder)
    out = folder / "console.txt"
    drafts = folder / "drafts"
    inodes: dict[str, int] = {}
    kills = 0
    for run in range(60):
        if run % 3 != 2:  # right after a side effect, before the executor records it
            code = _run(config, store, out, after=1)
        else:  # at a random moment: starting up, mid-handler, mid-transaction
            code = _run(config, store, out, kill_at=rng.uniform(0.4, 2.0))
        for draft in drafts.glob("*.eml"):  # a draft, once made, is never rewritten
            assert inodes.setdefault(draft.name, draft.stat().st_ino) == draft.stat().st_ino
        if code == 0:
            break
        assert code == -signal.SIGKILL
        kills += 1
    assert _run(config, store, out) == 0

    with SQLiteStore(store) as opened:
        assert not opened.actions(status=ActionStatus.PENDING)
        assert not opened.actions(status=ActionStatus.RUNNING)
        outbox = opened.outbox()
    keys = [entry.key for entry in outbox]
    assert len(keys) == len(set(keys))
    console = [e for e in outbox if e.handler == "console"]
    expected = collections.Counter(e.summary.split(": ", 1)[0] for e in console)
    printed = collections.Counter(HEADER.findall(out.read_text(encoding="utf-8")))
    assert console and printed
    assert not printed - expected, f"printed more than once: {printed - expected}"
    draft_entries = [e for e in outbox if e.kind == "draft_email"]
    assert len(list(drafts.glob("*.eml"))) == len(draft_entries) >= 1
    return kills


def test_sigkill_at_random_points_repeats_no_side_effect(tmp_path):
    # A round ends when a run finishes, and a random-moment kill can come after the run is done,
    # so how many kills one round gets depends on the machine's speed: play rounds until 16.
    rng = random.Random(1407)
    kills = rounds = 0
    while kills < 16 and rounds < 5:
        kills += _round(tmp_path / f"round{rounds}", rng)
        rounds += 1
    assert kills >= 16


def test_the_kit_helper_shows_a_keyed_drafter_makes_one_draft(planned, tmp_path):
    from ticketspike.builtin.email_drafter import EmailDrafter
    from ticketspike.store.codec import action_from_json

    _, store = planned
    with SQLiteStore(store) as opened:
        record = next(r for r in opened.actions() if r.kind == "draft_email")
        stored = opened.plan(record.plan_id)
    assert stored is not None
    action = action_from_json(record.action)
    assert isinstance(action, DraftEmail)

    class Ctx:
        key = action.key
        now = stored.created_at
        plan = stored.plan
        state_dir = None
        account = None

        def result_of(self, key):
            return None

    drafts = tmp_path / "kit-drafts"
    result = execute_killed_after_effect(EmailDrafter(drafts_dir=drafts), action, Ctx())

    assert result.ref["draft_id"] == action.key
    assert len(list(drafts.glob("*.eml"))) == 1
    assert not list(drafts.glob("*.tmp"))
