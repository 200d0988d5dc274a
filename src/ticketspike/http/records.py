"""Escalation record endpoints: tasks, health scores, escalation history, outbound webhooks.

``GET /api/tasks`` (``status``, ``customer_id``, ``episode_id`` filters), ``GET
/api/tasks/{taskId}``, ``POST /api/tasks/{taskId}`` (``{"status": "done", "by": "Mike"}``:
close, cancel or reopen; optional ``assignee``, ``priority``), ``GET
/api/customers/{customerId}/health`` (base, current, adjustments), ``GET /api/history``
(kept escalations, active and resolved, with their records) and ``GET
/api/outbound-webhooks`` (each endpoint, enabled or disabled and why). All behind the read
token; a change names who made it and is reported as a ``task.updated`` event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import RecordConflict, RecordNotFound
from .body import parse_json, read_body, require_content_type
from .errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..engine import Engine
    from .auth import BearerAuth

__all__ = ["record_paths", "record_routes"]

_NO_STORE = {"Cache-Control": "no-store"}
_MAX_BODY = 64 * 1024


def record_routes(
    engine: Engine,
    auth: BearerAuth,
    guarded: Callable[[Callable[[Request], Awaitable[Response]]], Any],
) -> list[Route]:
    """The routes, bound to ``engine`` and guarded like the app's others."""
    from .app import customer_id_of, json_response

    async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await run_in_threadpool(fn, *args, **kwargs)
        except RecordNotFound as exc:
            raise ApiError(404, "task_not_found", exc.message) from None
        except RecordConflict as exc:
            raise ApiError(409, "task_conflict", exc.message) from None

    def query(request: Request, name: str) -> str | None:
        value = request.query_params.get(name)
        return value if value else None

    async def list_tasks(request: Request) -> Response:
        auth.check(request.headers.get("authorization"))
        found = await call(
            engine.tasks,
            status=query(request, "status"),
            customer_id=query(request, "customer_id"),
            episode_id=query(request, "episode_id"),
        )
        return json_response({"tasks": [t.to_json() for t in found]}, headers=_NO_STORE)

    async def show_task(request: Request) -> Response:
        auth.check(request.headers.get("authorization"))
        task = await call(engine.task, str(request.path_params["taskId"]))
        return json_response(task.to_json(), headers=_NO_STORE)

    async def update_task(request: Request) -> Response:
        auth.check(request.headers.get("authorization"))
        require_content_type(request)
        data = parse_json(await read_body(request, limit=_MAX_BODY))
        if not isinstance(data, dict):
            raise ApiError(422, "invalid_field", 'expected {"status": "done", "by": "..."}')
        by = data.get("by")
        if not isinstance(by, str) or not by.strip():
            raise ApiError(422, "invalid_field", "by: expected the name of who acts")
        status = data.get("status")
        if status is not None and not isinstance(status, str):
            raise ApiError(422, "invalid_field", "status: expected open, done or cancelled")
        changes = {}
        for key in ("assignee", "priority"):
            if key in data:
                if not isinstance(data[key], str) or not data[key].strip():
                    raise ApiError(422, "invalid_field", f"{key}: expected a non-empty string")
                changes[key] = " ".join(data[key].split())[:200]
        unknown = set(data) - {"by", "status", "assignee", "priority"}
        if unknown:
            raise ApiError(422, "invalid_field", f"unknown field {sorted(unknown)[0][:40]!r}")
        task = await call(
            engine.update_task,
            str(request.path_params["taskId"]),
            by=by,
            status=status,
            changes=changes,
        )
        return json_response(task.to_json(), headers=_NO_STORE)

    async def one_task(request: Request) -> Response:
        if request.method == "POST":
            return await update_task(request)
        return await show_task(request)

    async def health(request: Request) -> Response:
        auth.check(request.headers.get("authorization"))
        customer = customer_id_of(request.path_params["customerId"])
        view = await call(engine.health, customer)
        return json_response(view.to_json(), headers=_NO_STORE)

    async def history(request: Request) -> Response:
        auth.check(request.headers.get("authorization"))
        found = await call(
            engine.escalation_history,
            status=query(request, "status"),
            customer_id=query(request, "customer_id"),
        )
        return json_response({"escalations": found}, headers=_NO_STORE)

    async def outbound(request: Request) -> Response:
        auth.check(request.headers.get("authorization"))
        status = await call(engine.webhooks.status)
        return json_response({"endpoints": status}, headers=_NO_STORE)

    return [
        Route("/api/tasks", guarded(list_tasks), methods=["GET"], name="tasks"),
        Route("/api/tasks/{taskId}", guarded(one_task), methods=["GET", "POST"], name="task"),
        Route(
            "/api/customers/{customerId}/health",
            guarded(health),
            methods=["GET"],
            name="customer_health",
        ),
        Route("/api/history", guarded(history), methods=["GET"], name="history"),
        Route(
            "/api/outbound-webhooks",
            guarded(outbound),
            methods=["GET"],
            name="outbound_webhooks",
        ),
    ]


def record_paths(read: list[dict[str, list[str]]]) -> dict[str, Any]:
    """The OpenAPI ``paths`` of the record endpoints."""

    def ok(text: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "description": text,
            "content": {"application/json": {"schema": schema or {"type": "object"}}},
        }

    def errors(*codes: int) -> dict[str, Any]:
        return {str(c): {"$ref": f"#/components/responses/E{c}"} for c in codes}

    def q(name: str, values: list[str] | None = None) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if values:
            schema["enum"] = values
        return {"name": name, "in": "query", "schema": schema}

    task_id = [{"name": "taskId", "in": "path", "required": True, "schema": {"type": "string"}}]
    task_schema = {
        "type": "object",
        "required": ["id", "title", "priority", "due_at", "status", "customer_id", "episode_id"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "priority": {"type": "string"},
            "due_at": {"type": "string", "format": "date-time"},
            "status": {"type": "string", "enum": ["open", "done", "cancelled"]},
            "customer_id": {"type": "string"},
            "episode_id": {"type": "string"},
            "assignee": {"type": "string"},
        },
    }
    conflict = {
        "409": ok("The task changed meanwhile; read it again.", {"type": "object"}),
    }
    return {
        "/api/tasks": {
            "get": {
                "operationId": "listTasks",
                "summary": "Review tasks plans made (`create_task` actions), oldest first.",
                "security": read,
                "parameters": [
                    q("status", ["open", "done", "cancelled"]),
                    q("customer_id"),
                    q("episode_id"),
                ],
                "responses": {
                    "200": ok(
                        "The tasks.",
                        {
                            "type": "object",
                            "properties": {"tasks": {"type": "array", "items": task_schema}},
                        },
                    ),
                    **errors(401, 422),
                },
            }
        },
        "/api/tasks/{taskId}": {
            "get": {
                "operationId": "getTask",
                "summary": "One task.",
                "security": read,
                "parameters": task_id,
                "responses": {"200": ok("The task.", task_schema), **errors(401, 404)},
            },
            "post": {
                "operationId": "updateTask",
                "summary": "Close, cancel, reopen or reassign a task (reported as task.updated).",
                "security": read,
                "parameters": task_id,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["by"],
                                "properties": {
                                    "by": {"type": "string"},
                                    "status": {
                                        "type": "string",
                                        "enum": ["open", "done", "cancelled"],
                                    },
                                    "assignee": {"type": "string"},
                                    "priority": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": ok("The task after the change.", task_schema),
                    **errors(400, 401, 404, 413, 415, 422),
                    **conflict,
                },
            },
        },
        "/api/customers/{customerId}/health": {
            "get": {
                "operationId": "getCustomerHealth",
                "summary": "The health score: the account's base plus the ledger's adjustments.",
                "security": read,
                "parameters": [
                    {
                        "name": "customerId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": ok(
                        "The score.",
                        {
                            "type": "object",
                            "required": ["customer_id", "base", "current", "adjustments"],
                            "properties": {
                                "customer_id": {"type": "string"},
                                "base": {"type": ["number", "null"]},
                                "current": {"type": ["number", "null"]},
                                "adjustments": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                    ),
                    **errors(401, 422),
                },
            }
        },
        "/api/history": {
            "get": {
                "operationId": "listEscalationHistory",
                "summary": "Kept escalations, active and resolved, with tasks, health "
                "adjustments, war-room entries and syncs; newest first.",
                "security": read,
                "parameters": [q("status", ["active", "resolved"]), q("customer_id")],
                "responses": {"200": ok("The escalations."), **errors(401, 422)},
            }
        },
        "/api/outbound-webhooks": {
            "get": {
                "operationId": "listOutboundWebhooks",
                "summary": "Outbound webhook endpoints: enabled or disabled (and why), "
                "delivery counts.",
                "security": read,
                "responses": {"200": ok("The endpoints."), **errors(401)},
            }
        },
    }
