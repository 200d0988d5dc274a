"""The executor: once per key, retries for transient failures only, visible failures, order."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ticketspike.errors import TransientDeliveryError
from ticketspike.executor import Executor, RetryPolicy
from ticketspike.planner.plan import Action, ChannelPost, EscalationPlan, ThreadReply
from ticketspike.roles import ActionContext, ActionHandler, ActionResult, PluginConfig
from ticketspike.signals import TransitionKind
from ticketspike.store import ActionStatus, MemoryStore, SQLiteStore, Store
from ticketspike.testing import (
    FailingNotifier,
    FixedClock,
    FlakyNotifier,
    RecordingNotifier,
    RecordingSleep,
    StaticPlugin,
    clean_plugins,
    sample_account,
    sample_plan,
    sample_transition,
)

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def handlers_with(*notifiers: object) -> dict[str, ActionHandler]:
    plugins = clean_plugins(StaticPlugin(notifiers=list(notifiers)))  # type: ignore[arg-type]
    return plugins.action_handlers(PluginConfig())


def recorded_plan(store: Store, kind: TransitionKind = TransitionKind.OPENED) -> EscalationPlan:
    transition = sample_transition(kind)
    plan = sample_plan(transition, sample_account())
    store.record_transition(transition, plan, at=T0)
    return plan


def executor(store: Store, handlers: Mapping[str, ActionHandler], **options: object) -> Executor:
    options.setdefault("sleep", RecordingSleep())
    return Executor(
        store, handlers, accounts=lambda _c: sample_account(), clock=FixedClock(T0), **options
    )  # type: ignore[arg-type]


def test_every_action_runs_once_and_lands_in_the_outbox() -> None:
    store = MemoryStore()
    plan = recorded_plan(store)
    notifier = RecordingNotifier()
    report = executor(store, handlers_with(notifier)).run_pending()
    assert list(report.done) == [a.key for a in plan.actions]
    assert [e.key for e in store.outbox()] == [a.key for a in plan.actions]
    notified = [a.key for a in plan.actions if a.kind in notifier.kinds]
    assert notifier.keys() == notified
    assert all(d.account == sample_account() and d.now == T0 for d in notifier.delivered)
    # A second run, or a second executor on the same store, does nothing.
    assert executor(store, handlers_with(notifier)).run_pending().done == ()
    assert notifier.keys() == notified


def test_done_keys_are_never_run_again_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        plan = recorded_plan(store)
        executor(store, handlers_with(RecordingNotifier())).run_pending()
    fresh = RecordingNotifier()
    with SQLiteStore(path) as store:
        assert executor(store, handlers_with(fresh)).run_pending().done == ()
        assert len(store.outbox()) == len(plan.actions)
    assert fresh.delivered == []


def test_transient_failures_are_retried_until_the_message_gets_out_once() -> None:
    store = MemoryStore()
    plan = recorded_plan(store)
    flaky = FlakyNotifier(failures=3)
    sleep = RecordingSleep()
    report = executor(store, handlers_with(flaky), sleep=sleep).run_pending()
    assert report.failed == ()
    first = plan.actions[0].key
    # Three failures then success on the first notification; the rest go straight out.
    assert flaky.keys() == [a.key for a in plan.actions if a.kind in flaky.kinds]
    assert flaky.keys().count(first) == 1
    assert [(a.number, a.outcome) for a in store.attempts(first)] == [
        (1, "transient"),
        (2, "transient"),
        (3, "transient"),
        (4, "done"),
    ]
    record = store.action(first)
    assert record is not None and (record.status, record.attempts) == (ActionStatus.DONE, 4)
    assert sleep.waits == [1.0, 2.0, 4.0]  # exponential backoff, no real waiting


def test_retry_after_from_the_service_is_honoured() -> None:
    store = MemoryStore()
    plan = recorded_plan(store)
    flaky = FlakyNotifier(failures=2, retry_after=7.5)
    sleep = RecordingSleep()
    wall = [1_000_000.0]
    run = executor(store, handlers_with(flaky), sleep=sleep, wall=lambda: wall[0])
    report = run.run_pending()
    # The first hint is waited out in place; a second would take the waiting past
    # park_after (10 s), so the action is parked for the hint instead.
    assert sleep.waits == [7.5]
    first = plan.actions[0].key
    assert report.parked == (first,) and report.resume_at == 1_000_007.5
    wall[0] += 7.5
    assert first in run.run_pending().done


def test_retry_after_is_capped_so_a_worker_is_not_held_for_hours() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    assert policy.wait(1, 3600.0) == 60.0
    assert policy.wait(6, None) == policy.maximum
    assert policy.wait(2, 0.5) == 2.0


def test_transient_failures_past_the_attempt_limit_fail_visibly() -> None:
    store = MemoryStore()
    plan = recorded_plan(store)
    flaky = FlakyNotifier(failures=1000)
    report = executor(store, handlers_with(flaky), retry=RetryPolicy(max_attempts=3)).run_pending()
    notify_keys = [a.key for a in plan.actions if a.kind in flaky.kinds]
    first = notify_keys[0]
    assert first in report.failed
    record = store.action(first)
    assert record is not None and record.status is ActionStatus.FAILED
    assert record.error is not None and "gave up after 3 attempts" in record.error
    assert len(store.attempts(first)) == 3


def test_a_permanent_failure_is_not_retried_and_the_others_complete() -> None:
    store = MemoryStore()
    plan = recorded_plan(store)
    failing = FailingNotifier(message="channel_not_found")
    report = executor(store, handlers_with(failing)).run_pending()
    notify = {a.key for a in plan.actions if a.kind in failing.kinds}
    depends = {a.key for a in plan.actions if set(a.depends_on) & notify}
    assert set(report.failed) == notify
    assert failing.calls == len(notify)  # once each: never retried
    others = {a.key for a in plan.actions} - notify - depends
    assert others and others <= set(report.done)
    failed = store.actions(status=ActionStatus.FAILED)
    assert {r.error for r in failed} == {"channel_not_found"}
    assert {r.handler for r in failed} == {"failing"}


def test_failed_actions_run_again_on_retry_and_only_they_do() -> None:
    store = MemoryStore()
    plan = recorded_plan(store)
    executor(store, handlers_with(FailingNotifier())).run_pending()
    done_before = {e.key for e in store.outbox()}
    fixed = RecordingNotifier()
    report = executor(store, handlers_with(fixed)).retry_failed()
    assert report.failed == ()
    assert set(fixed.keys()).isdisjoint(done_before)
    assert sorted(e.key for e in store.outbox()) == sorted(a.key for a in plan.actions)


def test_a_plugin_bug_fails_the_action_naming_the_plugin() -> None:
    class Buggy:
        name = "buggy"
        kinds = frozenset({"direct_message"})

        def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
            raise KeyError("oops")

    store = MemoryStore()
    plan = recorded_plan(store)
    report = executor(store, handlers_with(Buggy(), RecordingNotifier())).run_pending()
    dm = [a.key for a in plan.actions if a.kind == "direct_message"]
    assert set(dm) <= set(report.failed)
    record = store.action(dm[0])
    assert record is not None and record.error == "buggy raised KeyError: 'oops'"
    assert len(store.attempts(dm[0])) == 1


def test_a_handler_returning_nonsense_fails_visibly() -> None:
    class Sloppy:
        name = "sloppy"
        kinds = frozenset({"direct_message"})

        def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
            return "sent!"  # type: ignore[return-value]

    store = MemoryStore()
    recorded_plan(store)
    executor(store, handlers_with(Sloppy(), RecordingNotifier())).run_pending()
    failed = store.actions(status=ActionStatus.FAILED)
    assert [f.kind for f in failed] == ["direct_message", "direct_message"]  # CSM and manager
    assert {f.error for f in failed} == {"sloppy returned str, not an ActionResult"}


def test_an_action_nobody_serves_fails_with_a_hint() -> None:
    store = MemoryStore()
    recorded_plan(store)
    handlers = {k: v for k, v in handlers_with(RecordingNotifier()).items() if k != "create_task"}
    executor(store, handlers).run_pending()
    [failed] = store.actions(status=ActionStatus.FAILED)
    assert failed.kind == "create_task"
    assert failed.error is not None and "no plugin serves action kind 'create_task'" in failed.error


def test_a_reply_waits_for_its_thread_and_sees_its_result() -> None:
    store = MemoryStore()
    opened = recorded_plan(store)
    escalated = recorded_plan(store, TransitionKind.ESCALATED)
    thread_root = next(a for a in opened.actions if isinstance(a, ChannelPost))
    replies = [a for a in escalated.actions if isinstance(a, ThreadReply)]
    assert replies and all(r.thread_key == thread_root.key for r in replies)
    seen: list[ActionResult | None] = []

    class Threads(RecordingNotifier):
        def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
            if isinstance(action, ThreadReply):
                seen.append(ctx.result_of(action.thread_key))
            return super().execute(action, ctx)

    # The thread's post fails first: the reply must wait, not run.
    failing = FailingNotifier()
    first = executor(store, handlers_with(failing)).run_pending()
    assert {r.key for r in replies} <= set(first.waiting)
    assert all(
        (rec := store.action(r.key)) is not None and rec.status is ActionStatus.PENDING
        for r in replies
    )
    notifier = Threads()
    executor(store, handlers_with(notifier)).retry_failed()
    keys = notifier.keys()
    assert keys.index(thread_root.key) < keys.index(replies[0].key)
    assert seen and seen[0] is not None and seen[0].ref["channel"] == thread_root.channel


def test_dry_run_executes_nothing() -> None:
    store = MemoryStore()
    plan = recorded_plan(store)
    notifier = RecordingNotifier()
    report = executor(store, handlers_with(notifier), dry_run=True).run_pending()
    assert list(report.planned) == [a.key for a in plan.actions]
    assert notifier.delivered == [] and store.outbox() == []
    assert {r.status for r in store.actions()} == {ActionStatus.PENDING}


def test_an_interrupted_run_hands_the_action_back_and_the_next_run_finishes(
    tmp_path: Path,
) -> None:
    """SystemExit between two actions: the rerun completes the plan, each action once."""
    path = tmp_path / "s.db"

    class ExitOnThird(RecordingNotifier):
        def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
            if len(self.delivered) == 2:
                raise SystemExit(3)
            return super().execute(action, ctx)

    with SQLiteStore(path) as store:
        plan = recorded_plan(store)
        first = ExitOnThird()
        with pytest.raises(SystemExit):
            executor(store, handlers_with(first)).run_pending()
        assert store.running_actions() == []
        interrupted = [a for a in store.attempts() if a.outcome == "interrupted"]
        assert len(interrupted) == 1
    second = RecordingNotifier()
    with SQLiteStore(path) as store:
        executor(store, handlers_with(second)).run_pending()
        outbox = [e.key for e in store.outbox()]
    assert sorted(outbox) == sorted(a.key for a in plan.actions)
    assert len(outbox) == len(set(outbox))
    assert set(first.keys()).isdisjoint(second.keys())
    assert sorted(first.keys() + second.keys()) == sorted(
        a.key for a in plan.actions if a.kind in first.kinds
    )


KILLED_RUN = """
import sys, time
from datetime import datetime, timezone
from ticketspike.executor import Executor
from ticketspike.roles import PluginConfig
from ticketspike.store import SQLiteStore
from ticketspike.testing import RecordingNotifier, StaticPlugin, clean_plugins

class Hangs(RecordingNotifier):
    def execute(self, action, ctx):
        if self.delivered:
            print("hanging", flush=True)
            time.sleep(600)  # killed here, between two actions
        result = super().execute(action, ctx)
        with open(sys.argv[2], "a") as log:
            log.write(action.key + "\\n")
        return result

store = SQLiteStore(sys.argv[1])
handlers = clean_plugins(StaticPlugin(notifiers=[Hangs()])).action_handlers(PluginConfig())
Executor(store, handlers, clock=lambda: datetime(2026, 3, 2, tzinfo=timezone.utc)).run_pending()
"""


@pytest.mark.skipif(os.name == "nt", reason="uses SIGKILL")
def test_a_killed_process_is_recognised_and_its_action_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    log = tmp_path / "delivered.log"
    with SQLiteStore(path) as store:
        plan = recorded_plan(store)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(path), str(log)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "hanging"
    proc.kill()
    proc.communicate(timeout=30)  # reaps it and closes its stdout pipe
    with SQLiteStore(path) as store:
        assert len(store.running_actions()) == 1  # left behind by the dead process
        notifier = RecordingNotifier()
        executor(store, handlers_with(notifier)).run_pending()
        assert store.running_actions() == []
        outbox = [e.key for e in store.outbox()]
        interrupted = [a for a in store.attempts() if a.outcome == "interrupted"]
    assert len(interrupted) == 1
    assert sorted(outbox) == sorted(a.key for a in plan.actions)
    delivered = log.read_text().split() + notifier.keys()
    expected = [a.key for a in plan.actions if a.kind in notifier.kinds]
    assert sorted(delivered) == sorted(expected)  # each notification exactly once


def test_a_running_action_with_a_live_lease_is_left_alone() -> None:
    store = MemoryStore()
    plan = recorded_plan(store)
    key = plan.actions[0].key
    store.claim_action(key, owner="otherhost:1:abc", lease_until=1e12, at=T0)
    notifier = RecordingNotifier()
    executor(store, handlers_with(notifier)).run_pending()
    assert key not in notifier.keys()
    record = store.action(key)
    assert record is not None and record.status is ActionStatus.RUNNING


def test_an_expired_lease_is_taken_over() -> None:
    store = MemoryStore()
    plan = recorded_plan(store)
    key = plan.actions[0].key
    store.claim_action(key, owner="otherhost:1:abc", lease_until=100.0, at=T0)
    notifier = RecordingNotifier()
    executor(store, handlers_with(notifier), wall=lambda: 200.0).run_pending()
    assert key in notifier.keys()


def test_transient_error_carries_the_hint() -> None:
    assert TransientDeliveryError("x", retry_after=3).retry_after == 3
