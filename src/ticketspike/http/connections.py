"""What ``ticketspike serve`` does with slow, idle and too many clients.

uvicorn's HTTP/1.1 protocol (h11) waits for a request head and a body as long as the client
likes, keeps a fresh connection that never sends a byte forever, and accepts connections until
the process runs out of file descriptors (then every ``accept`` fails and logs a traceback).
:func:`guarded_protocol` builds the same protocol with the limits of :class:`ConnectionLimits`:

* **head deadline**: a request head (request line and headers) must be complete within
  ``header_timeout`` seconds of the connection opening or of the previous response ending;
  otherwise the connection is closed. Slowloris clients hold a connection that long at most.
* **body deadline**: once the head is in, the body must be complete within ``body_timeout``
  seconds; otherwise the client gets ``408 Request Timeout`` and the connection is closed.
* **keep-alive**: an idle connection closes after ``keep_alive`` seconds (uvicorn's own
  timer), and after ``max_requests`` requests the response says ``Connection: close``.
* **connection cap**: at ``max_connections`` open connections a new one first takes the place
  of the oldest connection with no request being handled (idle or still sending its head), so
  idle and slowloris clients cannot lock real ones out; only when every connection is busy is
  the new one answered ``503`` with ``Retry-After`` and closed. The cap sits below the file
  limit (:func:`connection_cap`), so ``accept`` never fails for want of descriptors.

This module imports uvicorn and h11, so only ``serve`` (the ``server`` extra) loads it.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Callable
from typing import Any

import attrs
import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "ACCEPT_BATCH",
    "ACCEPT_HEADROOM",
    "FD_RESERVE",
    "ConnectionLimits",
    "connection_cap",
    "guarded_protocol",
    "raise_file_limit",
]

# Descriptors kept for everything but client connections: the listening socket, the store,
# log files, outgoing connections to Slack and other services, threads' pipes.
FD_RESERVE = 100
# Connections asyncio accepts in one go (uvicorn's ``backlog``, also the listen queue). A
# connection is counted only a few loop turns after its accept, and under a flood several
# batches are in between: the cap leaves room for ACCEPT_HEADROOM of them (measured: with 1,500
# connections at once against a 1,024 file limit, 228 spare descriptors were too few, 324 enough).
ACCEPT_BATCH = 64
ACCEPT_HEADROOM = 4


@attrs.frozen(kw_only=True)
class ConnectionLimits:
    """The limits one ``serve`` process applies to its client connections (see the module)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive: float = 5.0
    max_requests: int = 1000
    max_connections: int = 1000
    retry_after: int = 1


def raise_file_limit() -> int:
    """Raise this process's soft file-descriptor limit to its hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_cap(configured: int, file_limit: int) -> int:
    """``configured``, lowered to leave :data:`FD_RESERVE` descriptors and a few accept batches
    below ``file_limit``."""
    spare = FD_RESERVE + ACCEPT_HEADROOM * ACCEPT_BATCH
    return max(1, min(configured, file_limit - spare))


def _raw_response(status: int, reason: str, headers: dict[str, str], body: str) -> bytes:
    data = body.encode()
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"content-length: {len(data)}", "connection: close", "", ""]
    return "\r\n".join(lines).encode("ascii") + data


def _error_body(code: str, message: str) -> str:
    return f'{{"error":{{"code":"{code}","message":"{message}"}}}}'


def guarded_protocol(
    limits: ConnectionLimits, *, on_refused: Callable[[], None] | None = None
) -> type[H11Protocol]:
    """uvicorn's h11 protocol class with ``limits`` applied (pass it as ``Config(http=...)``).

    :param on_refused: called each time a connection is answered 503 at the cap (a counter).
    """
    busy = _raw_response(
        503,
        "Service Unavailable",
        {"content-type": "application/json", "retry-after": str(limits.retry_after)},
        _error_body("overloaded", "too many open connections; retry shortly"),
    )

    class GuardedH11Protocol(H11Protocol):
        """h11 with a head deadline, a body deadline, a request limit and a connection cap."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._deadline: asyncio.TimerHandle | None = None
            self._served = 0
            self._refused = False
            self._since = 0.0  # loop time the current deadline was armed at

        # -- connection cap ----------------------------------------------------------------
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections and not self._evict_one():
                self._refused = True
                self.connections.discard(self)
                transport.write(busy)
                transport.close()
                if on_refused is not None:
                    on_refused()
                return
            self._arm(limits.header_timeout, self._head_timed_out)

        def _evict_one(self) -> bool:
            # The oldest by the time its current wait (for a head) began.
            victim: GuardedH11Protocol | None = None
            for other in self.connections:
                if other is self or not isinstance(other, GuardedH11Protocol):
                    continue
                if other._handling() or other.transport is None or other.transport.is_closing():
                    continue
                if victim is None or other._since < victim._since:
                    victim = other
            if victim is None:
                return False
            victim._close()
            self.connections.discard(victim)
            return True

        def _handling(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        # -- deadlines ----------------------------------------------------------------------
        def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
            self._disarm()
            self._since = self.loop.time()
            self._deadline = self.loop.call_later(seconds, callback)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            cycle = self.cycle
            if cycle is not before and cycle is not None:
                # A new request head is complete.
                self._served += 1
                if self._served >= limits.max_requests:
                    # The last request on this connection: say so, then close.
                    cycle.keep_alive = False
                    cycle.default_headers = [*cycle.default_headers, (b"connection", b"close")]
                if cycle.more_body and self.conn.their_state is h11.SEND_BODY:
                    self._arm(limits.body_timeout, self._body_timed_out)
                else:
                    self._disarm()
            elif cycle is not None and not cycle.more_body and self._deadline is not None:
                if self.conn.their_state is not h11.SEND_BODY:
                    self._disarm()  # the body is complete

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.cycle is not None:
                if self.cycle.response_complete and self.conn.their_state is not h11.SEND_BODY:
                    self._arm(limits.header_timeout, self._head_timed_out)

        def _head_timed_out(self) -> None:
            self._deadline = None
            if not self._handling():
                self._close()

        def _body_timed_out(self) -> None:
            self._deadline = None
            cycle = self.cycle
            if cycle is None or not cycle.more_body or self.transport.is_closing():
                return
            if not cycle.response_started:
                cycle.disconnected = True  # the application's own answer goes nowhere
                self.transport.write(
                    _raw_response(
                        408,
                        "Request Timeout",
                        {"content-type": "application/json"},
                        _error_body(
                            "request_timeout",
                            f"the request body did not arrive within {limits.body_timeout:g} s",
                        ),
                    )
                )
            self._close()
            cycle.message_event.set()

        def _close(self) -> None:
            self._disarm()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedH11Protocol
