"""A theme-analyzer plugin that fails or stalls never costs the alert its themes.

The plugin under test is the documented example (``example_llm_themes.py``),
talking HTTP to a small fake chat-completions server on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ticketspike import Plugins, Theme, Ticket
from ticketspike.config import load_config
from ticketspike.plugin_runners import analyze_with_fallback
from ticketspike.text.themes import StatisticalThemeAnalyzer

AT = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)
SECRET_SUBJECT = "Payroll export for Jane Roe SSN 123-45-6789 fails"


def _load_example() -> ModuleType:
    path = Path(__file__).with_name("example_llm_themes.py")
    spec = importlib.util.spec_from_file_location("example_llm_themes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()


def ticket(tid: str, subject: str, *, days_ago: float = 0) -> Ticket:
    return Ticket(
        ticket_id=tid,
        customer_id="acme",
        created_at=AT - timedelta(days=days_ago),
        subject=subject,
        category_given=False,
    )


WINDOW = [ticket(f"W{k}", "Webhook deliveries failing with timeouts") for k in range(8)] + [
    ticket("W9", SECRET_SUBJECT)
]
BASELINE = [ticket(f"B{k}", "How do I add a user?", days_ago=1 + k / 3) for k in range(60)]


class FakeModel:
    """What the fake server answers: a mode per test, and the requests it saw."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []


@pytest.fixture
def model() -> Iterator[tuple[FakeModel, str]]:
    state = FakeModel()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(json.loads(self.rfile.read(length)))
            state.auth.append(self.headers.get("Authorization"))
            if state.mode == "slow":
                time.sleep(3)
            if state.mode == "error":
                self.send_response(500)
                self.end_headers()
                return
            if state.mode == "junk":
                content = "Sure! The themes are: webhooks."
            else:
                content = json.dumps(
                    [
                        {
                            "phrase": "<!channel> webhook timeouts {{ secret }}",
                            "ticket_ids": ["W1", "W2", "NOT-IN-WINDOW"],
                        },
                        {"phrase": "delivery failures", "ticket_ids": ["W3"]},
                    ]
                )
            data = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def analyzers_for(base_url: str, **extra: str) -> Sequence[Any]:
    text = (
        f"plugins:\n  llm_themes:\n    base_url: {base_url}\n    model: tiny\n"
        "themes:\n  examples: 2\n"
    )
    config = load_config(text=text, env={"LLM_API_TOKEN": "tok-123", **extra})
    plugins = Plugins(load_entrypoints=False, plugins=[example])
    return plugins.theme_analyzers(config.plugins)


def test_the_plugin_comes_first_and_its_phrases_are_cleaned(model: tuple[FakeModel, str]) -> None:
    state, url = model
    analyzers = analyzers_for(url)
    assert [a.name for a in analyzers] == ["llm-themes", "statistical"]
    themes = analyze_with_fallback(analyzers, WINDOW, BASELINE, limit=5, budget_seconds=5)
    assert [t.phrase for t in themes] == ["webhook timeouts", "delivery failures"]
    assert themes[0].ticket_ids == ("W1", "W2")  # ids it made up are dropped
    assert state.auth == ["Bearer tok-123"]
    sent = state.requests[0]["messages"][0]["content"]
    assert "Webhook deliveries failing" in sent and "tiny" == state.requests[0]["model"]


@pytest.mark.parametrize("mode", ["error", "junk"])
def test_a_plugin_that_raises_still_yields_themes(
    model: tuple[FakeModel, str], mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    state, url = model
    state.mode = mode
    with caplog.at_level(logging.WARNING, logger="ticketspike"):
        themes = analyze_with_fallback(analyzers_for(url), WINDOW, BASELINE, budget_seconds=5)
    assert themes and "webhook" in themes[0].phrase.lower()
    assert len(themes[0].ticket_ids) == 2  # the built-in with the configured settings
    logged = caplog.text
    assert "theme analyzer 'llm-themes' raised" in logged
    assert "Jane" not in logged and "123-45" not in logged and "Webhook" not in logged
    assert "tok-123" not in logged


def test_a_plugin_that_times_out_still_yields_themes_within_the_budget(
    model: tuple[FakeModel, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, url = model
    state.mode = "slow"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="ticketspike"):
        themes = analyze_with_fallback(analyzers_for(url), WINDOW, BASELINE, budget_seconds=0.3)
    elapsed = time.monotonic() - started
    assert themes and "webhook" in themes[0].phrase.lower()
    assert elapsed < 2.0
    assert "did not answer within 0.3s" in caplog.text
    # The abandoned call still finishes on its own; let it, so its connection is closed
    # before the fake server goes away.
    for worker in threading.enumerate():
        if worker.name.startswith("ticketspike-theme analyzer"):
            worker.join(10)


class Raising:
    name = "raising"

    def analyze(
        self, window: Sequence[Ticket], baseline: Sequence[Ticket], *, limit: int = 5
    ) -> Sequence[Theme]:
        raise RuntimeError(f"model refused: {window[-1].subject}")  # echoes ticket text


class Stalling:
    name = "stalling"

    def __init__(self) -> None:
        self.release = threading.Event()

    def analyze(
        self, window: Sequence[Ticket], baseline: Sequence[Ticket], *, limit: int = 5
    ) -> Sequence[Theme]:
        self.release.wait(10)
        return [Theme(phrase="too late", count=1)]


def test_without_a_built_in_in_the_list_the_default_analyzer_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="ticketspike"):
        themes = analyze_with_fallback([Raising()], WINDOW, BASELINE, limit=3, budget_seconds=1)
    assert themes and "webhook" in themes[0].phrase.lower()
    assert "RuntimeError" in caplog.text and "Payroll" not in caplog.text
    stalling = Stalling()
    try:
        themes = analyze_with_fallback([stalling], WINDOW, BASELINE, budget_seconds=0.2)
        assert themes and themes[0].phrase != "too late"
    finally:
        stalling.release.set()


def test_no_plugin_means_the_built_in_runs_inline() -> None:
    direct = StatisticalThemeAnalyzer().analyze(WINDOW, BASELINE, limit=5)
    assert analyze_with_fallback([], WINDOW, BASELINE, limit=5) == direct
    assert analyze_with_fallback([StatisticalThemeAnalyzer()], WINDOW, BASELINE) == direct


def test_an_unconfigured_example_plugin_registers_nothing() -> None:
    config = load_config(text="themes:\n  limit: 2\n", env={})
    analyzers = Plugins(load_entrypoints=False, plugins=[example]).theme_analyzers(config.plugins)
    assert [a.name for a in analyzers] == ["statistical"]
    assert analyzers[0].settings.limit == 2
