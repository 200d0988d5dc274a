"""Shared pieces of the HTTP tests: a signer written from the Standard Webhooks spec, and apps.

The signer here is independent of ticketspike's own (``builtin.jsonl_source.sign``): it follows
the spec text (HMAC-SHA256 over ``{id}.{timestamp}.{body}``, base64, ``v1,`` prefix, ``whsec_``
secrets base64-decoded), so a test passing means the server agrees with the standard, not
merely with itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import attrs
import httpx
import pytest
from starlette.applications import Starlette

from ticketspike.config import Config, load_config
from ticketspike.engine import Engine
from ticketspike.errors import PermanentDeliveryError
from ticketspike.http import ServerSettings, create_app
from ticketspike.planner.plan import Action
from ticketspike.roles import ActionContext, ActionResult
from ticketspike.store.memory import MemoryStore
from ticketspike.store.sqlite import SQLiteStore
from ticketspike.testing import (
    NOTIFY_KINDS,
    FakeSource,
    FixedClock,
    RecordingNotifier,
    RecordingSleep,
    StaticPlugin,
    clean_plugins,
    sample_account,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
KEY = b"ticketspike-test-signing-key-32b"  # 32 bytes, inside the spec's 24-64
SECRET = "whsec_" + base64.b64encode(KEY).decode()
TOKEN = "read-token-7f3a9c"
FAKE_TOKEN = "fake-vendor-token"


def spec_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    content = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def signed(
    body: bytes,
    *,
    msg_id: str = "msg_1",
    at: datetime = NOW,
    key: bytes = KEY,
    content_type: str = "application/json",
) -> dict[str, str]:
    stamp = int(at.timestamp())
    return {
        "content-type": content_type,
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": spec_signature(key, msg_id, stamp, body),
    }


def ticket(ticket_id: str = "TKT-1", customer: str = "acme", **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ticketId": ticket_id,
        "customerId": customer,
        "category": "technical",
        "severity": "P2",
        "subject": "API returns 502 on export",
        "createdAt": (NOW - timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
    }
    data.update(fields)
    return data


def encode(obj: Any) -> bytes:
    return json.dumps(obj).encode()


@attrs.define
class BlockingNotifier:
    """Holds every delivery until released, then fails it for good: a stuck, broken Slack."""

    name: str = "blocking"
    kinds: frozenset[str] = NOTIFY_KINDS
    release: threading.Event = attrs.field(factory=threading.Event)
    entered: threading.Event = attrs.field(factory=threading.Event)
    calls: int = 0

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        self.calls += 1
        self.entered.set()
        self.release.wait(30)
        raise PermanentDeliveryError("slack is down")


class Client:
    """A synchronous face on ``httpx.AsyncClient`` over ``httpx.ASGITransport``.

    The app runs in one event loop on its own thread, as under a server, while the test
    thread makes plain calls. Like a mount in a host app, nothing runs the app's lifespan.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    def submit(self, method: str, url: str, **options: Any) -> Future[httpx.Response]:
        """Start a request without waiting for it (for concurrent requests)."""
        return asyncio.run_coroutine_threadsafe(
            self._client.request(method, url, **options), self._loop
        )

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        return self.submit(method, url, **options).result(timeout=60)

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)

    def options(self, url: str, **options: Any) -> httpx.Response:
        return self.request("OPTIONS", url, **options)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@attrs.define
class Harness:
    """An engine, the app over it and a client; ``auth`` is the read header."""

    engine: Engine
    client: Client
    notifier: Any
    clock: FixedClock

    auth: dict[str, str] = attrs.field(factory=lambda: {"Authorization": f"Bearer {TOKEN}"})

    def post_ticket(self, obj: Any, **sign_options: Any) -> Any:
        body = obj if isinstance(obj, bytes) else encode(obj)
        return self.client.post(
            "/api/webhooks/support/ticket", content=body, headers=signed(body, **sign_options)
        )

    def settle(self) -> None:
        """Wait until the background worker has processed everything stored so far."""
        processor = self.client.app.state.processor
        processor.notify()
        assert processor.wait_idle(timeout=30)
        assert self.engine.store.pending_event_count() == 0

    @property
    def stored(self) -> int:
        return self.engine.store.ticket_count()


def make_engine(
    *,
    notifier: Any = None,
    store: Any = None,
    env: Mapping[str, str] | None = None,
    config_text: str | None = None,
    clock: FixedClock | None = None,
    extra: tuple[object, ...] = (),
) -> Engine:
    env = {"TICKETSPIKE_WEBHOOK_SECRET": SECRET} if env is None else env
    config = load_config(text=config_text, env=env) if config_text else Config.default(env=env)
    plugins = clean_plugins(
        StaticPlugin(
            notifiers=[notifier or RecordingNotifier()], sources=[FakeSource(token=FAKE_TOKEN)]
        ),
        StaticPlugin(directories=[_Directory()]),
        *extra,
    )
    return Engine(
        config,
        store=store or MemoryStore(),
        plugins=plugins,
        clock=clock or FixedClock(NOW),
        sleep=RecordingSleep(),
    )


@attrs.define
class _Directory:
    name: str = "test-accounts"

    def get_account(self, customer_id: str) -> Any:
        return sample_account(customer_id) if customer_id == "acme" else None


@pytest.fixture
def harness_factory(tmp_path: Any) -> Iterator[Any]:
    opened: list[tuple[Client, Engine]] = []

    def build(
        *,
        notifier: Any = None,
        sqlite: bool = False,
        settings: ServerSettings | None = None,
        env: Mapping[str, str] | None = None,
        token_env: Mapping[str, str] | None = None,
        config_text: str | None = None,
    ) -> Harness:
        notifier = notifier if notifier is not None else RecordingNotifier()
        clock = FixedClock(NOW)
        store = SQLiteStore(tmp_path / "store.db") if sqlite else None
        engine = make_engine(
            notifier=notifier, store=store, env=env, config_text=config_text, clock=clock
        )
        app = create_app(
            engine,
            settings=settings,
            env={"TICKETSPIKE_API_TOKEN": TOKEN} if token_env is None else token_env,
        )
        client = Client(app)
        opened.append((client, engine))
        return Harness(engine=engine, client=client, notifier=notifier, clock=clock)

    yield build
    for client, engine in opened:
        processor = client.app.state.processor
        if processor is not None:
            processor.stop()
        client.app.state.writer.stop()
        client.close()
        engine.close()


@pytest.fixture
def harness(harness_factory: Any) -> Harness:
    h: Harness = harness_factory()
    return h


@pytest.fixture
def kit() -> SimpleNamespace:
    """The functions and values above, for test modules (which cannot import this one)."""
    return SimpleNamespace(
        NOW=NOW,
        KEY=KEY,
        SECRET=SECRET,
        TOKEN=TOKEN,
        FAKE_TOKEN=FAKE_TOKEN,
        signed=signed,
        spec_signature=spec_signature,
        ticket=ticket,
        encode=encode,
        make_engine=make_engine,
        BlockingNotifier=BlockingNotifier,
        Client=Client,
    )
