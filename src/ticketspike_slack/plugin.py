"""The ticketspike entry point of this adapter (hook implementations).

Installed but not configured, the adapter registers nothing, so the built-in
console notifier keeps serving. Configured (``plugins: {slack: {...}}``), it
registers one :class:`~ticketspike_slack.notifier.SlackNotifier`, which then
wins over the built-in notifier for every message kind it serves.
"""

from __future__ import annotations

from collections.abc import Callable

from ticketspike import ActionHandler, PluginConfig, hookimpl

from .notifier import SlackNotifier
from .settings import settings_from_section

__all__ = ["register_notifiers"]


@hookimpl
def register_notifiers(register: Callable[[ActionHandler], None], config: PluginConfig) -> None:
    section = config.section("slack")
    if section is None:
        return
    settings = settings_from_section(section)
    token = config.require_secret(
        section, "token_env", settings.token_env, what="the Slack bot token (xoxb-...)"
    )
    register(SlackNotifier(token=token, settings=settings))
