"""Episode endpoints: the list, one episode's history, and the acts a CSM performs.

``GET /api/episodes``, ``GET /api/episodes/{episodeId}``, ``POST
/api/episodes/{episodeId}/acknowledge``, ``POST /api/episodes/{episodeId}/resolve``, ``POST
/api/customers/{customerId}/snooze`` and ``GET /api/silences``, all behind the bearer token
(acts included: the token is the host's, the ``by`` field names the person). Each act goes
through the engine's episode API, so it is idempotent and recorded like a Slack click.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..episode_acts import parse_duration
from ..model import parse_time
from .body import parse_json, read_body, require_content_type
from .errors import ApiError

if TYPE_CHECKING:
    from ..engine import Engine
    from .auth import BearerAuth
    from .settings import ServerSettings

__all__ = ["episode_paths", "episode_routes"]

_NO_STORE = {"Cache-Control": "no-store"}


class _Episodes:
    def __init__(self, engine: Engine, auth: BearerAuth, settings: ServerSettings) -> None:
        self.engine = engine
        self.auth = auth
        self.settings = settings

    async def _body(self, request: Request) -> dict[str, Any]:
        require_content_type(request)
        data = parse_json(await read_body(request, limit=self.settings.max_body_bytes))
        if not isinstance(data, dict):
            raise ApiError(422, "invalid_field", 'expected a JSON object such as {"by": "Mike"}')
        by = data.get("by")
        if not isinstance(by, str) or not by.strip():
            raise ApiError(422, "invalid_field", "by: expected the name of who acts")
        return data

    async def list(self, request: Request) -> Response:
        from .app import json_response

        self.auth.check(request.headers.get("authorization"))
        active = request.query_params.get("active") in ("1", "true", "yes")

        def views() -> list[dict[str, Any]]:
            return [
                self.engine.episode_view(e) for e in self.engine.store.episodes(active_only=active)
            ]

        return json_response({"episodes": await run_in_threadpool(views)}, headers=_NO_STORE)

    async def show(self, request: Request) -> Response:
        from .app import json_response

        self.auth.check(request.headers.get("authorization"))
        episode_id = str(request.path_params["episodeId"])

        def view() -> dict[str, Any]:
            record = self.engine.store.episode(episode_id)
            if record is None:
                raise ApiError(404, "not_found", "no such episode")
            return {
                **self.engine.episode_view(record),
                "history": self.engine.episode_history(episode_id),
            }

        return json_response(await run_in_threadpool(view), headers=_NO_STORE)

    async def acknowledge(self, request: Request) -> Response:
        return await self._act(request, "acknowledge")

    async def resolve(self, request: Request) -> Response:
        return await self._act(request, "resolve")

    async def _act(self, request: Request, what: str) -> Response:
        from .app import json_response

        self.auth.check(request.headers.get("authorization"))
        data = await self._body(request)
        episode_id = str(request.path_params["episodeId"])
        if self.engine.store.episode(episode_id) is None:
            raise ApiError(404, "not_found", "no such episode")
        act = self.engine.acknowledge if what == "acknowledge" else self.engine.resolve_episode
        record = await run_in_threadpool(lambda: act(episode_id, by=data["by"]))
        return json_response(record.to_json(), headers=_NO_STORE)

    async def snooze(self, request: Request) -> Response:
        from .app import customer_id_of, json_response

        self.auth.check(request.headers.get("authorization"))
        data = await self._body(request)
        customer = customer_id_of(request.path_params["customerId"])
        if "until" in data:
            until = parse_time(data["until"], where="body", field="until")
        elif isinstance(data.get("for"), str):
            until = self.engine.clock() + parse_duration(data["for"])
        else:
            raise ApiError(422, "invalid_field", 'for: expected a duration such as "4h"')
        record = await run_in_threadpool(
            lambda: self.engine.snooze(customer, until=until, by=data["by"])
        )
        return json_response(record.to_json(), headers=_NO_STORE)

    async def silences(self, request: Request) -> Response:
        from .app import json_response

        self.auth.check(request.headers.get("authorization"))
        configured = [
            {
                "scope": s.scope,
                "target": s.target,
                "start": s.start.isoformat() if s.start else None,
                "end": s.end.isoformat(),
                "kind": s.kind,
                "reason": s.reason,
                "source": "config",
            }
            for s in self.engine.config.silences
        ]
        recorded = [
            {
                "scope": "customer",
                "target": r.customer_id,
                "start": r.start.isoformat(),
                "end": r.end.isoformat(),
                "kind": "silence",
                "reason": r.reason,
                "source": "recorded",
                "by": r.by,
            }
            for r in await run_in_threadpool(
                lambda: self.engine.store.recorded_silences(active_at=self.engine.clock())
            )
        ]
        return json_response({"silences": configured + recorded}, headers=_NO_STORE)


def episode_routes(
    engine: Engine,
    auth: BearerAuth,
    settings: ServerSettings,
    guard: Any,
) -> list[Route]:
    """The episode routes, each wrapped by ``guard`` (the app's error-to-JSON wrapper)."""
    api = _Episodes(engine, auth, settings)
    return [
        Route("/api/episodes", guard(api.list), methods=["GET"], name="episodes"),
        Route("/api/episodes/{episodeId}", guard(api.show), methods=["GET"], name="episode"),
        Route(
            "/api/episodes/{episodeId}/acknowledge",
            guard(api.acknowledge),
            methods=["POST"],
            name="episode_acknowledge",
        ),
        Route(
            "/api/episodes/{episodeId}/resolve",
            guard(api.resolve),
            methods=["POST"],
            name="episode_resolve",
        ),
        Route(
            "/api/customers/{customerId}/snooze",
            guard(api.snooze),
            methods=["POST"],
            name="customer_snooze",
        ),
        Route("/api/silences", guard(api.silences), methods=["GET"], name="silences"),
    ]


def episode_paths(read: list[dict[str, list[str]]]) -> dict[str, Any]:
    """The OpenAPI ``paths`` of the episode endpoints."""

    def ok(text: str) -> dict[str, Any]:
        return {
            "description": text,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }

    def errors(*codes: int) -> dict[str, Any]:
        return {str(c): {"$ref": f"#/components/responses/E{c}"} for c in codes}

    act = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["by"],
                    "properties": {"by": {"type": "string", "description": "who acts"}},
                }
            }
        },
    }
    episode = [{"name": "episodeId", "in": "path", "required": True, "schema": {"type": "string"}}]
    customer = [
        {"name": "customerId", "in": "path", "required": True, "schema": {"type": "string"}}
    ]

    def acting(op: str, summary: str) -> dict[str, Any]:
        return {
            "post": {
                "operationId": op,
                "summary": summary,
                "security": read,
                "parameters": episode,
                "requestBody": act,
                "responses": {
                    "200": ok("The recorded act."),
                    **errors(400, 401, 404, 413, 415, 422),
                },
            }
        }

    snooze_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["by"],
                    "properties": {
                        "by": {"type": "string"},
                        "for": {"type": "string", "examples": ["4h", "30m", "1d"]},
                        "until": {"type": "string", "format": "date-time"},
                    },
                }
            }
        },
    }
    return {
        "/api/episodes": {
            "get": {
                "operationId": "listEpisodes",
                "summary": "Spike episodes with acknowledgement, snooze and war room.",
                "security": read,
                "parameters": [{"name": "active", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": ok("The episodes."), **errors(401)},
            }
        },
        "/api/episodes/{episodeId}": {
            "get": {
                "operationId": "getEpisode",
                "summary": "One episode with its history (transitions, acts, actions).",
                "security": read,
                "parameters": episode,
                "responses": {"200": ok("The episode."), **errors(401, 404)},
            }
        },
        "/api/episodes/{episodeId}/acknowledge": acting(
            "acknowledgeEpisode", "Acknowledge: record who and when; stops the chain."
        ),
        "/api/episodes/{episodeId}/resolve": acting("resolveEpisode", "Resolve the episode now."),
        "/api/customers/{customerId}/snooze": {
            "post": {
                "operationId": "snoozeCustomer",
                "summary": "Silence the customer for a while (a recorded silence).",
                "security": read,
                "parameters": customer,
                "requestBody": snooze_body,
                "responses": {
                    "200": ok("The recorded act."),
                    **errors(400, 401, 413, 415, 422),
                },
            }
        },
        "/api/silences": {
            "get": {
                "operationId": "listSilences",
                "summary": "Configured and recorded silences in force.",
                "security": read,
                "responses": {"200": ok("The silences."), **errors(401)},
            }
        },
    }
