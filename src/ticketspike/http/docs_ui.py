"""``GET /docs``: Swagger UI over this app's own ``/openapi.json``, wherever it is mounted.

A FastAPI host's ``/docs`` shows the host's routes only (a mounted app is opaque to it), so the
app brings its own page. The page loads Swagger UI's script and style from a CDN in the
reader's browser (the app serves no JavaScript); the document it shows is this app's, with a
``servers`` entry of the mount path, so "Try it out" calls the right URLs.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

__all__ = ["docs_routes"]

SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ticketspike API</title>
<link rel="stylesheet" href="{ui}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ui}/swagger-ui-bundle.js"></script>
<script>
SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui", persistAuthorization: true}});
</script>
</body>
</html>
"""


async def _docs(request: Request) -> Response:
    spec = f"{request.scope.get('root_path', '')}/openapi.json"
    page = _PAGE.format(ui=SWAGGER_UI, spec=html.escape(spec, quote=True))
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


def docs_routes() -> list[Route]:
    return [Route("/docs", _docs, methods=["GET"], name="docs")]
