"""Mounting the endpoints adapters register (:class:`~ticketspike.roles.HttpEndpoint`).

The app reads the body (with its size limit), lower-cases the headers, and hands both to
the endpoint in a worker thread; the endpoint verifies and answers. A failure inside an
endpoint is a 500 with no detail, logged by type only (its message may quote the body).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..roles import HttpEndpoint
from .body import read_body

if TYPE_CHECKING:
    from .settings import ServerSettings

__all__ = ["endpoint_path", "endpoint_routes"]

log = logging.getLogger("ticketspike.http")


def _route(endpoint: HttpEndpoint, settings: ServerSettings) -> Route:
    async def run(request: Request) -> Response:
        body = await read_body(request, limit=settings.max_body_bytes)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            reply = await run_in_threadpool(endpoint.handle, body, headers)
        except Exception as exc:  # noqa: BLE001 - answered as 500, logged by type
            log.warning("endpoint %s failed (%s)", endpoint.name, type(exc).__name__)
            return Response(b"", status_code=500)
        return Response(reply.body, status_code=reply.status, media_type=reply.content_type)

    return Route(endpoint.path, run, methods=["POST"], name=f"endpoint_{endpoint.name}")


def endpoint_routes(
    endpoints: Sequence[HttpEndpoint],
    settings: ServerSettings,
    guard: Callable[[Callable[[Request], Awaitable[Response]]], Callable[..., Awaitable[Response]]],
) -> list[Route]:
    """One ``POST`` route per endpoint, each wrapped by ``guard`` (errors as JSON)."""
    routes = []
    for endpoint in endpoints:
        route = _route(endpoint, settings)
        routes.append(
            Route(endpoint.path, guard(route.endpoint), methods=["POST"], name=route.name)
        )
    return routes


def endpoint_path(endpoint: HttpEndpoint) -> dict[str, Any]:
    """The OpenAPI path item of an adapter's endpoint (its body is the vendor's)."""
    doc = (type(endpoint).__doc__ or "").strip().splitlines()
    return {
        "post": {
            "operationId": f"endpoint_{endpoint.name}".replace("-", "_"),
            "summary": doc[0] if doc else f"The {endpoint.name} endpoint.",
            "description": "Added by a plugin; verified by the plugin's own signature scheme.",
            "responses": {
                "200": {"description": "Accepted."},
                "401": {"description": "Not signed, or the signature is wrong or stale."},
                "403": {"description": "Refused (a replay, or not for this installation)."},
            },
        }
    }
