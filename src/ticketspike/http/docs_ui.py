"""``GET /docs``: Swagger UI over this app's own ``/openapi.json``, wherever it is mounted.

A FastAPI host's ``/docs`` shows the host's routes only (a mounted app is opaque to it), so the
app brings its own page. The document it shows is this app's, with a ``servers`` entry of the
mount path, so "Try it out" calls the right URLs.

Why the script comes from a CDN and not from a Python package: the distribution that ships
Swagger UI's files for Python servers, swagger-ui-bundle, last released 1.1.0 (2023) with
Swagger UI 4.15.5, a major version behind the maintained 5.x line; the newer repackagings are
one-person forks without a record, and fastapi-offline needs FastAPI, which this app does not
use. Serving stale JavaScript to every reader is worse than the CDN, because the page is only a
convenience in a person's browser: the service never loads it, and ``/openapi.json`` works
without it. The CDN's part is made safe instead: one exact version of the npm package
``swagger-ui-dist`` (:data:`SWAGGER_UI_VERSION`), each file checked by the browser against its
Subresource Integrity hash (computed from the npm package, which jsDelivr serves unchanged),
so a changed file is refused rather than run. A reader without internet access gets an empty
page; the document itself is at ``/openapi.json``.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

__all__ = ["SWAGGER_UI_INTEGRITY", "SWAGGER_UI_VERSION", "docs_routes"]

SWAGGER_UI_VERSION = "5.35.0"
SWAGGER_UI = f"https://cdn.jsdelivr.net/npm/swagger-ui-dist@{SWAGGER_UI_VERSION}"
# sha384 of the files of swagger-ui-dist 5.35.0 as published on npm (``npm pack``); a new
# version needs new hashes (tests/http/test_http_docs_page.py checks they go together).
SWAGGER_UI_INTEGRITY = {
    "swagger-ui-bundle.js": (
        "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9"
    ),
    "swagger-ui.css": "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ticketspike API</title>
<link rel="stylesheet" href="{ui}/swagger-ui.css" integrity="{css_sri}" crossorigin="anonymous">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ui}/swagger-ui-bundle.js" integrity="{js_sri}" crossorigin="anonymous"></script>
<script>
SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui", persistAuthorization: true}});
</script>
</body>
</html>
"""


async def _docs(request: Request) -> Response:
    spec = f"{request.scope.get('root_path', '')}/openapi.json"
    page = _PAGE.format(
        ui=SWAGGER_UI,
        css_sri=SWAGGER_UI_INTEGRITY["swagger-ui.css"],
        js_sri=SWAGGER_UI_INTEGRITY["swagger-ui-bundle.js"],
        spec=html.escape(spec, quote=True),
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


def docs_routes() -> list[Route]:
    return [Route("/docs", _docs, methods=["GET"], name="docs")]
