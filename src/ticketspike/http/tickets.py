"""``GET /api/support/tickets/{source}/{ticketId}``: one stored ticket, its whole body.

Lists (the summary's ``recentTickets``) carry body excerpts (:mod:`ticketspike._excerpts`); this
is where a reader gets the rest, one ticket at a time. Behind the read token like every read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .auth import BearerAuth
from .errors import ApiError

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["ticket_paths", "ticket_routes"]

_MAX_ID = 512


def _part(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if not value or len(value) > _MAX_ID or not value.isprintable():
        raise ApiError(
            422, "invalid_field", f"{name}: expected 1 to {_MAX_ID} printable characters"
        )
    return value


def ticket_routes(
    engine: Engine,
    auth: BearerAuth,
    json_response: Callable[..., Response],
    guarded: Callable[[Callable[[Request], Awaitable[Response]]], Any],
) -> list[Route]:
    """The route, bound to ``engine`` and guarded like the app's others."""

    async def one_ticket(request: Request) -> Response:
        auth.check(request.headers.get("authorization"))
        source, ticket_id = _part(request, "source"), _part(request, "ticketId")
        record = await run_in_threadpool(engine.store.get_ticket, source, ticket_id)
        if record is None:
            raise ApiError(404, "not_found", f"no ticket {ticket_id!r} from source {source!r}")
        return json_response(record.to_json(), headers={"Cache-Control": "no-store"})

    return [
        Route(
            "/api/support/tickets/{source}/{ticketId}",
            guarded(one_ticket),
            methods=["GET"],
            name="ticket",
        )
    ]


def ticket_paths(read: list[dict[str, list[str]]]) -> dict[str, Any]:
    """The OpenAPI path item of the route."""
    text = {"type": "string", "minLength": 1, "maxLength": _MAX_ID}
    return {
        "/api/support/tickets/{source}/{ticketId}": {
            "get": {
                "operationId": "getTicket",
                "summary": "One stored ticket with its whole body",
                "security": read,
                "parameters": [
                    {"name": "source", "in": "path", "required": True, "schema": text},
                    {"name": "ticketId", "in": "path", "required": True, "schema": text},
                ],
                "responses": {
                    "200": {
                        "description": "The ticket, its status and bookkeeping times.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/StoredTicket"}
                            }
                        },
                    },
                    **{str(c): {"$ref": f"#/components/responses/E{c}"} for c in (401, 404, 422)},
                },
            }
        }
    }


TICKET_SCHEMAS: dict[str, Any] = {
    "StoredTicket": {
        "allOf": [
            {"$ref": "#/components/schemas/Ticket"},
            {
                "type": "object",
                "required": ["status", "receivedAt", "updatedAt"],
                "properties": {
                    "status": {"type": "string", "enum": ["open", "resolved"]},
                    "receivedAt": {"type": "string", "format": "date-time"},
                    "updatedAt": {"type": "string", "format": "date-time"},
                },
            },
        ]
    }
}
