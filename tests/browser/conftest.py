"""The dashboard in a real browser: headless system Chromium driven by Playwright, against the
HTTP app served by uvicorn on 127.0.0.1 over the demo data.

Without Chromium (``/usr/bin/chromium``, or ``$TICKETSPIKE_CHROMIUM``) or the ``playwright``
package the tests skip with one reason, unless ``TICKETSPIKE_REQUIRE_BROWSER=1`` (set by CI)
turns the skip into a failure. The browser is the system's: nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from ticketspike.engine import Engine
from ticketspike.http import create_app
from ticketspike.testing import demo_engine

TOKEN = "dashboard-read-token"


def _chromium() -> str | None:
    wanted = os.environ.get("TICKETSPIKE_CHROMIUM") or "/usr/bin/chromium"
    found = shutil.which(wanted) or shutil.which("chromium")
    return found


def _unavailable(reason: str) -> None:
    if os.environ.get("TICKETSPIKE_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"TICKETSPIKE_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope, not session: while Playwright's sync API is open, its event loop runs in
    # this thread, and tests elsewhere that call asyncio.run() must not see it.
    executable = _chromium()
    if executable is None:
        _unavailable("no system Chromium (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        _unavailable("the playwright package is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@attrs.define
class LiveDashboard:
    """The app on a real port, the engine behind it, and the dashboard's base URL."""

    engine: Engine
    url: str
    token: str = TOKEN

    @property
    def episode_id(self) -> str:
        [card] = self.engine.dashboard(at=self.engine.clock()).escalations
        return card.episode_id


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveDashboard]:
    import uvicorn

    engine = demo_engine(tmp_path / "demo", store=str(tmp_path / "store.sqlite3"))
    app = create_app(engine, env={"TICKETSPIKE_API_TOKEN": TOKEN})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield LiveDashboard(engine=engine, url=f"http://127.0.0.1:{port}/dashboard")
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        engine.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def log_in(page: Any, live: LiveDashboard, *, name: str = "Mike Johnson") -> None:
    page.goto(f"{live.url}/login")
    page.get_by_label("Read token").fill(live.token)
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live.url)


@pytest.fixture
def kit() -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(log_in=log_in, TOKEN=TOKEN)
