"""Fixtures for the Intercom adapter tests: the fake API (``support.fake_intercom``), payloads."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support.fake_intercom import FIXTURES, FakeIntercom


@pytest.fixture
def fake_intercom() -> Iterator[FakeIntercom]:
    fake = FakeIntercom()
    with fake.server:
        yield fake


@pytest.fixture
def user_created() -> dict[str, Any]:
    """A ``conversation.user.created`` notification in the documented shape."""
    data: dict[str, Any] = json.loads((FIXTURES / "notification_user_created.json").read_text())
    return data


@pytest.fixture
def conversation_2_16() -> dict[str, Any]:
    """A closed conversation as API 2.16 returns it (five-level priority, topics)."""
    data: dict[str, Any] = json.loads((FIXTURES / "conversation_2_16.json").read_text())
    return data


@pytest.fixture
def published_conversation() -> Callable[..., dict[str, Any]]:
    """The published 2.14 conversation example (contacts only, no company), as a customer
    started it: ``source.delivered_as`` and the author are the contact's."""

    def make(conversation_id: str, created_at: int, contact_id: str) -> dict[str, Any]:
        item: dict[str, Any] = json.loads(
            (FIXTURES / "published" / "conversation.json").read_text()
        )
        item.update(id=conversation_id, created_at=created_at, updated_at=created_at)
        item["contacts"]["contacts"][0]["id"] = contact_id
        item["source"]["delivered_as"] = "customer_initiated"
        item["source"]["author"] = {"type": "user", "id": contact_id, "name": "Joe Bloggs"}
        return item

    return make


@pytest.fixture
def make_conversation(user_created: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """Build conversations from the fixture's, overriding top-level fields."""
    base = user_created["data"]["item"]

    def make(conversation_id: str, created_at: int, **fields: Any) -> dict[str, Any]:
        conversation = copy.deepcopy(base)
        conversation.update(id=conversation_id, created_at=created_at, **fields)
        return conversation

    return make
