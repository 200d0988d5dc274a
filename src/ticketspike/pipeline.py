"""The ingest pipeline's batch: one store transaction with the detector kept in step with it.

Every path that moves the detector (direct ingest, the webhook inbox, backfill, re-resolve,
the hourly tick, an act that closes an episode) runs in a *batch*: one store transaction in
which each event is, in order,

1. checked against the host clock (a ticket stored before the clock rule held is kept out
   of the detector),
2. classified, when it is a new ticket whose source gave no category,
3. fed to the detector and lifecycle (the customer's saved detector state is reloaded first
   if another process changed it),
4. and each transition it causes is recorded once per episode and planned.

A :class:`BatchContext` holds what the batch reads once: the stored detector-state versions
(one query for every customer the batch touches, instead of one per event) and the account
directory's answers (one call per customer per batch, instead of one per event and per
transition). It is dropped with the batch, so a CRM change is seen by the next one.

At the end of a batch the changed detector states are saved in the same transaction; if
anything fails the store rolls back and the in-memory detector is dropped, to be reloaded
from the store, so memory never runs ahead of what was committed. A batch that needs themes
nobody has computed yet is rolled back, the themes are computed outside the transaction
(:mod:`ticketspike.theme_work`) and the batch runs again.

The entry points that build batches live in :mod:`ticketspike.ingest` (ingest, webhooks,
the inbox) and :mod:`ticketspike.history` (backfill, re-resolve); detection itself is
described in ``docs/detection.md``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from . import metrics
from .limits import admit, analysis_prefix
from .model import EventKind, TicketEvent, parse_time, printable
from .monitor import SpikeMonitor
from .records import account_with_ledger, planned_delta
from .signals import TransitionKind
from .store.base import PutOutcome
from .store.ticket_keys import known_tickets
from .text.classify import categorize

if TYPE_CHECKING:
    from .config import Config
    from .incident_desk import IncidentDesk
    from .limits import IngestLimits
    from .model import Account, Ticket
    from .planner.plan import EscalationPlan
    from .planner.planner import Planner
    from .plugin_runners import FallbackClassifier
    from .signals import Transition
    from .store.base import Store

__all__ = ["BatchContext", "IngestPipeline"]

log = logging.getLogger("ticketspike.engine")

# Events per batch (one transaction each).
BATCH_SIZE = 500
# Store cursor: when detection started watching (ISO-8601), set by the first batch or backfill.
WATCH_CURSOR = "detection:watching_since"
# A batch that needs themes nobody has computed yet is rolled back, the themes are
# computed outside the transaction, and the batch runs again; this many times at most
# (the last attempt records without the themes it still lacks).
THEME_ATTEMPTS = 3

# Themes a batch asked for: window key -> (customer, window tickets, baseline tickets).
Wanted = dict[str, tuple[str, list["Ticket"], list["Ticket"]]]


class _ThemesWanted(Exception):
    """Raised inside a batch to roll it back so themes are computed outside it."""

    def __init__(self, wanted: Wanted) -> None:
        super().__init__(f"{len(wanted)} theme windows wanted")
        self.wanted = wanted


class BatchContext:
    """What one batch reads once, and what it asks for on the way.

    ``versions`` are the stored detector-state versions of the customers the batch touches,
    read with one ``state_versions`` query once the batch knows its events (:meth:`prefetch`);
    a customer not prefetched costs one ``state_version`` read, once. ``accounts`` are the
    account directory's answers, one call per customer. ``wanted`` collects the theme windows
    the batch found missing, unless ``last_attempt`` (then it records without them).
    """

    __slots__ = ("_lookup", "_store", "accounts", "last_attempt", "versions", "wanted")

    def __init__(
        self,
        store: Store,
        lookup: Callable[[str], Account | None],
        *,
        last_attempt: bool = True,
    ) -> None:
        self._store = store
        self._lookup = lookup
        self.versions: dict[str, int] = {}
        self.accounts: dict[str, Account | None] = {}
        self.wanted: Wanted = {}
        self.last_attempt = last_attempt

    def prefetch(self, customers: Iterable[str]) -> None:
        """Read the stored state versions of ``customers``, in one query.

        Read again even when the batch read them before: the batch may have taken these
        customers' locks since (a shared store's inbox claim), and only a read under the
        lock is one another replica cannot move.
        """
        wanted = list(dict.fromkeys(customers))
        if wanted:
            self.versions.update(self._store.state_versions(wanted))

    def version(self, customer_id: str) -> int:
        """The customer's stored detector-state version, as this batch read it."""
        found = self.versions.get(customer_id)
        if found is None:
            found = self.versions[customer_id] = self._store.state_version(customer_id)
        return found

    def account(self, customer_id: str) -> Account | None:
        """The customer's account, asked of the directories once per batch."""
        try:
            return self.accounts[customer_id]
        except KeyError:
            found = self.accounts[customer_id] = self._lookup(customer_id)
            return found


@attrs.define
class Counts:
    """What a call did so far, across its batches (see :class:`~ticketspike.ingest.IngestResult`).

    A batch rolled back for themes restores the counts it started from (:meth:`snapshot`).
    """

    stored: int = 0
    updated: int = 0
    duplicates: int = 0
    queued: int = 0
    transitions: list[Transition] = attrs.field(factory=list)
    plans: list[EscalationPlan] = attrs.field(factory=list)
    refused: list[str] = attrs.field(factory=list)
    truncated: int = 0

    def snapshot(self) -> Counts:
        return attrs.evolve(
            self,
            transitions=list(self.transitions),
            plans=list(self.plans),
            refused=list(self.refused),
        )

    def restore(self, saved: Counts) -> None:
        for field in attrs.fields(Counts):
            value = getattr(saved, field.name)
            setattr(self, field.name, list(value) if isinstance(value, list) else value)


class IngestPipeline:
    """The batch part of :class:`~ticketspike.engine.Engine` (mixed in)."""

    store: Store
    config: Config
    limits: IngestLimits
    clock: Callable[[], datetime]
    planner: Planner
    classifier: FallbackClassifier
    incident_desk: IncidentDesk
    account: Callable[[str], Account | None]
    refresh_silences: Callable[[], None]
    _on_transition: Callable[[Transition, datetime], None]
    _with_themes: Callable[[Transition, BatchContext | None], Transition]
    _compute_themes: Callable[[str, str, list[Ticket], list[Ticket]], tuple[str, ...]]
    _lock: threading.RLock
    _dirty: set[str]
    _context: BatchContext | None

    def _new_monitor(self) -> None:
        """A fresh detector, to be (re)loaded from the store by the next batch."""
        self.monitor = SpikeMonitor(
            self.config.detection, self.config.lifecycle, silences=self.config.silences
        )
        self._versions: dict[str, int] = {}
        self._warm = False

    # -- one batch ---------------------------------------------------------------------
    @contextmanager
    def _batch(self, *, last_attempt: bool = True) -> Iterator[BatchContext]:
        """One store transaction, with the detector kept in step with it.

        On the first batch every customer's saved detector state is loaded (so day-boundary
        checks see everyone); later batches re-read the customers with an open episode, which
        another process may have moved. On success, the changed states are saved in the same
        transaction. If anything fails, the store rolls back and the in-memory detector is
        dropped, to be reloaded from the store: memory never runs ahead of what was committed.
        """
        try:
            with self._lock, self.store.transaction():
                self._dirty = set()
                ctx = self._context = BatchContext(
                    self.store, self.account, last_attempt=last_attempt
                )
                if not self._warm:
                    customers = self.store.state_customers()
                    self._warm = True
                else:
                    customers = list(
                        {e.customer_id: 0 for e in self.store.episodes(active_only=True)}
                    )
                ctx.prefetch(customers)
                for customer in customers:
                    self._sync(customer, ctx.versions[customer])
                self.refresh_silences()
                self.incident_desk.load()
                yield ctx
                # Quiet hours move open episodes towards resolution without a transition.
                self._dirty |= self.monitor.open_episodes
                now = self.clock()
                for customer in sorted(self._dirty):
                    self._versions[customer] = self.store.save_state(
                        customer, self.monitor.export_customer(customer), at=now
                    )
                # Last: one row every process writes, so it is held only while committing.
                self.incident_desk.save(at=now)
        except BaseException:
            self._new_monitor()
            raise
        finally:
            self._dirty = set()
            self._context = None

    def _retrying(self, work: Callable[[BatchContext], Any], counts: Counts) -> Any:
        """Run ``work`` in one batch; if it needs themes not computed yet, roll it back,
        compute them outside the transaction and run it again (see :data:`THEME_ATTEMPTS`).
        """
        saved = counts.snapshot()
        for attempt in range(THEME_ATTEMPTS):
            try:
                with self._batch(last_attempt=attempt == THEME_ATTEMPTS - 1) as ctx:
                    result = work(ctx)
                    if ctx.wanted and not ctx.last_attempt:
                        raise _ThemesWanted(ctx.wanted)
                self.incident_desk.committed()
                return result
            except _ThemesWanted as wanted:
                counts.restore(saved)
                for key, (customer, window, baseline) in wanted.wanted.items():
                    self._compute_themes(key, customer, window, baseline)
        raise AssertionError("unreachable: the last attempt never asks for themes")

    def _ingest_batch(
        self,
        events: Sequence[TicketEvent],
        *,
        now: datetime | None,
        counts: Counts,
        suppress_before: datetime | None = None,
        also: Callable[[], None] | None = None,
        why: str = "loaded by backfill",
    ) -> None:
        """Admit, store and detect ``events`` in one batch; ``also`` runs in its transaction."""
        at = now or self.clock()
        admission = admit(events, now=self.clock(), limits=self.limits)
        for line in admission.refused:
            log.warning("refused %s", line)
        counts.refused.extend(admission.refused)
        counts.truncated += admission.truncated
        admitted = admission.events

        def work(ctx: BatchContext) -> None:
            self._watch_from(admitted)
            ctx.prefetch(e.ticket.customer_id for e in admitted)
            items = self._store_events(self._classified(admitted), at=at, counts=counts)
            for _seq, event, outcome in items:
                self._process(
                    event,
                    outcome,
                    ctx,
                    counts=counts,
                    suppress_before=suppress_before,
                    why=why,
                    classified=True,
                )
            if also is not None:
                also()

        self._retrying(work, counts)

    def _watch_from(self, events: Sequence[TicketEvent], since: datetime | None = None) -> None:
        """Record, once per store, when detection started watching (the first event's time,
        or a backfill's start): customers first seen within a baseline period of it have an
        unknown history and warm up instead of being judged against the industry rate."""
        if self.monitor.watching_since is not None:
            return
        saved = self.store.get_cursor(WATCH_CURSOR)
        if saved is None:
            first = since or min((e.at for e in events), default=None)
            if first is None:
                return
            self.store.set_cursor(WATCH_CURSOR, first.isoformat(), at=self.clock())
            saved = first.isoformat()
        self.monitor.watch_from(parse_time(saved, where="store", field=WATCH_CURSOR))

    def _classified(self, events: Sequence[TicketEvent]) -> list[TicketEvent]:
        """``events`` with each new ticket classified, so it is stored once with its class.

        Only a ticket the store does not hold yet (one read for the batch: which of them it
        holds) and that the batch has not seen before is classified: a redelivery or an update
        keeps the stored category (:func:`~ticketspike.store.base.merge_update`).
        """
        known = known_tickets(self.store, (e.ticket.key for e in events))
        out: list[TicketEvent] = []
        for event in events:
            ticket = event.ticket
            if ticket.key not in known:
                known.add(ticket.key)
                classified = self._classify(ticket)
                if classified is not ticket:
                    event = attrs.evolve(event, ticket=classified)
            out.append(event)
        return out

    def _classify(self, ticket: Ticket) -> Ticket:
        """The ticket with the classifier's category when its source gave none."""
        if ticket.category_given or ticket.internal:
            return ticket
        # The classifier reads the analysis prefix only: its work stays bounded.
        probe = analysis_prefix([ticket], self.limits)[0]
        classified = categorize(probe, classifier=self.classifier)
        if classified.category is ticket.category:
            return ticket
        return attrs.evolve(ticket, category=classified.category)

    def _store_events(
        self, events: Sequence[TicketEvent], *, at: datetime, counts: Counts
    ) -> list[tuple[int, TicketEvent, PutOutcome]]:
        """Store each event idempotently; the new and changed ones, to be processed."""
        items: list[tuple[int, TicketEvent, PutOutcome]] = []
        for event in events:
            outcome = self.store.put_ticket(event, at=at)
            if outcome is PutOutcome.NEW:
                counts.stored += 1
            elif outcome is PutOutcome.UPDATED:
                counts.updated += 1
            else:
                counts.duplicates += 1
                continue
            items.append((0, event, outcome))
        return items

    # -- the detector, kept in step with the store ------------------------------------
    def _sync(self, customer_id: str, version: int | None = None) -> None:
        """Load the customer's detector state if the store has a newer one than we do
        (``version``: the stored one, when the caller read it already)."""
        if version is None:
            ctx = self._context
            version = (
                ctx.version(customer_id)
                if ctx is not None
                else self.store.state_version(customer_id)
            )
        if version == self._versions.get(customer_id, 0):
            return
        loaded = self.store.load_state(customer_id)
        if loaded is None:
            return
        try:
            self.monitor.import_customer(customer_id, loaded[1])
        except ValueError as exc:
            # Saved under other detection settings (window or baseline length changed):
            # rebuild the counters from the stored tickets instead.
            log.warning(
                "detector state of %s not reusable (%s); rebuilding from tickets",
                printable(customer_id),
                exc,
            )
            self._rebuild(customer_id)
        self._versions[customer_id] = loaded[0]

    def _rebuild(self, customer_id: str) -> None:
        """The customer's counters recounted from the stored tickets."""
        scratch = SpikeMonitor(
            self.config.detection, self.config.lifecycle, silences=self.config.silences
        )
        account = self._account_now(customer_id)
        for record in self.store.tickets(customer_id=customer_id, include_internal=False):
            scratch.ingest(TicketEvent(ticket=record.ticket), account=account)
        self.monitor.import_customer(customer_id, scratch.export_customer(customer_id))
        self._dirty.add(customer_id)

    def _account_now(self, customer_id: str) -> Account | None:
        """The account as the running batch knows it (asked once), else asked now."""
        ctx = self._context
        return ctx.account(customer_id) if ctx is not None else self.account(customer_id)

    def _process(
        self,
        event: TicketEvent,
        outcome: PutOutcome,
        ctx: BatchContext,
        *,
        counts: Counts,
        suppress_before: datetime | None = None,
        why: str = "loaded by backfill",
        classified: bool = False,
    ) -> None:
        """Detect, and record what it caused; first classify a new ticket without a category
        unless that was done before it was stored (``classified``: direct ingest; the inbox's
        tickets were stored by a web request that does not wait for a classifier)."""
        ticket = event.ticket
        customer = ticket.customer_id
        ahead = max(event.at, ticket.created_at) - self.clock()
        if ahead > self.limits.skew:
            # Stored before the clock rule held (an older version, another host): keep it
            # stored but out of the detector, whose clock it would move for everyone.
            log.warning(
                "ticket %s/%s of %s is %.0f s ahead of the host clock; not counted",
                printable(ticket.source),
                printable(ticket.ticket_id),
                printable(customer),
                ahead.total_seconds(),
            )
            counts.refused.append(
                f"ticket {printable(ticket.source)}/{printable(ticket.ticket_id)} of "
                f"{printable(customer)}: {ahead.total_seconds():.0f} s ahead of the host clock"
            )
            return
        self._sync(customer, ctx.version(customer))
        if outcome is PutOutcome.NEW:
            if not classified:
                found = self._classify(ticket)
                if found is not ticket:
                    self.store.set_category(ticket.source, ticket.ticket_id, found.category)
                    ticket = found
            feed = TicketEvent(ticket=ticket, kind=EventKind.CREATED, event_id=event.event_id)
        else:
            stored = self.store.get_ticket(ticket.source, ticket.ticket_id)
            merged = stored.ticket if stored is not None else ticket
            feed = attrs.evolve(event, ticket=merged)
        if outcome is PutOutcome.NEW and not ticket.internal:
            self.incident_desk.saw(customer, ticket.created_at)
        transitions = self.monitor.ingest(feed, account=ctx.account(customer))
        metrics.detection_lag((self.clock() - event.at).total_seconds())
        self._dirty.add(customer)
        for transition in transitions:
            # Moving the clock may also resolve or open other customers' episodes.
            self._dirty.add(transition.customer_id)
            self._record(transition, counts, suppress_before=suppress_before, why=why)

    # -- transitions -------------------------------------------------------------------
    def _record(
        self,
        transition: Transition,
        counts: Counts,
        *,
        suppress_before: datetime | None = None,
        why: str = "loaded by backfill",
    ) -> None:
        """Record a transition once per episode, with its plan (held for an incident, maybe)."""
        transition = self._suppression(transition, suppress_before, why)
        account = self._account_now(transition.customer_id)
        if transition.kind is not TransitionKind.RESOLVED and not transition.suppressed:
            transition = self._with_themes(transition, self._context)
        plan = self.planner.plan(transition, account)
        # The alert shows the health score from the ledger, before and after this plan's change.
        shown = account_with_ledger(self.store, account, planned_delta=planned_delta(plan))
        if shown is not account:
            plan = self.planner.plan(transition, shown)
        at = self.clock()
        with self.store.transaction():
            recorded, plans = self.incident_desk.record(transition, plan, at=at)
            if recorded:
                self._on_transition(transition, at)
        if recorded:
            metrics.episode(transition.kind.value)
            counts.transitions.append(transition)
            counts.plans.extend(plans)
            log.info(
                "%s %s episode %s (%s)%s",
                printable(transition.customer_id),
                transition.kind.value,
                transition.episode_id,
                transition.severity.value,
                f" suppressed: {transition.suppressed}" if transition.suppressed else "",
            )

    def _release_held(self, counts: Counts, at: datetime | None = None) -> None:
        """Plans held back for incident correlation, recorded at the end of a call."""
        if self.incident_desk.has_held():
            self._retrying(lambda _ctx: counts.plans.extend(self.incident_desk.release(at)), counts)

    def _suppression(
        self, transition: Transition, before: datetime | None, why: str = "loaded by backfill"
    ) -> Transition:
        """The transition marked suppressed when it is history, or its episode opened so."""
        if transition.suppressed:
            return transition
        if before is not None and transition.at < before:
            return attrs.evolve(transition, suppressed=f"historical: {why}")
        if transition.kind is not TransitionKind.OPENED:
            for record in self.store.transitions(episode_id=transition.episode_id):
                if record.kind == TransitionKind.OPENED.value and record.suppressed:
                    reason = f"the episode opened suppressed ({record.suppressed})"
                    return attrs.evolve(transition, suppressed=reason)
        return transition
