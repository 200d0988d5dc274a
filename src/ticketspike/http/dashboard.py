"""The escalation dashboard and the customer banner: server-rendered pages over the read views.

Routes, under wherever the host mounts the app:

* ``GET|POST /dashboard/login``, ``POST /dashboard/logout``: the read token buys a session
  cookie (:mod:`ticketspike.http.dashboard_session`);
* ``GET /dashboard``: a card per active escalation, with Acknowledge, Snooze and Resolve;
* ``GET /dashboard/escalations/{episodeId}``: one escalation's timeline, tickets, themes,
  breakdowns, hourly chart and panels;
* ``POST /dashboard/escalations/{episodeId}/acknowledge|snooze|resolve``: the same engine acts
  as the Slack buttons and the HTTP API (idempotent, recorded with the session's name);
* ``GET /dashboard/banner/{customerId}``: the customer banner as an HTML fragment a host embeds
  (session cookie or bearer token);
* ``GET /dashboard/history``: the success metrics (detection lag, time to acknowledge and
  to resolution) per period and per CSM;
* ``GET /dashboard/incidents/{incidentId}``: one product incident and its customers'
  escalations (open incidents are also listed above the cards of ``/dashboard``).

Pages are Jinja2 with autoescaping on every template, so ticket text, names and ids (all
hostile) reach the browser as text; links are emitted only for http(s) URLs. There is no
JavaScript; the content security policy forbids scripts outright. No page or fragment is
served without a session (or, for the fragment, the bearer token), and a button whose CSRF
token does not match changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..episode_acts import parse_duration
from ..errors import RecordNotFound, TicketspikeError
from ..incident_views import IncidentViews
from ..views import EscalationPage, duration_text
from .body import media_type, read_body
from .dashboard_session import LOGIN_COOKIE, SESSION_COOKIE, DashboardSession, Sessions, same
from .errors import ApiError, api_error_from

if TYPE_CHECKING:
    from ..engine import Engine
    from .auth import BearerAuth
    from .settings import ServerSettings

__all__ = ["SNOOZE_CHOICES", "chart", "dashboard_paths", "dashboard_routes", "session_scheme"]

log = logging.getLogger("ticketspike.http")

SNOOZE_CHOICES = ("1h", "4h", "24h")
_FORM_LIMIT = 4096
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
    "form-action 'self'; frame-ancestors 'self'; base-uri 'none'"
)
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

Handler = Callable[[Request], Awaitable[Response]]


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("ticketspike.http", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = duration_text
    env.filters["minutes"] = lambda s: duration_text(s)
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M UTC") if d else "-"
    env.filters["label"] = lambda s: str(s).replace("_", " ")
    return env


def chart(page: EscalationPage, *, width: int = 600, height: int = 160) -> dict[str, Any]:
    """The hourly chart's geometry: one bar per hour, a line at the baseline's hourly rate."""
    hours = page.hourly
    top = max(page.peak, page.baseline_per_hour, 1.0)
    pad = 20
    inner = height - pad
    step = width / max(1, len(hours))
    bars = [
        {
            "x": round(i * step + 1, 1),
            "w": round(max(1.0, step - 2), 1),
            "h": round(inner * h.count / top, 1),
            "y": round(inner - inner * h.count / top, 1),
            "count": h.count,
            "hour": h.hour,
        }
        for i, h in enumerate(hours)
    ]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "baseline_y": round(inner - inner * page.baseline_per_hour / top, 1),
        "axis_y": inner,
        "top": top,
    }


class _Dashboard:
    def __init__(
        self, engine: Engine, auth: BearerAuth, settings: ServerSettings, sessions: Sessions
    ) -> None:
        self.engine = engine
        self.auth = auth
        self.settings = settings
        self.sessions = sessions
        self.templates = _environment()
        self.incidents = IncidentViews(engine.store, engine.account)

    # -- rendering and forms -----------------------------------------------------------
    def base(self, request: Request) -> str:
        return f"{request.scope.get('root_path', '')}/dashboard"

    def render(
        self, request: Request, name: str, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        html = self.templates.get_template(name).render(base=self.base(request), **context)
        return HTMLResponse(html, status_code=status, headers=_HEADERS)

    def problem(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.render(request, "problem.html.j2", status=status, message=message, session=None)

    def session(self, request: Request) -> DashboardSession | None:
        return self.sessions.read(request.cookies.get(SESSION_COOKIE))

    def _cookie(
        self, request: Request, response: Response, name: str, value: str, age: int
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=age,
            path=self.base(request),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    async def form(self, request: Request) -> dict[str, str]:
        if media_type(request) != "application/x-www-form-urlencoded":
            raise ApiError(415, "unsupported_media_type", "expected a form")
        body = await read_body(request, limit=_FORM_LIMIT)
        try:
            fields = parse_qs(body.decode("utf-8"), max_num_fields=10, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "bad_request", "the form could not be read") from None
        return {key: values[0] for key, values in fields.items() if values}

    def guard(self, handler: Handler) -> Handler:
        """Every failure as an HTML page with the right status, never a traceback."""

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return self.problem(request, exc.status, exc.message)
            except TicketspikeError as exc:
                error = api_error_from(exc)
                return self.problem(request, error.status, error.message)
            except Exception as exc:  # noqa: BLE001 - answered as 500, logged by type
                log.error("dashboard: unexpected %s", type(exc).__name__)
                return self.problem(request, 500, "Something went wrong; it has been logged.")

        return run

    def to_login(self, request: Request) -> Response:
        return RedirectResponse(f"{self.base(request)}/login", status_code=303)

    # -- login ---------------------------------------------------------------------------

    def _login_form(self, request: Request, *, error: str = "", status: int = 200) -> Response:
        cookie, nonce = self.sessions.login_nonce()
        response = self.render(
            request,
            "login.html.j2",
            status=status,
            csrf_token=nonce,
            error=error,
            enabled=self.sessions.enabled,
            session=None,
        )
        if cookie:
            self._cookie(request, response, LOGIN_COOKIE, cookie, 3600)
        return response

    async def login(self, request: Request) -> Response:
        if request.method != "POST":
            return self._login_form(request)
        fields = await self.form(request)
        if not self.sessions.login_nonce_matches(
            request.cookies.get(LOGIN_COOKIE), fields.get("csrf_token")
        ):
            return self._login_form(
                request, error="The form expired; please try again.", status=403
            )
        if not self.sessions.token_matches(fields.get("token")):
            log.info("dashboard login refused")
            return self._login_form(request, error="That token is not right.", status=401)
        cookie, _session = self.sessions.issue(fields.get("name") or "")
        response = RedirectResponse(self.base(request), status_code=303)
        self._cookie(request, response, SESSION_COOKIE, cookie, self.sessions.max_age)
        response.delete_cookie(LOGIN_COOKIE, path=self.base(request))
        return response

    async def logout(self, request: Request) -> Response:
        session = self.session(request)
        fields = await self.form(request)
        if session is None or not same(fields.get("csrf_token"), session.csrf):
            return self.problem(request, 403, "That form is not valid any more; nothing changed.")
        response = self.to_login(request)
        response.delete_cookie(SESSION_COOKIE, path=self.base(request))
        return response

    # -- pages ---------------------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            return self.to_login(request)
        view = await run_in_threadpool(self.engine.dashboard, at=self.engine.clock())
        incidents = await run_in_threadpool(self.incidents.open_incidents)
        return self.render(
            request,
            "dashboard.html.j2",
            view=view,
            incidents=incidents,
            incident_of={e: i for i in incidents for e in i.episode_ids},
            session=session,
            snooze_choices=SNOOZE_CHOICES,
            notice=_notice(request.query_params.get("done")),
        )

    async def escalation(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            return self.to_login(request)
        episode_id = str(request.path_params["episodeId"])
        page = await run_in_threadpool(self.engine.escalation, episode_id, at=self.engine.clock())
        if page is None:
            raise ApiError(404, "not_found", "There is no such escalation.")
        part_of = await run_in_threadpool(
            lambda: self.incidents.by_episode(include_resolved=True).get(episode_id)
        )
        return self.render(
            request,
            "escalation.html.j2",
            page=page,
            incident=part_of,
            card=page.card,
            chart=chart(page),
            session=session,
            snooze_choices=SNOOZE_CHOICES,
            notice=_notice(request.query_params.get("done")),
        )

    async def incident(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            return self.to_login(request)
        incident_id = str(request.path_params["incidentId"])
        found = await run_in_threadpool(self.incidents.incident, incident_id)
        if found is None:
            raise ApiError(404, "incident_not_found", "There is no such incident.")
        members = await run_in_threadpool(self.incidents.members, found)
        return self.render(
            request, "incident.html.j2", incident=found, members=members, session=session
        )

    async def history(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            return self.to_login(request)
        period = request.query_params.get("period", "week")
        metrics = await run_in_threadpool(
            lambda: self.engine.success_metrics(at=self.engine.clock(), period=period)
        )
        return self.render(request, "history.html.j2", metrics=metrics, session=session)

    async def banner(self, request: Request) -> Response:
        if self.session(request) is None:
            self.auth.check(request.headers.get("authorization"))
        from .app import customer_id_of

        customer = customer_id_of(request.path_params["customerId"])
        view = await run_in_threadpool(self.engine.banner, customer, at=self.engine.clock())
        html = self.templates.get_template("banner.html.j2").render(
            base=self.base(request), banner=view
        )
        return HTMLResponse(html, headers=_HEADERS)

    # -- acts ----------------------------------------------------------------------------
    async def act(self, request: Request) -> Response:
        session = self.session(request)
        fields = await self.form(request)
        if session is None or not same(fields.get("csrf_token"), session.csrf):
            log.info("dashboard act refused: no session or a bad CSRF token")
            return self.problem(request, 403, "That form is not valid any more; nothing changed.")
        what = str(request.path_params["act"])
        episode_id = str(request.path_params["episodeId"])
        episode = self.engine.store.episode(episode_id)
        if episode is None:
            raise ApiError(404, "not_found", "There is no such escalation.")
        if what == "acknowledge":
            await run_in_threadpool(lambda: self.engine.acknowledge(episode_id, by=session.name))
        elif what == "resolve":
            await run_in_threadpool(
                lambda: self.engine.resolve_episode(episode_id, by=session.name)
            )
        elif what == "snooze":
            choice = fields.get("for", "")
            if choice not in SNOOZE_CHOICES:
                raise ApiError(422, "invalid_field", f"for: expected one of {SNOOZE_CHOICES}")
            until = self.engine.clock() + parse_duration(choice)
            await run_in_threadpool(
                lambda: self.engine.snooze(episode.customer_id, until=until, by=session.name)
            )
        elif what == "close_task":
            task_id = fields.get("target", "")
            try:
                task = await run_in_threadpool(self.engine.task, task_id)
            except RecordNotFound:
                raise ApiError(404, "not_found", "There is no such task.") from None
            if task.episode_id != episode_id:
                raise ApiError(404, "not_found", "There is no such task on this escalation.")
            await run_in_threadpool(
                lambda: self.engine.update_task(task_id, status="done", by=session.name)
            )
        else:
            raise ApiError(404, "not_found", "There is no such button.")
        back = self.base(request)
        if fields.get("back") == "escalation":
            back += f"/escalations/{quote(episode_id, safe='')}"
        return RedirectResponse(f"{back}?done={what}", status_code=303)


def _notice(done: str | None) -> str:
    return {
        "acknowledge": "Acknowledged.",
        "snooze": "Snoozed.",
        "resolve": "Resolved.",
        "close_task": "Task closed.",
    }.get(done or "", "")


def dashboard_routes(
    engine: Engine, auth: BearerAuth, settings: ServerSettings, token: Any
) -> list[Route]:
    """The dashboard's routes; ``token`` is the read token (a Secret, or None: no login)."""
    pages = _Dashboard(engine, auth, settings, Sessions(token))
    g = pages.guard
    return [
        Route("/dashboard", g(pages.index), methods=["GET"], name="dashboard"),
        Route("/dashboard/login", g(pages.login), methods=["GET", "POST"], name="dashboard_login"),
        Route("/dashboard/logout", g(pages.logout), methods=["POST"], name="dashboard_logout"),
        Route("/dashboard/history", g(pages.history), methods=["GET"], name="dashboard_history"),
        Route(
            "/dashboard/escalations/{episodeId}",
            g(pages.escalation),
            methods=["GET"],
            name="dashboard_escalation",
        ),
        Route(
            "/dashboard/incidents/{incidentId}",
            g(pages.incident),
            methods=["GET"],
            name="dashboard_incident",
        ),
        Route(
            "/dashboard/escalations/{episodeId}/{act}",
            g(pages.act),
            methods=["POST"],
            name="dashboard_act",
        ),
        Route(
            "/dashboard/banner/{customerId}",
            g(pages.banner),
            methods=["GET"],
            name="dashboard_banner",
        ),
    ]


def dashboard_paths() -> dict[str, Any]:
    """The OpenAPI ``paths`` of the dashboard (HTML pages and forms)."""

    def html(text: str) -> dict[str, Any]:
        return {"description": text, "content": {"text/html": {}}}

    cookie: list[dict[str, list[str]]] = [{"dashboardSession": []}]
    form = {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["csrf_token"],
                    "properties": {
                        "csrf_token": {"type": "string"},
                        "for": {"type": "string", "enum": list(SNOOZE_CHOICES)},
                        "back": {"type": "string", "enum": ["list", "escalation"]},
                        "target": {"type": "string", "description": "close_task: the task id"},
                    },
                }
            }
        },
    }
    episode = [{"name": "episodeId", "in": "path", "required": True, "schema": {"type": "string"}}]
    # What a form post is refused with before it is read (schemathesis checks them all).
    refused = {
        "400": html("A malformed form."),
        "413": html("The form is too large."),
        "415": html("Not a form (application/x-www-form-urlencoded)."),
    }
    return {
        "/dashboard": {
            "get": {
                "operationId": "dashboard",
                "summary": "Escalation dashboard page (HTML): a card per active escalation.",
                "security": cookie,
                "responses": {"200": html("The page."), "303": {"description": "To login."}},
            }
        },
        "/dashboard/login": {
            "get": {
                "operationId": "dashboardLoginForm",
                "summary": "The login form (HTML).",
                "responses": {"200": html("The form.")},
            },
            "post": {
                "operationId": "dashboardLogin",
                "summary": "Log in with the read token; sets the signed session cookie.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["token", "csrf_token"],
                                "properties": {
                                    "token": {"type": "string"},
                                    "csrf_token": {"type": "string"},
                                    "name": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "303": {"description": "Logged in: to the dashboard."},
                    "401": html("Wrong token."),
                    "403": html("Bad or expired CSRF token."),
                    **refused,
                },
            },
        },
        "/dashboard/logout": {
            "post": {
                "operationId": "dashboardLogout",
                "summary": "End the session.",
                "security": cookie,
                "requestBody": form,
                "responses": {
                    "303": {"description": "To login."},
                    "403": html("Bad token."),
                    **refused,
                },
            }
        },
        "/dashboard/history": {
            "get": {
                "operationId": "dashboardHistory",
                "summary": "Success metrics per period and per CSM (HTML).",
                "security": cookie,
                "parameters": [
                    {
                        "name": "period",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["day", "week", "month"]},
                    }
                ],
                "responses": {"200": html("The page.")},
            }
        },
        "/dashboard/escalations/{episodeId}": {
            "get": {
                "operationId": "dashboardEscalation",
                "summary": "One escalation: timeline, tickets, themes, chart (HTML).",
                "security": cookie,
                "parameters": episode,
                "responses": {"200": html("The page."), "404": html("No such escalation.")},
            }
        },
        "/dashboard/incidents/{incidentId}": {
            "get": {
                "operationId": "dashboardIncident",
                "summary": "One product incident: its customers and their escalations (HTML).",
                "security": cookie,
                "parameters": [
                    {
                        "name": "incidentId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": html("The page."), "404": html("No such incident.")},
            }
        },
        "/dashboard/escalations/{episodeId}/{act}": {
            "post": {
                "operationId": "dashboardAct",
                "summary": "Acknowledge, snooze or resolve from the dashboard.",
                "security": cookie,
                "parameters": [
                    *episode,
                    {
                        "name": "act",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "enum": ["acknowledge", "snooze", "resolve", "close_task"],
                        },
                    },
                ],
                "requestBody": form,
                "responses": {
                    "303": {"description": "Done: back to the page."},
                    "403": html("No session or a bad CSRF token: nothing changed."),
                    "404": html("No such escalation."),
                    **refused,
                },
            }
        },
        "/dashboard/banner/{customerId}": {
            "get": {
                "operationId": "dashboardBanner",
                "summary": "The customer banner as an embeddable HTML fragment.",
                "security": [*cookie, {"bearerAuth": []}],
                "parameters": [
                    {
                        "name": "customerId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": html("The fragment."),
                    "401": html("No credentials."),
                    "422": html("Not a valid customer id."),
                },
            }
        },
    }


def session_scheme() -> Mapping[str, Any]:
    """The OpenAPI security scheme of the dashboard's session cookie."""
    return {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}
