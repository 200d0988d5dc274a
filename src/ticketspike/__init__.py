"""ticketspike: catch a customer's support-ticket spike and plan a well-routed escalation.

The public API is exactly what ``__all__`` lists: what a host needs to run the engine and
what a plugin author needs to write a role (docs/embedding.md and docs/plugins.md list it).
Advanced names (the detector's row type, the monitor, message parts, config policies, store
records) are imported from the module that defines them; a few used to be importable from
here and still are, with a :class:`DeprecationWarning` naming the new path. Everything else
is internal and may change.
"""

import typing as _typing

from .configfile import Section
from .errors import (
    ConfigError,
    DeliveryError,
    DeliveryUncertainError,
    DraftConflict,
    DraftNotFound,
    InputError,
    InvalidTicket,
    MissingSecretError,
    PermanentDeliveryError,
    PluginConfigError,
    PluginError,
    RecordConflict,
    RecordNotFound,
    SignatureError,
    StoreError,
    TicketspikeError,
    TransientDeliveryError,
    WebhookRejected,
)
from .hookspecs import hookimpl
from .model import (
    Account,
    Category,
    EventKind,
    Person,
    Priority,
    Ticket,
    TicketEvent,
    parse_time,
    ticket_event_from_json,
)
from .planner.message import AlertMessage
from .planner.plan import (
    Action,
    AddToWarRoom,
    AdjustHealthScore,
    ChannelPost,
    CreateTask,
    DirectMessage,
    DraftEmail,
    EscalationPlan,
    NotifyTeam,
    Recipient,
    ScheduleSync,
    ThreadReply,
    UpdateMessage,
)
from .plugins import PluginInfo, Plugins
from .roles import (
    AccountDirectory,
    ActionContext,
    ActionHandler,
    ActionResult,
    BackfillPage,
    Classifier,
    HttpEndpoint,
    HttpReply,
    MailTransport,
    PluginConfig,
    SavedDraft,
    ThemeAnalyzer,
    TicketSource,
    WebhookResult,
)
from .secrets import Secret
from .signals import (
    Assessment,
    BaselineSource,
    Classification,
    Severity,
    Theme,
    Transition,
    TransitionKind,
)
from .unmatched import ResolvesUnmatched, Unmatched

__all__ = [
    "Account",
    "AccountDirectory",
    "Action",
    "ActionContext",
    "ActionHandler",
    "ActionResult",
    "AddToWarRoom",
    "AdjustHealthScore",
    "AlertMessage",
    "Assessment",
    "BackfillPage",
    "BackfillReport",
    "BaselineSource",
    "Category",
    "ChannelPost",
    "Classification",
    "Classifier",
    "Config",
    "ConfigError",
    "CreateTask",
    "DeliveryError",
    "DeliveryUncertainError",
    "DirectMessage",
    "DraftConflict",
    "DraftEmail",
    "DraftNotFound",
    "Engine",
    "EscalationPlan",
    "EventKind",
    "ExecutionReport",
    "HttpEndpoint",
    "HttpReply",
    "IngestResult",
    "InputError",
    "InvalidTicket",
    "MailTransport",
    "MemoryStore",
    "MissingSecretError",
    "NotifyTeam",
    "PermanentDeliveryError",
    "Person",
    "PluginConfig",
    "PluginConfigError",
    "PluginError",
    "PluginInfo",
    "Plugins",
    "Priority",
    "ReResolveReport",
    "Recipient",
    "RecordConflict",
    "RecordNotFound",
    "ResolvesUnmatched",
    "RetryPolicy",
    "SQLiteStore",
    "SavedDraft",
    "ScheduleSync",
    "Secret",
    "Section",
    "Severity",
    "SignatureError",
    "Store",
    "StoreError",
    "Theme",
    "ThemeAnalyzer",
    "ThreadReply",
    "Ticket",
    "TicketEvent",
    "TicketSource",
    "TicketspikeError",
    "TransientDeliveryError",
    "Transition",
    "TransitionKind",
    "Unmatched",
    "UpdateMessage",
    "WebhookRejected",
    "WebhookResult",
    "__version__",
    "hookimpl",
    "load_config",
    "parse_time",
    "ticket_event_from_json",
]


# The embedding API (engine, stores, executor, config) loads on first use: importing
# ticketspike for its types (as every adapter does) stays cheap.
_LAZY = {
    "BackfillReport": "ticketspike.history",
    "Config": "ticketspike.config",
    "Engine": "ticketspike.engine",
    "ExecutionReport": "ticketspike.executor",
    "IngestResult": "ticketspike.ingest",
    "MemoryStore": "ticketspike.store.memory",
    "ReResolveReport": "ticketspike.history",
    "RetryPolicy": "ticketspike.executor",
    "SQLiteStore": "ticketspike.store.sqlite",
    "Store": "ticketspike.store.base",
    "load_config": "ticketspike.config",
}

# Names that were public here before the API was trimmed, and the module a caller now imports
# them from. They still resolve (to the same object) for one release, with a
# DeprecationWarning, so code written against the old surface keeps running while it moves.
_DEPRECATED = {
    "AlertLinks": "ticketspike.planner",
    "BreakdownRow": "ticketspike.planner.message",
    "DetectionPolicy": "ticketspike.detect.policy",
    "DraftRecord": "ticketspike.store",
    "DraftStatus": "ticketspike.store",
    "IndustryBaseline": "ticketspike.detect.policy",
    "InteractionRecord": "ticketspike.store",
    "LifecyclePolicy": "ticketspike.lifecycle",
    "Link": "ticketspike.planner.message",
    "MessageKind": "ticketspike.planner.message",
    "Planner": "ticketspike.planner",
    "RoutingRules": "ticketspike.planner",
    "Silence": "ticketspike.lifecycle",
    "SpikeMonitor": "ticketspike.monitor",
    "TicketRow": "ticketspike.model",
    "UnmatchedRecord": "ticketspike.unmatched",
    "Workflow": "ticketspike.planner",
    "assess_batch": "ticketspike.detect.assess",
    "categorize": "ticketspike.text.classify",
    "find_themes": "ticketspike.text.themes",
    "render_text": "ticketspike.planner.message",
    "replay_events": "ticketspike.monitor",
    "replay_rows": "ticketspike.monitor",
    "ticket_row_from_json": "ticketspike.model",
}

if _typing.TYPE_CHECKING:
    from .config import Config, load_config
    from .engine import Engine
    from .executor import ExecutionReport, RetryPolicy
    from .history import BackfillReport, ReResolveReport
    from .ingest import IngestResult
    from .store.base import Store
    from .store.memory import MemoryStore
    from .store.sqlite import SQLiteStore


def __dir__() -> list[str]:
    # The deprecated names stay out of dir(): listing them would invite new uses.
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name: str) -> _typing.Any:
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _DEPRECATED:
        import warnings

        module = _DEPRECATED[name]
        warnings.warn(
            f"importing {name} from ticketspike is deprecated and will stop working in the "
            f"next release; use `from {module} import {name}`",
            DeprecationWarning,
            stacklevel=2,
        )
        # Not cached in globals(): every use warns, not only the first.
        return getattr(importlib.import_module(module), name)
    # __version__ is read lazily from the installed metadata (stamina's way).
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("ticketspike")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            return "0.0.0+unknown"
    raise AttributeError(f"module 'ticketspike' has no attribute {name!r}")
