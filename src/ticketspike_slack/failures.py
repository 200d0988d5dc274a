"""Slack Web API failures, sorted into retry-worthy and final ones.

This is the one place that decides whether a failed call is retried. The
notifier itself never retries: the engine's executor already retries a
:class:`~ticketspike.TransientDeliveryError` with backoff (tenacity), honours its
``retry_after``, records every attempt and gives up within its budget. If
slack_sdk's own retry handlers ran underneath as well, one rate limit would be
slept through twice (slack_sdk sleeps in the calling thread), attempts would
multiply, and the executor's budget would be blown without it knowing. So the
``WebClient`` is built with no retry handlers, and this module maps:

* HTTP 429 (``Retry-After``), HTTP 5xx, Slack's ``ratelimited`` /
  ``internal_error`` / ``fatal_error`` / ``service_unavailable`` /
  ``request_timeout``, and connection errors or timeouts ->
  :class:`~ticketspike.TransientDeliveryError`;
* everything else Slack refuses (``channel_not_found``, ``not_in_channel``,
  ``invalid_auth``, ``users_not_found``...) ->
  :class:`~ticketspike.PermanentDeliveryError`, with a sentence on how to fix it.

Messages name the API method and Slack's error code, never the token, and the
original exception is not chained: slack_sdk keeps the request headers (and so
the token) on its response object.
"""

from __future__ import annotations

import http.client
import urllib.error
from collections.abc import Callable, Mapping
from typing import TypeVar

from slack_sdk.errors import SlackApiError, SlackClientError

from ticketspike import PermanentDeliveryError, TransientDeliveryError

__all__ = ["HINTS", "TRANSIENT_ERRORS", "SlackRefused", "guarded"]

T = TypeVar("T")


class SlackRefused(PermanentDeliveryError):
    """Slack answered with an error that retrying will not fix; ``code`` is Slack's."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)

# What an operator should do about the usual permanent errors.
HINTS: Mapping[str, str] = {
    "channel_not_found": "the channel does not exist or the app cannot see it; "
    "check plugins.slack channel settings",
    "not_in_channel": "invite the app to the channel (/invite @app)",
    "is_archived": "the channel is archived",
    "invalid_auth": "the bot token is not valid; check the token variable",
    "not_authed": "no bot token was sent; check the token variable",
    "account_inactive": "the token belongs to a deactivated user or app",
    "token_revoked": "the bot token was revoked",
    "token_expired": "the bot token expired",
    "missing_scope": "the app lacks a scope (needs chat:write, im:write, users:read.email)",
    "users_not_found": "no Slack user has this e-mail address",
    "user_not_found": "no such Slack user",
    "user_disabled": "the Slack user is deactivated",
    "cannot_dm_bot": "the recipient is a bot",
    "message_not_found": "the message to update no longer exists",
    "cant_update_message": "the app may only update its own messages",
    "edit_window_closed": "the message can no longer be edited",
    "invalid_blocks": "Slack refused the Block Kit layout",
    "msg_too_long": "the message is too long",
    "no_text": "the message was empty",
    "restricted_action": "a workspace setting forbids this action",
}


def guarded(what: str, call: Callable[[], T]) -> T:
    """Run one Web API ``call`` and translate its failure (``what`` names it)."""
    try:
        return call()
    except SlackApiError as exc:
        status = int(getattr(exc.response, "status_code", 0) or 0)
        data = getattr(exc.response, "data", None)
        code = str(data.get("error", "")) if isinstance(data, dict) else ""
        headers = getattr(exc.response, "headers", None) or {}
        if status == 429 or code in ("ratelimited", "rate_limited"):
            raise TransientDeliveryError(
                f"Slack {what}: rate limited (HTTP {status or 200})",
                retry_after=_retry_after(headers),
            ) from None
        if status >= 500 or code in TRANSIENT_ERRORS:
            raise TransientDeliveryError(
                f"Slack {what}: temporary failure (HTTP {status}{', ' + code if code else ''})",
                retry_after=_retry_after(headers),
            ) from None
        hint = HINTS.get(code)
        detail = f"{code}: {hint}" if hint else (code or f"HTTP {status}")
        raise SlackRefused(f"Slack {what} failed: {_one_line(detail)}", code=code) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise TransientDeliveryError(
            f"Slack {what}: connection failed ({_one_line(str(reason))})"
        ) from None
    except SlackClientError as exc:
        raise PermanentDeliveryError(
            f"Slack {what} failed: {type(exc).__name__}: {_one_line(str(exc))[:200]}"
        ) from None


def _retry_after(headers: Mapping[str, object]) -> float | None:
    for name, value in headers.items():
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return max(0.0, float(str(raw)))
            except ValueError:
                return None
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())
