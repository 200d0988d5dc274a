"""Who may see the dashboard: a login with the read token, a signed session cookie, CSRF tokens.

The dashboard is for people with a browser, so it cannot ask for a bearer header on every
page. Logging in at ``/dashboard/login`` with the read token sets a session cookie that is

* signed (itsdangerous, with a key derived from the read token by HMAC: rotating the token
  ends every session, and the cookie tells nothing about the token),
* ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site sends it), ``Secure``
  on https, scoped to the dashboard's path, and valid for a bounded time;
* carrying a per-session CSRF token that every button posts back; a form whose token does not
  match changes nothing.

The login form itself carries a CSRF token too (a short-lived signed cookie holds the
expected one), so no other site can log a browser in to a session of its choosing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import attrs
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..secrets import Secret

__all__ = ["LOGIN_COOKIE", "SESSION_COOKIE", "DashboardSession", "Sessions"]

SESSION_COOKIE = "ticketspike_session"
LOGIN_COOKIE = "ticketspike_login"
SESSION_SECONDS = 12 * 3600
LOGIN_SECONDS = 3600
MAX_NAME = 80


@attrs.frozen
class DashboardSession:
    """A logged-in browser: its CSRF token and the name it acts under."""

    csrf: str = attrs.field(repr=False)
    name: str


def same(offered: object, expected: str) -> bool:
    """Constant-time equality of a submitted token and the expected one."""
    if not isinstance(offered, str) or not offered or not expected:
        return False
    return hmac.compare_digest(offered.encode("utf-8"), expected.encode("utf-8"))


class Sessions:
    """Issues and reads the dashboard's cookies; with no read token, nobody logs in."""

    def __init__(self, token: Secret | None, *, max_age: int = SESSION_SECONDS) -> None:
        self._token = token
        self.max_age = max_age
        if token is None:
            self._serializer: URLSafeTimedSerializer | None = None
        else:
            key = hmac.new(
                token.reveal().encode("utf-8"), b"ticketspike dashboard session", hashlib.sha256
            ).hexdigest()
            self._serializer = URLSafeTimedSerializer(key, salt="ticketspike.dashboard")

    @property
    def enabled(self) -> bool:
        return self._serializer is not None

    def token_matches(self, offered: object) -> bool:
        """Is ``offered`` the read token (constant time; always False with none configured)?"""
        expected = self._token.reveal() if self._token is not None else ""
        matched = same(offered, expected or "\0")
        return self._token is not None and matched

    # -- the session ---------------------------------------------------------------------
    def issue(self, name: str) -> tuple[str, DashboardSession]:
        """A new session cookie value and the session it carries."""
        session = DashboardSession(csrf=secrets.token_urlsafe(32), name=_name(name))
        return self._dump({"k": "s", "c": session.csrf, "n": session.name}), session

    def read(self, cookie: str | None) -> DashboardSession | None:
        """The session in ``cookie`` when it is signed by us and young enough, else None."""
        data = self._load(cookie, max_age=self.max_age)
        if data is None or data.get("k") != "s":
            return None
        csrf, name = data.get("c"), data.get("n")
        if not isinstance(csrf, str) or not isinstance(name, str):
            return None
        return DashboardSession(csrf=csrf, name=name)

    # -- the login form's own CSRF token ------------------------------------------------------
    def login_nonce(self) -> tuple[str, str]:
        """A cookie value and the matching hidden field for one login form."""
        nonce = secrets.token_urlsafe(24)
        return self._dump({"k": "l", "c": nonce}) if self.enabled else "", nonce

    def login_nonce_matches(self, cookie: str | None, offered: object) -> bool:
        data = self._load(cookie, max_age=LOGIN_SECONDS)
        expected = data.get("c") if data is not None and data.get("k") == "l" else None
        return isinstance(expected, str) and same(offered, expected)

    # -- signing ------------------------------------------------------------------------------
    def _dump(self, data: dict[str, Any]) -> str:
        assert self._serializer is not None
        return str(self._serializer.dumps(data))

    def _load(self, cookie: str | None, *, max_age: int) -> dict[str, Any] | None:
        if self._serializer is None or not cookie or len(cookie) > 4096:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=max_age)
        except BadSignature:  # also SignatureExpired
            return None
        return data if isinstance(data, dict) else None


def _name(value: str) -> str:
    text = " ".join(str(value).split())[:MAX_NAME]
    return "".join(c for c in text if c.isprintable()) or "dashboard user"
