"""The ``server:`` section of ``ticketspike.yaml``: limits and switches of the HTTP face.

This module imports nothing from Starlette, so ``ticketspike check-config`` (and any host that
only wants to validate a file) can parse the section without the ``server`` extra installed.

Webhook signing secrets and the timestamp tolerance are *not* here: they belong to the source
that verifies the delivery (``plugins.ticket`` for the canonical ticket JSON, ``plugins.zendesk``
and ``plugins.intercom`` for vendor webhooks), so one setting has one home whether tickets come
in over HTTP or any other way.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ..configfile import Section
from ..secrets import Secret, secret_from_env

__all__ = [
    "DEFAULT_API_TOKEN_ENV",
    "SERVER_KEYS",
    "ServerSettings",
    "server_settings_from_config",
]

DEFAULT_API_TOKEN_ENV = "TICKETSPIKE_API_TOKEN"
SERVER_KEYS = frozenset(
    {
        "max_body_bytes",
        "api_token_env",
        "cors_origins",
        "background",
        "process_delay_seconds",
        "interval_seconds",
        "recent_tickets",
        "header_timeout_seconds",
        "body_timeout_seconds",
        "keep_alive_seconds",
        "keep_alive_max_requests",
        "max_connections",
        "shutdown_grace_seconds",
        "log_repeats_per_minute",
        "metrics_public",
    }
)


@attrs.frozen
class ServerSettings:
    """How the HTTP face behaves. Every option has a default that is safe to expose.

    :ivar max_body_bytes: largest request body accepted; larger ones are refused with 413
        while the body streams in, before it is all read.
    :ivar api_token_env: the environment variable holding the bearer token for reads. With the
        variable unset or blank every read is refused: nothing is open by default.
    :ivar cors_origins: origins allowed to call the read endpoints from a browser (none by
        default, so no CORS headers are sent).
    :ivar background: drain the engine's inbox (detection, plans, actions) in a worker thread
        of this process. Turn off when a separate worker runs ``engine.run_pending()``.
    :ivar process_delay_seconds: how long the worker waits after a webhook before processing,
        so a burst of deliveries is handled in one pass instead of one pass each.
    :ivar interval_seconds: the worker also wakes this often when idle, to pick up what other
        processes stored and to let time pass (episodes resolve without new tickets).
    :ivar recent_tickets: default (and ceiling for ``?limit=``) of ``recentTickets`` in a summary.

    :ivar metrics_public: serve ``GET /metrics`` without the read token (off by default).

    The rest apply to ``ticketspike serve`` (:mod:`ticketspike.http.connections`):

    :ivar header_timeout_seconds: a request head must arrive within this long of the
        connection opening (or of the previous response); else the connection is closed.
    :ivar body_timeout_seconds: a request body must arrive within this long of its head;
        else ``408``.
    :ivar keep_alive_seconds: an idle keep-alive connection is closed after this long.
    :ivar keep_alive_max_requests: requests per connection before it is closed.
    :ivar max_connections: open connections at most (kept below the file limit); past it an
        idle connection makes room, or the new one gets ``503`` with ``Retry-After``.
    :ivar shutdown_grace_seconds: on SIGTERM, how long the running action may take to finish;
        the rest stay pending for the next start.
    :ivar log_repeats_per_minute: warnings and errors of one kind logged per minute at most;
        the rest are counted and reported as suppressed.
    """

    max_body_bytes: int = 1_048_576
    api_token_env: str = DEFAULT_API_TOKEN_ENV
    cors_origins: tuple[str, ...] = ()
    background: bool = True
    process_delay_seconds: float = 0.05
    interval_seconds: float = 60.0
    recent_tickets: int = 100
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    keep_alive_seconds: float = 5.0
    keep_alive_max_requests: int = 1000
    max_connections: int = 1000
    shutdown_grace_seconds: float = 30.0
    log_repeats_per_minute: int = 10
    metrics_public: bool = False

    def api_token(self, env: Mapping[str, str]) -> Secret | None:
        """The read token from ``env`` (wrapped, so it never shows in logs or reprs)."""
        return secret_from_env(env, self.api_token_env)


def server_settings_from_config(section: Section | None) -> ServerSettings:
    """Parse ``server:``; errors name the file, line and key (``ConfigError``)."""
    if section is None:
        return ServerSettings()
    section.check_keys(SERVER_KEYS)
    defaults = ServerSettings()
    origins: list[str] = []
    for index, item in enumerate(section.get_list("cors_origins")):
        if not isinstance(item, str) or not item.strip():
            raise section.error(
                "cors_origins", f"item {index}: expected an origin such as https://app.example.com"
            )
        origins.append(item.strip())
    env_name = section.get_str("api_token_env", defaults.api_token_env)
    if env_name is not None and not env_name.strip():
        raise section.error("api_token_env", "expected the name of an environment variable")
    return ServerSettings(
        max_body_bytes=_int(section, "max_body_bytes", defaults.max_body_bytes, minimum=64),
        api_token_env=(env_name or defaults.api_token_env).strip(),
        cors_origins=tuple(origins),
        background=_bool(section, "background", defaults.background),
        process_delay_seconds=_float(
            section, "process_delay_seconds", defaults.process_delay_seconds, minimum=0.0
        ),
        interval_seconds=_float(
            section, "interval_seconds", defaults.interval_seconds, minimum=0.1
        ),
        recent_tickets=_int(
            section, "recent_tickets", defaults.recent_tickets, minimum=1, maximum=10_000
        ),
        header_timeout_seconds=_seconds(section, "header_timeout_seconds", defaults),
        body_timeout_seconds=_seconds(section, "body_timeout_seconds", defaults),
        keep_alive_seconds=_seconds(section, "keep_alive_seconds", defaults),
        keep_alive_max_requests=_int(
            section, "keep_alive_max_requests", defaults.keep_alive_max_requests, minimum=1
        ),
        max_connections=_int(
            section, "max_connections", defaults.max_connections, minimum=1, maximum=1_000_000
        ),
        shutdown_grace_seconds=_float(
            section, "shutdown_grace_seconds", defaults.shutdown_grace_seconds, minimum=0.0
        ),
        log_repeats_per_minute=_int(
            section, "log_repeats_per_minute", defaults.log_repeats_per_minute, minimum=1
        ),
        metrics_public=_bool(section, "metrics_public", defaults.metrics_public),
    )


def _seconds(section: Section, key: str, defaults: ServerSettings) -> float:
    value: float = getattr(defaults, key)
    return _float(section, key, value, minimum=0.1)


# The getters return Optional only because their default may be None; ours never is.
def _int(
    section: Section, key: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    value = section.get_int(key, default, minimum=minimum, maximum=maximum)
    return default if value is None else value


def _float(section: Section, key: str, default: float, *, minimum: float) -> float:
    value = section.get_float(key, default, minimum=minimum)
    return default if value is None else value


def _bool(section: Section, key: str, default: bool) -> bool:
    value = section.get_bool(key, default)
    return default if value is None else value
