"""Fixtures for the Slack adapter tests: a fake Slack Web API and a recording context."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _load(name: str, filename: str) -> ModuleType:
    # Tests have no packages (importlib mode), so shared test modules are loaded by
    # path once and shared under names no other test directory uses.
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(filename))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fake_slack = _load("ticketspike_tests_fake_slack", "fake_slack.py")
support_slack = _load("ticketspike_tests_slack_support", "support_slack.py")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk copies HTTP(S)_PROXY into the client even for 127.0.0.1.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def slack() -> Iterator[fake_slack.FakeSlack]:
    server = fake_slack.FakeSlack().start()
    try:
        yield server
    finally:
        server.stop()
