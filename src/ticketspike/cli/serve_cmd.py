"""``ticketspike serve``: the HTTP API (:mod:`ticketspike.http`) on uvicorn.

Starlette and uvicorn are the optional ``server`` extra, so this module imports neither at
load time: the rest of the command line works without them, and ``serve`` says how to install
them when they are missing.

One process, one engine: webhooks are stored by the request and processed by the app's worker
thread. Several ``serve`` processes (or a ``serve`` and a cron job) can share one SQLite store;
the store keeps them from storing or alerting twice.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import logging
import math
import socket
import sys
from typing import Any

from ..errors import InputError, TicketspikeError
from ..logformat import FORMATS
from .common import EXIT_OK, add_config_args, config_from_args
from .store_arg import add_store_arg

__all__ = ["register"]

_LEVELS = ("critical", "error", "warning", "info", "debug")
SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005
GC_YOUNG = 20_000  # allocations between young collections; CPython's default is 700
_MISSING = (
    "the HTTP server needs the server extra: pip install '.[server]' in a checkout "
    "(pip install 'ticketspike[server]' once published)"
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the HTTP API (webhooks, summary, check-spike, dashboard)",
        description="Serve the ticketspike HTTP API with uvicorn: signed ticket webhooks in, "
        "spike checks, summaries, banners and the escalation dashboard out. Reads need "
        "the bearer token in $TICKETSPIKE_API_TOKEN; ticket webhooks need the signing "
        "secret in $TICKETSPIKE_WEBHOOK_SECRET.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        help="TCP port (default 8000; 0 picks a free one and prints it)",
    )
    add_config_args(parser)
    add_store_arg(
        parser,
        required=False,
        help="the store: an SQLite file or a postgresql:// URL (default $TICKETSPIKE_STORE, "
        "else store.url or store.path from the config)",
    )
    parser.add_argument(
        "--log-level", choices=_LEVELS, default="info", help="log level (default info)"
    )
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default=None,
        help="log lines as plain text (the default) or JSON lines; $TICKETSPIKE_LOG_FORMAT",
    )
    parser.add_argument(
        "--no-access-log", action="store_true", help="do not log one line per request"
    )
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("starlette") is None or importlib.util.find_spec("uvicorn") is None:
        raise TicketspikeError(_MISSING)
    if not 0 <= args.port <= 65535:
        raise InputError(f"expected a port from 0 to 65535, got {args.port}", field="--port")

    import uvicorn

    from .._lograte import RateLimit
    from .._lograte import install as limit_log_repeats
    from ..engine import Engine
    from ..http import create_app, server_settings_from_config
    from ..http.connections import (
        ACCEPT_BATCH,
        ConnectionLimits,
        connection_cap,
        guarded_protocol,
        raise_file_limit,
    )
    from ..logformat import configure_logging, log_format_from_env

    config = config_from_args(args)
    store = args.store or config.store_location
    if not store:
        raise InputError(
            "serve needs a store: pass --store FILE or URL, set $TICKETSPIKE_STORE, or set "
            "store.path or store.url in the config",
            field="--store",
        )
    settings = server_settings_from_config(config.section("server"))
    # One format for ticketspike's, uvicorn's and plugins' lines; control characters escaped
    # (ids and ticket text cannot forge a log line) and secrets redacted.
    log_format = log_format_from_env(args.log_format) or "text"
    handler = configure_logging(log_format, level=args.log_level)

    # The event loop shares the interpreter lock with the worker thread (detection, plans);
    # a shorter switch interval lets a waiting request take it back sooner (measured in
    # bench/bench_http.py: a much shorter p99 when many customers spike at once).
    sys.setswitchinterval(SWITCH_INTERVAL)
    # Connections stay below the file limit, so accept() never fails for want of descriptors.
    limits = ConnectionLimits(
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        keep_alive=settings.keep_alive_seconds,
        max_requests=settings.keep_alive_max_requests,
        max_connections=connection_cap(settings.max_connections, raise_file_limit()),
    )
    sock = _listen(args.host, args.port)
    engine = Engine.from_config(config, store=store, accounts=args.accounts)
    try:
        _warn_unconfigured(engine, handler)
        app = create_app(engine, settings=settings, close_engine=True)
        _settle_heap()
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        _say(handler, logging.INFO, f"serving on http://{shown}:{port} (store: {store})")
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level=args.log_level,
                log_config=None,  # configure_logging above formats uvicorn's lines too
                access_log=not args.no_access_log,
                server_header=False,
                lifespan="on",
                http=guarded_protocol(limits),
                backlog=ACCEPT_BATCH,
                timeout_keep_alive=max(1, math.ceil(limits.keep_alive)),
                # Requests still in flight at SIGTERM get this long; the running action gets
                # its own grace period in the app's shutdown.
                timeout_graceful_shutdown=max(1, math.ceil(limits.body_timeout)),
            )
        )
        # After uvicorn.Config: it installs its own log handlers.
        repeats = RateLimit(burst=settings.log_repeats_per_minute, period=60.0)
        limit_log_repeats(
            repeats,
            logging.getLogger(),
            logging.getLogger("uvicorn"),
            logging.getLogger("uvicorn.access"),
        )
        server.run(sockets=[sock])
    finally:
        sock.close()
        engine.close()  # a second close after the app's own is harmless
    return EXIT_OK


def _listen(host: str, port: int) -> socket.socket:
    """Bind before starting, so ``--port 0`` can say which port it got."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio turns Nagle off (TCP_NODELAY) only on sockets that do, and
    # with Nagle on, every response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise TicketspikeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _say(handler: logging.Handler, level: int, message: str) -> None:
    """A line in the chosen log format, whatever ``--log-level`` filters out: where the
    server listens matters with ``--port 0``."""
    record = logging.LogRecord("ticketspike.serve", level, __file__, 0, message, None, None)
    handler.handle(record)
    handler.flush()


def _warn_unconfigured(engine: Any, handler: logging.Handler) -> None:
    source = engine.sources.get("ticket")
    if source is not None and not getattr(source, "secrets", True):
        _say(
            handler,
            logging.WARNING,
            "the ticket source has no signing secret "
            "($TICKETSPIKE_WEBHOOK_SECRET, or the variable plugins.ticket.secret_env names); "
            "ticket webhooks will answer 401",
        )


def _settle_heap() -> None:
    """Keep the cyclic garbage collector off the webhook path.

    What start-up built (modules, plugins, the app) lives as long as the process, yet every
    full collection walked all of it again; and a webhook allocates thousands of objects,
    nearly all freed by reference counting at once, so young collections every 700
    allocations mostly found nothing (a sampling profiler of bench/bench_postgres.py put up
    to a tenth of a replica's samples in the collector, and full collections in its p99).
    So start-up's objects are frozen out of collection, and young ones are collected every
    GC_YOUNG allocations instead.
    """
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, middle, old)
