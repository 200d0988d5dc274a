"""Fixtures for the OpenAI adapter tests: a fake chat-completions server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import fake_openai


@pytest.fixture
def model() -> Iterator[fake_openai.FakeOpenAI]:
    server = fake_openai.FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()
