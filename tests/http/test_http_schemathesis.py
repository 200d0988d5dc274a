"""The app against its own OpenAPI document, with schemathesis.

Every operation of ``/openapi.json`` gets generated requests (valid and invalid parameters and
bodies, with the read token); every answer must be no 5xx and match the document: a status it
lists, its content type, its headers and its response schema. Derandomized and bounded
(``EXAMPLES`` per operation), so a run is repeatable and takes seconds.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import checks  # noqa: E402

from ticketspike.config import Config  # noqa: E402
from ticketspike.engine import Engine  # noqa: E402
from ticketspike.http import create_app  # noqa: E402
from ticketspike.store.memory import MemoryStore  # noqa: E402
from ticketspike.testing import (  # noqa: E402
    FixedClock,
    RecordingNotifier,
    RecordingSleep,
    StaticPlugin,
    clean_plugins,
)

EXAMPLES = 15
TOKEN = "schemathesis-read-token"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


SECRET = "whsec_" + base64.b64encode(b"schemathesis-signing-key-32byte!").decode()
ENGINE = Engine(
    Config.default(env={"TICKETSPIKE_WEBHOOK_SECRET": SECRET}),
    store=MemoryStore(),
    plugins=clean_plugins(StaticPlugin(notifiers=[RecordingNotifier()])),
    clock=FixedClock(datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)),
    sleep=RecordingSleep(),
)
APP = create_app(ENGINE, env={"TICKETSPIKE_API_TOKEN": TOKEN})


async def without_lifespan(scope: Any, receive: Any, send: Any) -> None:
    """The app, its lifespan answered here: schemathesis runs one per request, a server one
    per process (the module fixture shuts the app down once, at the end)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    await APP(scope, receive, send)


schema = schemathesis.openapi.from_asgi("/openapi.json", without_lifespan)


@pytest.fixture(scope="module", autouse=True)
def _shut_down() -> Iterator[None]:
    yield
    processor = APP.state.processor
    if processor is not None:
        processor.stop()
    APP.state.writer.stop()
    ENGINE.close()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


def test_a_webhook_after_shutdown_began_is_503_not_500(harness_factory: Any) -> None:
    # Found by the run above: schemathesis runs the lifespan around each request, and a
    # webhook reaching a stopped writer was a 500.
    harness = harness_factory()
    harness.client.app.state.writer.stop()
    answer = harness.post_ticket({"ticketId": "T1", "customerId": "acme"})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert answer.json()["error"]["code"] == "shutting_down"
    assert harness.stored == 0
