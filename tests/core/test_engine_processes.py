"""Exactly once across processes: reruns, crashes, concurrent runs, and a real plugin distribution.

A tiny plugin distribution is written to a temporary directory (a module plus a ``.dist-info``
with its entry point) and put on ``PYTHONPATH``, so ``ticketspike`` loads it through the real
entry-point machinery. Its notifier appends every delivered key to a log file, which is the
ground truth for "each action executed once".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ticketspike.engine import Engine
from ticketspike.store import ActionStatus, SQLiteStore
from ticketspike.testing import (
    FixedClock,
    RecordingNotifier,
    StaticPlugin,
    clean_plugins,
    sample_account,
    ticket_event,
)

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SPIKE_DAY = START + timedelta(days=40)

PLUGIN = '''
"""tiny-notifier: a test plugin whose behaviour its config section chooses."""
import os
import time

from ticketspike import ActionResult, PermanentDeliveryError, hookimpl


class TinyNotifier:
    name = "tiny"
    kinds = frozenset({"direct_message", "channel_post", "thread_reply", "update_message",
                       "notify_team"})

    def __init__(self, mode, log, hang_after):
        self.mode, self.log, self.hang_after, self.count = mode, log, hang_after, 0

    def execute(self, action, ctx):
        if self.mode == "fail":
            raise PermanentDeliveryError("tiny: channel_not_found")
        if self.hang_after is not None and self.count >= self.hang_after:
            open(self.log + ".hanging", "w").close()
            time.sleep(600)  # the test kills the process here, between two actions
        self.count += 1
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (action.key + "\\n").encode())
        os.close(fd)
        return ActionResult(ref={"channel": "tiny", "ts": str(self.count)}, summary="tiny")


@hookimpl
def register_action_handlers(register, config):
    section = config.section("tiny")
    if section is None:
        return
    register(TinyNotifier(section.get_str("mode", "ok"), section.get_str("log"),
                          section.get_int("hang_after")))
'''


def install_tiny_plugin(site: Path) -> None:
    site.mkdir(parents=True, exist_ok=True)
    (site / "tiny_notifier.py").write_text(PLUGIN)
    info = site / "tiny_notifier-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-notifier\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ticketspike]\ntiny = tiny_notifier\n")


def write_tickets(path: Path) -> int:
    lines = []
    for day in range(40):
        for k in range(2):
            at = START + timedelta(days=day, hours=9 + 4 * k)
            lines.append(
                ticket_event(
                    f"H{day}-{k}",
                    "techcorp",
                    at,
                    category="training",
                    subject="How do I export reports",
                ).ticket.to_json()
            )
    for i in range(15):
        at = SPIKE_DAY + timedelta(minutes=50 * i)
        lines.append(
            ticket_event(
                f"S{i}",
                "techcorp",
                at,
                priority="P1" if i < 3 else "P2",
                subject="API returning 500 errors",
            ).ticket.to_json()
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return len(lines)


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    site = tmp_path / "site"
    install_tiny_plugin(site)
    tickets = tmp_path / "tickets.jsonl"
    write_tickets(tickets)
    (tmp_path / "accounts.yaml").write_text(
        "- id: techcorp\n  name: TechCorp Inc\n  csm: {name: Mike Johnson, slack_id: U1}\n"
        "  champion: {name: Dana Lee, email: dana@techcorp.example}\n"
    )
    return {
        "site": site,
        "tickets": tickets,
        "store": tmp_path / "store.sqlite3",
        "log": tmp_path / "delivered.log",
        "dir": tmp_path,
    }


def config(world: dict[str, Path], mode: str = "ok", hang_after: int | None = None) -> Path:
    path = world["dir"] / f"ticketspike-{mode}-{hang_after}.yaml"
    hang = f"\n    hang_after: {hang_after}" if hang_after is not None else ""
    path.write_text(
        f"accounts: accounts.yaml\nplugins:\n  tiny:\n    mode: {mode}\n"
        f"    log: {world['log']}{hang}\n"
    )
    return path


def cli(world: dict[str, Path], *args: str | Path) -> list[str]:
    return [sys.executable, "-m", "ticketspike", *map(str, args)]


def env(world: dict[str, Path]) -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(
        [str(world["site"]), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    out["NO_PROXY"] = "127.0.0.1,localhost"
    return out


def run(world: dict[str, Path], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli(world, *args), env=env(world), capture_output=True, text=True, timeout=120
    )


def delivered(world: dict[str, Path]) -> list[str]:
    return world["log"].read_text().split() if world["log"].exists() else []


def outbox_count(world: dict[str, Path]) -> int:
    with SQLiteStore(world["store"], create=False) as store:
        return len(store.outbox())


def test_the_plugin_distribution_is_found_through_its_entry_point(world: dict[str, Path]) -> None:
    done = run(world, "plugins", "--format", "json")
    assert done.returncode == 0, done.stderr
    infos = {i["name"]: i for i in json.loads(done.stdout)}
    assert infos["tiny"]["distribution"] == "tiny-notifier"
    assert infos["tiny"]["roles"] == ["action handler"]


def test_running_twice_executes_nothing_twice(world: dict[str, Path]) -> None:
    cfg = config(world)
    first = run(world, "run", world["tickets"], "--store", world["store"], "--config", cfg)
    assert first.returncode == 0, first.stderr
    assert "opened" in first.stdout
    count = outbox_count(world)
    sent = delivered(world)
    assert count > 5 and sent and len(sent) == len(set(sent))
    second = run(world, "run", world["tickets"], "--store", world["store"], "--config", cfg)
    assert second.returncode == 0, second.stderr
    assert "0 new" in second.stdout and "none new" in second.stdout
    assert outbox_count(world) == count
    assert delivered(world) == sent


def test_killed_between_two_actions_then_run_again_completes_each_once(
    world: dict[str, Path],
) -> None:
    proc = subprocess.Popen(
        cli(
            world,
            "run",
            world["tickets"],
            "--store",
            world["store"],
            "--config",
            config(world, hang_after=2),
        ),
        env=env(world),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The marker appears once the third message has started, so the second is recorded.
        hanging = Path(str(world["log"]) + ".hanging")
        deadline = time.monotonic() + 60
        while not hanging.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the run never got to its third message"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.communicate(timeout=30)  # reaps it and closes the stderr pipe
    assert len(delivered(world)) == 2
    again = run(
        world, "run", world["tickets"], "--store", world["store"], "--config", config(world)
    )
    assert again.returncode == 0, again.stderr
    sent = delivered(world)
    assert len(sent) == len(set(sent)), "an action was executed twice"
    with SQLiteStore(world["store"], create=False) as store:
        notify = [
            a.key
            for a in store.actions()
            if a.kind
            in {"direct_message", "channel_post", "thread_reply", "update_message", "notify_team"}
        ]
        assert sorted(sent) == sorted(notify)
        assert {a.status for a in store.actions()} == {ActionStatus.DONE}
        assert any(a.outcome == "interrupted" for a in store.attempts())


def test_two_concurrent_runs_on_one_store_alert_once(world: dict[str, Path]) -> None:
    cfg = config(world)
    procs = [
        subprocess.Popen(
            cli(world, "run", world["tickets"], "--store", world["store"], "--config", cfg),
            env=env(world),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    sent = delivered(world)
    assert sent and len(sent) == len(set(sent))
    with SQLiteStore(world["store"], create=False) as store:
        assert len(store.transitions()) == len(
            {(t.episode_id, t.kind) for t in store.transitions()}
        )
        assert len(store.outbox()) == len(store.actions())


def test_failed_for_good_is_visible_and_retry_finishes_the_job(world: dict[str, Path]) -> None:
    failing = run(
        world,
        "run",
        world["tickets"],
        "--store",
        world["store"],
        "--config",
        config(world, mode="fail"),
    )
    assert failing.returncode == 1
    assert "failed: " in failing.stdout and "tiny: channel_not_found" in failing.stdout
    listing = run(world, "outbox", "--store", world["store"])
    assert "failed for good" in listing.stdout
    everything = run(world, "outbox", "--store", world["store"], "--all", "--format", "json")
    records = json.loads(everything.stdout)
    failed = {r["key"] for r in records if r["status"] == "failed"}
    waiting = [r for r in records if r["status"] == "pending"]
    assert failed and any(r["status"] == "done" for r in records)  # the others completed
    assert all(set(r["depends_on"]) & failed for r in waiting)  # replies wait for their thread
    retried = run(world, "retry", "--store", world["store"], "--config", config(world))
    assert retried.returncode == 0, retried.stderr
    assert "0 failed" in retried.stdout
    with SQLiteStore(world["store"], create=False) as store:
        assert {a.status for a in store.actions()} == {ActionStatus.DONE}
    nothing = run(world, "retry", "--store", world["store"], "--config", config(world))
    assert nothing.stdout.strip() == "No failed actions."


def test_two_engines_on_one_file_share_detector_state_and_alert_once(tmp_path: Path) -> None:
    """Half the tickets through one engine, half through another: one spike, one alert."""
    path = tmp_path / "s.db"
    events = sorted(
        [
            ticket_event(
                f"H{d}-{k}",
                "techcorp",
                START + timedelta(days=d, hours=9 + 4 * k),
                category="training",
                subject="How do I export reports",
            )
            for d in range(40)
            for k in range(2)
        ]
        + [
            ticket_event(
                f"S{i}",
                "techcorp",
                SPIKE_DAY + timedelta(minutes=50 * i),
                subject="API returning 500 errors",
            )
            for i in range(15)
        ],
        key=lambda e: e.at,
    )
    notifiers = [RecordingNotifier(), RecordingNotifier()]
    engines = [
        Engine(
            store=SQLiteStore(path),
            clock=FixedClock(SPIKE_DAY + timedelta(hours=14)),
            plugins=clean_plugins(
                StaticPlugin(notifiers=[n]), StaticPlugin(directories=[_Accounts()])
            ),
        )
        for n in notifiers
    ]
    try:
        for i, event in enumerate(events):
            engines[i % 2].ingest(event)
        for engine in engines:
            engine.ingest_many(events)  # and both see everything again
        keys = notifiers[0].keys() + notifiers[1].keys()
        assert keys and len(keys) == len(set(keys))
        opened = [t for t in engines[0].store.transitions() if t.kind == "opened"]
        assert len(opened) == 1
    finally:
        for engine in engines:
            engine.store.close()


class _Accounts:
    name = "accounts"

    def get_account(self, customer_id: str):  # type: ignore[no-untyped-def]
        return sample_account(customer_id)
