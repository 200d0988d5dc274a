"""``/docs`` in a real browser: Swagger UI from its pinned CDN files, checked by integrity.

The page loads swagger-ui-dist from jsDelivr with Subresource Integrity hashes
(``ticketspike.http.docs_ui``). Here the CDN's URLs are answered with the files of that exact
version as published on npm (``npm pack``; jsDelivr serves the same bytes), so the test proves
that the hashes are those files' (Chromium refuses a script whose hash differs, and the page
stays empty) and that the page renders this app's operations. A file with one byte changed is
refused. Without npm or its registry the test skips with the reason.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from typing import Any

import pytest

from ticketspike.http.docs_ui import SWAGGER_UI, SWAGGER_UI_VERSION


@pytest.fixture(scope="module")
def swagger_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (the test takes swagger-ui-dist from npm)")
    where = tmp_path_factory.mktemp("swagger-ui-dist")
    done = subprocess.run(
        [npm, "pack", "-q", f"swagger-ui-dist@{SWAGGER_UI_VERSION}"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        pytest.skip(f"npm pack swagger-ui-dist@{SWAGGER_UI_VERSION} failed: {done.stderr[-200:]}")
    [tarball] = where.glob("*.tgz")
    with tarfile.open(tarball) as archive:
        return {
            name: archive.extractfile(f"package/{name}").read()  # type: ignore[union-attr]
            for name in ("swagger-ui-bundle.js", "swagger-ui.css")
        }


def serve_cdn(page: Any, files: dict[str, bytes], asked: list[str]) -> None:
    def answer(route: Any) -> None:
        name = route.request.url.rsplit("/", 1)[-1]
        asked.append(route.request.url)
        kind = "text/css" if name.endswith(".css") else "application/javascript"
        route.fulfill(
            status=200,
            body=files[name],
            headers={"content-type": kind, "access-control-allow-origin": "*"},
        )

    page.route(f"{SWAGGER_UI}/*", answer)


def test_swagger_ui_renders_the_operations_from_the_pinned_files(
    page: Any, live: Any, swagger_files: dict[str, bytes]
) -> None:
    asked: list[str] = []
    serve_cdn(page, swagger_files, asked)
    base = live.url.removesuffix("/dashboard")
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    text = page.inner_text("#swagger-ui")
    assert "/api/support/summary/{customerId}" in text
    assert "/api/webhooks/support/ticket" in text
    assert sorted(u.rsplit("/", 1)[-1] for u in asked) == ["swagger-ui-bundle.js", "swagger-ui.css"]


def test_a_changed_script_is_refused(page: Any, live: Any, swagger_files: dict[str, bytes]) -> None:
    tampered = dict(swagger_files)
    tampered["swagger-ui-bundle.js"] = swagger_files["swagger-ui-bundle.js"] + b"\n;"
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))
    serve_cdn(page, tampered, [])
    base = live.url.removesuffix("/dashboard")
    page.goto(f"{base}/docs")
    page.wait_for_load_state("load")
    assert page.evaluate("typeof window.SwaggerUIBundle") == "undefined"
    assert page.query_selector(".opblock") is None
    assert any("integrity" in e for e in errors), errors
