"""Exactly once means the side effect: real SIGKILLs, including between effect and record.

The executor runs in a subprocess over a real SQLite store with the built-in handlers
(console notifier, e-mail drafter writing ``.eml`` files, outbox sinks). It is killed with
SIGKILL again and again: right after a handler's side effect and before the executor records
it (:class:`ticketspike.testing.KillAfterEffect`), and at random moments. Restarted each time,
it finishes the plan; then every console message, draft file and outbox entry exists once.

Each run is a fresh process forked from a parent that imported ticketspike once (a real
process, a real SIGKILL, its own SQLite connection): the runs skip the interpreter's start-up,
which is most of a run's time and none of what is under test.
"""

from __future__ import annotations

import collections
import os
import random
import re
import shutil
import signal
import subprocess
import sys
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

# Reads "config<TAB>store<TAB>after<TAB>out<TAB>kill_at" lines; forks a run of DRIVER for each
# (stdout appended to ``out``), SIGKILLs it ``kill_at`` seconds in unless it ended, and
# answers its exit code (negative: the signal) on a line.
FORKER = """
import os, signal, sys, time
import ticketspike.engine, ticketspike.testing  # imported once; every run is a fork

driver = compile(sys.argv[1], "driver", "exec")
for line in sys.stdin:
    config, store, after, out, kill_at = line.rstrip("\\n").split("\\t")
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT), 1)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        sys.argv = ["driver", config, store, after]
        try:
            exec(driver, {"__name__": "__main__"})
            sys.stdout.flush()
        except BaseException:
            os._exit(1)
        os._exit(0)
    deadline = time.monotonic() + float(kill_at) if kill_at else None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG if deadline else 0)
        if done:
            break
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = None
        else:
            time.sleep(0.005)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""


class Forker:
    """The forking parent process of :data:`FORKER`."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FORKER, DRIVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(
        self, config: Path, store: Path, out: Path, *, after: int, kill_at: float | None
    ) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        kill = "" if kill_at is None else repr(kill_at)
        self.proc.stdin.write(f"{config}\t{store}\t{after}\t{out}\t{kill}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        assert answer, "the forking parent died"
        return int(answer)

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(60)
        self.proc.stdout.close()


def _data(name: str) -> Path:
    return Path(str(resources.files("ticketspike.data").joinpath(name)))


def _config(folder: Path) -> Path:
    config = folder / "ticketspike.yaml"
    demo = _data("demo.yaml").read_text(encoding="utf-8")
    demo = demo.replace("accounts: demo_accounts.yaml", f"accounts: {_data('demo_accounts.yaml')}")
    demo = demo.replace("drafts_dir: drafts", f"drafts_dir: {folder / 'drafts'}")
    config.write_text(demo, encoding="utf-8")
    return config


def _plan(folder: Path) -> tuple[Path, Path]:
    """A store holding the demo's escalation plans, every action still pending."""
    folder.mkdir()
    config = _config(folder)
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


def _round(folder: Path, template: Path, forker: Forker, rng: random.Random) -> int:
    """Kill, restart, kill ... until a run finishes; check every effect happened once."""
    folder.mkdir()
    config = _config(folder)
    store = folder / "store.db"
    shutil.copyfile(template, store)  # the planned store, every action pending
    out = folder / "console.txt"
    drafts = folder / "drafts"
    inodes: dict[str, int] = {}
    kills = 0

    def run_once(*, after: int = 0, kill_at: float | None = None) -> int:
        return forker.run(config, store, out, after=after, kill_at=kill_at)

    for run in range(60):
        if run % 3 != 2:  # right after a side effect, before the executor records it
            code = run_once(after=1)
        else:  # at a random moment: starting up, mid-handler, mid-transaction
            code = run_once(kill_at=rng.uniform(0.02, 1.0))
        for draft in drafts.glob("*.eml"):  # a draft, once made, is never rewritten
            assert inodes.setdefault(draft.name, draft.stat().st_ino) == draft.stat().st_ino
        if code == 0:
            break
        assert code == -signal.SIGKILL
        kills += 1
    assert run_once() == 0

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
    _, template = _plan(tmp_path / "plan")
    forker = Forker()
    kills = rounds = 0
    try:
        while kills < 16 and rounds < 8:
            kills += _round(tmp_path / f"round{rounds}", template, forker, rng)
            rounds += 1
    finally:
        forker.close()
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
