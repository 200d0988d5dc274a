"""ticketspike: catch a customer's support-ticket spike and plan a well-routed escalation.

The public API is exactly what ``__all__`` lists; everything else is internal
and may change. Adapters and hosts import from here only.
"""

from .errors import (
    ConfigError,
    DeliveryError,
    InputError,
    InvalidTicket,
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
    parse_time,
    ticket_event_from_json,
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
    PluginConfig,
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
    "BaselineSource",
    "BreakdownRow",
    "Category",
    "ChannelPost",
    "Classification",
    "Classifier",
    "ConfigError",
    "CreateTask",
    "DeliveryError",
    "DirectMessage",
    "DraftEmail",
    "EscalationPlan",
    "EventKind",
    "InputError",
    "InvalidTicket",
    "Link",
    "MessageKind",
    "NotifyTeam",
    "PermanentDeliveryError",
    "Person",
    "PluginConfig",
    "PluginError",
    "PluginInfo",
    "Plugins",
    "Priority",
    "Recipient",
    "ScheduleSync",
    "Secret",
    "Severity",
    "SignatureError",
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
    "UpdateMessage",
    "WebhookRejected",
    "WebhookResult",
    "__version__",
    "hookimpl",
    "parse_time",
    "render_text",
    "ticket_event_from_json",
]


def __getattr__(name: str) -> str:
    # __version__ is read lazily from the installed metadata (stamina's way).
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("ticketspike")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            return "0.0.0+unknown"
    raise AttributeError(f"module 'ticketspike' has no attribute {name!r}")
