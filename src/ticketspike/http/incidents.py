"""The incidents endpoints: ``GET /api/incidents`` and ``GET /api/incidents/{incident_id}``.

Behind the read token, like every read. An incident is many customers spiking together on one
theme or category (:mod:`ticketspike.incidents`); its JSON names the customers, themes, first
and latest spike, ticket counts and status. ``?status=open|resolved`` filters the list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..engine import Engine
    from .auth import BearerAuth

__all__ = ["INCIDENT_SCHEMAS", "incident_paths", "incident_routes"]

_NO_STORE = {"Cache-Control": "no-store"}
_STATUSES = ("open", "resolved")


def incident_routes(
    engine: Engine,
    auth: BearerAuth,
    json_response: Callable[..., Response],
    guarded: Callable[[Callable[[Request], Awaitable[Response]]], Any],
) -> list[Route]:
    """The routes, bound to ``engine`` and guarded like the app's others."""

    async def list_incidents(request: Request) -> Response:
        auth.check(request.headers.get("authorization"))
        status = request.query_params.get("status")
        if status is not None and status not in _STATUSES:
            raise ApiError(422, "invalid_field", "status: expected open or resolved")
        found = await run_in_threadpool(engine.store.incidents, status=status)
        return json_response({"incidents": [r.to_json() for r in found]}, headers=_NO_STORE)

    async def show_incident(request: Request) -> Response:
        auth.check(request.headers.get("authorization"))
        incident_id = str(request.path_params["incident_id"])
        found = await run_in_threadpool(engine.store.incident, incident_id)
        if found is None:
            raise ApiError(404, "incident_not_found", f"no incident {incident_id[:80]!r}")
        return json_response(found.to_json(), headers=_NO_STORE)

    return [
        Route("/api/incidents", guarded(list_incidents), methods=["GET"], name="incidents"),
        Route(
            "/api/incidents/{incident_id}",
            guarded(show_incident),
            methods=["GET"],
            name="incident",
        ),
    ]


INCIDENT_SCHEMAS: dict[str, Any] = {
    "Incident": {
        "type": "object",
        "required": ["incident_id", "status", "customer_ids", "first_spike", "latest_spike"],
        "properties": {
            "incident_id": {"type": "string"},
            "key": {"type": "string", "description": "category:NAME or theme:PHRASE"},
            "status": {"type": "string", "enum": list(_STATUSES)},
            "customer_ids": {"type": "array", "items": {"type": "string"}},
            "episode_ids": {"type": "array", "items": {"type": "string"}},
            "themes": {"type": "array", "items": {"type": "string"}},
            "first_spike": {"type": "string", "format": "date-time"},
            "latest_spike": {"type": "string", "format": "date-time"},
            "resolved_at": {"type": ["string", "null"], "format": "date-time"},
            "ticket_counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "ticket_count": {"type": "integer"},
            "open_episodes": {"type": "array", "items": {"type": "string"}},
            "p_value": {"type": ["number", "null"]},
            "active_customers": {"type": "integer"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "Incidents": {
        "type": "object",
        "required": ["incidents"],
        "properties": {
            "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/Incident"}}
        },
    },
}


def incident_paths(read: list[dict[str, list[str]]]) -> dict[str, Any]:
    """The OpenAPI ``paths`` of the incidents endpoints."""

    def body(name: str, text: str) -> dict[str, Any]:
        schema = {"$ref": f"#/components/schemas/{name}"}
        return {"description": text, "content": {"application/json": {"schema": schema}}}

    unauthorized = {"401": {"$ref": "#/components/responses/E401"}}
    return {
        "/api/incidents": {
            "get": {
                "operationId": "listIncidents",
                "summary": "Product incidents (many customers spiking together), first first.",
                "security": read,
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(_STATUSES)},
                    }
                ],
                "responses": {
                    "200": body("Incidents", "The incidents."),
                    **unauthorized,
                    "422": {"$ref": "#/components/responses/E422"},
                },
            }
        },
        "/api/incidents/{incident_id}": {
            "get": {
                "operationId": "getIncident",
                "summary": "One product incident.",
                "security": read,
                "parameters": [
                    {
                        "name": "incident_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": body("Incident", "The incident."),
                    **unauthorized,
                    "404": {"$ref": "#/components/responses/E404"},
                },
            }
        },
    }
