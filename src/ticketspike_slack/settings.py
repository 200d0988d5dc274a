"""The ``plugins.slack`` section, validated into :class:`SlackSettings`.

Everything is checked when the configuration loads, so a typo fails at start-up
with ``ticketspike.yaml:14: plugins.slack.team_channels.product: ...`` rather
than at the first spike. The token is never in the file: the section may only
name the environment variable that holds it (``token_env``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import attrs

from .escape import is_web_url

if TYPE_CHECKING:
    # Only the type: sections reach us through PluginConfig.section().
    from ticketspike import Section

__all__ = [
    "BUTTON_FIELDS",
    "DEFAULT_BASE_URL",
    "DEFAULT_CHANNEL",
    "DEFAULT_TOKEN_ENV",
    "SlackSettings",
    "button_url",
    "settings_from_section",
]

DEFAULT_BASE_URL = "https://slack.com/api/"
DEFAULT_TOKEN_ENV = "SLACK_BOT_TOKEN"
DEFAULT_CHANNEL = "#cs-escalations"

# The only values a button URL template may use; each is URL-quoted before use,
# because customer ids come from tickets and tickets are hostile.
BUTTON_FIELDS = frozenset({"customer_id", "customer_name", "episode_id", "severity"})

_KEYS = frozenset(
    {
        "base_url",
        "token_env",
        "channel",
        "channels",
        "team_channels",
        "buttons",
        "users",
        "timeout",
        "sparkline_days",
        "dedupe_scan",
        # Interactivity (ticketspike_slack.interaction_settings reads these).
        "team_id",
        "interactions",
    }
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL = re.compile(r"^(#?[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{2,})$")
_SLUG = re.compile(r"^[a-z0-9_]{1,64}$")


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class SlackSettings:
    """How the Slack notifier talks to Slack. Every option has a working default.

    :param base_url: the Web API root; point it at a proxy or a local fake.
    :param token_env: the environment variable holding the bot token.
    :param channel: the coordination channel. When set, the coordination thread
        (a channel post that creates a thread) goes here whatever the workflow
        names; when unset, the workflow's channel (by default ``#cs-escalations``).
    :param channels: channel names as the workflow writes them -> Slack channel ids
        (``"#cs-escalations": C0123ABCD``). Ids let the duplicate check read history.
    :param team_channels: team id (``product``, ``finance``...) -> channel for
        ``notify_team``.
    :param buttons: button slug (``view_tickets``, ``draft_response``,
        ``start_war_room``, ``view_customer``) -> URL template using
        ``{customer_id}``, ``{customer_name}``, ``{episode_id}``, ``{severity}``.
        A button without a URL carries an ``action_id`` for the host's Slack app.
    :param users: e-mail address or name -> Slack user id, checked before any lookup.
    :param timeout: seconds per Web API call.
    :param sparkline_days: how many recent daily counts the sparkline shows (0: none).
    :param dedupe_scan: how many recent messages to scan for one already posted
        under the same idempotency key before posting (0: never scan).
    """

    base_url: str = DEFAULT_BASE_URL
    token_env: str = DEFAULT_TOKEN_ENV
    channel: str | None = None
    channels: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    team_channels: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    buttons: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    users: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    timeout: float = 10.0
    sparkline_days: int = 14
    dedupe_scan: int = 50

    def channel_id(self, channel: str | None, *, coordination: bool = False) -> str:
        """Where a post goes: ``channel`` (or the coordination channel), through ``channels``.

        ``coordination`` marks the coordination thread's root, which the
        configured ``channel`` redirects; a post naming no channel goes to the
        coordination channel too.
        """
        if coordination and self.channel:
            name = self.channel
        else:
            name = channel or self.channel or DEFAULT_CHANNEL
        return self.channels.get(name, self.channels.get(name.lstrip("#"), name))

    def user_for(self, *keys: str | None) -> str | None:
        """The configured Slack id for the first of ``keys`` (e-mail, name) that is mapped."""
        for key in keys:
            if not key:
                continue
            found = self.users.get(key) or self.users.get(key.lower())
            if found:
                return found
        return None


def button_url(template: str, values: Mapping[str, str]) -> str | None:
    """Fill a button URL template with URL-quoted values; ``None`` if it is not a web URL."""
    quoted = {name: quote(values.get(name, ""), safe="") for name in BUTTON_FIELDS}
    url = template.format_map(quoted)
    return url if is_web_url(url) and len(url) <= 3000 else None


def settings_from_section(section: Section) -> SlackSettings:
    """Validate ``plugins.slack``; raise :class:`ConfigError` naming file, line and key."""
    section.check_keys(_KEYS)
    base_url = section.get_str("base_url", DEFAULT_BASE_URL) or DEFAULT_BASE_URL
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise section.error("base_url", f"expected an http(s) URL, got {base_url!r}")
    if not base_url.endswith("/"):
        base_url += "/"  # slack_sdk joins method names onto the root
    token_env = section.get_str("token_env", DEFAULT_TOKEN_ENV) or DEFAULT_TOKEN_ENV
    if not _ENV_NAME.match(token_env):
        raise section.error(
            "token_env", f"expected the name of an environment variable, got {token_env!r}"
        )
    channel = section.get_str("channel")
    if channel is not None:
        _check_channel(section, "channel", channel)
    channels = _str_map(section, "channels", _check_channel)
    team_channels = _str_map(section, "team_channels", _check_channel)
    buttons = _str_map(section, "buttons", _check_button)
    users = _str_map(section, "users", _check_user)
    timeout = section.get_float("timeout", 10.0, minimum=0.1, maximum=300.0)
    sparkline_days = section.get_int("sparkline_days", 14, minimum=0, maximum=90)
    dedupe_scan = section.get_int("dedupe_scan", 50, minimum=0, maximum=1000)
    return SlackSettings(
        base_url=base_url,
        token_env=token_env,
        channel=channel,
        channels=channels,
        team_channels=team_channels,
        buttons=buttons,
        users={k.lower() if "@" in k else k: v for k, v in users.items()},
        timeout=float(timeout if timeout is not None else 10.0),
        sparkline_days=int(sparkline_days if sparkline_days is not None else 14),
        dedupe_scan=int(dedupe_scan if dedupe_scan is not None else 50),
    )


def _str_map(
    section: Section, key: str, check: Callable[[Section, str, str], None]
) -> dict[str, str]:
    """A mapping of strings under ``key``, each value passed through ``check``."""
    sub = section.get_section(key)
    if sub is None:
        return {}
    out: dict[str, str] = {}
    for name in sub:
        value = sub.get_str(str(name))
        if not value:
            raise sub.error(str(name), "expected a non-empty string")
        check(sub, str(name), value)
        out[str(name)] = value
    return out


def _check_user(section: Section, key: str, value: str) -> None:
    if not _USER_ID.match(value):
        raise section.error(key, f"expected a Slack user id such as U012AB3CD, got {value!r}")


def _check_channel(section: Section, key: str, value: str) -> None:
    if not _CHANNEL.match(value):
        raise section.error(
            key,
            f"expected a channel name such as #cs-escalations or an id such as "
            f"C012AB3CD, got {value!r}",
        )


def _check_button(section: Section, slug: str, template: str) -> None:
    if not _SLUG.match(slug):
        raise section.error(slug, "expected a button slug such as view_tickets")
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise section.error(slug, f"invalid URL template: {exc}") from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in BUTTON_FIELDS or spec or conversion:
            allowed = ", ".join("{" + f + "}" for f in sorted(BUTTON_FIELDS))
            raise section.error(
                slug, f"unknown placeholder {{{name}}} in URL template; expected only {allowed}"
            )
    sample = {name: "x" for name in BUTTON_FIELDS}
    if button_url(template, sample) is None:
        raise section.error(slug, f"expected an http(s) URL template, got {template!r}")
