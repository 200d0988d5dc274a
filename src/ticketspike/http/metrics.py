"""``GET /metrics``: the Prometheus text format of :mod:`ticketspike.metrics`.

Behind the read token like every read, unless ``server.metrics_public: true`` (for a scraper
on a private network that cannot send a bearer token). The inbox gauges are read from the
store when scraped, so they hold for every process sharing it. Without the ``metrics`` extra
the route answers 501 saying how to install it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import metrics
from .auth import BearerAuth
from .errors import ApiError
from .settings import ServerSettings

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["metrics_routes"]

Endpoint = Callable[[Request], Awaitable[Response]]
_MISSING = (
    "metrics need the metrics extra: pip install '.[metrics]' in a checkout "
    "(pip install 'ticketspike[metrics]' once published)"
)


def metrics_routes(
    engine: Engine,
    auth: BearerAuth,
    settings: ServerSettings,
    guarded: Callable[[Endpoint], Endpoint],
) -> list[Route]:
    def read_inbox() -> None:
        depth = engine.store.pending_event_count()
        age = 0.0
        if depth:
            oldest = engine.store.pending_events(limit=1)
            if oldest:
                age = (engine.clock() - oldest[0][1].at).total_seconds()
        metrics.inbox(depth, age)

    async def scrape(request: Request) -> Response:
        if not settings.metrics_public:
            auth.check(request.headers.get("authorization"))
        if not metrics.AVAILABLE:
            raise ApiError(501, "metrics_unavailable", _MISSING)
        await run_in_threadpool(read_inbox)
        return Response(
            metrics.exposition(),
            media_type=metrics.CONTENT_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    return [Route("/metrics", guarded(scrape), methods=["GET"], name="metrics")]
