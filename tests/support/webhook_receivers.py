"""Real webhook receivers on 127.0.0.1: HTTP servers that verify Standard Webhooks signatures
with the ``standardwebhooks`` library and remember every request.

A receiver may be told to fail its first ``fail_first`` requests (503), as an endpoint that is
down for a while; it still records what it was sent, so a test can see the retries carry the
same ``webhook-id``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
from standardwebhooks.webhooks import Webhook


@attrs.frozen
class Received:
    webhook_id: str
    timestamp: int
    signature: str
    body: bytes
    status: int

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@attrs.define(eq=False)
class Receiver:
    secret: str
    fail_first: int = 0
    received: list[Received] = attrs.field(factory=list)
    url: str = ""
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    # Answers instead of the default 204 when set: (body, headers) -> status.
    check: Callable[[bytes, dict[str, str]], int] | None = None

    def signature_ok(self, item: Received) -> bool:
        """The signature over the exact bytes, recomputed with the library (any timestamp:
        the test's clock runs hours ahead of the real one)."""
        at = datetime.fromtimestamp(item.timestamp, tz=timezone.utc)
        expected = Webhook(self.secret).sign(item.webhook_id, at, item.body.decode())
        return expected in item.signature.split(" ")

    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                failing = receiver.fail_first > 0
                if failing:
                    receiver.fail_first -= 1
                status = 503 if failing else 204
                if not failing and receiver.check is not None:
                    status = receiver.check(body, {k.lower(): v for k, v in self.headers.items()})
                receiver.received.append(
                    Received(
                        webhook_id=self.headers.get("webhook-id", ""),
                        timestamp=int(self.headers.get("webhook-timestamp", "0")),
                        signature=self.headers.get("webhook-signature", ""),
                        body=body,
                        status=status,
                    )
                )
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve ``receiver`` on 127.0.0.1 (a free port) for the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
