"""The base of every fake vendor server: an HTTP server on 127.0.0.1, on a free port.

A fake (Slack, OpenAI, Zendesk, Intercom) is a :class:`http.server.BaseHTTPRequestHandler`
speaking the vendor's API plus the state it answers from; :class:`LoopbackServer` serves the
handler in a daemon thread and closes its socket on :meth:`~LoopbackServer.stop`, so nothing
is left open when a test ends (warnings are errors).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

__all__ = ["LoopbackServer", "QuietHandler"]


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not print a line per request to stderr."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


class LoopbackServer:
    """Serve ``handler`` on ``127.0.0.1`` port 0 (the kernel picks a free one).

    ``start()`` returns the server, so ``LoopbackServer(Handler).start()`` reads as what it
    does; ``with LoopbackServer(Handler) as server:`` starts and stops it.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # Request threads must not outlive the test that made the request.
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"loopback-{handler.__name__}",
            daemon=True,
        )
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, path: str = "") -> str:
        """``http://127.0.0.1:<port>`` followed by ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (safe to call twice)."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread.is_alive():
            self.httpd.shutdown()
            self._thread.join(10)
        self.httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
