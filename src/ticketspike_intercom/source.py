"""The Intercom ticket source: what the engine and the HTTP face talk to.

It holds the validated settings and the secrets (wrapped, never shown) and
delegates the work to :mod:`.webhook` and :mod:`.backfill`. ``name`` is the
URL segment of ``POST /api/webhooks/intercom`` and the ``SOURCE`` of
``ticketspike backfill intercom``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime

from ticketspike import BackfillPage, Secret, WebhookResult

from .backfill import ConversationSearch
from .settings import IntercomSettings
from .webhook import parse_notification

__all__ = ["IntercomSource"]


class IntercomSource:
    """Signed Intercom webhooks and conversation backfill as ticket events.

    :param settings: the ``plugins.intercom`` section (defaults work).
    :param access_token: for backfill; ``None`` makes backfill fail naming the variable.
    :param client_secrets: every secret that may sign webhooks (rotation: old and new).
    :param sleep: how backfill waits between retries.
    """

    name = "intercom"

    def __init__(
        self,
        *,
        settings: IntercomSettings | None = None,
        access_token: Secret | None = None,
        client_secrets: Sequence[Secret] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or IntercomSettings()
        self._secrets = tuple(client_secrets)
        self._search = ConversationSearch(settings=self.settings, token=access_token, sleep=sleep)

    def __repr__(self) -> str:
        return (
            f"IntercomSource(base_url={self.settings.base_url!r}, "
            f"secrets={len(self._secrets)}, token=${self.settings.access_token_env})"
        )

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookResult:
        """Verify ``X-Hub-Signature`` over ``body``, then map the notification."""
        return parse_notification(
            body, headers, secrets=self._secrets, settings=self.settings, now=now
        )

    def backfill(self, *, since: datetime, cursor: str | None = None) -> Iterator[BackfillPage]:
        """Conversations created since ``since``, page by page, resumable by cursor."""
        return self._search.pages(since=since, cursor=cursor)
