"""The accounts file: the embedded account directory (docs/configuration.md).

A YAML or JSON list of accounts, each
``{id, name, arr, health_score, segment, seats, organization,
csm: {name, email, slack_id, manager: {name, email, slack_id}},
champion: {name, email}, logo_url}``; everything but ``id`` is optional. Hosts with
their own CRM register an account-directory plugin instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .configfile import Section, SequenceView, load_file, load_text
from .errors import ConfigError, InvalidTicket
from .model import Account, Person, check_customer_id, parse_time

__all__ = ["accounts_from_data", "load_accounts", "parse_accounts"]

_ACCOUNT_KEYS = frozenset(
    {
        "id",
        "name",
        "arr",
        "health_score",
        "previous_health_score",
        "segment",
        "seats",
        "organization",
        "csm",
        "champion",
        "first_seen",
        "war_room",
        "logo_url",
    }
)
_PERSON_KEYS = frozenset({"name", "email", "slack_id", "manager"})


def load_accounts(path: str | Path) -> dict[str, Account]:
    """Read an accounts file; raises :class:`ConfigError` with file, line and key."""
    return accounts_from_data(load_file(path), name=str(path))


def parse_accounts(text: str, *, name: str = "<accounts>") -> dict[str, Account]:
    return accounts_from_data(load_text(text, name=name), name=name)


def accounts_from_data(data: Any, *, name: str) -> dict[str, Account]:
    if data is None:
        return {}
    if isinstance(data, Section) and "accounts" in data:
        data = data.get_list("accounts")
    if not isinstance(data, list):
        raise ConfigError("expected a list of accounts", where=name)
    out: dict[str, Account] = {}
    for index, item in enumerate(data):
        if not isinstance(item, Section):
            if isinstance(data, SequenceView):
                raise data.error(index, "expected a mapping with at least an 'id'")
            raise ConfigError(f"item {index}: expected a mapping with at least an 'id'", where=name)
        account = _account(item)
        if account.id in out:
            raise item.error("id", f"duplicate account id {account.id!r}")
        out[account.id] = account
    return out


def _account(item: Section) -> Account:
    item.check_keys(_ACCOUNT_KEYS)
    raw_id = item.get_str("id", required=True)
    try:
        account_id = check_customer_id(raw_id, field="id")
    except InvalidTicket as exc:
        raise item.error("id", exc.message) from None
    first_seen = None
    if item.get("first_seen") is not None:
        try:
            first_seen = parse_time(str(item["first_seen"]), field="first_seen")
        except InvalidTicket as exc:
            raise item.error("first_seen", exc.message) from None
    seats = item.get_int("seats", minimum=0)
    return Account(
        id=account_id,
        name=item.get_str("name", "") or "",
        arr=item.get_float("arr", minimum=0),
        health_score=item.get_float("health_score"),
        previous_health_score=item.get_float("previous_health_score"),
        segment=item.get_str("segment"),
        seats=seats,
        organization=item.get_str("organization"),
        csm=_person(item, "csm"),
        champion=_person(item, "champion"),
        first_seen=first_seen,
        war_room=item.get_str("war_room"),
        logo_url=_logo_url(item),
    )


def _logo_url(item: Section) -> str | None:
    value = item.get_str("logo_url")
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or value != value.strip():
        raise item.error("logo_url", "expected an http:// or https:// URL")
    return value


def _person(parent: Section, key: str) -> Person | None:
    section = parent.get_section(key)
    if section is None:
        return None
    section.check_keys(_PERSON_KEYS)
    return Person(
        name=section.get_str("name", "") or "",
        email=section.get_str("email"),
        slack_id=section.get_str("slack_id"),
        manager=_person(section, "manager") if key == "csm" else None,
    )


def account_to_json(account: Account) -> Mapping[str, Any]:
    """The accounts-file form of an account (round-trips through :func:`parse_accounts`)."""

    def person(p: Person | None) -> dict[str, Any] | None:
        if p is None:
            return None
        out: dict[str, Any] = {"name": p.name, "email": p.email, "slack_id": p.slack_id}
        if p.manager is not None:
            out["manager"] = person(p.manager)
        return {k: v for k, v in out.items() if v is not None}

    raw: dict[str, Any] = {
        "id": account.id,
        "name": account.name,
        "arr": account.arr,
        "health_score": account.health_score,
        "previous_health_score": account.previous_health_score,
        "segment": account.segment,
        "seats": account.seats,
        "organization": account.organization,
        "csm": person(account.csm),
        "champion": person(account.champion),
        "first_seen": account.first_seen.isoformat() if account.first_seen else None,
        "war_room": account.war_room,
        "logo_url": account.logo_url,
    }
    return {k: v for k, v in raw.items() if v is not None}
