"""ticketspike: catch a customer's support-ticket spike and plan a well-routed escalation.

The public API is exactly what ``__all__`` lists; everything else is internal
and may change. Adapters and hosts import from here only.
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
    PluginError,
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
    TicketRow,
    parse_time,
    ticket_event_from_json,
    ticket_row_from_json,
)
from .planner.message import AlertMessage, BreakdownRow, Link, MessageKind, render_text
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
from .unmatched import ResolvesUnmatched, Unmatched, UnmatchedRecord

__all__ = [
    "Account",
    "AccountDirectory",
    "Action",
    "ActionContext",
    "ActionHandler",
    "ActionResult",
    "AddToWarRoom",
    "AdjustHealthScore",
    "AlertLinks",
    "AlertMessage",
    "Assessment",
    "BackfillPage",
    "BackfillReport",
    "BaselineSource",
    "BreakdownRow",
    "Category",
    "ChannelPost",
    "Classification",
    "Classifier",
    "Config",
    "ConfigError",
    "CreateTask",
    "DeliveryError",
    "DeliveryUncertainError",
    "DetectionPolicy",
    "DirectMessage",
    "DraftConflict",
    "DraftEmail",
    "DraftNotFound",
    "DraftRecord",
    "DraftStatus",
    "Engine",
    "EscalationPlan",
    "EventKind",
    "ExecutionReport",
    "HttpEndpoint",
    "HttpReply",
    "IndustryBaseline",
    "IngestResult",
    "InputError",
    "InteractionRecord",
    "InvalidTicket",
    "LifecyclePolicy",
    "Link",
    "MailTransport",
    "MemoryStore",
    "MessageKind",
    "MissingSecretError",
    "NotifyTeam",
    "PermanentDeliveryError",
    "Person",
    "Planner",
    "PluginConfig",
    "PluginError",
    "PluginInfo",
    "Plugins",
    "Priority",
    "ReResolveReport",
    "Recipient",
    "ResolvesUnmatched",
    "RetryPolicy",
    "RoutingRules",
    "SQLiteStore",
    "SavedDraft",
    "ScheduleSync",
    "Secret",
    "Section",
    "Severity",
    "SignatureError",
    "Silence",
    "SpikeMonitor",
    "Store",
    "StoreError",
    "Theme",
    "ThemeAnalyzer",
    "ThreadReply",
    "Ticket",
    "TicketEvent",
    "TicketRow",
    "TicketSource",
    "TicketspikeError",
    "TransientDeliveryError",
    "Transition",
    "TransitionKind",
    "Unmatched",
    "UnmatchedRecord",
    "UpdateMessage",
    "WebhookRejected",
    "WebhookResult",
    "Workflow",
    "__version__",
    "assess_batch",
    "categorize",
    "find_themes",
    "hookimpl",
    "load_config",
    "parse_time",
    "render_text",
    "replay_events",
    "replay_rows",
    "ticket_event_from_json",
    "ticket_row_from_json",
]


# The embedding API (engine, stores, executor, config) loads on first use: importing
# ticketspike for its types (as every adapter does) stays cheap.
_LAZY = {
    "AlertLinks": "ticketspike.planner.alert",
    "BackfillReport": "ticketspike.engine",
    "Config": "ticketspike.config",
    "DetectionPolicy": "ticketspike.detect.policy",
    "DraftRecord": "ticketspike.store.drafts",
    "DraftStatus": "ticketspike.store.drafts",
    "Engine": "ticketspike.engine",
    "ExecutionReport": "ticketspike.executor",
    "IndustryBaseline": "ticketspike.detect.policy",
    "IngestResult": "ticketspike.engine",
    "InteractionRecord": "ticketspike.store.interactions",
    "LifecyclePolicy": "ticketspike.lifecycle",
    "MemoryStore": "ticketspike.store.memory",
    "Planner": "ticketspike.planner.planner",
    "ReResolveReport": "ticketspike.engine",
    "RetryPolicy": "ticketspike.executor",
    "RoutingRules": "ticketspike.planner.routing",
    "SQLiteStore": "ticketspike.store.sqlite",
    "Silence": "ticketspike.lifecycle",
    "SpikeMonitor": "ticketspike.monitor",
    "Store": "ticketspike.store.base",
    "Workflow": "ticketspike.planner.workflow",
    "assess_batch": "ticketspike.detect.assess",
    "categorize": "ticketspike.text.classify",
    "find_themes": "ticketspike.text.themes",
    "load_config": "ticketspike.config",
    "replay_events": "ticketspike.monitor",
    "replay_rows": "ticketspike.monitor",
}

if _typing.TYPE_CHECKING:
    from .config import Config, load_config
    from .detect.assess import assess_batch
    from .detect.policy import DetectionPolicy, IndustryBaseline
    from .engine import BackfillReport, Engine, IngestResult, ReResolveReport
    from .executor import ExecutionReport, RetryPolicy
    from .lifecycle import LifecyclePolicy, Silence
    from .monitor import SpikeMonitor, replay_events, replay_rows
    from .planner.alert import AlertLinks
    from .planner.planner import Planner
    from .planner.routing import RoutingRules
    from .planner.workflow import Workflow
    from .store.base import Store
    from .store.drafts import DraftRecord, DraftStatus
    from .store.interactions import InteractionRecord
    from .store.memory import MemoryStore
    from .store.sqlite import SQLiteStore
    from .text.classify import categorize
    from .text.themes import find_themes


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name: str) -> _typing.Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    # __version__ is read lazily from the installed metadata (stamina's way).
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("ticketspike")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            return "0.0.0+unknown"
    raise AttributeError(f"module 'ticketspike' has no attribute {name!r}")
