"""Fixtures for the e-mail tests: real Dovecot (IMAP) and aiosmtpd (SMTP) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import mail_servers as servers


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
