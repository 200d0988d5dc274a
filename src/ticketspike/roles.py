"""The roles a plugin can play, as typed protocols, and the values they exchange.

A plugin registers objects that satisfy one of these protocols through the
hooks in :mod:`ticketspike.hookspecs`:

* :class:`TicketSource`: turns a vendor webhook (raw bytes, verified first)
  or a page of history into :class:`~ticketspike.model.TicketEvent` s.
* :class:`AccountDirectory`: account context for a customer id.
* :class:`ActionHandler`: carries out plan actions of the types it lists
  (notifiers, e-mail drafters, task sinks, health-score sinks), registered
  through ``register_action_handlers``.
* :class:`ThemeAnalyzer` and :class:`Classifier`: text analysis, with the
  built-in statistical ones as fallback.
* :class:`MailTransport`: where approval-gated e-mail drafts are saved for
  review and how an approved one is sent (the built-in one speaks IMAP and
  SMTP; a host may plug in the Gmail API or its own mailer).

Handlers signal failure with :class:`~ticketspike.errors.TransientDeliveryError`
(retried, honouring ``retry_after``) or
:class:`~ticketspike.errors.PermanentDeliveryError` (recorded, never retried).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from .configfile import Section
from .errors import MissingSecretError
from .model import Account, Ticket, TicketEvent
from .secrets import Secret, secret_from_env, secrets_from_env
from .signals import Classification, Theme
from .unmatched import Unmatched

if TYPE_CHECKING:
    from .planner.plan import Action, EscalationPlan
    from .store.interactions import InteractionRecord

__all__ = [
    "AccountDirectory",
    "ActionContext",
    "ActionHandler",
    "ActionResult",
    "BackfillPage",
    "Classifier",
    "HttpEndpoint",
    "HttpReply",
    "MailTransport",
    "PluginConfig",
    "SavedDraft",
    "ThemeAnalyzer",
    "TicketSource",
    "WebhookResult",
]


@attrs.frozen
class PluginConfig:
    """What a registration hook sees: the config's ``plugins`` sections and the environment.

    The environment is passed in (not read from ``os.environ`` by plugins) so
    hosts and tests control it. A section is ``None`` when the config does not
    mention the plugin; by convention an adapter then registers nothing.
    """

    sections: Mapping[str, Section] = attrs.field(factory=dict)
    env: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    config_name: str = "<config>"
    # The whole file, for built-in plugins whose settings are top-level
    # sections (``themes``, ``classification``); adapters use ``sections``.
    root: Section = attrs.field(factory=Section, repr=False)

    def section(self, name: str) -> Section | None:
        return self.sections.get(name)

    def secret(self, section: Section | None, key: str, default_env: str) -> Secret | None:
        """The secret whose *variable name* is ``section[key]`` (default ``default_env``)."""
        name = default_env
        if section is not None:
            name = section.get_str(key, default_env) or default_env
        return secret_from_env(self.env, name)

    def require_secret(self, section: Section, key: str, default_env: str, *, what: str) -> Secret:
        """Like :meth:`secret`, but an unset variable is a :class:`MissingSecretError`
        pointing at ``key`` (or the section) and saying ``what`` the variable must hold.
        """
        name = section.get_str(key, default_env) or default_env
        found = secret_from_env(self.env, name)
        if found is None:
            error = section.error(
                key if key in section else None,
                f"environment variable {name} is not set; it must hold {what}",
            )
            raise MissingSecretError(error.message, where=error.where, field=error.field)
        return found

    def secrets(self, section: Section | None, key: str, default_env: str) -> tuple[Secret, ...]:
        """Several space-separated secrets (rotation) from the named variable."""
        name = default_env
        if section is not None:
            name = section.get_str(key, default_env) or default_env
        return secrets_from_env(self.env, name)


@attrs.frozen
class WebhookResult:
    """A verified webhook delivery: its events, or why it was ignored.

    ``delivery_id`` is the vendor's id for the delivery (Zendesk event id,
    Intercom notification id), used by the engine to drop replays.
    """

    events: tuple[TicketEvent, ...] = ()
    delivery_id: str | None = None
    ignored: str | None = None
    # Valid records no rule tied to a customer: kept aside, not dropped.
    unmatched: tuple[Unmatched, ...] = ()


@attrs.frozen
class BackfillPage:
    """One page of history; ``cursor`` resumes *after* this page."""

    events: tuple[TicketEvent, ...]
    cursor: str | None = None
    done: bool = False
    skipped: int = 0  # deleted or otherwise unusable records on this page
    unmatched: tuple[Unmatched, ...] = ()  # valid records without a customer, kept aside


@runtime_checkable
class TicketSource(Protocol):
    @property
    def name(self) -> str: ...

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookResult:
        """Verify the signature over the raw ``body`` and parse it.

        Raise :class:`~ticketspike.errors.SignatureError` on a bad signature
        and :class:`~ticketspike.errors.WebhookRejected` on bad content;
        return ``WebhookResult(ignored=...)`` for valid deliveries that carry
        no ticket change. Header names are matched case-insensitively by the
        caller passing lower-case keys.
        """
        ...

    def backfill(self, *, since: datetime, cursor: str | None = None) -> Iterator[BackfillPage]:
        """Yield history pages from ``since`` (or from ``cursor`` when resuming)."""
        ...


@runtime_checkable
class AccountDirectory(Protocol):
    @property
    def name(self) -> str: ...

    def get_account(self, customer_id: str) -> Account | None:
        """The account, or ``None`` if this directory does not know it."""
        ...


@attrs.frozen
class ActionResult:
    """What carrying out an action produced: references later steps may need.

    ``ref`` holds e.g. ``{"channel": "C123", "ts": "1700000000.0001"}`` for a
    posted message, so a thread reply or update can find it. ``summary`` is a
    human line for the outbox.
    """

    ref: Mapping[str, str] = attrs.field(factory=dict)
    summary: str = ""


class ActionContext(Protocol):
    """What a handler may ask the executor while carrying out an action."""

    @property
    def plan(self) -> EscalationPlan: ...

    @property
    def account(self) -> Account | None: ...

    @property
    def now(self) -> datetime: ...

    @property
    def key(self) -> str:
        """The action's idempotency key (``action.key``): stable across retries and restarts.

        The executor records an action as done only after the handler returns, so a process
        killed in between runs the action again. A handler makes its side effect once by
        keying it: a request id, a marker written before the effect, a file created only if
        absent. See ``docs/plugins.md``.
        """
        ...

    def result_of(self, key: str) -> ActionResult | None:
        """The result of an earlier action (any plan of the same episode) by key."""
        ...

    def interactions(self) -> Sequence[InteractionRecord]:
        """What people did on the plan's episode (acknowledged, resolved...), oldest first.

        Read when the action runs, not when it was planned, so a message rendered from a
        later plan can still show who acknowledged the episode in between.
        """
        ...


@runtime_checkable
class ActionHandler(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> Collection[type[Action] | str]:
        """The action types it serves (``{DirectMessage, ChannelPost}``); kind strings
        (``"direct_message"``) are accepted too, as in 0.1.
        """
        ...

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        """Carry out ``action`` once, keyed by ``ctx.key`` so a repeat after a crash is a no-op.

        Raise a ``DeliveryError`` subclass on failure.
        """
        ...


@runtime_checkable
class ThemeAnalyzer(Protocol):
    @property
    def name(self) -> str: ...

    def analyze(
        self, window: Sequence[Ticket], baseline: Sequence[Ticket], *, limit: int = 5
    ) -> Sequence[Theme]:
        """Themes unusually frequent in ``window`` compared with ``baseline``."""
        ...


@runtime_checkable
class Classifier(Protocol):
    @property
    def name(self) -> str: ...

    def classify(self, ticket: Ticket) -> Classification | None:
        """A category with confidence, or ``None`` to abstain."""
        ...


@attrs.frozen
class SavedDraft:
    """Where a transport saved a draft: its Message-ID, and the mailbox and folder (if any)."""

    message_id: str
    mailbox: str | None = None
    folder: str | None = None


@runtime_checkable
class MailTransport(Protocol):
    """Saves e-mail drafts where a person reviews them, and sends the approved ones.

    Failures are :class:`~ticketspike.errors.TransientDeliveryError` (nothing left; worth
    retrying), :class:`~ticketspike.errors.PermanentDeliveryError` (nothing left; retrying
    will not help) or :class:`~ticketspike.errors.DeliveryUncertainError` (the message may
    have left: the engine never sends it again without asking :meth:`was_sent` or a person).
    """

    @property
    def name(self) -> str: ...

    @property
    def checks_sent(self) -> bool:
        """True when :meth:`was_sent` can answer (a Sent folder it can search)."""
        ...

    def save_draft(self, message: EmailMessage, *, key: str, now: datetime) -> SavedDraft:
        """Save ``message`` as a draft, once per ``key``.

        When a draft saved for ``key`` is already there (a retry after a crash), return it,
        with *its* Message-ID, instead of saving a second one.
        """
        ...

    def send(self, message: EmailMessage) -> None:
        """Send ``message`` to its ``To`` recipients."""
        ...

    def was_sent(self, message: EmailMessage) -> bool | None:
        """Whether ``message`` (by its Message-ID) was sent; ``None`` when it cannot tell."""
        ...

    def discard_draft(self, saved: SavedDraft) -> None:
        """Remove the saved draft (it was sent or rejected); a draft already gone is fine."""
        ...


def describe(obj: Any) -> str:
    """A short name for a registered object, for errors and listings."""
    return str(getattr(obj, "name", None) or type(obj).__name__)


@attrs.frozen
class HttpReply:
    """What an :class:`HttpEndpoint` answers: status, body bytes and their media type."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


@runtime_checkable
class HttpEndpoint(Protocol):
    """A route an adapter adds to the HTTP app (Slack's interactivity URL, for one).

    The app mounts ``path`` for ``POST``, calls :meth:`start` with the engine once, hands
    each request's raw body and lower-cased headers to :meth:`handle` (in a worker thread,
    after the app's body-size limit) and calls :meth:`stop` on shutdown. The endpoint
    verifies its own signatures; it must answer quickly and do slow work in the background.
    Framework-neutral on purpose: the core's HTTP toolkit is not part of the contract.
    """

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> str: ...

    def start(self, engine: Any) -> None: ...

    def handle(self, body: bytes, headers: Mapping[str, str]) -> HttpReply: ...

    def stop(self) -> None: ...
