"""Keep loopback requests off any proxy the environment names.

httpx, requests and slack_sdk honour ``HTTP(S)_PROXY`` even for 127.0.0.1 unless
``NO_PROXY`` says otherwise, and slack_sdk copies a proxy into its client regardless; a
test talking to a fake server on 127.0.0.1 must never reach a real proxy.
"""

from __future__ import annotations

import pytest

__all__ = ["LOOPBACK", "PROXY_VARIABLES", "keep_loopback_off_proxies"]

LOOPBACK = "127.0.0.1,localhost"
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def keep_loopback_off_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset the proxy variables and set ``NO_PROXY``/``no_proxy`` for this test."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", LOOPBACK)
    monkeypatch.setenv("no_proxy", LOOPBACK)
