"""The ticketspike entry point of this adapter (hook implementations).

Installed but not configured, the adapter registers nothing, so the built-in
console notifier keeps serving. Configured (``plugins: {slack: {...}}``), it
registers one :class:`~ticketspike_slack.notifier.SlackNotifier`, which then
wins over the built-in notifier for every message kind it serves, and, when the
signing secret is set (``SLACK_SIGNING_SECRET``), the interactivity endpoint
(:class:`~ticketspike_slack.interactions.SlackInteractions`) the HTTP app mounts at
``POST /api/webhooks/slack/interactions``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable

from slack_sdk import WebClient

from ticketspike import ActionHandler, HttpEndpoint, PluginConfig, Section, hookimpl

from .interaction_settings import interaction_settings_from_section
from .interactions import SlackInteractions
from .notifier import SlackNotifier
from .settings import settings_from_section

__all__ = ["register_action_handlers", "register_http_endpoints"]

_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,}$")


@hookimpl
def register_action_handlers(
    register: Callable[[ActionHandler], None], config: PluginConfig
) -> None:
    section = config.section("slack")
    if section is None:
        return
    settings = settings_from_section(section)
    token = config.require_secret(
        section, "token_env", settings.token_env, what="the Slack bot token (xoxb-...)"
    )
    register(SlackNotifier(token=token, settings=settings))


def team_id_of(section: Section) -> str | None:
    """``plugins.slack.team_id``, checked (``None``: ask ``auth.test``)."""
    team = section.get_str("team_id")
    if team is not None and not _TEAM_ID.match(team):
        raise section.error("team_id", f"expected a Slack team id such as T012AB3CD, got {team!r}")
    return team


@hookimpl
def register_http_endpoints(register: Callable[[HttpEndpoint], None], config: PluginConfig) -> None:
    section = config.section("slack")
    if section is None:
        return
    settings = settings_from_section(section)
    options = interaction_settings_from_section(section.get_section("interactions"))
    team = team_id_of(section)
    secrets = config.secrets(None, "", options.signing_secret_env)
    app_token = None
    if options.socket_mode:
        app_token = config.require_secret(
            section.get_section("interactions") or section,
            "app_token_env",
            options.app_token_env,
            what="the Slack app-level token (xapp-...) for Socket Mode",
        )
    if not secrets and app_token is None:
        logging.getLogger("ticketspike_slack").info(
            "slack: $%s is not set; the interactivity endpoint is not mounted",
            options.signing_secret_env,
        )
        return
    token = config.require_secret(
        section, "token_env", settings.token_env, what="the Slack bot token (xoxb-...)"
    )
    client = WebClient(
        token=token.reveal(),
        base_url=settings.base_url,
        timeout=max(1, math.ceil(settings.timeout)),
        retry_handlers=[],
        logger=logging.getLogger("ticketspike_slack.web"),
    )
    endpoint = SlackInteractions(
        secrets=secrets, client=client, settings=settings, options=options, team_id=team
    )
    if app_token is not None:
        # Imported only when used: Socket Mode is an alternative to the HTTP endpoint.
        from .socket_mode import SocketModeRunner

        endpoint.socket_mode = SocketModeRunner(endpoint, app_token=app_token, client=client)
    register(endpoint)
