"""When an Intercom API call is worth retrying, and how long Intercom asks us to wait.

Shared by backfill and contact lookups: python-intercom's own retries are off by two,
so both retry with tenacity and these two rules.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from intercom.core.api_error import ApiError

__all__ = ["retry_after", "transient"]

_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def retry_after(exc: BaseException, clock: Callable[[], float]) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    lowered = {str(k).lower(): str(v) for k, v in dict(headers).items()}
    value = lowered.get("retry-after", "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass  # an HTTP date: fall through to the reset header or backoff
    reset = lowered.get("x-ratelimit-reset", "").strip()
    if reset.isdigit():
        return max(0.0, int(reset) - clock())
    return None


def transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        return exc.status_code in _TRANSIENT_STATUS or (exc.status_code or 0) >= 500
    return isinstance(exc, httpx.TransportError)
