"""Fixtures for the Slack adapter tests: a fake Slack Web API on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import fake_slack


@pytest.fixture
def slack() -> Iterator[fake_slack.FakeSlack]:
    server = fake_slack.FakeSlack().start()
    try:
        yield server
    finally:
        server.stop()
