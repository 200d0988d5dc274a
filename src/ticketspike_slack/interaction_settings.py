"""The ``plugins.slack.interactions`` section: who may click, war rooms, Socket Mode.

Kept apart from :mod:`ticketspike_slack.settings` (the notifier's settings); the notifier's
section only learns the two keys ``team_id`` and ``interactions``. Validated at load time,
so a typo fails at start-up with the file, line and key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from ticketspike import Section

__all__ = [
    "DEFAULT_APP_TOKEN_ENV",
    "DEFAULT_SIGNING_SECRET_ENV",
    "DEFAULT_WAR_ROOM_NAME",
    "InteractionSettings",
    "interaction_settings_from_section",
]

DEFAULT_SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"
DEFAULT_APP_TOKEN_ENV = "SLACK_APP_TOKEN"
DEFAULT_WAR_ROOM_NAME = "spike-{customer_id}-{date}"
WAR_ROOM_FIELDS = frozenset({"customer_id", "customer_name", "episode_id", "date"})

_KEYS = frozenset(
    {
        "signing_secret_env",
        "app_token_env",
        "socket_mode",
        "who_may_click",
        "allow_users",
        "war_room_name",
        "war_room_private",
        "team_people",
    }
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_TEAM = re.compile(r"^[a-z0-9_]{1,64}$")
_FIELD = re.compile(r"\{([^{}]*)\}")


def _frozen(value: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class InteractionSettings:
    """How the adapter answers clicks. Every option has a working default.

    :param signing_secret_env: the variable with the signing secret(s), space-separated.
    :param app_token_env: the variable with the app-level token (``xapp-...``) for Socket Mode.
    :param socket_mode: receive clicks over Socket Mode instead of the HTTP endpoint.
    :param who_may_click: ``anyone`` in the workspace, or only the ``account``'s CSM and
        manager plus ``allow_users``.
    :param allow_users: Slack user ids who may always click.
    :param war_room_name: channel name pattern (``{customer_id}``, ``{customer_name}``,
        ``{episode_id}``, ``{date}``), sanitised to Slack's channel-name rules.
    :param war_room_private: create the war room as a private channel.
    :param team_people: team id (``support_lead``, ``product``...) -> Slack user ids invited
        to a war room when the spike is routed to that team (``support_lead`` always).
    """

    signing_secret_env: str = DEFAULT_SIGNING_SECRET_ENV
    app_token_env: str = DEFAULT_APP_TOKEN_ENV
    socket_mode: bool = False
    who_may_click: str = "anyone"
    allow_users: frozenset[str] = frozenset()
    war_room_name: str = DEFAULT_WAR_ROOM_NAME
    war_room_private: bool = True
    team_people: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_frozen)


def interaction_settings_from_section(section: Section | None) -> InteractionSettings:
    """Validate ``plugins.slack.interactions`` (``None``: every default)."""
    if section is None:
        return InteractionSettings()
    section.check_keys(_KEYS)
    envs = {}
    for key, default in (
        ("signing_secret_env", DEFAULT_SIGNING_SECRET_ENV),
        ("app_token_env", DEFAULT_APP_TOKEN_ENV),
    ):
        name = section.get_str(key, default) or default
        if not _ENV_NAME.match(name):
            raise section.error(key, f"expected the name of an environment variable, got {name!r}")
        envs[key] = name
    who = section.get_str("who_may_click", "anyone", choices=("anyone", "account")) or "anyone"
    allow = _users(section, "allow_users")
    pattern = section.get_str("war_room_name", DEFAULT_WAR_ROOM_NAME) or DEFAULT_WAR_ROOM_NAME
    for name in _FIELD.findall(pattern):
        if name not in WAR_ROOM_FIELDS:
            allowed = ", ".join("{" + f + "}" for f in sorted(WAR_ROOM_FIELDS))
            raise section.error(
                "war_room_name", f"unknown placeholder {{{name}}}; expected only {allowed}"
            )
    people: dict[str, tuple[str, ...]] = {}
    sub = section.get_section("team_people")
    if sub is not None:
        for team in sub:
            if not _TEAM.match(str(team)):
                raise sub.error(str(team), "expected a team id such as support_lead")
            people[str(team)] = tuple(sorted(_users(sub, str(team))))
    return InteractionSettings(
        signing_secret_env=envs["signing_secret_env"],
        app_token_env=envs["app_token_env"],
        socket_mode=bool(section.get_bool("socket_mode", False)),
        who_may_click=who,
        allow_users=frozenset(allow),
        war_room_name=pattern,
        war_room_private=bool(section.get_bool("war_room_private", True)),
        team_people=people,
    )


def _users(section: Section, key: str) -> list[str]:
    items = section.get_list(key)
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, str) or not _USER_ID.match(item):
            raise section.error(
                key, f"item {index}: expected a Slack user id such as U012AB3CD, got {item!r}"
            )
        out.append(item)
    return out
