"""Which customer a conversation belongs to, asking Intercom when the conversation does not say.

Intercom 2.x conversations (search pages and webhook items alike) name their contacts
(``contacts.contacts[].id``) and, before API 2.15, no company. The company is one API call
away: ``GET /contacts/{id}`` (the contact, with its external id, email and how many
companies it belongs to) and ``GET /contacts/{id}/companies`` (those companies, each with
the ``company_id`` the workspace gave it). This module makes those calls through
python-intercom, in this order of precedence:

1. the rules that need no call (the conversation's own company, then the configured
   ``customers`` table keyed by a contact's id, external id or email);
2. the contact from the API, looked up in the ``customers`` table by its external id or
   email (the conversation may carry only the id);
3. the contact's first company (``company_key``: ``company_id`` by default), passed
   through the ``customers`` table.

Answers are cached (bounded, expiring) per contact, so a busy contact costs two calls per
``lookup_cache_ttl``, and rate limits are waited out the way backfill waits them out
(``Retry-After``, then ``X-RateLimit-Reset``, capped at ``max_retry_wait``). A lookup that
fails (unreachable API, refused token) is not cached: the conversation is kept aside with
the reason and a later re-resolve asks again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cachetools
import httpx
import pydantic
import tenacity
from intercom import Intercom
from intercom.core.api_error import ApiError

from ticketspike import Secret, Ticket

from .mapping import NoCustomer, contact_keys, conversation_ticket, customer_for
from .retries import retry_after as _retry_after
from .retries import transient as _transient
from .settings import IntercomSettings

__all__ = ["ContactCompanies", "CustomerResolver", "Resolution"]

log = logging.getLogger("ticketspike_intercom")

API_STRATEGY = "contact_companies"


@attrs.frozen
class Resolution:
    """A customer id, or why none was found (never conversation text)."""

    customer: str | None
    reason: str = ""


@attrs.frozen
class _Contact:
    keys: tuple[str, ...]  # external id, email: what the customers table may know
    companies: tuple[str, ...]  # company ids under company_key, in the API's order


class LookupFailed(Exception):
    """The API could not answer (after retries); the message names status or error class."""


def _dump(obj: object) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, pydantic.BaseModel):
        plain = obj.model_dump(by_alias=True, exclude_none=True, warnings=False)
        if isinstance(plain, dict):
            return plain
    return {}


def _text(value: object) -> str | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


class ContactCompanies:
    """Contact id -> its keys and companies, through python-intercom, cached.

    :param settings: the ``plugins.intercom`` section (base URL, version, retries, cache).
    :param token: the access token.
    :param sleep: how to wait between retries.
    :param clock: monotonic seconds for the cache's expiry.
    """

    def __init__(
        self,
        *,
        settings: IntercomSettings,
        token: Secret,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._token = token
        self._sleep = sleep
        self._cache: cachetools.TTLCache[str, _Contact] = cachetools.TTLCache(
            maxsize=settings.lookup_cache_size, ttl=settings.lookup_cache_ttl, timer=clock
        )
        self._lock = threading.Lock()
        self._client: Intercom | None = None
        self._http: httpx.Client | None = None
        self.calls = 0  # API requests made (for tests and the health detail)

    def _intercom(self) -> Intercom:
        with self._lock:
            if self._client is None:
                self._http = httpx.Client(timeout=self.settings.timeout)
                self._client = Intercom(
                    token=self._token.reveal(),
                    base_url=self.settings.base_url,
                    headers={"Intercom-Version": self.settings.api_version},
                    httpx_client=self._http,
                )
            return self._client

    def _wait(self, state: tenacity.RetryCallState) -> float:
        cap = self.settings.max_retry_wait
        exc = state.outcome.exception() if state.outcome is not None else None
        hinted = _retry_after(exc, time.time) if exc is not None else None
        if hinted is not None:
            return min(hinted, cap)
        return float(tenacity.wait_exponential(multiplier=0.5, max=cap)(state))

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.info(
            "intercom contact lookup: attempt %d failed (%s), retrying in %.1f s",
            state.attempt_number,
            getattr(exc, "status_code", None) or type(exc).__name__,
            wait,
        )

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(_transient),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )

        def counted(*a: Any, **k: Any) -> Any:
            self.calls += 1
            return fn(*a, **k)

        try:
            return retrying(counted, *args, request_options={"max_retries": 0}, **kwargs)
        except ApiError as exc:
            if exc.status_code == 404:
                raise
            raise LookupFailed(f"HTTP {exc.status_code}") from None
        except httpx.TransportError as exc:
            raise LookupFailed(
                f"cannot reach {self.settings.base_url} ({type(exc).__name__})"
            ) from None

    def contact(self, contact_id: str) -> _Contact | None:
        """The contact's keys and company ids; ``None`` when Intercom does not know it."""
        with self._lock:
            cached = self._cache.get(contact_id)
        if cached is not None:
            return cached
        client = self._intercom()
        try:
            found = _dump(self._call(client.contacts.find, contact_id=contact_id))
        except ApiError:  # 404: no such contact (deleted, or another workspace)
            return None
        keys = tuple(k for k in (_text(found.get("external_id")), _text(found.get("email"))) if k)
        companies: tuple[str, ...] = ()
        listed = found.get("companies")
        total = listed.get("total_count") if isinstance(listed, Mapping) else None
        if total != 0:  # unknown or some: ask for them with their company_id
            try:
                pager = self._call(client.contacts.list_attached_companies, contact_id, per_page=50)
            except ApiError:
                pager = None
            key = self.settings.mapping.company_key
            other = "id" if key == "company_id" else "company_id"
            # python-intercom 5.0.1 reads the list from "companies"; the 2.14 reference
            # example names it "data". Take whichever the answer holds.
            listed_companies = list(getattr(pager, "items", None) or ())
            if not listed_companies:
                data = _dump(getattr(pager, "response", None)).get("data")
                listed_companies = list(data) if isinstance(data, list) else []
            ids = []
            for company in listed_companies:
                plain = _dump(company)
                value = _text(plain.get(key)) or _text(plain.get(other))
                if value:
                    ids.append(value)
            companies = tuple(ids)
        answer = _Contact(keys=keys, companies=companies)
        with self._lock:
            self._cache[contact_id] = answer
        return answer

    def close(self) -> None:
        """Close the HTTP connection pool (a later lookup opens a new one)."""
        with self._lock:
            if self._http is not None:
                self._http.close()
            self._client = self._http = None


class CustomerResolver:
    """The customer of a conversation: the pure rules first, then the API when allowed."""

    def __init__(self, settings: IntercomSettings, lookup: ContactCompanies | None) -> None:
        self.settings = settings
        self.lookup = lookup

    def resolve(self, item: Mapping[str, Any], *, where: str) -> Resolution:
        rules = self.settings.mapping
        found = customer_for(item, rules, where=where)
        if found is not None:
            return Resolution(found)
        tried = ", ".join(rules.customer_from)
        contacts = [cid for cid, _ in contact_keys(item, where=where)]
        if API_STRATEGY not in rules.customer_from:
            return Resolution(
                None,
                f"no company and no contact the 'customers' table knows (rules tried: {tried})",
            )
        if not contacts:
            return Resolution(None, f"the conversation names no contact (rules tried: {tried})")
        if self.lookup is None:
            return Resolution(
                None,
                "no company on the conversation and no access token to ask Intercom for the "
                f"contact's company: set ${self.settings.access_token_env}",
            )
        table = rules.customers
        reasons = []
        for contact_id in contacts:
            try:
                contact = self.lookup.contact(contact_id)
            except LookupFailed as exc:
                reasons.append(f"contact {contact_id!r}: lookup failed ({exc})")
                continue
            if contact is None:
                reasons.append(f"contact {contact_id!r} is unknown to Intercom (404)")
                continue
            for key in contact.keys:
                if key in table:
                    return Resolution(table[key])
            if contact.companies:
                company = contact.companies[0]
                return Resolution(table.get(company, company))
            reasons.append(f"contact {contact_id!r} belongs to no company")
        return Resolution(
            None,
            "; ".join(reasons)
            + " (add the contact or its email to plugins.intercom.mapping.customers, or "
            "attach it to a company in Intercom)",
        )

    def ticket(
        self,
        item: Mapping[str, Any],
        *,
        app_id: str | None,
        internal: bool = False,
        where: str,
    ) -> Ticket | Resolution:
        """The mapped ticket, or the :class:`Resolution` saying why it has no customer.

        The pure rules run first, so a conversation that names its company costs no call
        and a malformed one fails (``InvalidTicket``) before any lookup.
        """
        rules = self.settings.mapping
        try:
            return conversation_ticket(item, rules, app_id=app_id, internal=internal, where=where)
        except NoCustomer:
            pass
        found = self.resolve(item, where=where)
        if found.customer is None:
            return found
        return conversation_ticket(
            item, rules, app_id=app_id, internal=internal, where=where, customer=found.customer
        )
