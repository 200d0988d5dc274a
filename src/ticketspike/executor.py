"""Carrying out planned actions exactly once, with retries, and recording every attempt.

The executor takes the pending action records from the store, in plan order, and hands each
to the plugin serving its kind. What it promises:

* **Once.** An action is claimed (pending -> running, compare-and-set in the store) before it
  runs and marked done in the same transaction that appends its outbox entry, so a done key is
  never run again, by this process, a restarted one, or a second one on the same store.
* **Retries where they help.** :class:`~ticketspike.errors.TransientDeliveryError` is retried
  with exponential backoff (tenacity), waiting at least the ``retry_after`` the plugin passes on
  from the service; :class:`~ticketspike.errors.PermanentDeliveryError` and plugin bugs are not.
  Every attempt is recorded with its outcome.
* **Fairness.** A wait that would take an action's waiting in one run past ``park_after``
  seconds (a long ``Retry-After``, or backoff that has grown) *parks* the action instead of
  sleeping: it stays pending with a time before which it is not tried
  (:mod:`ticketspike.store.parking`), the actions depending on it wait with it, and everyone
  else's actions go ahead. A handler whose service failed without a hint (unreachable) has the
  rest of its actions in that run parked untried, so a run against a service that is down ends
  promptly. Parked actions run again at their time; after ``max_parks`` parkings one fails
  visibly.
* **Stopping.** ``run_pending(stop=...)`` finishes the running action and leaves the rest
  pending; :meth:`Executor.hand_back` returns a running action to pending when a shutdown
  cannot wait for it any longer.
* **Visible failure.** An action that fails for good is ``failed`` with its error; others still
  run. ``ticketspike retry`` (:meth:`Executor.retry_failed`) puts failed actions back in line.
* **Order.** An action whose ``depends_on`` keys are not done yet waits (a thread reply needs
  its thread); handlers read earlier results through :meth:`ActionContext.result_of`.
* **Crash safety.** A run interrupted by ``SystemExit``/``KeyboardInterrupt`` hands its action
  back; a process killed outright leaves a lease that expires, and on the same host a dead
  owner process is recognised at once, so the next run picks the action up.

The clock is injected (``clock``), as is the sleep between retries (``sleep``), so tests run
the real retry path without waiting.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import tenacity

from . import metrics
from .errors import PermanentDeliveryError, StoreError, TicketspikeError, TransientDeliveryError
from .model import Account
from .planner.plan import Action, EscalationPlan
from .roles import ActionHandler, ActionResult, describe
from .store.base import ActionRecord, ActionStatus, Store
from .store.codec import action_from_json
from .store.interactions import InteractionRecord

__all__ = ["ExecutionReport", "Executor", "RetryPolicy"]

log = logging.getLogger("ticketspike.executor")

_ERROR_LIMIT = 500


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How transient failures are retried.

    The wait before retry *n* is ``initial * multiplier ** (n - 1)``, capped at ``maximum``, and
    never shorter than the service's ``retry_after`` hint (itself capped at
    ``max_retry_after``). A wait that would take an action's waiting in one run past
    ``park_after`` seconds parks the action instead (:meth:`park_delay`), so a hint of an hour
    holds nobody; ``max_parks`` parkings in a row fail it, and ``ticketspike retry`` resumes it.
    """

    max_attempts: int = 5
    initial: float = 1.0
    multiplier: float = 2.0
    maximum: float = 30.0
    max_retry_after: float = 120.0
    park_after: float = 10.0
    max_parks: int = 20
    max_park: float = 86400.0

    def park_delay(self, parks: int, retry_after: float | None) -> float:
        """How long the ``parks``-th parking in a row lasts: the service's hint (up to
        ``max_park``), else ``maximum`` doubling with each parking, up to an hour."""
        if retry_after is not None and retry_after > 0:
            return max(min(retry_after, self.max_park), self.initial)
        return min(3600.0, self.maximum * 2.0 ** max(0, parks - 1))

    def wait(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.maximum, self.initial * self.multiplier ** max(0, attempt - 1))
        if retry_after is not None and retry_after > 0:
            return max(backoff, min(retry_after, self.max_retry_after))
        return backoff


@attrs.frozen
class ExecutionReport:
    """What one run did: keys done, failed for good, waiting on a dependency, parked until a
    later time (the earliest in ``resume_at``, epoch seconds), or (dry run) due."""

    done: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    planned: tuple[str, ...] = ()
    parked: tuple[str, ...] = ()
    resume_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "done": list(self.done),
            "failed": list(self.failed),
            "waiting": list(self.waiting),
            "planned": list(self.planned),
            "parked": list(self.parked),
        }


@attrs.define
class _Context:
    """The :class:`~ticketspike.roles.ActionContext` handed to a handler."""

    _plan: EscalationPlan
    _account: Account | None
    _now: datetime
    _store: Store
    _key: str = ""

    @property
    def plan(self) -> EscalationPlan:
        return self._plan

    @property
    def account(self) -> Account | None:
        return self._account

    @property
    def now(self) -> datetime:
        return self._now

    @property
    def key(self) -> str:
        return self._key

    @property
    def state_dir(self) -> Path | None:
        """A directory beside a file store for a handler's markers; None for a memory store."""
        location = getattr(self._store, "location", "")
        if not isinstance(location, str) or not location or not Path(location).is_file():
            return None
        return Path(location + ".effects")

    def result_of(self, key: str) -> ActionResult | None:
        record = self._store.action(key)
        if record is None or record.status is not ActionStatus.DONE:
            return None
        return ActionResult(ref=dict(record.ref), summary=record.summary)

    def interactions(self) -> Sequence[InteractionRecord]:
        return self._store.interactions(episode_id=self._plan.episode_id)


def _never() -> bool:
    return False


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 1] + "…"


class _Park(Exception):
    """Internal: park the action instead of retrying it in place (never leaves the module)."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Executor:
    """Runs pending actions from a store through the handlers serving their kinds.

    :param store: where the action records live.
    :param handlers: action kind -> handler (``Plugins.action_handlers(config)``).
    :param accounts: customer id -> account context for handlers (or None).
    :param clock: the time recorded on attempts and given to handlers as ``ctx.now``.
    :param retry: the retry policy for transient failures.
    :param sleep: how to wait between attempts (tests pass a recorder).
    :param dry_run: report what would run, run nothing.
    :param lease_seconds: how long a claim holds before another process may take over.
    :param on_done: called inside the transaction that marks an action done (the engine keeps
        the action's record there: :func:`ticketspike.records.record_done_action`).
    """

    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, ActionHandler],
        *,
        accounts: Callable[[str], Account | None] = lambda _cid: None,
        clock: Callable[[], datetime],
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        dry_run: bool = False,
        lease_seconds: float = 600.0,
        wall: Callable[[], float] = time.time,
        on_done: Callable[[ActionRecord, Action, EscalationPlan, datetime], None] | None = None,
    ) -> None:
        self.store = store
        self.on_done = on_done
        self.handlers = dict(handlers)
        self.accounts = accounts
        self.clock = clock
        self.retry = retry if retry is not None else RetryPolicy()
        self.sleep = sleep
        self.dry_run = dry_run
        self.lease_seconds = lease_seconds
        self.wall = wall
        self.host = socket.gethostname()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        # Asked by every run (and ORed with a run's own ``stop``): a host that is shutting
        # down sets it once, whoever calls run_pending (the worker, the engine's tick).
        self.stopping: Callable[[], bool] = _never
        self._stop: Callable[[], bool] = _never
        self._down: set[str] = set()  # handlers that failed without a hint in this run
        self._running: str | None = None  # the key this executor has claimed right now

    # -- public ------------------------------------------------------------
    def run_pending(self, *, stop: Callable[[], bool] | None = None) -> ExecutionReport:
        """Run every pending action whose dependencies are done; see the module docstring.

        :param stop: asked before each action and instead of a retry wait; once it says True
            the run ends after the action in hand, leaving the rest pending. The executor's
            own :attr:`stopping` is asked too.
        """
        self.recover_stale()
        if self.dry_run:
            return ExecutionReport(
                planned=tuple(r.key for r in self.store.actions(status=ActionStatus.PENDING))
            )
        # self.stopping is read at each question: a shutdown may set it during the run.
        self._stop = lambda: (stop is not None and stop()) or self.stopping()
        self._down = set()
        done: list[str] = []
        failed: list[str] = []
        waiting: list[str] = []
        parked: dict[str, float] = {}
        plans: dict[str, EscalationPlan] = {}
        progress = True
        try:
            while progress and not self._stop():
                progress = False
                waiting = []
                now = self.wall()
                parked = {
                    key: row.until
                    for key, row in self.store.parked_actions().items()
                    if row.until > now
                }
                for record in self.store.actions(status=ActionStatus.PENDING):
                    if self._stop():
                        break
                    if record.key in parked:
                        continue
                    outcome = self._run_one(record, plans)
                    if outcome in ("done", "failed"):
                        metrics.action(record.kind, outcome)
                    if outcome == "done":
                        done.append(record.key)
                        progress = True
                    elif outcome == "failed":
                        failed.append(record.key)
                        progress = True
                    elif outcome == "waiting":
                        waiting.append(record.key)
                    elif outcome == "parked":
                        row = self.store.parked_actions().get(record.key)
                        parked[record.key] = row.until if row is not None else now
        finally:
            self._stop = _never
        return ExecutionReport(
            done=tuple(done),
            failed=tuple(failed),
            waiting=tuple(waiting),
            parked=tuple(sorted(parked)),
            resume_at=min(parked.values(), default=None),
        )

    @property
    def running(self) -> str | None:
        """The key of the action this executor is running right now, if any."""
        return self._running

    def hand_back(self, reason: str = "the process is shutting down") -> str | None:
        """Return the action this executor is running (if any) to pending, from any thread.

        For a shutdown whose grace period is over: the handler may still be running, but the
        store will not be there to record its end, so the next start runs it again under the
        same key (handlers use the key, so the side effect still happens once). Returns the
        key handed back.
        """
        key = self._running
        if key is None:
            return None
        self._close_open_attempts(key, outcome="interrupted", error=reason)
        if self.store.release_action(key, owner=self.owner, at=self.clock()):
            log.warning("action %s handed back unfinished: %s", key, reason)
            return key
        return None

    def hand_back_all(self, reason: str) -> list[str]:
        """Return every action this executor still holds ``running`` to pending, closing
        their open attempts: for a run cut short anywhere (even between claiming an action
        and running it), so nothing stays ``running`` behind a closed store."""
        keys: list[str] = []
        for record in self.store.running_actions():
            if record.owner != self.owner:
                continue
            self._close_open_attempts(record.key, outcome="interrupted", error=reason)
            if self.store.release_action(record.key, owner=self.owner, at=self.clock()):
                keys.append(record.key)
        return keys

    def retry_failed(self, keys: Sequence[str] | None = None) -> ExecutionReport:
        """Put failed actions (all, or ``keys``) back to pending, lift their parking (and that
        of parked ones: the operator says now), and run what is pending."""
        if not self.dry_run:
            self.store.reset_failed(keys, at=self.clock())
            for key in self.store.parked_actions():
                if keys is None or key in keys:
                    self.store.unpark_action(key)
        return self.run_pending()

    def recover_stale(self) -> int:
        """Hand back actions whose runner died (lease expired, or a dead process here)."""
        recovered = 0
        now = self.wall()
        for record in self.store.running_actions():
            if record.owner == self.owner:
                continue
            expired = record.lease_until is None or record.lease_until < now
            if not (expired or self._owner_dead(record.owner)):
                continue
            owner = record.owner or ""
            self._close_open_attempts(
                record.key, outcome="interrupted", error="the process running it stopped"
            )
            if self.store.release_action(record.key, owner=owner, at=self.clock()):
                log.warning("action %s was left running by %s; handed back", record.key, owner)
                recovered += 1
        return recovered

    # -- internals ------------------------------------------------------------
    def _owner_dead(self, owner: str | None) -> bool:
        if not owner or os.name == "nt":
            return False
        host, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        if host != self.host or not pid_text.isdigit():
            return False
        pid = int(pid_text)
        return pid != os.getpid() and not _pid_alive(pid)

    def _close_open_attempts(self, key: str, *, outcome: str, error: str) -> None:
        for attempt in self.store.attempts(key):
            if attempt.finished_at is None:
                self.store.finish_attempt(
                    key, attempt.number, outcome=outcome, error=error, at=self.clock()
                )

    def _run_one(self, record: ActionRecord, plans: dict[str, EscalationPlan]) -> str:
        for dep in record.depends_on:
            dep_record = self.store.action(dep)
            if dep_record is None:
                self._fail(record, None, f"depends on {dep!r}, which was never planned")
                return "failed"
            if dep_record.status is not ActionStatus.DONE:
                return "waiting"
        handler = self.handlers.get(record.kind)
        if handler is None:
            self._fail(
                record,
                None,
                f"no plugin serves action kind {record.kind!r}; "
                "install or configure one, then run `ticketspike retry`",
            )
            return "failed"
        claimed = self.store.claim_action(
            record.key,
            owner=self.owner,
            lease_until=self.wall() + self.lease_seconds,
            at=self.clock(),
        )
        if claimed is None:
            return "taken"  # another runner has it, or it finished meanwhile
        self._running = claimed.key
        try:
            return self._run_claimed(claimed, plans, handler)
        finally:
            self._running = None

    def _run_claimed(
        self, claimed: ActionRecord, plans: dict[str, EscalationPlan], handler: ActionHandler
    ) -> str:
        name = describe(handler)
        if name in self._down:
            # Its service failed without a hint earlier in this run: do not wait on it again.
            self.store.release_action(claimed.key, owner=self.owner, at=self.clock())
            return self._park(claimed, None, f"not tried: {name} was unreachable earlier")
        try:
            action = action_from_json(claimed.action)
            plan = plans.get(claimed.plan_id)
            if plan is None:
                plan_record = self.store.plan(claimed.plan_id)
                if plan_record is None:
                    raise StoreError(f"plan {claimed.plan_id!r} is missing from the store")
                plan = plans[claimed.plan_id] = plan_record.plan
        except TicketspikeError as exc:
            self.store.fail_action(
                claimed.key, owner=self.owner, handler=name, error=_short(exc), at=self.clock()
            )
            return "failed"
        try:
            result = self._attempts(claimed, action, plan, handler, name)
        except _Park as parking:
            cause = parking.__cause__
            hint = cause.retry_after if isinstance(cause, TransientDeliveryError) else None
            self.store.release_action(claimed.key, owner=self.owner, at=self.clock())
            if self._stop():
                return "pending"  # shutting down: no parking, the next start runs it
            if hint is None:
                self._down.add(name)
            return self._park(claimed, hint, f"{type(cause).__name__} via {name}", handler=name)
        except TransientDeliveryError as exc:
            error = f"gave up after {self.retry.max_attempts} attempts: {_short(exc)}"
            self.store.fail_action(
                claimed.key, owner=self.owner, handler=name, error=error, at=self.clock()
            )
            log.warning(
                "action %s (%s via %s) gave up after %d attempts (%s); "
                "`ticketspike retry` runs it again",
                claimed.key,
                claimed.kind,
                name,
                self.retry.max_attempts,
                type(exc).__name__,
            )
            self.store.unpark_action(claimed.key)
            return "failed"
        except PermanentDeliveryError as exc:
            self.store.fail_action(
                claimed.key, owner=self.owner, handler=name, error=_short(exc), at=self.clock()
            )
            log.warning("action %s (%s via %s) failed for good", claimed.key, claimed.kind, name)
            self.store.unpark_action(claimed.key)
            return "failed"
        at = self.clock()
        with self.store.transaction():
            self.store.unpark_action(claimed.key)
            completed = self.store.complete_action(
                claimed.key,
                owner=self.owner,
                handler=name,
                ref={str(k): str(v) for k, v in result.ref.items()},
                summary=result.summary,
                at=at,
            )
            if completed and self.on_done is not None:
                # The action's record (a task, a health-score entry...) and its event are
                # kept in the transaction that marks it done: both or neither.
                self.on_done(claimed, action, plan, at)
        return "done"

    def _park(
        self, record: ActionRecord, hint: float | None, reason: str, *, handler: str | None = None
    ) -> str:
        """Park pending ``record`` (or fail it after ``max_parks``); the outcome word."""
        old = self.store.parked_actions().get(record.key)
        parks = 1 if old is None else old.parks + 1
        if parks > self.retry.max_parks:
            error = f"gave up after {self.retry.max_parks} parkings: {reason}"
            self.store.fail_action(
                record.key, owner=None, handler=handler, error=error, at=self.clock()
            )
            self.store.unpark_action(record.key)
            log.warning("action %s %s; `ticketspike retry` runs it again", record.key, error)
            return "failed"
        until = self.wall() + self.retry.park_delay(parks, hint)
        self.store.park_action(
            record.key, customer_id=record.customer_id, until=until, reason=reason
        )
        at = datetime.fromtimestamp(until, tz=timezone.utc)
        log.warning(
            "action %s (%s) parked until %s (%s)",
            record.key,
            record.kind,
            at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            reason,
        )
        return "parked"

    def _fail(self, record: ActionRecord, handler: str | None, error: str) -> None:
        self.store.fail_action(
            record.key, owner=None, handler=handler, error=error, at=self.clock()
        )

    def _attempts(
        self,
        record: ActionRecord,
        action: Action,
        plan: EscalationPlan,
        handler: ActionHandler,
        name: str,
    ) -> ActionResult:
        policy = self.retry
        waited = [0.0]

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome is not None else None
            hint = exc.retry_after if isinstance(exc, TransientDeliveryError) else None
            delay = policy.wait(state.attempt_number, hint)
            needed = max(delay, hint or 0.0)
            if self._stop() or waited[0] + needed > policy.park_after:
                # Park instead of holding the executor (and every other customer) in a sleep.
                raise _Park() from exc
            waited[0] += delay
            return delay

        def before_sleep(state: tenacity.RetryCallState) -> None:
            # One line per retry: which action, what failed (the class only: messages may
            # quote a service's answer), and when the next attempt starts.
            exc = state.outcome.exception() if state.outcome is not None else None
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            metrics.retry(record.kind)
            at = datetime.fromtimestamp(self.wall() + delay, tz=timezone.utc)
            log.warning(
                "action %s (%s via %s): attempt %d of %d failed (%s); next attempt in %.1f s at %s",
                record.key,
                record.kind,
                name,
                state.attempt_number,
                policy.max_attempts,
                type(exc).__name__,
                delay,
                at.strftime("%H:%M:%S UTC"),
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(TransientDeliveryError),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        account = self.accounts(record.customer_id)
        result: ActionResult | None = None
        for attempt in retrying:
            with attempt:
                result = self._attempt_once(record, action, plan, account, handler, name)
        assert result is not None  # reraise=True: tenacity either returned or raised
        return result

    def _attempt_once(
        self,
        record: ActionRecord,
        action: Action,
        plan: EscalationPlan,
        account: Account | None,
        handler: ActionHandler,
        name: str,
    ) -> ActionResult:
        self.store.renew_lease(
            record.key, owner=self.owner, lease_until=self.wall() + self.lease_seconds
        )
        number = self.store.start_attempt(
            record.key, owner=self.owner, handler=name, at=self.clock()
        )
        ctx = _Context(plan, account, self.clock(), self.store, record.key)
        try:
            result = handler.execute(action, ctx)
        except TransientDeliveryError as exc:
            self._finish(record.key, number, "transient", _short(exc))
            exc.action = exc.action or action
            raise
        except PermanentDeliveryError as exc:
            self._finish(record.key, number, "permanent", _short(exc))
            exc.action = exc.action or action
            raise
        except Exception as exc:
            # A plugin bug must not stop the other actions: fail this one, visibly.
            error = f"{name} raised {type(exc).__name__}: {_short(exc)}"
            self._finish(record.key, number, "error", error)
            raise PermanentDeliveryError(error, action=action) from exc
        except BaseException:
            # SystemExit / KeyboardInterrupt: hand the action back for the next run.
            self._finish(record.key, number, "interrupted", "the run was interrupted")
            self.store.release_action(record.key, owner=self.owner, at=self.clock())
            raise
        if not isinstance(result, ActionResult):
            error = f"{name} returned {type(result).__name__}, not an ActionResult"
            self._finish(record.key, number, "error", error)
            raise PermanentDeliveryError(error, action=action)
        self._finish(record.key, number, "done", None)
        return result

    def _finish(self, key: str, number: int, outcome: str, error: str | None) -> None:
        self.store.finish_attempt(key, number, outcome=outcome, error=error, at=self.clock())
