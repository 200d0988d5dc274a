"""Fixtures for the AI analyzer tests: a fake chat-completions server on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _load(name: str, filename: str) -> ModuleType:
    # Tests have no packages (importlib mode): shared modules are loaded by path once.
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(filename))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fake_openai = _load("ticketspike_tests_fake_openai", "fake_openai.py")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def model() -> Iterator[fake_openai.FakeOpenAI]:
    server = fake_openai.FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()
