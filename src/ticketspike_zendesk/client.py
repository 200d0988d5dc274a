"""A zenpy client built from :class:`~ticketspike_zendesk.settings.ZendeskSettings`.

zenpy always addresses ``https://{subdomain}.{domain}`` and reads overrides
from process-wide ``ZENPY_FORCE_*`` variables. A library must not change its
host's environment, so a ``base_url`` override is expressed in zenpy's own
terms instead: the host is split into ``subdomain`` and ``domain``, and a
plain-``http`` URL (a local fake, an internal proxy) gets a session that
rewrites the scheme. zenpy still recognises its responses, because it checks
only that ``{subdomain}.{domain}`` appears in the request URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from ticketspike import ConfigError

from .settings import ZendeskSettings

__all__ = ["make_client"]

USER_CACHE_SIZE = 50_000
USER_CACHE_TTL = 3600.0  # seconds
ORGANIZATION_CACHE_SIZE = 10_000


class _PlainHttpSession(requests.Session):
    """A session that sends zenpy's ``https://`` URLs over plain ``http://``."""

    def request(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if isinstance(url, str) and url.startswith("https://"):
            url = "http://" + url[len("https://") :]
        return super().request(method, url, *args, **kwargs)


def make_client(settings: ZendeskSettings) -> Any:
    """A ``zenpy.Zenpy`` authenticated from the settings' secrets.

    Raises :class:`ticketspike.ConfigError` when no credentials are set.
    """
    from zenpy import Zenpy  # zenpy is heavy to import; only API users pay for it

    if not settings.has_api_credentials:
        raise ConfigError(
            f"no Zendesk API credentials: {settings.credentials_hint()}",
            where="plugins.zendesk",
        )
    subdomain, domain, scheme = settings.subdomain, "zendesk.com", "https"
    if settings.base_url is not None:
        parts = urlsplit(settings.base_url)
        scheme = parts.scheme
        subdomain, _, domain = (parts.netloc + parts.path).partition(".")

    session = _PlainHttpSession() if scheme == "http" else requests.Session()
    # zenpy mounts its retry policy only on sessions it creates itself.
    adapter = HTTPAdapter(**Zenpy.http_adapter_kwargs())
    session.mount("https://", adapter)
    session.mount("http://", adapter)

    auth: dict[str, str] = {}
    if settings.oauth_token is not None:
        auth["oauth_token"] = settings.oauth_token.reveal()
    else:
        assert settings.email is not None and settings.api_token is not None
        auth["email"] = settings.email.reveal()
        auth["token"] = settings.api_token.reveal()
    client = Zenpy(
        subdomain=subdomain,
        domain=domain,
        session=session,
        timeout=settings.timeout,
        ratelimit_budget=settings.ratelimit_budget,
        **auth,
    )
    # A cached ticket could hide the change a trigger announces, and a backfill would
    # only fill the cache: tickets are always fetched fresh.
    client.delete_cache("ticket")
    # Requesters rarely change organization, but a long-running server must notice
    # eventually; sideloaded users from a backfill land here too.
    client.set_cache_implementation("user", "TTLCache", USER_CACHE_SIZE, ttl=USER_CACHE_TTL)
    # The same bound for organizations (customer.organization_key lookups).
    client.set_cache_implementation(
        "organization", "TTLCache", ORGANIZATION_CACHE_SIZE, ttl=USER_CACHE_TTL
    )
    return client
