"""A complete FastAPI service with ticketspike inside: mount, worker, ticks and shutdown.

The ticketspike HTTP API is mounted under ``/ticketspike`` (webhooks, summaries, banners, the
dashboard, ``/ticketspike/docs`` and ``/ticketspike/metrics``); the host keeps its own routes.

Run it from a checkout (``pip install '.[server]' fastapi``)::

    export TICKETSPIKE_API_TOKEN=change-me
    export TICKETSPIKE_WEBHOOK_SECRET="whsec_$(head -c 32 /dev/urandom | base64)"
    uvicorn --app-dir examples fastapi_service:app --port 8000

``TICKETSPIKE_CONFIG`` names the config (default: the embedded defaults) and
``TICKETSPIKE_STORE`` the SQLite store (default ``ticketspike.sqlite3``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ticketspike import Engine
from ticketspike.http import create_app

engine = Engine.from_config(
    os.environ.get("TICKETSPIKE_CONFIG") or None,
    store=os.environ.get("TICKETSPIKE_STORE") or "ticketspike.sqlite3",
)
# close_engine: the mounted app's shutdown stops its worker first, then closes the store.
ticketspike_api = create_app(engine, close_engine=True)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # A host does not run a mounted app's lifespan: enter it here. Starting the worker now
    # (rather than at the first webhook) drains what an earlier run left in the inbox and
    # lets time pass from the start: every server.interval_seconds (60 by default) the worker
    # calls engine.tick(), so a spike resolves on time even when no tickets arrive.
    async with ticketspike_api.router.lifespan_context(ticketspike_api):
        if ticketspike_api.state.processor is not None:  # server.background: false
            ticketspike_api.state.processor.start()
        yield
    # Leaving the block stopped the worker (finishing the action it was on) and closed the store.


app = FastAPI(title="Customer success service", lifespan=lifespan)
app.mount("/ticketspike", ticketspike_api)


@app.get("/")
def home() -> dict[str, str]:
    """The host's own routes stay the host's."""
    return {"service": "customer-success", "ticketspike": "/ticketspike/docs"}
