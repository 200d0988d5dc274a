"""The plugin contract: one ``register_*`` hook per role.

Each hook receives a ``register`` callback and the :class:`~ticketspike.roles.PluginConfig`.
A plugin calls ``register(obj)`` once per object it provides, and registers
nothing when its config section is absent (so an installed but unconfigured
adapter stays quiet). The core validates what is registered and names the
plugin in any error. Write implementations with ``from ticketspike import hookimpl``;
an implementation may accept any subset of a hook's arguments.

Hooks are called through pluggy's ``pm.hook``: later plugins before earlier ones,
built-ins last, and ``tryfirst``, ``trylast`` and ``wrapper=True`` behave as pluggy
documents them (the first object registered for something wins, so ``tryfirst`` is how a
plugin insists and ``trylast`` how it offers a fallback behind the built-ins).

Entry point (in the plugin distribution's ``pyproject.toml``)::

    [project.entry-points.ticketspike]
    myplugin = "myplugin_package.plugin"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .roles import (
        AccountDirectory,
        ActionHandler,
        Classifier,
        HttpEndpoint,
        MailTransport,
        PluginConfig,
        ThemeAnalyzer,
        TicketSource,
    )

PROJECT_NAME = "ticketspike"

_spec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


def _deprecated(name: str) -> DeprecationWarning:
    return DeprecationWarning(
        f"the {name} hook is deprecated since 0.2; implement register_action_handlers "
        f"instead (same arguments; the handler's kinds say what it serves)"
    )


__all__ = [
    "PROJECT_NAME",
    "hookimpl",
    "register_account_directories",
    "register_action_handlers",
    "register_classifiers",
    "register_email_drafters",
    "register_health_score_sinks",
    "register_http_endpoints",
    "register_mail_transports",
    "register_notifiers",
    "register_task_sinks",
    "register_theme_analyzers",
    "register_ticket_sources",
]


@_spec
def register_ticket_sources(register: Callable[[TicketSource], None], config: PluginConfig) -> None:
    """Register ticket sources (vendor webhooks and history backfill).

    Called once when the engine or CLI builds its plugin set. Each source's
    ``name`` is its URL segment in ``POST /api/webhooks/{source}`` and the
    ``SOURCE`` of ``ticketspike backfill``; names must be unique.

    :param register: call once per :class:`~ticketspike.roles.TicketSource`.
    :param config: the ``plugins`` sections and the environment.

    .. versionadded:: 0.1
    """


@_spec
def register_account_directories(
    register: Callable[[AccountDirectory], None], config: PluginConfig
) -> None:
    """Register account directories (CRM lookups for a customer id).

    Directories are asked in registration order, plugins before built-ins;
    the first that knows the customer answers.

    .. versionadded:: 0.1
    """


@_spec
def register_action_handlers(
    register: Callable[[ActionHandler], None], config: PluginConfig
) -> None:
    """Register action handlers: objects carrying out plan actions of the kinds they list.

    A handler's ``kinds`` are action types (``frozenset({DirectMessage, ChannelPost})``), so
    ``execute`` can narrow ``action`` with ``isinstance`` and mypy checks the fields it
    reads; kind strings (``"direct_message"``) are accepted too. For each kind the first
    handler registered for it serves: a plugin's wins over a built-in one; ``tryfirst``
    makes a plugin's win over other plugins, ``trylast`` makes it a fallback behind the
    built-ins.

    :param register: call once per :class:`~ticketspike.roles.ActionHandler`.
    :param config: the ``plugins`` sections and the environment.

    .. versionadded:: 0.2
       Replaces ``register_notifiers``, ``register_email_drafters``,
       ``register_task_sinks`` and ``register_health_score_sinks``.
    """


@_spec(warn_on_impl=_deprecated("register_notifiers"))
def register_notifiers(register: Callable[[ActionHandler], None], config: PluginConfig) -> None:
    """Register notifiers: handlers for ``direct_message``, ``channel_post``,
    ``thread_reply``, ``update_message``, ``notify_team`` and similar kinds.

    When several handlers serve a kind, a plugin's wins over a built-in one.

    .. versionadded:: 0.1
    .. deprecated:: 0.2
       An alias of :func:`register_action_handlers`.
    """


@_spec(warn_on_impl=_deprecated("register_email_drafters"))
def register_email_drafters(
    register: Callable[[ActionHandler], None], config: PluginConfig
) -> None:
    """Register e-mail drafters: handlers for ``draft_email`` (always approval-gated).

    .. versionadded:: 0.1
    .. deprecated:: 0.2
       An alias of :func:`register_action_handlers`.
    """


@_spec(warn_on_impl=_deprecated("register_task_sinks"))
def register_task_sinks(register: Callable[[ActionHandler], None], config: PluginConfig) -> None:
    """Register task sinks: handlers for ``create_task``, ``schedule_sync`` and
    ``add_to_war_room``.

    .. versionadded:: 0.1
    .. deprecated:: 0.2
       An alias of :func:`register_action_handlers`.
    """


@_spec(warn_on_impl=_deprecated("register_health_score_sinks"))
def register_health_score_sinks(
    register: Callable[[ActionHandler], None], config: PluginConfig
) -> None:
    """Register health-score sinks: handlers for ``adjust_health_score``.

    .. versionadded:: 0.1
    .. deprecated:: 0.2
       An alias of :func:`register_action_handlers`.
    """


@_spec
def register_theme_analyzers(
    register: Callable[[ThemeAnalyzer], None], config: PluginConfig
) -> None:
    """Register theme analyzers (e.g. one calling a language model).

    The engine calls the first registered one within a time budget and falls
    back to the built-in statistical analyzer on error or timeout.

    .. versionadded:: 0.1
    """


@_spec
def register_classifiers(register: Callable[[Classifier], None], config: PluginConfig) -> None:
    """Register ticket classifiers, asked when a source gives no category.

    Same budget-and-fallback rule as theme analyzers.

    .. versionadded:: 0.1
    """


@_spec
def register_http_endpoints(register: Callable[[HttpEndpoint], None], config: PluginConfig) -> None:
    """Register HTTP endpoints the HTTP app mounts (``POST`` at each one's ``path``).

    For vendor callbacks that are not ticket webhooks, such as Slack's interactivity
    requests. Paths must be unique.

    .. versionadded:: 0.2
    """


@_spec
def register_mail_transports(
    register: Callable[[MailTransport], None], config: PluginConfig
) -> None:
    """Register mail transports: where ``draft_email`` drafts are saved for review and how
    an approved draft is sent (:class:`~ticketspike.roles.MailTransport`).

    The first registered one serves (plugins before the built-in IMAP/SMTP transport, which
    registers when the config has an ``email:`` section with ``smtp`` or ``imap``). While a
    transport serves, the built-in e-mail drafter saves drafts through it; a plugin's own
    e-mail drafter still wins over both.

    .. versionadded:: 0.2
    """
