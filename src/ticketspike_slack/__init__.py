"""ticketspike-slack: the plan's messages delivered to Slack, safely.

Install next to ``ticketspike`` and add a ``plugins: {slack: {...}}`` section
to the configuration; the entry point (:mod:`ticketspike_slack.plugin`)
registers a :class:`SlackNotifier` that serves direct messages, the
coordination thread, its replies, updates of earlier alerts and team posts.
Messages are Block Kit built with slack_sdk, and every ticket-derived string is
escaped so a subject like ``<!channel>`` pings no one.
"""

from __future__ import annotations

from .blocks import fallback_text, render_blocks, sparkline
from .escape import mrkdwn
from .notifier import METADATA_EVENT_TYPE, SlackNotifier
from .settings import SlackSettings, settings_from_section

__all__ = [
    "METADATA_EVENT_TYPE",
    "SlackNotifier",
    "SlackSettings",
    "fallback_text",
    "mrkdwn",
    "render_blocks",
    "settings_from_section",
    "sparkline",
]
