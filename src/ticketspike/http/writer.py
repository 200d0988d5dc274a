"""Group commit for webhooks: one writer thread stores many deliveries per transaction.

Every webhook must be committed before it is answered. Committing each one in its own
transaction, from a thread pool, spends more on the hand-offs and the commits than on the
work; so deliveries queue up for one writer thread, which takes everything waiting (up to
``max_batch``), verifies and stores each through :meth:`Engine.ingest_webhook` inside one store
transaction, notes the group's deliveries in the sources' rhythms in one write, commits once,
and only then answers every request of the group. At low load a group is one delivery and
nothing waits; under load groups grow by themselves.

One bad delivery never fails its neighbours: a signature or content error is raised by the
source plugin before anything is written, so it is answered alone while the group goes on; if
anything else breaks a group (the store, a plugin bug), the group is rolled back and each
delivery is retried in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ..errors import InputError
from .errors import ApiError

if TYPE_CHECKING:
    from ..engine import Engine, IngestResult

__all__ = ["WebhookWriter"]

log = logging.getLogger("ticketspike.http.writer")


@attrs.define(eq=False)
class _Job:
    source: str
    body: bytes = attrs.field(repr=False)
    headers: Mapping[str, str] = attrs.field(repr=False)
    now: datetime
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[IngestResult]


def _settle(future: asyncio.Future[IngestResult], outcome: IngestResult | BaseException) -> None:
    if future.cancelled():  # the client went away; what was committed stays committed
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class WebhookWriter:
    """Stores webhook deliveries for ``engine`` in group commits on one daemon thread."""

    NOTE_EVERY = 0.25

    def __init__(self, engine: Engine, *, max_batch: int = 256) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.groups = 0
        self.stored = 0
        self.last_active = float("-inf")  # time.monotonic() of the last delivery handled
        # Deliveries committed but not yet noted in their sources' rhythms, and when they
        # were last noted (see _commit).
        self._unnoted: dict[str, list[datetime]] = {}
        self._noted_at = float("-inf")
        # On a store shared by replicas the rhythm row is written at most every NOTE_EVERY
        # seconds, also when the queue runs dry (see _commit).
        self._shared_store = bool(getattr(engine.store, "concurrent_writers", False))
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def ingest(
        self, source: str, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> IngestResult:
        """:meth:`Engine.ingest_webhook`, answered once the delivery's group is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._start()
        self._queue.put(_Job(source, body, headers, now, loop, future))
        return await future

    @property
    def queued(self) -> int:
        """Deliveries waiting for the writer (not counting the group being stored)."""
        return self._queue.qsize()

    def active(self, within: float = 0.5) -> bool:
        """Whether a delivery was handled in the last ``within`` seconds."""
        return time.monotonic() - self.last_active < within

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Store what is queued, then end the thread; True when it has ended."""
        with self._start_lock:
            self._stopping = True
            thread = self._thread
        if thread is None:
            return True
        self._queue.put(None)
        thread.join(timeout)
        return not thread.is_alive()

    def _start(self) -> None:
        if self.running:
            return
        with self._start_lock:
            if self.running:
                return
            if self._stopping:
                # A request after shutdown began: nothing stored, the sender retries.
                raise ApiError(
                    503,
                    "shutting_down",
                    "the server is shutting down; retry shortly",
                    headers={"Retry-After": "5"},
                )
            self._thread = threading.Thread(
                target=self._loop, name="ticketspike-webhook-writer", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while True:
            if self._unnoted:
                # Deliveries wait to be noted: note them once the queue has been quiet for
                # NOTE_EVERY seconds.
                try:
                    job = self._queue.get(timeout=self.NOTE_EVERY)
                except queue.Empty:
                    self._note_rest()
                    continue
            else:
                job = self._queue.get()
            if job is None:
                self._note_rest()
                return
            group = [job]
            stop = False
            while len(group) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
            self._commit(group, last=stop)
            if stop:
                return

    def _note_rest(self) -> None:
        if self._unnoted:
            try:
                with self.engine.store.transaction():
                    self.engine.note_deliveries(self._unnoted)
                self._unnoted, self._noted_at = {}, time.monotonic()
            except Exception as exc:  # noqa: BLE001 - stopping: a rhythm count is not worth a crash
                log.warning("could not note the last deliveries: %s", type(exc).__name__)

    def _commit(self, group: list[_Job], *, last: bool = False) -> None:
        outcomes: list[IngestResult | BaseException] = []
        noted = {source: list(times) for source, times in self._unnoted.items()}
        note = False
        try:
            with self.engine.store.transaction():
                for job in group:
                    try:
                        outcomes.append(
                            self.engine.ingest_webhook(
                                job.source, job.body, job.headers, now=job.now, deliveries=noted
                            )
                        )
                    except InputError as exc:
                        # Raised while verifying or parsing, before any write: answer it
                        # alone and keep the group.
                        outcomes.append(exc)
                # The deliveries go into their sources' rhythms in one write, last: that
                # row is shared by every replica, so it is held only while committing. While
                # more deliveries wait, they are noted at most every NOTE_EVERY seconds
                # (carried over in memory until then, so a killed process may lose that
                # much of a rhythm's count; never a delivery). On a store shared by
                # replicas the queue running dry is no reason to write it sooner: there
                # groups are small, each replica's queue runs dry after nearly every one,
                # and every replica's group commit would queue behind that one row.
                note = (
                    last
                    or (self._queue.empty() and not self._shared_store)
                    or time.monotonic() - self._noted_at >= self.NOTE_EVERY
                )
                if note:
                    self.engine.note_deliveries(noted)
        except BaseException as exc:
            if len(group) > 1:
                log.warning(
                    "a group of %d webhooks failed (%s); storing them one by one",
                    len(group),
                    type(exc).__name__,
                )
                for job in group:
                    self._commit([job], last=last)
                return
            outcomes = [exc]
        else:
            if note:
                self._unnoted, self._noted_at = {}, time.monotonic()
            else:
                self._unnoted = noted
        self.groups += 1
        self.last_active = time.monotonic()
        for job, outcome in zip(group, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                self.stored += outcome.stored + outcome.updated
            try:
                job.loop.call_soon_threadsafe(_settle, job.future, outcome)
            except RuntimeError:  # that request's event loop is closed: nobody to answer
                pass
