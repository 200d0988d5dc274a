"""The embedding API: one object that wires store, plugins, detector, planner and executor.

A host builds an :class:`Engine` from a config file (:meth:`Engine.from_config`) or from
objects, then feeds it tickets and time::

    engine = Engine.from_config("ticketspike.yaml")
    engine.ingest(event)                  # store -> classify -> detect -> plan -> execute
    engine.ingest_webhook("zendesk", body, headers, now=now)   # store only; answer fast
    engine.run_pending()                  # detection and actions for what webhooks stored
    engine.tick(now)                      # hourly: time-driven transitions (resolution)
    engine.summary("acme", at=now)        # recent tickets, baseline and rate (docs/http.md)

:class:`Engine` is a facade: it builds the collaborators (store, plugins, planner, executor,
incident desk, draft desk, outbound webhooks) and keeps the few calls that tie them together
(:meth:`Engine.tick`, :meth:`Engine.check`, :meth:`Engine.run_pending`). Everything else is
mixed in from a module of its own:

* :mod:`ticketspike.ingest` - ``ingest``, ``ingest_many``, ``ingest_webhook``,
  ``process_pending`` and :class:`IngestResult`;
* :mod:`ticketspike.pipeline` - the batch every one of them runs in: one store transaction
  with the detector kept in step, and the per-batch context that reads state versions and
  accounts once;
* :mod:`ticketspike.theme_work` - themes for alerts and reads, computed outside batches;
* :mod:`ticketspike.history` - ``backfill`` and ``re_resolve`` (:class:`BackfillReport`,
  :class:`ReResolveReport`);
* :mod:`ticketspike.draft_acts` - acknowledgement drafts (list, approve, reject, settle);
* :mod:`ticketspike.episode_acts` - acknowledge, snooze, resolve, war room, the chain;
* :mod:`ticketspike.source_watch` - sources gone quiet;
* :mod:`ticketspike.views` and :mod:`ticketspike.records` - reads for people and the
  ledger of tasks and adjustments.

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
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from ._themecache import ThemeCache
from .config import Config, load_config
from .draft_acts import DraftActs
from .drafts import DraftDesk
from .episode_acts import EpisodeActs
from .errors import InputError
from .executor import ExecutionReport, Executor, RetryPolicy
from .history import BackfillReport, History, ReResolveReport
from .incident_desk import IncidentDesk
from .ingest import Ingesting, IngestResult
from .limits import IngestLimits
from .mail.settings import email_settings_from_config
from .model import Account, check_customer_id
from .outbound import WebhookDispatcher, webhook_settings_from_config
from .pipeline import BatchContext, Counts
from .planner.planner import Planner
from .plugin_runners import FallbackClassifier
from .plugins import Plugins
from .records import RecordActs
from .roles import (
    AccountDirectory,
    ActionHandler,
    MailTransport,
    PluginConfig,
    TicketSource,
    describe,
)
from .signals import Assessment, Transition
from .source_watch import SourceWatch
from .store.base import Store
from .store.memory import MemoryStore
from .store.opening import open_store
from .theme_work import ThemeWork
from .views import ReadViews

__all__ = ["BackfillReport", "Engine", "IngestResult", "ReResolveReport", "utc_now"]

log = logging.getLogger("ticketspike.engine")


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(timezone.utc)


class Engine(
    Ingesting, History, ThemeWork, DraftActs, EpisodeActs, SourceWatch, ReadViews, RecordActs
):
    """Everything ticketspike does, behind one object a host embeds.

    :param config: the validated configuration (:func:`ticketspike.config.load_config`);
        default: the embedded default (the documented rules and workflow, built-in plugins).
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
        self._context: BatchContext | None = None  # the running batch's (ticketspike.pipeline)
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
        counts = Counts()

        def work(_ctx: BatchContext) -> None:
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

    # -- questions -----------------------------------------------------------------------
    def check(self, customer_id: str, *, at: datetime) -> Assessment:
        """The customer's window judged at ``at``, with themes (``POST /api/support/check-spike``
        in docs/http.md)."""
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
