"""The drafts endpoints: ``GET /api/drafts``, ``GET /api/drafts/{id}``, and the decisions
``POST /api/drafts/{id}/approve`` and ``POST /api/drafts/{id}/reject``.

All behind the read token. A decision names who made it (``"by"``); an approval may carry the
edited ``subject`` and ``body`` (what is sent) and ``confirmResolved`` for a spike that has
already resolved. Answers are the draft's JSON form; refusals are the usual
``{"error": {"code", "message"}}``: 404 ``draft_not_found``, 409 ``draft_conflict`` (rejected,
unknown, resolved without confirmation), 503 ``mail_unavailable`` (the server failed for now;
the approval is kept, approve again), 502 ``mail_failed`` (the server refused for good).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import (
    DraftConflict,
    DraftNotFound,
    PermanentDeliveryError,
    TicketspikeError,
    TransientDeliveryError,
)
from ..store.drafts import DraftStatus
from .body import parse_json, read_body, require_content_type
from .errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..engine import Engine
    from .auth import BearerAuth

__all__ = ["draft_routes"]

_NO_STORE = {"Cache-Control": "no-store"}
_MAX_BODY = 256 * 1024


def _mail_error(exc: TicketspikeError) -> ApiError | None:
    if isinstance(exc, DraftNotFound):
        return ApiError(404, "draft_not_found", exc.message)
    if isinstance(exc, DraftConflict):
        return ApiError(409, "draft_conflict", exc.message)
    if isinstance(exc, TransientDeliveryError):
        return ApiError(503, "mail_unavailable", str(exc), headers={"Retry-After": "30"})
    if isinstance(exc, PermanentDeliveryError):
        return ApiError(502, "mail_failed", str(exc))
    return None


def _text(data: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ApiError(422, "invalid_field", f"{key}: required (who decides)")
        return None
    if not isinstance(value, str):
        raise ApiError(422, "invalid_field", f"{key}: expected a string")
    return value


def draft_routes(
    engine: Engine,
    auth: BearerAuth,
    json_response: Callable[..., Response],
    guarded: Callable[[Callable[[Request], Awaitable[Response]]], Any],
) -> list[Route]:
    """The routes, bound to ``engine`` and guarded like the app's others."""

    async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await run_in_threadpool(fn, *args, **kwargs)
        except TicketspikeError as exc:
            error = _mail_error(exc)
            if error is None:
                raise
            raise error from None

    async def decision(request: Request) -> dict[str, Any]:
        auth.check(request.headers.get("authorization"))
        require_content_type(request)
        data = parse_json(await read_body(request, limit=_MAX_BODY))
        if not isinstance(data, dict):
            raise ApiError(422, "invalid_field", 'expected a JSON object such as {"by": "U0MIKE"}')
        return data

    async def list_drafts(request: Request) -> Response:
        auth.check(request.headers.get("authorization"))
        raw = request.query_params.get("status")
        status = None
        if raw is not None:
            try:
                status = DraftStatus(raw)
            except ValueError:
                choices = ", ".join(s.value for s in DraftStatus)
                raise ApiError(422, "invalid_field", f"status: expected one of {choices}") from None
        episode = request.query_params.get("episode_id")
        found = await call(engine.drafts, status=status, episode_id=episode)
        return json_response({"drafts": [d.to_json() for d in found]}, headers=_NO_STORE)

    async def show_draft(request: Request) -> Response:
        auth.check(request.headers.get("authorization"))
        draft_id = str(request.path_params["draft_id"])
        found = await call(engine.draft, draft_id)
        if found is None:
            raise ApiError(404, "draft_not_found", f"no e-mail draft {draft_id[:80]!r}")
        return json_response(found.to_json(), headers=_NO_STORE)

    async def approve(request: Request) -> Response:
        data = await decision(request)
        confirm = data.get("confirmResolved", data.get("confirm_resolved", False))
        if not isinstance(confirm, bool):
            raise ApiError(422, "invalid_field", "confirmResolved: expected true or false")
        draft = await call(
            engine.approve_draft,
            str(request.path_params["draft_id"]),
            by=_text(data, "by", required=True),
            subject=_text(data, "subject"),
            body=_text(data, "body"),
            confirm_resolved=confirm,
        )
        return json_response(draft.to_json(), headers=_NO_STORE)

    async def reject(request: Request) -> Response:
        data = await decision(request)
        draft = await call(
            engine.reject_draft,
            str(request.path_params["draft_id"]),
            by=_text(data, "by", required=True),
            reason=_text(data, "reason"),
        )
        return json_response(draft.to_json(), headers=_NO_STORE)

    return [
        Route("/api/drafts", guarded(list_drafts), methods=["GET"], name="drafts"),
        Route("/api/drafts/{draft_id}", guarded(show_draft), methods=["GET"], name="draft"),
        Route(
            "/api/drafts/{draft_id}/approve",
            guarded(approve),
            methods=["POST"],
            name="approve_draft",
        ),
        Route(
            "/api/drafts/{draft_id}/reject", guarded(reject), methods=["POST"], name="reject_draft"
        ),
    ]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _draft_json(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Draft"}}},
    }


DRAFT_SCHEMAS: dict[str, Any] = {
    "Draft": {
        "type": "object",
        "required": ["id", "status", "to", "subject", "episode_id"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in DraftStatus]},
            "to": {"type": "string"},
            "subject": {"type": "string"},
            "episode_id": {"type": "string"},
            "customer_id": {"type": "string"},
            "from": {"type": "string"},
            "reply_to": {"type": ["string", "null"]},
            "body": {"type": "string"},
            "message_id": {"type": "string"},
            "mailbox": {"type": ["string", "null"]},
            "folder": {"type": ["string", "null"]},
            "decided_by": {"type": ["string", "null"]},
            "decided_at": {"type": ["string", "null"], "format": "date-time"},
            "sent_at": {"type": ["string", "null"], "format": "date-time"},
            "error": {"type": ["string", "null"]},
        },
    },
    "Drafts": {
        "type": "object",
        "properties": {
            "drafts": {"type": "array", "items": {"$ref": "#/components/schemas/Draft"}}
        },
    },
    "DraftDecision": {
        "type": "object",
        "required": ["by"],
        "properties": {
            "by": {"type": "string", "description": "Who decides (name, e-mail, Slack id)."},
            "subject": {"type": "string", "description": "Approve: send with this subject."},
            "body": {"type": "string", "description": "Approve: send this body."},
            "confirmResolved": {"type": "boolean", "description": "Approve after resolution."},
            "reason": {"type": "string", "description": "Reject: why."},
        },
    },
}


def draft_paths(read: list[dict[str, list[str]]]) -> dict[str, Any]:
    """The OpenAPI ``paths`` of the drafts endpoints."""
    path_id = [{"name": "draft_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DraftDecision"}}},
    }
    common = {"401": {"$ref": "#/components/responses/E401"}}
    decided = {
        **common,
        "400": {"$ref": "#/components/responses/E400"},
        "413": _error(f"Body larger than {_MAX_BODY} bytes."),
        "404": _error("No draft with that id."),
        "409": _error("The draft's state forbids it (rejected, unknown, resolved spike)."),
        "415": {"$ref": "#/components/responses/E415"},
        "422": {"$ref": "#/components/responses/E422"},
    }
    return {
        "/api/drafts": {
            "get": {
                "operationId": "listDrafts",
                "summary": "Acknowledgement e-mail drafts, oldest first.",
                "security": read,
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": [s.value for s in DraftStatus]},
                    },
                    {"name": "episode_id", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "The drafts.",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Drafts"}}
                        },
                    },
                    **common,
                    "422": {"$ref": "#/components/responses/E422"},
                },
            }
        },
        "/api/drafts/{draft_id}": {
            "get": {
                "operationId": "getDraft",
                "summary": "One draft with its full text.",
                "security": read,
                "parameters": path_id,
                "responses": {
                    "200": _draft_json("The draft."),
                    **common,
                    "404": _error("No draft with that id."),
                },
            }
        },
        "/api/drafts/{draft_id}/approve": {
            "post": {
                "operationId": "approveDraft",
                "summary": "Approve (optionally edited) and send, exactly once.",
                "security": read,
                "parameters": path_id,
                "requestBody": body,
                "responses": {
                    "200": _draft_json("Sent (approving a sent draft returns it unchanged)."),
                    **decided,
                    "502": _error("The mail server refused for good; the approval is kept."),
                    "503": _error("The mail server failed for now; approve again to retry."),
                },
            }
        },
        "/api/drafts/{draft_id}/reject": {
            "post": {
                "operationId": "rejectDraft",
                "summary": "Reject: the draft is never sent.",
                "security": read,
                "parameters": path_id,
                "requestBody": body,
                "responses": {"200": _draft_json("Rejected."), **decided},
            }
        },
    }
