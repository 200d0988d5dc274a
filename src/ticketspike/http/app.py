"""The ASGI application: ticket webhooks and reads over an :class:`~ticketspike.engine.Engine`.

Build it with :func:`create_app` and either mount it in a FastAPI or Starlette host
(``host.mount("/", create_app(engine))``) or run it alone with ``ticketspike serve``.

What it guarantees:

* a webhook is answered 2xx only once its tickets are committed to the store (in group
  commits, :mod:`ticketspike.http.writer`); detection, plans and notifications run afterwards
  in a worker thread (:mod:`ticketspike.http.worker`), so a slow or failing notifier never
  makes the sender wait and never loses a ticket;
* every signature is checked over the raw bytes by the source plugin that owns the scheme
  (the built-in ``ticket`` source for the canonical JSON, Standard Webhooks), replayed delivery
  ids are dropped in the store (so across processes too), and bodies over the limit are refused
  while they stream in;
* reads need the bearer token; with none configured they are all refused;
* every refusal is ``{"error": {"code", "message"}}`` and stores nothing.

It never logs request bodies, tokens or signatures; ticket text is returned only as JSON data.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import metrics
from ..errors import InvalidTicket, TicketspikeError
from ..model import check_customer_id
from ..outbound import DeliveryLoop
from .auth import BearerAuth
from .body import parse_json, read_body, require_content_type
from .dashboard import dashboard_routes
from .docs_ui import docs_routes
from .drafts import draft_routes
from .endpoints import endpoint_path, endpoint_routes
from .episodes import episode_routes
from .errors import ApiError, api_error_from, exception_handlers, unexpected
from .incidents import incident_routes
from .metrics import metrics_routes
from .openapi import openapi_document
from .records import record_routes
from .settings import ServerSettings, server_settings_from_config
from .source_health import health_detail
from .tickets import ticket_routes
from .worker import Processor
from .writer import WebhookWriter

if TYPE_CHECKING:
    from ..engine import Engine, IngestResult
    from ..signals import Assessment

__all__ = ["CANONICAL_SOURCE", "create_app"]

log = logging.getLogger("ticketspike.http")

CANONICAL_SOURCE = "ticket"  # the built-in source of the canonical ticket JSON
_NO_STORE = {"Cache-Control": "no-store"}

Endpoint = Callable[[Request], Awaitable[Response]]


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """JSON without NaN or Infinity (not JSON): a non-finite number becomes ``null``."""
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        text = json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"))
    return Response(text, status_code=status, headers=headers, media_type="application/json")


def customer_id_of(value: object, *, field: str = "customerId") -> str:
    """A customer id from a path or body under the one id rule
    (:func:`ticketspike.model.check_customer_id`), or a 422 saying what was expected."""
    try:
        return check_customer_id(value, field=field)
    except InvalidTicket as problem:
        raise ApiError(422, "invalid_field", f"{field}: {problem.message}") from None


def assessment_json(assessment: Assessment) -> dict[str, Any]:
    """The spike check's JSON (docs/http.md), with the risk signal when it is a spike."""
    pct = assessment.percentage_increase
    mult = assessment.spike_multiplier
    return {
        "customerId": assessment.customer_id,
        "at": assessment.at.isoformat(),
        "isSpike": assessment.is_spike,
        "severity": assessment.severity.value,
        "ticketCount": assessment.ticket_count,
        "baseline": round(assessment.baseline_daily_avg, 4),
        "baselineSource": assessment.baseline_source.value,
        "expectedCount": round(assessment.expected_count, 4),
        "multiplier": None if not math.isfinite(mult) else round(mult, 2),
        "percentageIncrease": None if pct is None else round(pct, 1),
        "periodHours": assessment.period_hours,
        "pValue": assessment.p_value,
        "themes": list(assessment.themes),
        "ticketIds": list(assessment.ticket_ids),
        "explanation": assessment.explanation,
        "riskSignal": assessment.to_risk_signal() if assessment.is_spike else None,
    }


def _ingest_json(result: IngestResult) -> dict[str, Any]:
    return {
        "accepted": True,
        "received": result.received,
        "stored": result.stored,
        "updated": result.updated,
        "duplicates": result.duplicates,
        "replayed": result.replayed,
        "queued": result.queued,
        "ignored": result.ignored,
    }


class _Api:
    """The endpoints, bound to one engine and its settings."""

    def __init__(
        self,
        engine: Engine,
        settings: ServerSettings,
        auth: BearerAuth,
        processor: Processor | None,
        writer: WebhookWriter,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.auth = auth
        self.processor = processor
        self.writer = writer
        self._openapi: dict[str, Any] | None = None

    # -- webhooks ----------------------------------------------------------------------
    async def ticket_webhook(self, request: Request) -> Response:
        return await self._webhook(request, CANONICAL_SOURCE, allow_form=False)

    async def source_webhook(self, request: Request) -> Response:
        source = str(request.path_params["source"])
        return await self._webhook(request, source, allow_form=True)

    async def _webhook(self, request: Request, source: str, *, allow_form: bool) -> Response:
        if source not in self.engine.sources:
            # Answered before reading a byte of the body: nothing here to verify it with.
            raise ApiError(404, "unknown_source", f"no ticket source named {source!r}")
        require_content_type(request, allow_form=allow_form)
        body = await read_body(request, limit=self.settings.max_body_bytes)
        headers = {k.lower(): v for k, v in request.headers.items()}
        started = time.perf_counter()
        try:
            result = await self.writer.ingest(source, body, headers, now=self.engine.clock())
        except TicketspikeError as exc:
            error = api_error_from(exc)
            # The code only: the message may quote the (hostile) body.
            log.info("webhook for %s refused: %s %s", source, error.status, error.code)
            raise error from None
        finally:
            metrics.webhook_seconds(source, time.perf_counter() - started)
        metrics.tickets(
            source,
            received=result.received,
            stored=result.stored,
            updated=result.updated,
            duplicates=result.duplicates + (result.received if result.replayed else 0),
        )
        if result.queued and self.processor is not None:
            self.processor.notify()
        return json_response(_ingest_json(result), status=202 if result.queued else 200)

    # -- reads -------------------------------------------------------------------------
    async def check_spike(self, request: Request) -> Response:
        self.auth.check(request.headers.get("authorization"))
        require_content_type(request)
        data = parse_json(await read_body(request, limit=self.settings.max_body_bytes))
        if not isinstance(data, dict):
            raise ApiError(
                422, "invalid_field", 'expected a JSON object such as {"customerId": "acme"}'
            )
        customer = customer_id_of(data.get("customerId"))
        assessment = await run_in_threadpool(self.engine.check, customer, at=self.engine.clock())
        return json_response(assessment_json(assessment), headers=_NO_STORE)

    async def summary(self, request: Request) -> Response:
        self.auth.check(request.headers.get("authorization"))
        customer = customer_id_of(request.path_params["customerId"])
        limit = self._limit(request)
        view = await run_in_threadpool(
            self.engine.summary, customer, at=self.engine.clock(), limit=limit
        )
        return json_response(view.to_json(), headers=_NO_STORE)

    async def banner(self, request: Request) -> Response:
        self.auth.check(request.headers.get("authorization"))
        customer = customer_id_of(request.path_params["customerId"])
        view = await run_in_threadpool(self.engine.banner, customer, at=self.engine.clock())
        data = view.to_json()
        # Where the summary lives as seen by the client, wherever the host mounted us.
        data["link"] = (
            f"{request.scope.get('root_path', '')}/api/support/summary/{quote(customer, safe='')}"
        )
        return json_response(data, headers=_NO_STORE)

    async def escalations(self, request: Request) -> Response:
        self.auth.check(request.headers.get("authorization"))
        now = self.engine.clock()
        view = await run_in_threadpool(self.engine.dashboard, at=now)
        return json_response(view.to_json(), headers=_NO_STORE)

    async def health(self, request: Request) -> Response:
        try:
            await run_in_threadpool(self.engine.store.pending_event_count)
            # A store that can read but not write (a full disk) is not healthy either.
            probe = getattr(self.engine.store, "write_problem", None)
            problem = await run_in_threadpool(probe) if callable(probe) else None
        except Exception as exc:  # noqa: BLE001 - any store failure means "not healthy"
            log.warning("health check: store unavailable (%s)", type(exc).__name__)
            return json_response({"status": "unavailable"}, status=503, headers=_NO_STORE)
        if problem is not None:
            log.warning("health check: store cannot write")
            return json_response(
                {"status": "unavailable", "reason": "the store cannot write"},
                status=503,
                headers={**_NO_STORE, "Retry-After": "5"},
            )
        body: dict[str, Any] = {"status": "ok"}
        if self.engine.webhooks.enabled:
            # Outbound endpoints by id only (this answer needs no token): disabled ones named.
            states = await run_in_threadpool(self.engine.store.endpoint_states)
            body["webhooks"] = {
                "endpoints": len(self.engine.webhooks.settings.endpoints),
                "disabled": [s.endpoint_id for s in states if not s.enabled],
            }
        if self._reader(request):  # sources' names and times are for readers only
            body["detail"] = await run_in_threadpool(health_detail, self.engine)
        return json_response(body, headers=_NO_STORE)

    def _reader(self, request: Request) -> bool:
        if not request.headers.get("authorization"):
            return False
        try:
            self.auth.check(request.headers.get("authorization"))
        except ApiError:
            return False
        return True

    async def openapi(self, request: Request) -> Response:
        if self._openapi is None:
            self._openapi = openapi_document(
                max_body_bytes=self.settings.max_body_bytes, sources=sorted(self.engine.sources)
            )
            # Routes adapters added (HttpEndpoint): signed by their own scheme, not JSON.
            for endpoint in getattr(request.app.state, "endpoints", {}).values():
                self._openapi["paths"][endpoint.path] = endpoint_path(endpoint)
        # Paths are relative to where the host mounted the app (Starlette's root_path).
        root = request.scope.get("root_path", "")
        return json_response({**self._openapi, "servers": [{"url": root or "/"}]})

    def _limit(self, request: Request) -> int:
        ceiling = self.settings.recent_tickets
        raw = request.query_params.get("limit")
        if raw is None:
            return ceiling
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if not 1 <= value <= ceiling:
            raise ApiError(
                422, "invalid_field", f"limit: expected a whole number from 1 to {ceiling}"
            )
        return value


def _guarded(endpoint: Endpoint) -> Endpoint:
    """Turn every failure of ``endpoint`` into a JSON answer, so none escapes as a traceback."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:  # noqa: BLE001 - a bug is answered as 500, logged by type
            if isinstance(exc, ApiError):
                error = exc
            elif isinstance(exc, TicketspikeError):
                error = api_error_from(exc)
            else:
                error = unexpected(exc)
            metrics.refused(error.code)
            return error.response()

    return run


def create_app(
    engine: Engine,
    *,
    settings: ServerSettings | None = None,
    env: Mapping[str, str] | None = None,
    processor: Processor | None = None,
    close_engine: bool = False,
    debug: bool = False,
) -> Starlette:
    """The ticketspike HTTP API over ``engine`` as a Starlette application.

    :param settings: limits and switches; default: the config's ``server:`` section.
    :param env: where the API token is read from (default ``os.environ``).
    :param processor: the background worker; default: one built from ``settings`` (none when
        ``settings.background`` is off). Available as ``app.state.processor``.
    :param close_engine: close the engine when the app shuts down (``ticketspike serve``
        owns its engine; a host usually owns its own).
    """
    if settings is None:
        settings = server_settings_from_config(engine.config.section("server"))
    token = settings.api_token(os.environ if env is None else env)
    if token is None:
        log.warning(
            "no API token in $%s: every read endpoint will answer 401", settings.api_token_env
        )
    writer = WebhookWriter(engine)
    if processor is None and settings.background:
        processor = Processor(
            engine,
            delay=settings.process_delay_seconds,
            interval=settings.interval_seconds,
            busy=writer.active,
        )
    api = _Api(engine, settings, BearerAuth(token), processor, writer)
    # Routes adapters add (Slack's interactivity URL...), before the generic webhook route.
    endpoints = engine.plugins.http_endpoints(engine.plugin_config)
    for endpoint in endpoints:
        endpoint.start(engine)

    routes = [
        *endpoint_routes(endpoints, settings, _guarded),
        Route(
            "/api/webhooks/support/ticket",
            _guarded(api.ticket_webhook),
            methods=["POST"],
            name="ticket_webhook",
        ),
        Route(
            "/api/webhooks/{source}",
            _guarded(api.source_webhook),
            methods=["POST"],
            name="source_webhook",
        ),
        Route(
            "/api/support/check-spike",
            _guarded(api.check_spike),
            methods=["POST"],
            name="check_spike",
        ),
        Route(
            "/api/support/summary/{customerId}",
            _guarded(api.summary),
            methods=["GET"],
            name="summary",
        ),
        Route(
            "/api/support/banner/{customerId}", _guarded(api.banner), methods=["GET"], name="banner"
        ),
        Route(
            "/api/support/escalations",
            _guarded(api.escalations),
            methods=["GET"],
            name="escalations",
        ),
        *episode_routes(engine, api.auth, settings, _guarded),
        Route("/api/health", _guarded(api.health), methods=["GET"], name="health"),
        Route("/openapi.json", _guarded(api.openapi), methods=["GET"], name="openapi"),
        *metrics_routes(engine, api.auth, settings, _guarded),
        *docs_routes(),
        *draft_routes(engine, api.auth, json_response, _guarded),
        *record_routes(engine, api.auth, _guarded),
        *ticket_routes(engine, api.auth, json_response, _guarded),
        *incident_routes(engine, api.auth, json_response, _guarded),
        *dashboard_routes(engine, api.auth, settings, token),
    ]
    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )

    # Outbound webhooks: a background pass every few seconds (retries wait in the store);
    # like the inbox worker, only when background work is on.
    deliveries = (
        DeliveryLoop(engine.webhooks) if engine.webhooks.enabled and settings.background else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if processor is not None:
            processor.notify()  # whatever an earlier run left in the inbox
        if deliveries is not None:
            deliveries.start()
        try:
            yield
        finally:
            if processor is not None:
                processor.stop_soon()  # no new action starts while the rest shuts down
            if deliveries is not None:
                await run_in_threadpool(deliveries.stop)
            await run_in_threadpool(writer.stop)
            for endpoint in endpoints:
                await run_in_threadpool(endpoint.stop)
            if processor is not None:
                await run_in_threadpool(processor.stop, settings.shutdown_grace_seconds)
            if close_engine:
                engine.close()

    app = Starlette(
        debug=debug,
        routes=routes,
        middleware=middleware,
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.processor = processor
    app.state.writer = writer
    app.state.deliveries = deliveries
    app.state.endpoints = {endpoint.name: endpoint for endpoint in endpoints}
    return app
