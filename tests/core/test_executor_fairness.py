"""A fair executor: a long Retry-After or a service that is down parks actions, never the run.

Finding 9 of the hostile-conditions report: a permanent ``Retry-After: 3600`` for one customer
held the single executor for 2,400 s of capped waits before anyone else's alerts went out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import attrs
import pytest

from ticketspike.errors import TransientDeliveryError
from ticketspike.executor import Executor, RetryPolicy
from ticketspike.planner.plan import Action
from ticketspike.roles import ActionContext, ActionHandler, ActionResult, PluginConfig
from ticketspike.signals import TransitionKind
from ticketspike.store import ActionStatus, MemoryStore, SQLiteStore, Store
from ticketspike.testing import (
    FixedClock,
    RecordingNotifier,
    RecordingSleep,
    StaticPlugin,
    clean_plugins,
    sample_account,
    sample_plan,
    sample_transition,
)

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
WALL0 = 1_772_452_800.0


@attrs.define(eq=False)
class RateLimitedFor(RecordingNotifier):
    """Answers every action of ``customer`` with a 429 and ``Retry-After``; delivers the rest."""

    name: str = "ratelimited"
    customer: str = "hot"
    retry_after: float | None = 3600.0
    refused: list[str] = attrs.field(factory=list)

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        if ctx.plan.customer_id == self.customer and self.retry_after != 0:
            self.refused.append(action.key)
            raise TransientDeliveryError("429 rate limited", retry_after=self.retry_after)
        return super().execute(action, ctx)


@attrs.define(eq=False)
class Unreachable(RecordingNotifier):
    """A service that refuses every connection (no hint), until ``up`` is set."""

    name: str = "unreachable"
    up: bool = False
    calls: int = 0

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        self.calls += 1
        if not self.up:
            raise TransientDeliveryError("connection refused")
        return super().execute(action, ctx)


def handlers(*notifiers: object) -> dict[str, ActionHandler]:
    plugins = clean_plugins(StaticPlugin(notifiers=list(notifiers)))  # type: ignore[arg-type]
    return plugins.action_handlers(PluginConfig())


def record(store: Store, customer: str, kind: TransitionKind = TransitionKind.OPENED) -> list[str]:
    transition = sample_transition(kind, customer_id=customer, episode_id=f"ep_{customer}")
    plan = sample_plan(transition, sample_account(customer))
    store.record_transition(transition, plan, at=T0)
    return [a.key for a in plan.actions]


class Wall:
    def __init__(self) -> None:
        self.now = WALL0

    def __call__(self) -> float:
        return self.now


def make(
    store: Store, handler_map: Mapping[str, ActionHandler], wall: Wall, **options: object
) -> tuple[Executor, RecordingSleep]:
    sleep = RecordingSleep()
    executor = Executor(
        store,
        handler_map,
        accounts=sample_account,
        clock=FixedClock(T0),
        sleep=sleep,
        wall=wall,
        **options,  # type: ignore[arg-type]
    )
    return executor, sleep


def kinds_of(store: Store, keys: list[str], kinds: frozenset[str]) -> list[str]:
    return [k for k in keys if (r := store.action(k)) is not None and r.kind in kinds]


def test_a_long_retry_after_parks_that_customer_and_everyone_else_goes_out(
    tmp_path: Path,
) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        hot = record(store, "hot")
        others = [record(store, f"calm{n}") for n in range(5)]
        notifier = RateLimitedFor()
        wall = Wall()
        executor, sleep = make(store, handlers(notifier), wall)
        report = executor.run_pending()

        # Nobody waited on the hour: not one sleep, and every other customer's alert is out.
        assert sleep.waits == []
        for keys in others:
            assert set(kinds_of(store, keys, notifier.kinds)) <= set(report.done)
        hot_notes = kinds_of(store, hot, notifier.kinds)
        assert set(hot_notes) == set(report.parked)
        assert report.resume_at == WALL0 + 3600.0
        for key in hot_notes:
            row = store.action(key)
            assert row is not None and row.status is ActionStatus.PENDING and row.attempts == 1
            parked = store.parked_actions()[key]
            assert (parked.until, parked.customer_id) == (WALL0 + 3600.0, "hot")
        assert store.running_actions() == []

        # The customer's dependent actions (replies in the thread) wait with the parked post.
        escalated = record(store, "hot", TransitionKind.ESCALATED)
        report = executor.run_pending()
        dependents = [k for k in escalated if store.action(k).depends_on]  # type: ignore[union-attr]
        assert dependents and set(dependents) <= set(report.waiting)
        # Nothing parked was tried again before its time (new, independent actions were).
        assert sorted(k for k in notifier.refused if k in hot_notes) == sorted(hot_notes)

        # At its time the parked action runs again, once; the dependents follow.
        notifier.retry_after = 0
        wall.now += 3600.0
        report = executor.run_pending()
        assert set(hot_notes) | set(dependents) <= set(report.done)
        assert store.parked_actions() == {}
        assert sorted(notifier.keys()).count(hot_notes[0]) == 1


def test_a_run_against_a_service_that_is_down_ends_promptly(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        keys = [k for n in range(20) for k in record(store, f"c{n}")]
        down = Unreachable()
        wall = Wall()
        executor, sleep = make(store, handlers(down), wall)
        report = executor.run_pending()

        policy = RetryPolicy()
        assert sum(sleep.waits) <= policy.park_after  # one action's in-place backoff at most
        notes = kinds_of(store, keys, down.kinds)
        assert set(report.parked) == set(notes) and report.failed == ()
        # Only the first action was tried; the rest were parked without waiting on it again.
        first_tried = {a.key for a in store.attempts() if a.outcome == "transient"}
        assert len(first_tried) == 1
        # Actions of other kinds (tasks, drafts...) were not held back.
        assert set(keys) - set(notes) <= set(report.done)
        assert store.running_actions() == []

        # The service comes back: at the parked time every notification goes out once.
        down.up = True
        wall.now = report.resume_at or wall.now
        report = executor.run_pending()
        assert set(notes) <= set(report.done)
        assert sorted(down.keys()) == sorted(notes)


def test_an_action_parked_too_often_fails_visibly_and_retry_resumes_it() -> None:
    store = MemoryStore()
    keys = record(store, "hot")
    notifier = RateLimitedFor(retry_after=60.0)
    wall = Wall()
    executor, _ = make(store, handlers(notifier), wall, retry=RetryPolicy(max_parks=2))
    first = kinds_of(store, keys, notifier.kinds)[0]
    for _ in range(2):
        assert first in executor.run_pending().parked
        wall.now += 60.0
    report = executor.run_pending()
    assert first in report.failed
    row = store.action(first)
    assert row is not None and row.error is not None and "gave up after 2 parkings" in row.error
    notifier.retry_after = 0
    assert first in executor.retry_failed([first]).done


def test_stop_finishes_the_action_in_hand_and_leaves_the_rest_pending() -> None:
    store = MemoryStore()
    keys = record(store, "acme")
    done: list[str] = []

    class Stopper(RecordingNotifier):
        def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
            done.append(action.key)
            return super().execute(action, ctx)

    executor, _ = make(store, handlers(Stopper()), Wall())
    report = executor.run_pending(stop=lambda: bool(done))
    assert report.done == (done[0],)
    rest = [k for k in keys if k != done[0]]
    assert all(store.action(k).status is ActionStatus.PENDING for k in rest)  # type: ignore[union-attr]
    assert store.running_actions() == []
    assert set(executor.run_pending().done) == set(rest)


def test_stop_during_a_retry_wait_hands_the_action_back_without_parking() -> None:
    store = MemoryStore()
    keys = record(store, "acme")
    stopping = [False]

    class Fails(RecordingNotifier):
        def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
            stopping[0] = True  # SIGTERM arrives while the first attempt fails
            raise TransientDeliveryError("503")

    executor, sleep = make(store, handlers(Fails()), Wall())
    report = executor.run_pending(stop=lambda: stopping[0])
    assert sleep.waits == [] and report.parked == () and report.done == ()
    assert store.parked_actions() == {}
    assert all(store.action(k).status is ActionStatus.PENDING for k in keys)  # type: ignore[union-attr]
    assert [a.outcome for a in store.attempts()] == ["transient"]


@pytest.mark.parametrize("hint", [None, 5.0, 7200.0])
def test_park_delay_follows_the_hint_or_doubles(hint: float | None) -> None:
    policy = RetryPolicy()
    first, later = policy.park_delay(1, hint), policy.park_delay(4, hint)
    if hint is None:
        assert (first, later) == (policy.maximum, policy.maximum * 8)
        assert policy.park_delay(50, None) == 3600.0
    else:
        assert first == later == hint


def test_parking_records_in_every_store(any_store: Store) -> None:
    record(any_store, "acme")
    any_store.park_action("k1", customer_id="acme", until=WALL0 + 5, reason="429 via slack")
    any_store.park_action("k1", customer_id="acme", until=WALL0 + 9, reason="429 again")
    parked = any_store.parked_actions()["k1"]
    assert (parked.until, parked.parks, parked.reason) == (WALL0 + 9, 2, "429 again")
    assert parked.to_json()["until"].startswith("2026-03-02T12:00:09")
    assert any_store.unpark_action("k1") and not any_store.unpark_action("k1")
    assert any_store.parked_actions() == {}
