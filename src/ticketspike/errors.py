"""The one exception tree of ticketspike.

Every error ticketspike raises on purpose derives from :class:`TicketspikeError`,
and each subclass also derives from the builtin a caller would already catch
(bad input is a :class:`ValueError`), so hosts can be as broad or as narrow as
they like::

    TicketspikeError
    ├── InputError (ValueError)            bad input: one line saying where and what
    │   ├── InvalidTicket                  a ticket JSON object that breaks the contract
    │   ├── ConfigError                    a config/accounts/workflow file (file, line, key)
    │   │   ├── MissingSecretError         a secret's environment variable is not set
    │   │   └── PluginConfigError          a plugin refused its section (also a PluginError)
    │   ├── WebhookRejected                a webhook that must not be processed
    │   │   └── SignatureError             missing, stale or wrong signature (HTTP 401)
    │   ├── DraftNotFound                  no e-mail draft with that id (HTTP 404)
    │   └── DraftConflict                  the draft's state forbids it (HTTP 409)
    ├── PluginError                        a plugin broke the contract (names the plugin)
    ├── DeliveryError                      an action could not be carried out (``action``)
    │   ├── TransientDeliveryError         worth retrying (rate limit, 5xx, timeout)
    │   ├── PermanentDeliveryError         retrying will not help (bad channel, bad auth)
    │   └── DeliveryUncertainError         it may or may not have happened (cut off mid-send)
    ├── StoreError                         the store could not do what was asked
    └── Stopped                            a signal stopped a command (``exit_code``)

Messages never contain secrets: code that builds them passes names of
environment variables, never their values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .planner.plan import Action

__all__ = [
    "ConfigError",
    "DeliveryError",
    "DeliveryUncertainError",
    "DraftConflict",
    "DraftNotFound",
    "InputError",
    "InvalidTicket",
    "MissingSecretError",
    "PermanentDeliveryError",
    "PluginConfigError",
    "PluginError",
    "RecordConflict",
    "RecordNotFound",
    "SignatureError",
    "StoreError",
    "Stopped",
    "TicketspikeError",
    "TransientDeliveryError",
    "WebhookRejected",
]


class TicketspikeError(Exception):
    """Base class of every error ticketspike raises on purpose."""


class InputError(TicketspikeError, ValueError):
    """Input that breaks a contract.

    ``where`` says where the input came from (``tickets.jsonl:12``,
    ``ticketspike.yaml:7``, ``webhook``); ``field`` names the offending key when
    there is one. ``str(err)`` is a single line fit for a terminal or a log.
    """

    def __init__(self, message: str, *, where: str = "", field: str = "") -> None:
        self.message = message
        self.where = where
        self.field = field
        super().__init__(self._line())

    def _line(self) -> str:
        parts = [p for p in (self.where, self.field) if p]
        prefix = ": ".join(parts)
        text = " ".join(self.message.split())  # one line, whatever came in
        return f"{prefix}: {text}" if prefix else text


class InvalidTicket(InputError):
    """A ticket (JSON object or vendor payload) that cannot be turned into a ticket."""


class ConfigError(InputError):
    """A configuration, accounts or workflow file that cannot be used as it is."""


class MissingSecretError(ConfigError):
    """The environment variable that should hold a secret is unset or blank.

    A config can be right and still not run on this machine; ``check-config``
    reports this as a warning, start-up as an error. Names the variable, never a value.
    """


class WebhookRejected(InputError):
    """A webhook delivery that must not be processed.

    ``status`` is the HTTP status the HTTP face answers with (400 by default).
    """

    status: int = 400

    def __init__(
        self, message: str, *, where: str = "", field: str = "", status: int | None = None
    ) -> None:
        super().__init__(message, where=where, field=field)
        if status is not None:
            self.status = status


class SignatureError(WebhookRejected):
    """A webhook whose signature is missing, wrong, or outside the time window."""

    status = 401


class PluginError(TicketspikeError):
    """A plugin that broke the contract; ``plugin`` names it."""

    def __init__(self, message: str, *, plugin: str = "") -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: {message}" if plugin else message)


class PluginConfigError(ConfigError, PluginError):
    """A plugin refused its configuration section: both a config error and a plugin error.

    ``str()`` is the section's own ``file:line: key: message``; ``plugin`` names the plugin.
    """

    def __init__(self, error: InputError, *, plugin: str) -> None:
        ConfigError.__init__(self, error.message, where=error.where, field=error.field)
        self.plugin = plugin


class DeliveryError(TicketspikeError):
    """An action could not be carried out by the plugin that serves it.

    ``action`` is the action that failed. A handler may leave it out; the executor fills it
    in before the error leaves it, so whoever catches one knows which step (``action.key``,
    ``action.kind``) it was about.
    """

    transient: bool = False

    def __init__(
        self, message: str, *, retry_after: float | None = None, action: Action | None = None
    ) -> None:
        self.retry_after = retry_after
        self.action = action
        super().__init__(message)


class TransientDeliveryError(DeliveryError):
    """Worth retrying; ``retry_after`` (seconds) is the service's hint, if any."""

    transient = True


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help; the action is recorded as failed for good."""


class DeliveryUncertainError(DeliveryError):
    """The effect may or may not have happened (the connection dropped after the message was
    handed over): never retried blindly; whoever called must find out, or ask a person.
    """


class DraftNotFound(InputError):
    """No e-mail draft with the id asked for."""


class DraftConflict(InputError):
    """The draft's state forbids what was asked (rejected, already being sent, unknown
    whether it left, or its episode resolved and the caller did not confirm).
    """


class RecordNotFound(InputError):
    """No task (or other escalation record) with the id asked for."""


class RecordConflict(InputError):
    """The record changed meanwhile (someone else closed the task first)."""


class StoreError(TicketspikeError):
    """The store could not do what was asked (schema too new, file unusable...)."""


class Stopped(TicketspikeError):
    """A command stopped by SIGTERM or SIGINT after finishing (or handing back) the action in
    hand; ``exit_code`` is 128 plus the signal's number, as a shell reports it."""

    def __init__(self, message: str, *, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
