"""What the executor says while it retries: one line per retry, one when it gives up."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from ticketspike.errors import TransientDeliveryError
from ticketspike.executor import Executor, RetryPolicy
from ticketspike.planner.plan import Action
from ticketspike.roles import ActionContext, ActionHandler, ActionResult, PluginConfig
from ticketspike.signals import TransitionKind
from ticketspike.store import MemoryStore
from ticketspike.testing import (
    FixedClock,
    FlakyNotifier,
    RecordingSleep,
    StaticPlugin,
    clean_plugins,
    sample_account,
    sample_plan,
    sample_transition,
)

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
WALL = 1_772_452_800.0  # 2026-03-02T12:00:00Z
SECRET = "xoxb-very-secret-token"


def run(notifier: object, retry: RetryPolicy) -> tuple[MemoryStore, list[str]]:
    store = MemoryStore()
    transition = sample_transition(TransitionKind.OPENED)
    plan = sample_plan(transition, sample_account())
    store.record_transition(transition, plan, at=T0)
    plugins = clean_plugins(StaticPlugin(notifiers=[notifier]))  # type: ignore[list-item]
    handlers: dict[str, ActionHandler] = plugins.action_handlers(PluginConfig())
    Executor(
        store,
        handlers,
        clock=FixedClock(T0),
        retry=retry,
        sleep=RecordingSleep(),
        wall=lambda: WALL,
    ).run_pending()
    return store, [a.key for a in plan.actions if a.kind in notifier.kinds]  # type: ignore[attr-defined]


def test_each_retry_is_one_line_with_action_error_class_and_next_attempt(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="ticketspike.executor")
    flaky = FlakyNotifier(failures=2)
    _store, keys = run(flaky, RetryPolicy(max_attempts=5, initial=1.0, multiplier=2.0))
    lines = [r.getMessage() for r in caplog.records if r.name == "ticketspike.executor"]
    first = keys[0]
    assert lines[:2] == [
        f"action {first} (direct_message via flaky): attempt 1 of 5 failed "
        "(TransientDeliveryError); next attempt in 1.0 s at 12:00:01 UTC",
        f"action {first} (direct_message via flaky): attempt 2 of 5 failed "
        "(TransientDeliveryError); next attempt in 2.0 s at 12:00:02 UTC",
    ]
    assert len(lines) == 2  # then it succeeded: no more lines


class Down:
    """Always unreachable, with a message quoting a secret and hostile text."""

    name = "down"
    kinds = frozenset({"direct_message", "channel_post", "thread_reply", "notify_team"})

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        raise TransientDeliveryError(f"cannot reach {SECRET}\nFORGED log line")


def test_giving_up_is_one_line_and_no_line_carries_error_text(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="ticketspike.executor")
    store, keys = run(Down(), RetryPolicy(max_attempts=2, initial=0.5))
    lines = [r.getMessage() for r in caplog.records if r.name == "ticketspike.executor"]
    first = keys[0]
    record = store.action(first)
    assert record is not None and record.status.value == "failed"
    mine = [line for line in lines if line.startswith(f"action {first} ")]
    assert mine == [
        f"action {first} ({record.kind} via down): attempt 1 of 2 failed "
        "(TransientDeliveryError); next attempt in 0.5 s at 12:00:00 UTC",
        f"action {first} ({record.kind} via down) gave up after 2 attempts "
        "(TransientDeliveryError); `ticketspike retry` runs it again",
    ]
    assert all(SECRET not in line and "FORGED" not in line and "\n" not in line for line in lines)
    failed = [k for k in keys if store.action(k).status.value == "failed"]  # type: ignore[union-attr]
    assert len([line for line in lines if "gave up" in line]) == len(failed) > 0


@pytest.fixture(autouse=True)
def _propagate() -> None:
    logging.getLogger("ticketspike.executor").propagate = True
