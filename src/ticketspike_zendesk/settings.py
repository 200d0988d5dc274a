"""The ``plugins.zendesk`` config section, validated into :class:`ZendeskSettings`.

Every key is checked when the config loads, so a typo fails at start-up with
``ticketspike.yaml:14: plugins.zendesk.customer.from: ...`` rather than on the
first webhook. The file names environment variables, never secret values;
the values are read from the environment the host passes in and held as
:class:`~ticketspike.Secret`, which never prints.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import attrs

from ticketspike import Category, PluginConfig, Priority, Secret

from .mapping import (
    CATEGORY_SOURCES,
    CUSTOMER_SOURCES,
    DEFAULT_PRIORITIES,
    DEFAULT_TYPES,
    MappingRules,
)
from .signature import DEFAULT_TOLERANCE

if TYPE_CHECKING:  # the config section type is not (yet) part of the public API
    from ticketspike import Section

__all__ = ["ZendeskSettings", "settings_from_config"]

# The ticket's organization, else its requester's (looked up when API credentials exist).
DEFAULT_CUSTOMER_FROM = ("organization", "requester_organization")

DEFAULT_EMAIL_ENV: Final = "ZENDESK_EMAIL"
DEFAULT_API_TOKEN_ENV: Final = "ZENDESK_API_TOKEN"
DEFAULT_OAUTH_TOKEN_ENV: Final = "ZENDESK_OAUTH_TOKEN"
DEFAULT_WEBHOOK_SECRET_ENV: Final = "ZENDESK_WEBHOOK_SECRET"

_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)

TOP_KEYS: Final = frozenset(
    {
        "subdomain",
        "base_url",
        "agent_url_base",
        "email_env",
        "api_token_env",
        "oauth_token_env",
        "webhook_secret_env",
        "signature_tolerance",
        "page_size",
        "ratelimit_budget",
        "timeout",
        "customer",
        "priorities",
        "categories",
        "internal",
    }
)


@attrs.frozen
class ZendeskSettings:
    """Everything the Zendesk source needs, validated.

    :param base_url: send API calls here instead of ``https://{subdomain}.zendesk.com``
        (a proxy, or a local fake in tests).
    :param signature_tolerance: how far a delivery's signed timestamp may be
        from now, either way.
    :param ratelimit_budget: seconds a backfill may spend waiting on 429
        ``Retry-After`` before it stops with an error (resumable from its cursor).
    """

    subdomain: str
    rules: MappingRules
    base_url: str | None = None
    email: Secret | None = attrs.field(default=None, repr=False)
    api_token: Secret | None = attrs.field(default=None, repr=False)
    oauth_token: Secret | None = attrs.field(default=None, repr=False)
    webhook_secrets: tuple[Secret, ...] = attrs.field(default=(), repr=False)
    signature_tolerance: timedelta = DEFAULT_TOLERANCE
    page_size: int = 1000
    ratelimit_budget: int | None = 600
    timeout: float = 30.0
    email_env: str = DEFAULT_EMAIL_ENV
    api_token_env: str = DEFAULT_API_TOKEN_ENV
    oauth_token_env: str = DEFAULT_OAUTH_TOKEN_ENV
    webhook_secret_env: str = DEFAULT_WEBHOOK_SECRET_ENV

    @property
    def has_api_credentials(self) -> bool:
        return self.oauth_token is not None or (
            self.email is not None and self.api_token is not None
        )

    def credentials_hint(self) -> str:
        """Which variables to set, for error messages (names only, never values)."""
        return f"set ${self.email_env} and ${self.api_token_env}, or ${self.oauth_token_env}"


def settings_from_config(section: Section, config: PluginConfig) -> ZendeskSettings:
    """Validate ``plugins.zendesk`` and read its secrets from ``config.env``.

    Raises :class:`ticketspike.ConfigError` with file, line and key.
    """
    section.check_keys(TOP_KEYS)
    subdomain = section.get_str("subdomain", required=True) or ""
    if not _SUBDOMAIN.match(subdomain):
        raise section.error(
            "subdomain",
            f"expected the account's subdomain (acme for acme.zendesk.com), got {subdomain!r}",
        )
    subdomain = subdomain.lower()
    base_url = _base_url(section)
    agent_url_base = _http_url(section, "agent_url_base")

    names = {
        key: section.get_str(key, default) or default
        for key, default in (
            ("email_env", DEFAULT_EMAIL_ENV),
            ("api_token_env", DEFAULT_API_TOKEN_ENV),
            ("oauth_token_env", DEFAULT_OAUTH_TOKEN_ENV),
            ("webhook_secret_env", DEFAULT_WEBHOOK_SECRET_ENV),
        )
    }
    tolerance = section.get_int("signature_tolerance", 300, minimum=1, maximum=3600) or 300
    budget = section.get_int("ratelimit_budget", 600, minimum=1)
    return ZendeskSettings(
        subdomain=subdomain,
        rules=_rules(section, subdomain=subdomain, agent_url_base=agent_url_base),
        base_url=base_url,
        email=config.secret(section, "email_env", DEFAULT_EMAIL_ENV),
        api_token=config.secret(section, "api_token_env", DEFAULT_API_TOKEN_ENV),
        oauth_token=config.secret(section, "oauth_token_env", DEFAULT_OAUTH_TOKEN_ENV),
        webhook_secrets=config.secrets(section, "webhook_secret_env", DEFAULT_WEBHOOK_SECRET_ENV),
        signature_tolerance=timedelta(seconds=tolerance),
        page_size=section.get_int("page_size", 1000, minimum=1, maximum=1000) or 1000,
        ratelimit_budget=budget,
        timeout=section.get_float("timeout", 30.0, minimum=0.1, maximum=600) or 30.0,
        **names,
    )


def _base_url(section: Section) -> str | None:
    url = _http_url(section, "base_url")
    if url is None:
        return None
    host = urlsplit(url).hostname or ""
    # zenpy addresses "{subdomain}.{domain}", so the host needs a dot to split on.
    if "." not in host:
        raise section.error(
            "base_url", f"the host must contain a dot (use 127.0.0.1 rather than {host})"
        )
    return url


def _http_url(section: Section, key: str) -> str | None:
    url = section.get_str(key)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise section.error(key, f"expected an http:// or https:// URL, got {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise section.error(key, "expected a URL without credentials, query or fragment")
    return url.rstrip("/")


def _rules(section: Section, *, subdomain: str, agent_url_base: str | None) -> MappingRules:
    customer = section.get_section("customer")
    customer_from: tuple[str, ...] = DEFAULT_CUSTOMER_FROM
    organizations: dict[str, str] = {}
    organization_key = "id"
    no_customer = "keep"
    default_customer: str | None = None
    if customer is not None:
        customer.check_keys(
            {"from", "organizations", "organization_key", "no_customer", "default_customer"}
        )
        customer_from = _customer_from(customer)
        organizations = _string_map(customer, "organizations")
        organization_key = customer.get_str("organization_key", "id") or "id"
        key_name, _, field = organization_key.partition(":")
        if organization_key not in ("id", "external_id") and not (
            key_name == "field" and field.strip()
        ):
            raise customer.error(
                "organization_key",
                f"expected id, external_id or field:<organization field key>, "
                f"got {organization_key!r}",
            )
        no_customer = (
            customer.get_str("no_customer", "keep", choices=("keep", "skip", "default")) or ""
        )
        default_customer = customer.get_str("default_customer")
        if no_customer == "default" and not default_customer:
            raise customer.error(
                "no_customer", "no_customer: default needs a default_customer to count for"
            )

    priorities = dict(DEFAULT_PRIORITIES)
    prio = section.get_section("priorities")
    if prio is not None:
        prio.check_keys(frozenset(DEFAULT_PRIORITIES))
        for key in prio:
            value = prio.get_str(key, required=True)
            parsed = Priority.parse(value)
            if parsed is None:
                raise prio.error(key, f"expected P1, P2, P3 or P4, got {value!r}")
            priorities[str(key)] = parsed

    cat_kwargs = _category_rules(section.get_section("categories"))
    internal_kwargs = _internal_rules(section.get_section("internal"))
    return MappingRules(
        subdomain=subdomain,
        agent_url_base=agent_url_base,
        customer_from=customer_from,
        organizations=organizations,
        organization_key=organization_key,
        no_customer=no_customer,
        default_customer=default_customer,
        priorities=priorities,
        **cat_kwargs,
        **internal_kwargs,
    )


def _customer_from(customer: Section) -> tuple[str, ...]:
    raw = customer["from"] if "from" in customer else None
    if raw is None:
        return DEFAULT_CUSTOMER_FROM
    items = [raw] if isinstance(raw, str) else customer.get_list("from")
    out: list[str] = []
    for item in items:
        text = str(item).strip() if isinstance(item, (str, int)) else ""
        name, _, field_id = text.partition(":")
        if text in ("organization", "requester_organization") or (
            name == "custom_field" and field_id.isdigit()
        ):
            out.append(text)
            continue
        raise customer.error(
            "from", f"expected a list of {', '.join(CUSTOMER_SOURCES)}, got {item!r}"
        )
    if not out:
        raise customer.error("from", "expected at least one customer source")
    return tuple(out)


def _string_map(section: Section, key: str) -> dict[str, str]:
    sub = section.get_section(key)
    if sub is None:
        return {}
    out: dict[str, str] = {}
    for raw_key in sub:
        value = sub.get_str(raw_key, required=True)
        out[str(raw_key).strip()] = str(value).strip()
    return out


def _category_map(section: Section, key: str) -> dict[str, Category]:
    sub = section.get_section(key)
    if sub is None:
        return {}
    out: dict[str, Category] = {}
    for raw_key in sub:
        out[str(raw_key).strip().lower()] = _category(sub, raw_key)
    return out


def _category(section: Section, key: Any) -> Category:
    value = section.get_str(key, required=True)
    category = Category.parse(value)
    if category is None or category is Category.OTHER:
        raise section.error(
            key, f"expected technical, billing, training or feature_request, got {value!r}"
        )
    return category


def _category_rules(section: Section | None) -> dict[str, Any]:
    if section is None:
        return {}
    section.check_keys({"order", "tags", "custom_field", "values", "forms", "groups", "types"})
    out: dict[str, Any] = {}
    if "order" in section:
        order = tuple(str(s) for s in section.get_list("order"))
        for name in order:
            if name not in CATEGORY_SOURCES:
                raise section.error(
                    "order",
                    f"unknown category source {name!r}; expected some of "
                    f"{', '.join(sorted(CATEGORY_SOURCES))}",
                )
        out["category_order"] = order
    tags = section.get_section("tags")
    if tags is not None:
        rules = []
        for raw_key in tags:
            category = Category.parse(raw_key)
            if category is None or category is Category.OTHER:
                raise tags.error(
                    str(raw_key),
                    "expected a category name (technical, billing, training, feature_request)",
                )
            keywords = tags.get_list(raw_key)
            if not keywords or not all(isinstance(k, str) and k.strip() for k in keywords):
                raise tags.error(str(raw_key), "expected a non-empty list of tag keywords")
            rules.append((category, tuple(k.strip().lower() for k in keywords)))
        out["tag_rules"] = tuple(rules)
    field = section.get_int("custom_field", minimum=1)
    if field is not None:
        out["category_field"] = str(field)
    if "values" in section:
        out["category_field_values"] = _category_map(section, "values")
    for key, name in (("forms", "forms"), ("groups", "groups")):
        if key in section:
            out[name] = _category_map(section, key)
    if "types" in section:
        types = _category_map(section, "types")
        unknown = set(types) - set(DEFAULT_TYPES)
        if unknown:
            raise section.error(
                "types",
                f"unknown ticket type {sorted(unknown)[0]!r}; expected some of "
                f"{', '.join(DEFAULT_TYPES)}",
            )
        out["types"] = {**DEFAULT_TYPES, **types}
    return out


def _internal_rules(section: Section | None) -> dict[str, Any]:
    if section is None:
        return {}
    section.check_keys({"channels", "private_first_comment", "agent_created_channels"})
    out: dict[str, Any] = {}
    for key, name in (
        ("channels", "internal_channels"),
        ("agent_created_channels", "agent_created_channels"),
    ):
        if key in section:
            values = section.get_list(key)
            if not all(isinstance(v, str) for v in values):
                raise section.error(key, "expected a list of channel names such as web, email")
            out[name] = frozenset(v.strip().lower() for v in values)
    private = section.get_bool("private_first_comment")
    if private is not None:
        out["private_is_internal"] = private
    return out
