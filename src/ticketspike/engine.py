"""The embedding API: one object that wires store, plugins, detector, planner and executor.

A host builds an :class:`Engine` from a config file (:meth:`Engine.from_config`) or from
objects, then feeds it tickets and time::

    engine = Engine.from_config("ticketspike.yaml")
    engine.ingest(event)                  # store -> classify -> detect -> plan -> execute
    engine.ingest_webhook("zendesk", body, headers, now=now)   # store only; answer fast
    engine.run_pending()                  # detection and actions for what webhooks stored
    engine.tick(now)                      # hourly: time-driven transitions (resolution)
    engine.summary("acme", at=now)        # PRD 4.2 summary

The flow for every ticket event is: store it idempotently (a redelivery changes nothing) and
put it in the inbox; then, in one store transaction per batch, classify it when its source gave
no category, feed it to the detector and lifecycle (the customer's detector state is reloaded
first if another process changed it), record each transition once per episode and plan it;
then, outside any transaction, execute the pending actions. A web request therefore waits for
one small write, never for detection or Slack; a crash anywhere leaves the inbox or the action
records to pick up from.

The engine owns all I/O around the pure parts. It never reads the clock except through the
``clock`` callable the host passes in (UTC now by default).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import attrs

from . import metrics
from .config import Config, load_config
from .drafts import DraftDesk
from .episode_acts import EpisodeActs
from .errors import InputError, PluginError, SignatureError, TicketspikeError, WebhookRejected
from .executor import ExecutionReport, Executor, RetryPolicy
from .incident_desk import IncidentDesk
from .limits import IngestLimits, admit, analysis_prefix
from .mail.settings import email_settings_from_config
from .model import Account, EventKind, Ticket, TicketEvent, check_customer_id, parse_time, printable
from .monitor import SpikeMonitor
from .outbound import WebhookDispatcher, webhook_settings_from_config
from .planner.plan import EscalationPlan
from .planner.planner import Planner
from .plugin_runners import FallbackClassifier, analyze_with_fallback
from .plugins import Plugins
from .records import RecordActs, account_with_ledger, planned_delta
from .roles import (
    AccountDirectory,
    ActionHandler,
    MailTransport,
    PluginConfig,
    TicketSource,
    describe,
)
from .signals import Assessment, Transition, TransitionKind
from .source_watch import SourceWatch
from .store.base import PutOutcome, Store
from .store.drafts import DraftRecord, DraftStatus
from .store.memory import MemoryStore
from .store.opening import open_store
from .store.ticket_heads import ticket_heads
from .text.classify import categorize
from .themecache import ThemeCache, window_key
from .unmatched import ResolvesUnmatched, Unmatched
from .views import ReadViews

__all__ = ["BackfillReport", "Engine", "IngestResult", "ReResolveReport", "utc_now"]

log = logging.getLogger("ticketspike.engine")

_BATCH = 500
# Store cursor: when detection started watching (ISO-8601), set by the first batch or backfill.
_WATCH_CURSOR = "detection:watching_since"
# A batch that needs themes nobody has computed yet is rolled back, the themes are
# computed outside the transaction, and the batch runs again; this many times at most
# (the last attempt records without the themes it still lacks).
_THEME_ATTEMPTS = 3


class _ThemesWanted(Exception):
    """Raised inside a batch to roll it back so themes are computed outside it."""


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(timezone.utc)


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


@attrs.frozen
class BackfillReport:
    """What a backfill stored: pages, events, and where it would resume."""

    source: str
    pages: int
    events: int
    stored: int
    skipped: int
    cursor: str | None
    done: bool
    resumed: bool
    refused: tuple[str, ...] = ()
    unmatched: int = 0  # kept aside without a customer (``ticketspike unmatched``)


@attrs.frozen
class ReResolveReport:
    """What a re-resolve did: records tried, resolved (and counted), still unmatched."""

    tried: int
    resolved: int
    still_unmatched: int
    skipped_sources: tuple[str, ...] = ()


@attrs.define
class _Counts:
    stored: int = 0
    updated: int = 0
    duplicates: int = 0
    queued: int = 0
    transitions: list[Transition] = attrs.field(factory=list)
    plans: list[EscalationPlan] = attrs.field(factory=list)
    refused: list[str] = attrs.field(factory=list)
    truncated: int = 0

    def snapshot(self) -> _Counts:
        return attrs.evolve(
            self,
            transitions=list(self.transitions),
            plans=list(self.plans),
            refused=list(self.refused),
        )

    def restore(self, saved: _Counts) -> None:
        for field in attrs.fields(_Counts):
            value = getattr(saved, field.name)
            setattr(self, field.name, list(value) if isinstance(value, list) else value)


def _count_page(source: str, received: int, before: tuple[int, int, int], counts: _Counts) -> None:
    """Ticket counters (``/metrics``) for one backfill page: what it added to ``counts``."""
    metrics.tickets(
        source,
        received=received,
        stored=counts.stored - before[0],
        updated=counts.updated - before[1],
        duplicates=counts.duplicates - before[2],
    )


class Engine(EpisodeActs, SourceWatch, ReadViews, RecordActs):
    """Everything ticketspike does, behind one object a host embeds.

    :param config: the validated configuration (:func:`ticketspike.config.load_config`);
        default: the embedded default (PRD rules and workflow, built-in plugins).
    :param store: where state lives; default: the config's ``store.path`` as SQLite, else memory.
    :param plugins: the plugin set; default: built-ins plus installed plugins.
    :param clock: returns "now" (UTC); tests and replays pass their own.
    :param execute: run actions as part of :meth:`ingest` (False: only :meth:`run_pending` does).
    :param dry_run: plan but never execute; actions stay pending.
    :param retry: retry policy for transient delivery failures.
    :param sleep: how to wait between retries.
    :param planner: a planner to use instead of one built from the config.
    :param theme_budget: seconds a plugin theme analyzer may take before the built-in answers.
    :param classify_budget: the same for a plugin classifier, per ticket.
    :param delivery_ttl: seconds a webhook delivery id is remembered (replay protection).
    :param limits: clock skew, text caps and analysis budget; default: the config's
        ``tickets:`` section (:class:`~ticketspike.limits.IngestLimits`).
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        store: Store | None = None,
        plugins: Plugins | None = None,
        plugin_config: PluginConfig | None = None,
        clock: Callable[[], datetime] = utc_now,
        execute: bool = True,
        dry_run: bool = False,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        planner: Planner | None = None,
        theme_budget: float | None = 5.0,
        classify_budget: float | None = 2.0,
        delivery_ttl: float = 7 * 24 * 3600.0,
        limits: IngestLimits | None = None,
    ) -> None:
        self.config = config if config is not None else Config.default()
        self.limits = limits if limits is not None else self.config.limits
        self.theme_cache = ThemeCache(budget_seconds=self.limits.analysis_budget_seconds)
        self._wanted: dict[str, tuple[str, list[Ticket], list[Ticket]]] = {}
        self._last_attempt = True
        self.store: Store = store if store is not None else MemoryStore()
        self.plugins = plugins if plugins is not None else Plugins.from_env()
        self.plugin_config = plugin_config if plugin_config is not None else self.config.plugins
        self.clock = clock
        self.execute_inline = execute
        self.dry_run = dry_run
        self.theme_budget = theme_budget
        self.classify_budget = classify_budget
        self.delivery_ttl = delivery_ttl
        self.planner = (
            planner
            if planner is not None
            else Planner(workflow=self.config.workflow, routing=self.config.routing)
        )
        self.sources: dict[str, TicketSource] = self.plugins.ticket_sources(self.plugin_config)
        self.directories: list[AccountDirectory] = self.plugins.account_directories(
            self.plugin_config
        )
        self.handlers: dict[str, ActionHandler] = self.plugins.action_handlers(self.plugin_config)
        # E-mail drafts: the first mail transport saves and sends them (None: files only).
        self.mail: MailTransport | None = next(
            iter(self.plugins.mail_transports(self.plugin_config)), None
        )
        self.email_settings = email_settings_from_config(self.config.section("email"))
        _use_mail_transport(self.handlers, self.mail, self.email_settings)
        self.analyzers = self.plugins.theme_analyzers(self.plugin_config)
        self.classifier = FallbackClassifier(
            tuple(self.plugins.classifiers(self.plugin_config)), budget_seconds=classify_budget
        )
        self.executor = Executor(
            self.store,
            self.handlers,
            accounts=self.account,
            clock=clock,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            dry_run=dry_run,
            on_done=self._on_action_done,
        )
        # Outbound webhooks (``webhooks:``): the events this engine logs, delivered signed.
        self.webhooks = WebhookDispatcher(
            self.store,
            webhook_settings_from_config(self.config.section("webhooks"), self.plugin_config.env),
            clock=clock,
            sleep=sleep,
        )
        if self.webhooks.enabled:
            self.webhooks.register()
        self.desk = DraftDesk(
            self.store,
            self.mail,
            self.email_settings,
            clock=clock,
            retry=retry or RetryPolicy(),
            sleep=sleep,
        )
        # The detector lives in memory; one thread at a time may move it (hosts serve
        # requests from thread pools).
        self._lock = threading.RLock()
        self._dirty: set[str] = set()
        self._new_monitor()
        self._owns_store = False
        # The escalation page lists the escalation's tasks, with a button closing each.
        self.add_panel_provider(self._tasks_panel)
        # Many customers spiking together: one incident (ticketspike.incident_desk).
        self.incident_desk = IncidentDesk(
            self.store, self.config.incidents, account=self.account, clock=clock
        )

    # -- construction ------------------------------------------------------------
    @classmethod
    def from_config(
        cls,
        config: str | Path | Config | None = None,
        *,
        store: Store | str | Path | None = None,
        plugins: Plugins | None = None,
        env: Mapping[str, str] | None = None,
        accounts: str | Path | None = None,
        **options: Any,
    ) -> Engine:
        """Build an engine from a config file (or a loaded :class:`Config`).

        ``store`` may be a :class:`Store`, a path to an SQLite file or a ``postgresql://`` URL
        (default: ``$TICKETSPIKE_STORE``, the config's ``store.url`` or ``store.path``, else
        memory). ``accounts`` names an accounts file, overriding the
        config's. ``env`` is where plugins read secrets (default ``os.environ``). Other
        keyword arguments go to :class:`Engine`.
        """
        if isinstance(config, Config):
            loaded = config
        else:
            loaded = load_config(config, env=env)
        plugin_config = with_accounts_file(loaded.plugins, accounts)
        owns = False
        if store is None and loaded.store_location:
            store = loaded.store_location
        if isinstance(store, (str, Path)):
            store = open_store(
                store, synchronous=loaded.store_synchronous, schema=loaded.store_schema
            )
            owns = True
        engine = cls(loaded, store=store, plugins=plugins, plugin_config=plugin_config, **options)
        engine._owns_store = owns
        return engine

    def close(self) -> None:
        """Release the store if the engine opened it, and what plugins hold (``close()``)."""
        for obj in (*self.analyzers, *self.classifier.classifiers):
            close = getattr(obj, "close", None)
            if callable(close):
                close()
        self.webhooks.close()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _new_monitor(self) -> None:
        self.monitor = SpikeMonitor(
            self.config.detection, self.config.lifecycle, silences=self.config.silences
        )
        self._versions: dict[str, int] = {}
        self._warm = False

    # -- accounts ------------------------------------------------------------------
    def account(self, customer_id: str) -> Account | None:
        """Account context from the first directory that knows the customer."""
        for directory in self.directories:
            try:
                found = directory.get_account(customer_id)
            except Exception as exc:  # noqa: BLE001 - a CRM outage must not stop detection
                log.warning(
                    "account directory %s failed (%s); continuing without it",
                    describe(directory),
                    type(exc).__name__,
                )
                continue
            if found is not None:
                return found
        return None

    # -- ingesting -------------------------------------------------------------------
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
        counts = _Counts()
        received = 0
        batch: list[TicketEvent] = []
        for event in events:
            batch.append(event)
            received += 1
            if len(batch) >= _BATCH:
                self._ingest_batch(
                    batch,
                    now=now,
                    counts=counts,
                    suppress_before=warm_up_until,
                    why="warm-up",
                    also=partial(self.note_events, batch),
                )
                batch = []
                if on_event is not None:
                    on_event(received)
        if batch:
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

    def _ingest_batch(
        self,
        events: Sequence[TicketEvent],
        *,
        now: datetime | None,
        counts: _Counts,
        suppress_before: datetime | None = None,
        also: Callable[[], None] | None = None,
        why: str = "loaded by backfill",
    ) -> None:
        at = now or self.clock()
        admission = admit(events, now=self.clock(), limits=self.limits)
        for line in admission.refused:
            log.warning("refused %s", line)
        counts.refused.extend(admission.refused)
        counts.truncated += admission.truncated
        admitted = admission.events

        def work() -> None:
            self._watch_from(admitted)
            items = self._store_events(admitted, at=at, counts=counts)
            for _seq, event, outcome in items:
                self._process(
                    event, outcome, counts=counts, suppress_before=suppress_before, why=why
                )
            if also is not None:
                also()

        self._retrying(work, counts)

    def _retrying(self, work: Callable[[], Any], counts: _Counts) -> Any:
        """Run ``work`` in one batch; if it needs themes not computed yet, roll it back,
        compute them outside the transaction and run it again (see :data:`_THEME_ATTEMPTS`).
        """
        saved = counts.snapshot()
        for attempt in range(_THEME_ATTEMPTS):
            self._wanted = {}
            self._last_attempt = attempt == _THEME_ATTEMPTS - 1
            try:
                with self._batch():
                    result = work()
                    if self._wanted and not self._last_attempt:
                        raise _ThemesWanted
                self.incident_desk.committed()
                return result
            except _ThemesWanted:
                wanted, self._wanted = self._wanted, {}
                counts.restore(saved)
                for key, (customer, window, baseline) in wanted.items():
                    self._compute_themes(key, customer, window, baseline)
            finally:
                self._wanted = {}
                self._last_attempt = True
        raise AssertionError("unreachable: the last attempt never asks for themes")

    def _watch_from(self, events: Sequence[TicketEvent], since: datetime | None = None) -> None:
        """Record, once per store, when detection started watching (the first event's time,
        or a backfill's start): customers first seen within a baseline period of it have an
        unknown history and warm up instead of being judged against the industry rate."""
        if self.monitor.watching_since is not None:
            return
        saved = self.store.get_cursor(_WATCH_CURSOR)
        if saved is None:
            first = since or min((e.at for e in events), default=None)
            if first is None:
                return
            self.store.set_cursor(_WATCH_CURSOR, first.isoformat(), at=self.clock())
            saved = first.isoformat()
        self.monitor.watch_from(parse_time(saved, where="store", field=_WATCH_CURSOR))

    def _store_events(
        self, events: Sequence[TicketEvent], *, at: datetime, counts: _Counts
    ) -> list[tuple[int, TicketEvent, PutOutcome]]:
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
        counts = _Counts(truncated=admission.truncated)
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
        counts = _Counts()
        done = 0
        while limit is None or done < limit:
            size = _BATCH if limit is None else min(_BATCH, limit - done)

            def work(size: int = size) -> list[tuple[int, TicketEvent, PutOutcome]]:
                items = self.store.pending_events(limit=size)
                for _seq, event, outcome in items:
                    self._process(event, outcome, counts=counts)
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

    def run_pending(self) -> ExecutionReport:
        """Process the inbox, then execute every pending action (see :class:`Executor`)."""
        self.process_pending()
        return self.executor.run_pending()

    def retry_failed(self, keys: Sequence[str] | None = None) -> ExecutionReport:
        """Put actions that failed for good back in line and run them."""
        return self.executor.retry_failed(keys)

    def tick(self, at: datetime) -> list[Transition]:
        """Let time pass to ``at``: resolutions and hourly re-evaluation without tickets.

        ``at`` is the host's word for the time (tests and replays move it on purpose);
        only ticket times are held to the host clock plus the skew.
        """
        counts = _Counts()

        def work() -> None:
            for transition in self.monitor.tick(at):
                self._dirty.add(transition.customer_id)
                self._record(transition, counts)

        self._retrying(work, counts)
        self._release_held(counts, at)
        # Unacknowledged episodes move up the escalation chain (episode_acts.run_chain).
        chained = self.run_chain(at)
        # Ticket sources silent for longer than their rhythm allows (source_watch).
        chained += self.check_sources(at)
        if self.execute_inline and (counts.plans or chained):
            self.executor.run_pending()
        return counts.transitions

    # -- the pipeline -------------------------------------------------------------------
    @contextmanager
    def _batch(self) -> Iterator[None]:
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
                if not self._warm:
                    customers = self.store.state_customers()
                    self._warm = True
                else:
                    customers = list(
                        {e.customer_id: 0 for e in self.store.episodes(active_only=True)}
                    )
                versions = self.store.state_versions(customers)
                for customer in customers:
                    self._sync(customer, versions[customer])
                self.refresh_silences()
                self.incident_desk.load()
                yield
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

    def _sync(self, customer_id: str, version: int | None = None) -> None:
        """Load the customer's detector state if the store has a newer one than we do
        (``version``: the stored one, when the caller read it already)."""
        if version is None:
            version = self.store.state_version(customer_id)
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
        scratch = SpikeMonitor(
            self.config.detection, self.config.lifecycle, silences=self.config.silences
        )
        account = self.account(customer_id)
        for record in self.store.tickets(customer_id=customer_id, include_internal=False):
            scratch.ingest(TicketEvent(ticket=record.ticket), account=account)
        self.monitor.import_customer(customer_id, scratch.export_customer(customer_id))
        self._dirty.add(customer_id)

    def _process(
        self,
        event: TicketEvent,
        outcome: PutOutcome,
        *,
        counts: _Counts,
        suppress_before: datetime | None = None,
        why: str = "loaded by backfill",
    ) -> None:
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
        self._sync(customer)
        if outcome is PutOutcome.NEW:
            if not ticket.category_given and not ticket.internal:
                # The classifier reads the analysis prefix only: its work stays bounded.
                probe = analysis_prefix([ticket], self.limits)[0]
                classified = categorize(probe, classifier=self.classifier)
                if classified.category is not ticket.category:
                    self.store.set_category(ticket.source, ticket.ticket_id, classified.category)
                    ticket = attrs.evolve(classified, subject=ticket.subject, body=ticket.body)
            feed = TicketEvent(ticket=ticket, kind=EventKind.CREATED, event_id=event.event_id)
        else:
            stored = self.store.get_ticket(ticket.source, ticket.ticket_id)
            merged = stored.ticket if stored is not None else ticket
            feed = attrs.evolve(event, ticket=merged)
        if outcome is PutOutcome.NEW and not ticket.internal:
            self.incident_desk.saw(customer, ticket.created_at)
        transitions = self.monitor.ingest(feed, account=self.account(customer))
        metrics.detection_lag((self.clock() - event.at).total_seconds())
        self._dirty.add(customer)
        for transition in transitions:
            # Moving the clock may also resolve or open other customers' episodes.
            self._dirty.add(transition.customer_id)
            self._record(transition, counts, suppress_before=suppress_before, why=why)

    def _record(
        self,
        transition: Transition,
        counts: _Counts,
        *,
        suppress_before: datetime | None = None,
        why: str = "loaded by backfill",
    ) -> None:
        transition = self._suppression(transition, suppress_before, why)
        account = self.account(transition.customer_id)
        if transition.kind is not TransitionKind.RESOLVED and not transition.suppressed:
            transition = self._with_themes(transition)
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

    def _release_held(self, counts: _Counts, at: datetime | None = None) -> None:
        """Plans held back for incident correlation, recorded at the end of a call."""
        if self.incident_desk.has_held():
            self._retrying(lambda: counts.plans.extend(self.incident_desk.release(at)), counts)

    def _suppression(
        self, transition: Transition, before: datetime | None, why: str = "loaded by backfill"
    ) -> Transition:
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

    def _with_themes(self, transition: Transition) -> Transition:
        """The transition with its window's themes, if they are computed already.

        Runs inside a batch's transaction, so it never analyses: a miss is noted and the
        batch is run again once the themes are computed outside (see :meth:`_retrying`).
        """
        assessment = transition.assessment
        if not assessment.ticket_ids:
            return transition
        key = window_key(assessment)
        phrases = self.theme_cache.peek(key)
        if phrases is None:
            if not self._last_attempt:
                window, baseline = self._window_tickets(assessment)
                self._wanted[key] = (
                    assessment.customer_id,
                    analysis_prefix(window, self.limits),
                    analysis_prefix(baseline, self.limits),
                )
            return transition
        if not phrases:
            return transition
        return attrs.evolve(transition, assessment=attrs.evolve(assessment, themes=phrases))

    def _compute_themes(
        self, key: str, customer_id: str, window: list[Ticket], baseline: list[Ticket]
    ) -> tuple[str, ...]:
        """Themes for a window (prefix-capped tickets), cached, within the analysis budget.

        Never called inside a store transaction.
        """
        if not window:
            return ()

        def compute() -> list[str]:
            themes = analyze_with_fallback(
                self.analyzers, window, baseline, limit=5, budget_seconds=self.theme_budget
            )
            return [t.phrase for t in themes]

        found = self.theme_cache.get(key, compute, what=customer_id)
        return () if found is None else found

    def themes_of(self, assessment: Assessment) -> tuple[str, ...]:
        """The themes of an assessment's window: cached per window (a hit reads no ticket),
        else computed outside any transaction within the analysis budget."""
        if not assessment.ticket_ids:
            return ()
        key = window_key(assessment)
        cached = self.theme_cache.peek(key)
        if cached is not None:
            return cached
        window, baseline = self._window_tickets(assessment)
        return self._compute_themes(
            key,
            assessment.customer_id,
            analysis_prefix(window, self.limits),
            analysis_prefix(baseline, self.limits),
        )

    def _window_tickets(self, assessment: Assessment) -> tuple[list[Ticket], list[Ticket]]:
        start, end = assessment.period_start, assessment.period_end
        days = max(1.0, float(assessment.baseline_days or self.config.detection.baseline_days))
        # Analysis reads only a prefix of each body: never read or decode more of it.
        cut = self.limits.analysis_body_chars
        customer = assessment.customer_id
        window = [
            h.ticket
            for h in ticket_heads(self.store, customer, since=start, until=end, body_chars=cut)
        ]
        since = start - timedelta(days=days)
        baseline = [
            h.ticket
            for h in ticket_heads(self.store, customer, since=since, until=start, body_chars=cut)
        ]
        return window, baseline

    # -- questions -----------------------------------------------------------------------
    def check(self, customer_id: str, *, at: datetime) -> Assessment:
        """The customer's window judged at ``at`` (PRD 4.2 check-spike), with themes."""
        customer_id = check_customer_id(customer_id, where="check")
        with self._lock:
            with self.store.transaction():
                self._sync(customer_id)
            try:
                assessment = self.monitor.assess(customer_id, at, account=self.account(customer_id))
            except ValueError as exc:
                raise InputError(str(exc), field="at") from None
        if assessment.ticket_count:
            assessment = attrs.evolve(assessment, themes=self.themes_of(assessment))
        return assessment

    # -- e-mail drafts (ticketspike.drafts) ----------------------------------------------
    def drafts(
        self, *, status: DraftStatus | None = None, episode_id: str | None = None
    ) -> list[DraftRecord]:
        """Acknowledgement drafts, oldest first (``ticketspike drafts list``)."""
        return self.desk.list(status=status, episode_id=episode_id)

    def draft(self, draft_id: str) -> DraftRecord | None:
        """One draft by id (or by its action key), or None."""
        return self.desk.get(draft_id)

    def approve_draft(
        self,
        draft_id: str,
        *,
        by: str,
        subject: str | None = None,
        body: str | None = None,
        confirm_resolved: bool = False,
    ) -> DraftRecord:
        """Approve a draft (optionally edited) and send it, exactly once.

        Returns the sent record; approving a sent draft returns it unchanged. Raises
        :class:`~ticketspike.errors.DraftConflict` for a rejected or ``unknown`` draft, or one
        whose episode resolved unless ``confirm_resolved``; a send that fails raises a
        :class:`~ticketspike.errors.DeliveryError` and leaves the approval recorded.
        """
        return self.desk.approve(
            draft_id, by=by, subject=subject, body=body, confirm_resolved=confirm_resolved
        )

    def reject_draft(self, draft_id: str, *, by: str, reason: str | None = None) -> DraftRecord:
        """Reject a draft: recorded with who and why, never sent."""
        return self.desk.reject(draft_id, by=by, reason=reason)

    def resolve_draft(self, draft_id: str, *, by: str, sent: bool) -> DraftRecord:
        """Settle an ``unknown`` draft after a person looked in the Sent folder."""
        return self.desk.resolve(draft_id, by=by, sent=sent)

    # -- history -------------------------------------------------------------------------
    def backfill(
        self,
        source: str,
        *,
        since: datetime,
        now: datetime | None = None,
        on_page: Callable[[int, int], None] | None = None,
    ) -> BackfillReport:
        """Load history from a source plugin's ``backfill``, resumably.

        Pages are stored idempotently, each in one transaction together with the source's
        cursor, so an interrupted backfill resumes after the last stored page (for the same
        ``since``). History warms up the detector; transitions older than the detection
        window are recorded as suppressed (nobody is paged about last month's spike), while
        a spike still under way alerts as usual.
        """
        plugin = self.sources.get(source)
        if plugin is None:
            known = ", ".join(sorted(self.sources)) or "none"
            raise InputError(
                f"unknown ticket source {source!r} (installed: {known})", where="backfill"
            )
        now = now or self.clock()
        window = timedelta(hours=self.config.detection.window_hours)
        name = f"backfill:{source}"
        saved = self.store.get_cursor(name)
        cursor: str | None = None
        resumed = False
        if saved is not None:
            since_text, _, saved_cursor = saved.partition("|")
            if since_text == since.isoformat() and saved_cursor:
                cursor, resumed = saved_cursor, True
        counts = _Counts()
        pages = events = skipped = unmatched = 0
        done = False
        try:
            iterator = plugin.backfill(since=since, cursor=cursor)
            for page in iterator:
                pages += 1
                events += len(page.events)
                skipped += page.skipped
                unmatched += len(page.unmatched)
                page_cursor = page.cursor if page.cursor is not None else cursor
                value = f"{since.isoformat()}|{page_cursor or ''}"

                def save(value: str = value, aside: tuple[Any, ...] = page.unmatched) -> None:
                    for item in aside:
                        self.store.put_unmatched(item, at=now)
                    self.store.set_cursor(name, value, at=now)

                ordered = sorted(page.events, key=lambda e: e.at)
                if self.monitor.watching_since is None:
                    with self._batch():
                        self._watch_from(ordered, since)  # the backfill counts as history
                before = (counts.stored, counts.updated, counts.duplicates)
                self._ingest_batch(
                    ordered, now=now, counts=counts, suppress_before=now - window, also=save
                )
                _count_page(source, len(ordered), before, counts)
                cursor = page_cursor
                done = page.done
                if on_page is not None:
                    on_page(pages, events)
                if page.done:
                    break
        except TicketspikeError:
            raise
        except Exception as exc:
            raise PluginError(
                f"backfill failed: {type(exc).__name__}: {exc}", plugin=source
            ) from exc
        self._release_held(counts)
        if self.execute_inline and counts.plans:
            self.executor.run_pending()
        return BackfillReport(
            source=source,
            pages=pages,
            events=events,
            stored=counts.stored,
            skipped=skipped,
            cursor=cursor,
            done=done,
            resumed=resumed,
            refused=tuple(counts.refused),
            unmatched=unmatched,
        )

    # -- records without a customer ----------------------------------------------------
    def re_resolve(self, *, now: datetime | None = None) -> ReResolveReport:
        """Ask each source again about the records it could not tie to a customer.

        A record that now resolves is stored and counted like any delivery (history older
        than the detection window stays suppressed, as in a backfill) and leaves the
        unmatched list in the same transaction; one that still does not keeps its place
        with the source's new reason.
        """
        now = now or self.clock()
        window = timedelta(hours=self.config.detection.window_hours)
        counts = _Counts()
        tried = resolved = 0
        skipped: set[str] = set()
        for record in self.store.unmatched():
            plugin = self.sources.get(record.source)
            if not isinstance(plugin, ResolvesUnmatched):
                skipped.add(record.source)
                continue
            tried += 1
            outcome = plugin.resolve_unmatched(record.payload)
            if isinstance(outcome, Unmatched):
                self.store.put_unmatched(outcome, at=now)
                continue

            def drop(source: str = record.source, record_id: str = record.record_id) -> None:
                self.store.drop_unmatched(source, record_id)

            ordered = sorted(outcome, key=lambda e: e.at)
            self._ingest_batch(
                ordered, now=now, counts=counts, suppress_before=now - window, also=drop
            )
            resolved += 1
        self._release_held(counts)
        if self.execute_inline and counts.plans:
            self.executor.run_pending()
        return ReResolveReport(
            tried=tried,
            resolved=resolved,
            still_unmatched=len(self.store.unmatched()),
            skipped_sources=tuple(sorted(skipped)),
        )


def _use_mail_transport(
    handlers: dict[str, ActionHandler], transport: MailTransport | None, settings: Any
) -> None:
    from .builtin.mail_drafter import use_mail_transport

    use_mail_transport(handlers, transport, settings)


def with_accounts_file(config: PluginConfig, path: str | Path | None) -> PluginConfig:
    """``config`` with ``path`` as the accounts file (the ``--accounts`` option)."""
    if path is None:
        return config
    from .configfile import Section

    section = Section(
        {"path": str(Path(path).resolve())}, name="--accounts", path="plugins.accounts"
    )
    return attrs.evolve(config, sections={**config.sections, "accounts": section})
