"""Fixtures for the e-mail tests: real Dovecot (IMAP) and aiosmtpd (SMTP) on 127.0.0.1."""

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


servers = _load("ticketspike_tests_mail_servers", "mail_servers.py")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[servers.Dovecot]:
    yield from servers.run_dovecot()


@pytest.fixture
def dovecot(dovecot_server: servers.Dovecot) -> servers.Dovecot:
    """The session's Dovecot with empty folders (every user's)."""
    dovecot_server.empty()
    dovecot_server.as_user(servers.CSM_USER, servers.CSM_PASSWORD).empty()
    return dovecot_server


@pytest.fixture
def smtp() -> Iterator[servers.SmtpServer]:
    yield from servers.run_smtp()
