"""A kit for testing plugins and host code against ticketspike, without any service.

Plugin authors and hosts get what ticketspike's own tests use:

* fake plugins: :class:`RecordingNotifier` (keeps what it was asked to deliver),
  :class:`FlakyNotifier` (fails transiently *n* times, then delivers), :class:`FailingNotifier`
  (fails for good), :class:`FakeSource` (a ticket source with pages and an optional token),
  :class:`FakeAccounts` (an account directory over a dict), and :class:`StaticPlugin` to
  register any of them (or your own objects) the way an installed plugin would;
  :class:`RecordingMailTransport` (a mail transport that keeps drafts and sent messages);
* :func:`clean_plugins`: a plugin manager that loads no installed entry points, so a test sees
  exactly the plugins it names;
* :func:`memory_engine`: a whole engine on an in-memory store with a fixed clock and no
  waiting between retries;
* values to feed it: :func:`ticket_event`, :func:`sample_account`, :func:`sample_assessment`,
  :func:`sample_transition`, :func:`sample_plan`;
* crash tests for a handler's side effect: :class:`KillAfterEffect` (SIGKILLs its own
  process right after the wrapped handler's effect, before the executor records it) and
  :func:`execute_killed_after_effect` (runs a handler in a child process killed that way, then
  runs it again as the restarted process would), so a plugin can prove it uses ``ctx.key``;
* pytest fixtures (``ticketspike_plugins``, ``recording_notifier``, ``ticketspike_engine``),
  enabled with ``pytest_plugins = ["ticketspike.testing"]`` in a ``conftest.py``.

Nothing here is used by ticketspike at run time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs

from .errors import PermanentDeliveryError, SignatureError, TransientDeliveryError, WebhookRejected
from .hookspecs import hookimpl
from .model import (
    Account,
    Category,
    EventKind,
    Person,
    Priority,
    Ticket,
    TicketEvent,
    ticket_event_from_json,
)
from .planner.plan import Action, ChannelPost, EscalationPlan, NotifyTeam
from .plugins import Plugins
from .roles import (
    AccountDirectory,
    ActionContext,
    ActionHandler,
    ActionResult,
    BackfillPage,
    Classifier,
    MailTransport,
    SavedDraft,
    ThemeAnalyzer,
    TicketSource,
    WebhookResult,
)
from .signals import Assessment, BaselineSource, Severity, Transition, TransitionKind

if TYPE_CHECKING:
    from .config import Config
    from .engine import Engine

__all__ = [
    "RecordingMailTransport",
    "ALL_KINDS",
    "NOTIFY_KINDS",
    "Delivered",
    "FailingNotifier",
    "FakeAccounts",
    "FakeSource",
    "FixedClock",
    "FlakyNotifier",
    "KillAfterEffect",
    "RecordingNotifier",
    "RecordingSleep",
    "StaticPlugin",
    "clean_plugins",
    "demo_engine",
    "execute_killed_after_effect",
    "memory_engine",
    "sample_account",
    "sample_assessment",
    "sample_plan",
    "sample_transition",
    "ticket_event",
]

UTC = timezone.utc
NOTIFY_KINDS = frozenset(
    {"direct_message", "channel_post", "thread_reply", "update_message", "notify_team"}
)
ALL_KINDS = NOTIFY_KINDS | {
    "create_task",
    "draft_email",
    "adjust_health_score",
    "add_to_war_room",
    "schedule_sync",
}
DEFAULT_TIME = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


# -- time -------------------------------------------------------------------------
@attrs.define
class FixedClock:
    """A clock that says ``at`` until told otherwise (pass it as ``clock=``)."""

    at: datetime = DEFAULT_TIME

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)`` and return the new time."""
        self.at = self.at + timedelta(**delta)
        return self.at


@attrs.define
class RecordingSleep:
    """A ``sleep`` that waits for nothing and remembers what it was asked to wait."""

    waits: list[float] = attrs.field(factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


# -- fake plugins --------------------------------------------------------------------
@attrs.frozen
class Delivered:
    """One action a fake notifier carried out, with what the context said."""

    action: Action
    episode_id: str
    account: Account | None
    now: datetime


def _channel_of(action: Action) -> str | None:
    if isinstance(action, ChannelPost | NotifyTeam):
        return action.channel
    return None


@attrs.define(eq=False)
class RecordingNotifier:
    """A notifier that delivers by remembering: ``delivered`` lists every action, in order."""

    name: str = "recording"
    kinds: frozenset[str] = NOTIFY_KINDS
    delivered: list[Delivered] = attrs.field(factory=list)

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        self.delivered.append(Delivered(action, ctx.plan.episode_id, ctx.account, ctx.now))
        number = len(self.delivered)
        return ActionResult(
            ref={"channel": _channel_of(action) or "recorded", "ts": str(number)},
            summary=f"{action.kind} #{number}",
        )

    def keys(self) -> list[str]:
        return [d.action.key for d in self.delivered]


@attrs.define(eq=False)
class FlakyNotifier(RecordingNotifier):
    """Fails with :class:`TransientDeliveryError` ``failures`` times, then delivers.

    ``calls`` counts every attempt; ``retry_after`` is passed on as the service's hint.
    """

    name: str = "flaky"
    failures: int = 3
    retry_after: float | None = None
    calls: int = 0

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientDeliveryError("simulated outage (503)", retry_after=self.retry_after)
        return super().execute(action, ctx)


@attrs.define(eq=False)
class FailingNotifier:
    """Fails every action with :class:`PermanentDeliveryError` (``message``)."""

    name: str = "failing"
    kinds: frozenset[str] = NOTIFY_KINDS
    message: str = "channel_not_found"
    calls: int = 0

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        self.calls += 1
        raise PermanentDeliveryError(self.message)


def _by_id(value: Mapping[str, Account] | Iterable[Account]) -> dict[str, Account]:
    if isinstance(value, Mapping):
        return dict(value)
    return {a.id: a for a in value}


@attrs.define(eq=False)
class FakeAccounts:
    """An account directory over a dict (or any iterable of accounts)."""

    accounts: dict[str, Account] = attrs.field(factory=dict, converter=_by_id)
    name: str = "fake-accounts"

    def get_account(self, customer_id: str) -> Account | None:
        return self.accounts.get(customer_id)


@attrs.define(eq=False)
class FakeSource:
    """A ticket source: canonical ticket JSON webhooks, and backfill from ``pages``.

    With ``token`` set, a webhook must carry it in ``x-fake-token`` (else
    :class:`SignatureError`); ``x-delivery-id`` becomes the delivery id. Backfill yields
    ``pages`` (lists of events), the cursor being the index of the page; ``fail_after``
    raises after that many pages, to test resuming.
    """

    name: str = "fake"
    token: str | None = None
    pages: list[list[TicketEvent]] = attrs.field(factory=list)
    fail_after: int | None = None
    requested: list[tuple[datetime, str | None]] = attrs.field(factory=list)

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookResult:
        if self.token is not None and headers.get("x-fake-token") != self.token:
            raise SignatureError("bad or missing x-fake-token", where="webhook")
        try:
            data = json.loads(body)
        except ValueError:
            raise WebhookRejected("body is not JSON", where="webhook") from None
        items = data if isinstance(data, list) else [data]
        if not items:
            return WebhookResult(ignored="nothing in the delivery")
        events = tuple(ticket_event_from_json(obj, where="webhook") for obj in items)
        events = tuple(
            attrs.evolve(e, ticket=attrs.evolve(e.ticket, source=self.name)) for e in events
        )
        return WebhookResult(events=events, delivery_id=headers.get("x-delivery-id"))

    def backfill(self, *, since: datetime, cursor: str | None = None) -> Iterator[BackfillPage]:
        self.requested.append((since, cursor))
        start = int(cursor) + 1 if cursor else 0
        for index in range(start, len(self.pages)):
            if self.fail_after is not None and index >= self.fail_after:
                raise ConnectionError("simulated network failure")
            events = tuple(e for e in self.pages[index] if e.at >= since)
            yield BackfillPage(events=events, cursor=str(index), done=index == len(self.pages) - 1)


@attrs.define(eq=False)
class StaticPlugin:
    """A plugin object registering the given objects, as an installed plugin's hooks would.

    ``notifiers``, ``email_drafters``, ``task_sinks`` and ``health_score_sinks`` are all
    registered through ``register_action_handlers`` (after ``action_handlers``); the four
    names are kept so tests written for 0.1 read the same.
    """

    action_handlers: Sequence[ActionHandler] = ()
    notifiers: Sequence[ActionHandler] = ()
    email_drafters: Sequence[ActionHandler] = ()
    task_sinks: Sequence[ActionHandler] = ()
    health_score_sinks: Sequence[ActionHandler] = ()
    sources: Sequence[TicketSource] = ()
    directories: Sequence[AccountDirectory] = ()
    theme_analyzers: Sequence[ThemeAnalyzer] = ()
    classifiers: Sequence[Classifier] = ()
    mail_transports: Sequence[MailTransport] = ()

    @hookimpl
    def register_action_handlers(self, register: Callable[[ActionHandler], None]) -> None:
        for group in (
            self.action_handlers,
            self.notifiers,
            self.email_drafters,
            self.task_sinks,
            self.health_score_sinks,
        ):
            for obj in group:
                register(obj)

    @hookimpl
    def register_ticket_sources(self, register: Callable[[TicketSource], None]) -> None:
        for obj in self.sources:
            register(obj)

    @hookimpl
    def register_account_directories(self, register: Callable[[AccountDirectory], None]) -> None:
        for obj in self.directories:
            register(obj)

    @hookimpl
    def register_theme_analyzers(self, register: Callable[[ThemeAnalyzer], None]) -> None:
        for obj in self.theme_analyzers:
            register(obj)

    @hookimpl
    def register_classifiers(self, register: Callable[[Classifier], None]) -> None:
        for obj in self.classifiers:
            register(obj)

    @hookimpl
    def register_mail_transports(self, register: Callable[[MailTransport], None]) -> None:
        for obj in self.mail_transports:
            register(obj)


@attrs.define(eq=False)
class RecordingMailTransport:
    """A :class:`~ticketspike.roles.MailTransport` that keeps what it saved and sent.

    ``drafts`` maps action keys to saved messages (saved once per key, like a real mailbox);
    ``sent`` lists sent messages; with ``checks_sent`` it answers :meth:`was_sent` from them.
    ``fail_sends`` makes the next sends raise the given errors, one per send.
    """

    name: str = "recording_mail"
    checks_sent: bool = True
    drafts: dict[str, Any] = attrs.field(factory=dict)
    sent: list[Any] = attrs.field(factory=list)
    discarded: list[str] = attrs.field(factory=list)
    fail_sends: list[BaseException] = attrs.field(factory=list)

    def save_draft(self, message: Any, *, key: str, now: datetime) -> SavedDraft:
        kept = self.drafts.setdefault(key, message)
        return SavedDraft(message_id=str(kept["Message-ID"]), mailbox="recorder", folder="Drafts")

    def send(self, message: Any) -> None:
        if self.fail_sends:
            raise self.fail_sends.pop(0)
        self.sent.append(message)

    def was_sent(self, message: Any) -> bool | None:
        if not self.checks_sent:
            return None
        return any(str(m["Message-ID"]) == str(message["Message-ID"]) for m in self.sent)

    def discard_draft(self, saved: SavedDraft) -> None:
        self.discarded.append(saved.message_id)


def clean_plugins(*plugins: object, builtins: bool = True, block: Sequence[str] = ()) -> Plugins:
    """A plugin manager with the built-ins (unless ``builtins=False``) and ``plugins`` only.

    Installed distributions are not loaded, so the test does not depend on what happens to
    be installed next to it.
    """
    return Plugins(load_entrypoints=False, builtins=builtins, block=block, plugins=plugins)


def memory_engine(
    *plugins: object,
    config: Config | None = None,
    clock: Callable[[], datetime] | None = None,
    accounts: Iterable[Account] | Mapping[str, Account] = (),
    builtins: bool = True,
    **options: Any,
) -> Engine:
    """An :class:`~ticketspike.engine.Engine` on a :class:`MemoryStore`, ready for a test.

    ``plugins`` are registered over the built-ins; ``accounts`` become an account directory;
    retries do not wait (their waits are recorded in ``engine.executor.sleep.waits``).
    """
    from .config import Config as _Config
    from .engine import Engine as _Engine
    from .store.memory import MemoryStore

    # Registered before ``plugins``, so (pluggy calls the last registered first) their
    # account directories are asked before this one.
    extra: list[object] = []
    directory = FakeAccounts(accounts)
    if directory.accounts:
        extra.append(StaticPlugin(directories=[directory]))
    extra.extend(plugins)
    options.setdefault("sleep", RecordingSleep())
    return _Engine(
        config if config is not None else _Config.default(env={}),
        store=options.pop("store", None) or MemoryStore(),
        plugins=clean_plugins(*extra, builtins=builtins),
        clock=clock or FixedClock(),
        **options,
    )


# -- values ------------------------------------------------------------------------
def ticket_event(
    ticket_id: str,
    customer_id: str = "techcorp",
    at: datetime = DEFAULT_TIME,
    *,
    category: Category | str = Category.TECHNICAL,
    priority: Priority | str = Priority.P3,
    subject: str = "",
    source: str = "api",
    kind: EventKind = EventKind.CREATED,
    internal: bool = False,
    tags: Sequence[str] = (),
) -> TicketEvent:
    """A ticket event with sensible defaults (``category="other"`` leaves it unclassified)."""
    cat = Category(category) if isinstance(category, str) else category
    ticket = Ticket(
        ticket_id=ticket_id,
        customer_id=customer_id,
        created_at=at,
        category=cat,
        priority=Priority(priority) if isinstance(priority, str) else priority,
        subject=subject,
        source=source,
        internal=internal,
        tags=tuple(tags),
        category_given=cat is not Category.OTHER,
    )
    return TicketEvent(ticket=ticket, kind=kind)


def sample_account(customer_id: str = "techcorp") -> Account:
    """The example customer: TechCorp Inc, $500k ARR, health 52 (was 78), CSM with a manager."""
    return Account(
        id=customer_id,
        name="TechCorp Inc",
        arr=500_000,
        health_score=52,
        previous_health_score=78,
        segment="enterprise",
        seats=400,
        csm=Person(
            name="Mike Johnson",
            email="mike@example.com",
            slack_id="U0MIKE",
            manager=Person(name="Sarah Chen", email="sarah@example.com", slack_id="U0SARAH"),
        ),
        champion=Person(name="Dana Lee", email="dana@techcorp.example"),
    )


def sample_assessment(
    customer_id: str = "techcorp",
    at: datetime = DEFAULT_TIME,
    *,
    ticket_count: int = 15,
    baseline_daily_avg: float = 2.3,
    severity: Severity = Severity.CRITICAL,
    themes: Sequence[str] = ("API errors", "login issues"),
) -> Assessment:
    """An assessment with the example alert's numbers (15 tickets on 2.3/day)."""
    multiplier = ticket_count / baseline_daily_avg if baseline_daily_avg else float("inf")
    categories = ((Category.TECHNICAL, 10), (Category.BILLING, 2), (Category.TRAINING, 3))
    priorities = ((Priority.P1, 3), (Priority.P2, 7), (Priority.P3, 5))
    ids = tuple(f"TKT-{i:03d}" for i in range(1, ticket_count + 1))
    return Assessment(
        customer_id=customer_id,
        at=at,
        is_spike=severity.rank >= Severity.HIGH.rank,
        severity=severity,
        ticket_count=ticket_count,
        baseline_daily_avg=baseline_daily_avg,
        expected_count=baseline_daily_avg,
        spike_multiplier=multiplier,
        period_start=at - timedelta(hours=24),
        period_end=at,
        period_hours=24.0,
        baseline_source=BaselineSource.OWN,
        baseline_days=30.0,
        p_value=1e-6,
        category_breakdown=categories
        if ticket_count == 15
        else ((Category.TECHNICAL, ticket_count),),
        severity_breakdown=priorities if ticket_count == 15 else ((Priority.P2, ticket_count),),
        ticket_ids=ids,
        themes=tuple(themes),
        explanation=f"{ticket_count} tickets in 24 h against {baseline_daily_avg:g}/day",
    )


def sample_transition(
    kind: TransitionKind = TransitionKind.OPENED,
    *,
    customer_id: str = "techcorp",
    at: datetime = DEFAULT_TIME,
    episode_id: str = "ep_sample",
    severity: Severity = Severity.CRITICAL,
    assessment: Assessment | None = None,
    suppressed: str | None = None,
) -> Transition:
    """A transition of one episode, by default the opening of a critical spike."""
    return Transition(
        kind=kind,
        at=at,
        customer_id=customer_id,
        episode_id=episode_id,
        severity=severity,
        assessment=assessment or sample_assessment(customer_id, at, severity=severity),
        opened_at=at,
        suppressed=suppressed,
    )


def sample_plan(
    transition: Transition | None = None, account: Account | None = None
) -> EscalationPlan:
    """What the default planner makes of ``transition`` (default: :func:`sample_transition`)."""
    from .planner.planner import Planner

    return Planner().plan(transition or sample_transition(), account or sample_account())


# -- crashes between a side effect and its record ---------------------------------------
@attrs.define
class KillAfterEffect:
    """A handler wrapper that SIGKILLs its own process right after the ``after``-th effect.

    The wrapped handler's ``execute`` returns (its side effect is done), then the process dies
    before the executor records the action as done: the worst moment for exactly-once. Run the
    executor in a subprocess with handlers wrapped in this, restart it, and count the effects.
    """

    handler: ActionHandler
    after: int = 1
    effects: int = 0

    @property
    def name(self) -> str:
        return self.handler.name

    @property
    def kinds(self) -> Collection[type[Action] | str]:
        return self.handler.kinds

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        result = self.handler.execute(action, ctx)
        self.effects += 1
        if self.effects >= self.after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result


def execute_killed_after_effect(
    handler: ActionHandler, action: Action, ctx: ActionContext
) -> ActionResult:
    """Run ``handler`` on ``action`` in a child process SIGKILLed after the effect, then again.

    The second run, in this process, is what a restarted executor does with an action whose
    record never said done. A handler that keys its side effect by ``ctx.key`` makes it once
    over both runs; the caller counts the effect (messages on a fake server, files, rows).
    POSIX only (``os.fork``).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: child is brief
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            KillAfterEffect(handler).execute(action, ctx)
        finally:
            os._exit(70)  # the handler raised: no kill after an effect
    _, status = os.waitpid(pid, 0)
    if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
        raise AssertionError("the handler failed in the child process before its side effect")
    return handler.execute(action, ctx)


# -- pytest fixtures ------------------------------------------------------------------
if importlib.util.find_spec("pytest") is not None:  # pragma: no branch
    import pytest

    @pytest.fixture
    def ticketspike_plugins() -> Plugins:
        """A plugin manager with the built-ins only (no installed entry points)."""
        return clean_plugins()

    @pytest.fixture
    def recording_notifier() -> RecordingNotifier:
        """A notifier that remembers what it delivered."""
        return RecordingNotifier()

    @pytest.fixture
    def ticketspike_engine(recording_notifier: RecordingNotifier) -> Iterator[Engine]:
        """An in-memory engine whose notifications go to ``recording_notifier``."""
        engine = memory_engine(
            StaticPlugin(notifiers=[recording_notifier]), accounts=[sample_account()]
        )
        try:
            yield engine
        finally:
            engine.close()


def demo_engine(directory: Any, *, store: Any = None, **options: Any) -> Any:
    """An engine that has run the bundled demo sample (``ticketspike demo``'s data) in
    ``directory``, with its clock fixed 15 minutes after the newest ticket: TechCorp Inc's
    critical spike is an active escalation. Actions go to a :class:`RecordingNotifier`
    (``engine.notifier``), drafts to files in ``directory``."""
    from pathlib import Path

    from . import data
    from .config import load_config
    from .engine import Engine
    from .ticketfile import iter_ticket_events

    files = data.copy_to(Path(directory))
    config = load_config(files[data.DEMO_CONFIG], env={})
    events = sorted(iter_ticket_events(files[data.DEMO_TICKETS]), key=lambda e: e.at)
    clock = FixedClock(max(e.at for e in events) + timedelta(minutes=15))
    notifier = RecordingNotifier()
    plugins = Plugins(load_entrypoints=False, plugins=[StaticPlugin(notifiers=[notifier])])
    engine = Engine.from_config(
        config, store=store, plugins=plugins, clock=clock, sleep=RecordingSleep(), **options
    )
    engine.ingest_many(events)
    engine.notifier = notifier  # type: ignore[attr-defined]
    return engine
