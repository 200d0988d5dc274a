"""The background worker: detection, plans and actions after the webhook has been answered.

A webhook request only stores the ticket and puts it in the engine's inbox (one small
transaction); this worker drains the inbox in its own thread with
:meth:`~ticketspike.engine.Engine.process_pending`, runs the actions with the executor, and
lets time pass with :meth:`~ticketspike.engine.Engine.tick`. So a Slack outage or a retry storm
slows the worker, never the sender, and since everything it works from is in the store, a crash
loses nothing: the next pass (here or in any other process on the same store) picks it up.

The thread starts on the first webhook, not at application start-up, because a Starlette or
FastAPI host that mounts this app does not run a mounted app's lifespan.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import TicketspikeError

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["Processor"]

log = logging.getLogger("ticketspike.http.worker")


class Processor:
    """Drains ``engine``'s inbox in a daemon thread, woken by :meth:`notify` or a timer.

    :param delay: seconds to wait after a wake-up, so a burst is handled in one pass.
    :param interval: seconds between passes when nothing wakes the worker.
    :param batch: inbox events per store transaction; small batches keep the store free for
        webhook writes in between.
    :param shared_batch: inbox events per transaction on a store whose writers do not wait
        for each other (PostgreSQL): there webhooks do not wait for a batch, while each batch
        pays a fixed cost (the states of the customers with an open episode are re-read and
        saved), so larger batches cost the process less CPU per event and shorten the
        detection lag when several replicas share the database.
    :param per_pass: inbox events per pass; then pending actions run, so a steady stream of
        webhooks cannot hold notifications back indefinitely.
    :param pause: seconds to step aside between batches, so waiting webhook writes get the
        store first (its lock is not fair, and the webhook is what a sender waits for).
    :param busy: says whether webhooks are arriving right now; while they are, the worker
        takes at most ``share`` of the time (detection may lag by seconds, a sender may not).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        delay: float = 0.05,
        interval: float = 60.0,
        batch: int = 25,
        shared_batch: int = 250,
        per_pass: int = 500,
        pause: float = 0.002,
        busy: Callable[[], bool] | None = None,
        share: float = 0.5,
    ) -> None:
        self.engine = engine
        self.delay = delay
        self.interval = interval
        self.batch = batch
        self.shared_batch = shared_batch
        self.per_pass = per_pass
        self.pause = pause
        self.busy = busy
        self.share = share
        self.passes = 0
        self.failures = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._shared_store = bool(getattr(engine.store, "concurrent_writers", False))
        self._resume_at: float | None = None  # when the first parked action may run again
        self._stopping_before: Callable[[], bool] | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once; later calls do nothing)."""
        with self._start_lock:
            if self.running or self._stop.is_set():
                return
            self._thread = threading.Thread(
                target=self._loop, name="ticketspike-processor", daemon=True
            )
            self._thread.start()

    def notify(self) -> None:
        """Something was stored: process it soon."""
        self.start()
        self._wake.set()

    def stop_soon(self) -> None:
        """Start no new action or pass; :meth:`stop` then waits for the one in hand."""
        self._stop.set()
        self._wake.set()
        executor = self.engine.executor
        if self._stopping_before is None:
            # Every run of the engine's executor (the tick's too) ends after the action in
            # hand; :meth:`stop` gives the engine back as it was.
            self._stopping_before = executor.stopping
            executor.stopping = self._stop.is_set

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Let the running action finish (within ``timeout`` seconds), leave the rest pending,
        and stop; True when the thread has ended.

        If the action is still running when the grace period is over, it is handed back to
        pending (:meth:`~ticketspike.executor.Executor.hand_back`) before the caller closes
        the store, so no action is left ``running`` behind a closed store; the next start
        runs it again under the same key.
        """
        self.stop_soon()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        if thread is None or not thread.is_alive():
            self._restore()
            return True
        try:
            key = self.engine.executor.hand_back(
                f"the shutdown grace period ({timeout:g} s) ended before it finished"
            )
        except TicketspikeError as exc:
            log.error("shutdown: could not hand the running action back: %s", exc)
        else:
            if key is not None:
                log.warning("shutdown: action %s did not finish in time; it stays pending", key)
        return False

    def _restore(self) -> None:
        if self._stopping_before is not None:
            self.engine.executor.stopping = self._stopping_before
            self._stopping_before = None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no wake-up is pending and no pass is running (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(
                lambda: not self._busy and not self._wake.is_set(), timeout=timeout
            )

    def run_once(self) -> int:
        """One pass in the calling thread: process the inbox, execute, let time pass.

        Returns how many inbox events were processed. Failures are logged and counted, never
        raised: the inbox and the action records keep the work for the next pass.
        """
        processed = 0
        more = False
        try:
            while True:
                started = time.monotonic()
                # Smaller transactions while senders wait, on a store where each one holds
                # every writer back (SQLite); a shared store's writers do not wait for it.
                if self._shared_store:
                    size = self.shared_batch
                elif self._senders_waiting():
                    size = max(1, self.batch // 3)
                else:
                    size = self.batch
                result = self.engine.process_pending(limit=size)
                processed += result.received
                if result.received < size or self._stop.is_set():
                    break
                if processed >= self.per_pass:
                    more = True
                    break
                self._step_aside(time.monotonic() - started)
            if not self._stop.is_set():
                self.engine.tick(self.engine.clock())
            report = self.engine.executor.run_pending(stop=self._stop.is_set)
            self._resume_at = report.resume_at
        except TicketspikeError as exc:
            self._failed(type(exc).__name__, str(exc))
        except Exception as exc:  # noqa: BLE001 - a plugin bug must not kill the worker
            self._failed(type(exc).__name__, None)
        self.passes += 1
        if more:
            self._wake.set()  # the inbox still holds work: the next pass follows at once
        return processed

    def _senders_waiting(self) -> bool:
        return self.busy is not None and self.busy()

    def _step_aside(self, spent: float) -> None:
        # Threads of one process share one interpreter lock: while senders are waiting, give
        # the request threads most of it.
        if self.share < 1 and self._senders_waiting():
            time.sleep(spent * (1 - self.share) / self.share)
        elif self.pause:
            time.sleep(self.pause)

    def _failed(self, kind: str, message: str | None) -> None:
        self.failures += 1
        self.last_error = kind
        # TicketspikeError messages never carry secrets (errors.py); other exceptions might.
        log.error("background processing failed: %s%s", kind, f": {message}" if message else "")

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self.interval
            if self._resume_at is not None:  # a parked action's time comes sooner
                wait = max(0.05, min(wait, self._resume_at - time.time()))
            self._wake.wait(wait)
            if self._stop.is_set():
                break
            if self.delay:
                self._stop.wait(self.delay)
            with self._idle:
                self._busy = True
                self._wake.clear()
            try:
                self.run_once()
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()
