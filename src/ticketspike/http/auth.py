"""Bearer-token check for the read endpoints.

Reads (summary, check-spike, banner, escalations) answer only to ``Authorization: Bearer
<token>`` with the token from the environment variable ``server.api_token_env`` names
(``TICKETSPIKE_API_TOKEN`` by default). With no token configured every read is refused: an
operator who forgot the variable gets a closed API, never an open one.

The comparison is constant-time (:func:`hmac.compare_digest` on bytes) so response timing
says nothing about how much of a guess was right, and every refusal carries the same message,
so a client cannot tell "no token configured" from "wrong token".
"""

from __future__ import annotations

import hmac

import attrs

from ..secrets import Secret
from .errors import ApiError

__all__ = ["BearerAuth"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ticketspike"'}


@attrs.frozen
class BearerAuth:
    """Checks ``Authorization`` headers against one configured token (or refuses all)."""

    token: Secret | None = attrs.field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        return self.token is not None

    def check(self, authorization: str | None) -> None:
        """Return quietly for the right token; raise a 401 :class:`ApiError` otherwise."""
        offered = _bearer(authorization)
        expected = self.token.reveal().encode("utf-8") if self.token is not None else None
        # Compare even when refusing anyway, so both paths take the same time.
        matches = hmac.compare_digest(offered or b"\0", expected or b"")
        if expected is None or offered is None or not matches:
            raise ApiError(
                401, "unauthorized", "missing or invalid bearer token", headers=_CHALLENGE
            )


def _bearer(authorization: str | None) -> bytes | None:
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip().encode("utf-8")
