"""Taking tickets in: direct ingest, vendor webhooks, and the inbox webhooks fill.

Two ways in, one pipeline (:mod:`ticketspike.pipeline`):

* :meth:`Ingesting.ingest` / :meth:`Ingesting.ingest_many` store, detect, plan and (unless the
  engine was built with ``execute=False``) execute, in batches of
  :data:`~ticketspike.pipeline.BATCH_SIZE` events, one transaction each;
* :meth:`Ingesting.ingest_webhook` verifies a vendor delivery and stores it with its inbox
  entries in one small transaction, so the web request never waits for detection or Slack;
  :meth:`Ingesting.process_pending` later runs the inbox through the same batches.

Every entry applies the same admission rules (:func:`ticketspike.limits.admit`: clock skew,
text caps). The HTTP side is described in ``docs/http.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs

from .errors import SignatureError, WebhookRejected
from .limits import admit
from .pipeline import BATCH_SIZE, BatchContext, Counts, IngestPipeline

if TYPE_CHECKING:
    from .executor import ExecutionReport, Executor
    from .model import TicketEvent
    from .planner.plan import EscalationPlan
    from .roles import TicketSource
    from .signals import Transition
    from .store.base import PutOutcome

__all__ = ["IngestResult", "Ingesting"]


@attrs.frozen
class IngestResult:
    """What one ingest call did.

    ``stored`` tickets were new, ``updated`` changed category, priority or status,
    ``duplicates`` were redeliveries that changed nothing. ``replayed`` is True when a webhook
    delivery id had been seen before (nothing was stored). ``queued`` events wait in the inbox
    for :meth:`Engine.process_pending`. ``transitions`` and ``plans`` are those recorded by this
    call (a transition another process recorded first is not repeated here).
    """

    received: int = 0
    stored: int = 0
    updated: int = 0
    duplicates: int = 0
    replayed: bool = False
    ignored: str | None = None
    queued: int = 0
    transitions: tuple[Transition, ...] = ()
    plans: tuple[EscalationPlan, ...] = ()
    executed: ExecutionReport | None = None
    refused: tuple[str, ...] = ()
    truncated: int = 0
    unmatched: int = 0  # records kept aside because no customer was found

    def to_json(self) -> dict[str, Any]:
        return {
            "refused": list(self.refused),
            "truncated": self.truncated,
            "unmatched": self.unmatched,
            "received": self.received,
            "stored": self.stored,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "replayed": self.replayed,
            "ignored": self.ignored,
            "queued": self.queued,
            "transitions": [t.to_json() for t in self.transitions],
            "plans": [p.to_json() for p in self.plans],
            "executed": None if self.executed is None else self.executed.to_json(),
        }


class Ingesting(IngestPipeline):
    """The ingest part of :class:`~ticketspike.engine.Engine` (mixed in)."""

    executor: Executor
    execute_inline: bool
    delivery_ttl: float
    sources: dict[str, TicketSource]
    note_events: Callable[[Iterable[TicketEvent]], None]
    note_deliveries: Callable[[Mapping[str, Iterable[datetime]]], None]
    note_signature_failure: Callable[[str], None]

    def ingest(self, event: TicketEvent, *, now: datetime | None = None) -> IngestResult:
        """Store, detect, plan and (unless ``execute=False``) execute for one event."""
        return self.ingest_many((event,), now=now)

    def ingest_many(
        self,
        events: Iterable[TicketEvent],
        *,
        now: datetime | None = None,
        execute: bool | None = None,
        on_event: Callable[[int], None] | None = None,
        warm_up_until: datetime | None = None,
    ) -> IngestResult:
        """:meth:`ingest` for many events, in batches (one transaction each).

        ``warm_up_until``: transitions before that instant are history, recorded
        suppressed ("warm-up"), so no action is planned or executed for them; the
        detector still learns from every ticket.
        """
        counts = Counts()
        received = 0
        it = iter(events)
        while batch := list(itertools.islice(it, BATCH_SIZE)):
            received += len(batch)
            self._ingest_batch(
                batch,
                now=now,
                counts=counts,
                suppress_before=warm_up_until,
                why="warm-up",
                also=partial(self.note_events, batch),
            )
            if on_event is not None:
                on_event(received)
        self._release_held(counts)
        report = None
        if execute if execute is not None else self.execute_inline:
            report = self.executor.run_pending()
        return IngestResult(
            received=received,
            stored=counts.stored,
            updated=counts.updated,
            duplicates=counts.duplicates,
            transitions=tuple(counts.transitions),
            plans=tuple(counts.plans),
            executed=report,
            refused=tuple(counts.refused),
            truncated=counts.truncated,
        )

    def ingest_webhook(
        self,
        source: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        now: datetime,
        deliveries: dict[str, list[datetime]] | None = None,
    ) -> IngestResult:
        """Verify and store a vendor webhook; detection and actions run later.

        The named source plugin verifies the signature over the raw ``body`` (raising
        :class:`~ticketspike.errors.SignatureError` or
        :class:`~ticketspike.errors.WebhookRejected`). A delivery id seen before is dropped
        (``replayed``). New and changed tickets are stored and queued in one transaction;
        :meth:`process_pending` or :meth:`run_pending` take it from there, so the caller can
        answer the webhook at once.

        ``deliveries``: collect the delivery (source -> times) there instead of noting it
        for the source's rhythm at once; the caller then calls :meth:`note_deliveries` once
        for a whole group (the rhythm is one row every replica writes).
        """
        plugin = self.sources.get(source)
        if plugin is None:
            known = ", ".join(sorted(self.sources)) or "none"
            raise WebhookRejected(
                f"unknown ticket source {source!r} (installed: {known})",
                where="webhook",
                status=404,
            )
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            result = plugin.parse_webhook(body, lowered, now=now)
        except SignatureError:
            self.note_signature_failure(source)  # a broken webhook is not a quiet week
            raise
        if deliveries is not None:
            deliveries.setdefault(source, []).append(now)
        else:
            with self.store.transaction():
                self.note_deliveries({source: (now,)})
        if result.unmatched and not result.events:
            with self.store.transaction():
                if result.delivery_id is not None and not self.store.remember_delivery(
                    source, result.delivery_id, at=now, ttl_seconds=self.delivery_ttl
                ):
                    return IngestResult(replayed=True)
                for item in result.unmatched:
                    self.store.put_unmatched(item, at=now)
            reason = result.unmatched[0].reason
            return IngestResult(ignored=f"kept aside: {reason}", unmatched=len(result.unmatched))
        if not result.events:
            return IngestResult(ignored=result.ignored or "no ticket events in delivery")
        # The same rules as every other entry; a delivery breaking them stores nothing.
        admission = admit(result.events, now=self.clock(), limits=self.limits)
        if admission.problems:
            problem = admission.problems[0]
            raise WebhookRejected(
                problem.message, where=f"webhook: {problem.where}", field=problem.field, status=422
            )
        counts = Counts(truncated=admission.truncated)
        with self.store.transaction():
            if result.delivery_id is not None and not self.store.remember_delivery(
                source, result.delivery_id, at=now, ttl_seconds=self.delivery_ttl
            ):
                return IngestResult(received=len(result.events), replayed=True)
            items = self._store_events(admission.events, at=now, counts=counts)
            self.store.enqueue([(e, o) for _s, e, o in items], received_at=now)
            for item in result.unmatched:
                self.store.put_unmatched(item, at=now)
        return IngestResult(
            received=len(result.events),
            stored=counts.stored,
            updated=counts.updated,
            duplicates=counts.duplicates,
            queued=len(items),
            ignored=result.ignored,
            truncated=counts.truncated,
            unmatched=len(result.unmatched),
        )

    def process_pending(self, *, limit: int | None = None) -> IngestResult:
        """Run what webhooks stored through detection and planning (no actions yet)."""
        counts = Counts()
        done = 0
        while limit is None or done < limit:
            size = BATCH_SIZE if limit is None else min(BATCH_SIZE, limit - done)

            def work(
                ctx: BatchContext, size: int = size
            ) -> list[tuple[int, TicketEvent, PutOutcome]]:
                items = self.store.pending_events(limit=size)
                ctx.prefetch(e.ticket.customer_id for _s, e, _o in items)
                for _seq, event, outcome in items:
                    self._process(event, outcome, ctx, counts=counts)
                self.store.mark_processed([seq for seq, _e, _o in items])
                return items

            items = self._retrying(work, counts)
            if not items:
                break
            done += len(items)
        self._release_held(counts)
        return IngestResult(
            received=done, transitions=tuple(counts.transitions), plans=tuple(counts.plans)
        )
