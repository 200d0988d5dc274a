"""The ``plugins.intercom`` config section, validated into frozen values.

Everything here has a default that works against Intercom's US region, so a
bare ``plugins: {intercom: {}}`` section is enough once the two environment
variables are set. Parsing is strict: an unknown key or a bad value fails the
whole config load with ``file:line: plugins.intercom.key: what was expected``,
because a silently ignored typo in a mapping table would quietly miscount
tickets. Secrets never pass through here: the section names environment
variables, and only their names are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from ticketspike import Category, Priority

if TYPE_CHECKING:
    from ticketspike import Section

__all__ = [
    "CUSTOMER_STRATEGIES",
    "DEFAULT_CATEGORY_KEYWORDS",
    "DEFAULT_PRIORITIES",
    "IntercomSettings",
    "MappingRules",
    "settings_from_config",
]

DEFAULT_BASE_URL = "https://api.intercom.io"
# 2.14 is the version the SDK's models were generated from; pinning it keeps the
# shape (and the priority vocabulary) stable whatever the app's default is.
DEFAULT_API_VERSION = "2.14"

# Both vocabularies: the binary one of API <= 2.15 and the five levels of 2.16+.
DEFAULT_PRIORITIES: Mapping[str, Priority] = {
    "urgent": Priority.P1,
    "high": Priority.P2,
    "priority": Priority.P2,
    "medium": Priority.P3,
    "none": Priority.P3,
    "not_priority": Priority.P3,
    "low": Priority.P4,
}

# Checked in this order; the first category with a matching word wins.
DEFAULT_CATEGORY_KEYWORDS: tuple[tuple[Category, tuple[str, ...]], ...] = (
    (Category.BILLING, ("billing", "invoice", "refund", "payment", "charge", "subscription")),
    (Category.TECHNICAL, ("technical", "bug", "error", "outage", "incident", "api", "crash")),
    (Category.TRAINING, ("training", "how to", "howto", "onboarding", "question", "setup")),
    (Category.FEATURE_REQUEST, ("feature request", "feature", "idea", "suggestion")),
)

# company: the conversation's company; contact_lookup: the `customers` table keyed by
# a contact's id, external id or email; contact_companies: ask the API for the contact
# (its external id and email through the table) and its first company; contact: the
# contact itself (external id, else id).
CUSTOMER_STRATEGIES = ("company", "contact_lookup", "contact_companies", "contact")

_MAPPING_KEYS = frozenset(
    {
        "customer_from",
        "company_key",
        "customers",
        "priority",
        "default_priority",
        "category_attributes",
        "categories",
        "replied",
        "subject_length",
        "body_length",
    }
)
_TOP_KEYS = frozenset(
    {
        "base_url",
        "app_id",
        "api_version",
        "access_token_env",
        "client_secret_env",
        "max_age",
        "max_future_skew",
        "page_size",
        "timeout",
        "max_attempts",
        "max_retry_wait",
        "lookup_cache_size",
        "lookup_cache_ttl",
        "mapping",
    }
)


@attrs.frozen
class MappingRules:
    """How an Intercom conversation becomes a ticket (all documented defaults).

    ``customers`` is the configured lookup: it translates a company id, contact
    id, contact external id or contact email into the customer id the host's
    accounts use. ``replied`` says what a user's reply does: ``updated``
    (refresh category and priority; never counts) or ``ignore``.
    """

    customer_from: tuple[str, ...] = ("company", "contact_lookup", "contact_companies")
    company_key: str = "company_id"
    customers: Mapping[str, str] = attrs.field(factory=dict)
    priorities: Mapping[str, Priority] = attrs.field(factory=lambda: dict(DEFAULT_PRIORITIES))
    default_priority: Priority = Priority.P3
    category_attributes: tuple[str, ...] = ("category",)
    categories: tuple[tuple[Category, tuple[str, ...]], ...] = DEFAULT_CATEGORY_KEYWORDS
    replied: str = "updated"
    subject_length: int = 120
    body_length: int = 2000


@attrs.frozen
class IntercomSettings:
    """The validated ``plugins.intercom`` section.

    ``max_age`` (seconds) bounds how old a notification may be: Intercom signs
    no timestamp, so a captured delivery could be replayed forever without it.
    Keep it within the engine's delivery-id memory so that dedup plus
    freshness leave no gap. ``max_attempts`` counts tries of one search request
    (1 = no retry); ``max_retry_wait`` caps the wait a ``Retry-After`` may ask for.
    ``lookup_cache_size`` and ``lookup_cache_ttl`` (seconds) bound the cache of
    contact -> company answers the ``contact_companies`` rule gets from the API.
    """

    base_url: str = DEFAULT_BASE_URL
    app_id: str | None = None
    api_version: str = DEFAULT_API_VERSION
    access_token_env: str = "INTERCOM_ACCESS_TOKEN"
    client_secret_env: str = "INTERCOM_CLIENT_SECRET"
    max_age: float = 900.0
    max_future_skew: float = 300.0
    page_size: int = 150
    timeout: float = 30.0
    max_attempts: int = 5
    max_retry_wait: float = 60.0
    lookup_cache_size: int = 10_000
    lookup_cache_ttl: float = 3600.0
    mapping: MappingRules = attrs.field(factory=MappingRules)


def settings_from_config(section: Section | None) -> IntercomSettings:
    """Validate the ``plugins.intercom`` section; ``None`` gives the defaults."""
    if section is None:
        return IntercomSettings()
    section.check_keys(_TOP_KEYS)
    base_url = section.get_str("base_url", DEFAULT_BASE_URL) or DEFAULT_BASE_URL
    if not base_url.startswith(("http://", "https://")):
        raise section.error("base_url", f"expected an http(s) URL, got {base_url!r}")
    defaults = IntercomSettings()
    return IntercomSettings(
        base_url=base_url.rstrip("/"),
        app_id=section.get_str("app_id"),
        api_version=section.get_str("api_version", DEFAULT_API_VERSION) or DEFAULT_API_VERSION,
        access_token_env=_env_name(section, "access_token_env", defaults.access_token_env),
        client_secret_env=_env_name(section, "client_secret_env", defaults.client_secret_env),
        max_age=_float(section, "max_age", defaults.max_age, minimum=1),
        max_future_skew=_float(section, "max_future_skew", defaults.max_future_skew, minimum=0),
        page_size=_int(section, "page_size", defaults.page_size, minimum=1, maximum=150),
        timeout=_float(section, "timeout", defaults.timeout, minimum=0.1),
        max_attempts=_int(section, "max_attempts", defaults.max_attempts, minimum=1, maximum=20),
        max_retry_wait=_float(section, "max_retry_wait", defaults.max_retry_wait, minimum=0),
        lookup_cache_size=_int(section, "lookup_cache_size", defaults.lookup_cache_size, minimum=1),
        lookup_cache_ttl=_float(section, "lookup_cache_ttl", defaults.lookup_cache_ttl, minimum=1),
        mapping=_mapping(section.get_section("mapping")),
    )


def _mapping(section: Section | None) -> MappingRules:
    defaults = MappingRules()
    if section is None:
        return defaults
    section.check_keys(_MAPPING_KEYS)
    return MappingRules(
        customer_from=_customer_from(section, defaults.customer_from),
        company_key=section.get_str("company_key", "company_id", choices=("company_id", "id"))
        or "company_id",
        customers=_customers(section),
        priorities=_priorities(section, defaults.priorities),
        default_priority=_priority_value(section, "default_priority", defaults.default_priority),
        category_attributes=_strings(section, "category_attributes", defaults.category_attributes),
        categories=_categories(section, defaults.categories),
        replied=section.get_str("replied", "updated", choices=("updated", "ignore")) or "updated",
        subject_length=_int(section, "subject_length", defaults.subject_length, minimum=10),
        body_length=_int(section, "body_length", defaults.body_length, minimum=0),
    )


def _env_name(section: Section, key: str, default: str) -> str:
    name = section.get_str(key, default) or default
    if not name.replace("_", "").isalnum():
        raise section.error(key, f"expected an environment variable name, got {name!r}")
    return name


def _float(section: Section, key: str, default: float, *, minimum: float) -> float:
    value = section.get_float(key, default, minimum=minimum)
    return default if value is None else value


def _int(
    section: Section, key: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    value = section.get_int(key, default, minimum=minimum, maximum=maximum)
    return default if value is None else value


def _strings(section: Section, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if key not in section:
        return default
    items = section.get_list(key)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise section.error(key, "expected a list of non-empty strings")
    return tuple(item.strip() for item in items)


def _customer_from(section: Section, default: tuple[str, ...]) -> tuple[str, ...]:
    names = _strings(section, "customer_from", default)
    if not names:
        raise section.error(
            "customer_from", "expected at least one of " + ", ".join(CUSTOMER_STRATEGIES)
        )
    for name in names:
        if name not in CUSTOMER_STRATEGIES:
            raise section.error(
                "customer_from",
                f"unknown source {name!r}; expected some of: {', '.join(CUSTOMER_STRATEGIES)}",
            )
    return names


def _customers(section: Section) -> dict[str, str]:
    table = section.get_section("customers")
    if table is None:
        return {}
    out: dict[str, str] = {}
    for key in table:
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            raise table.error(str(key), "expected a customer id (a string)")
        out[str(key)] = str(value).strip()
    return out


def _priority_value(section: Section, key: str, default: Priority) -> Priority:
    raw = section.get_str(key)
    if raw is None:
        return default
    parsed = Priority.parse(raw)
    if parsed is None:
        raise section.error(key, f"expected P1, P2, P3 or P4, got {raw!r}")
    return parsed


def _priorities(section: Section, default: Mapping[str, Priority]) -> dict[str, Priority]:
    table = section.get_section("priority")
    out = dict(default)
    if table is None:
        return out
    for key in table:
        out[str(key).strip().lower()] = _priority_value(table, str(key), Priority.P3)
    return out


def _categories(
    section: Section, default: tuple[tuple[Category, tuple[str, ...]], ...]
) -> tuple[tuple[Category, tuple[str, ...]], ...]:
    table = section.get_section("categories")
    if table is None:
        return default
    rules: list[tuple[Category, tuple[str, ...]]] = []
    for key in table:
        category = Category.parse(key)
        if category is None or category is Category.OTHER:
            raise table.error(
                str(key),
                "unknown category; expected technical, billing, training or feature_request",
            )
        words = _strings(table, str(key), ())
        if not words:
            raise table.error(str(key), "expected a list of words that name this category")
        rules.append((category, tuple(w.lower() for w in words)))
    return tuple(rules)
