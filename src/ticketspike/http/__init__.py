"""The HTTP face of ticketspike: an ASGI app (Starlette) over an engine.

Needs the ``server`` extra (``pip install '.[server]'`` in a checkout). The settings parser
(:mod:`ticketspike.http.settings`) imports no Starlette, so a config can be validated without
it; :func:`create_app` is imported on first use for the same reason.

    from ticketspike import Engine
    from ticketspike.http import create_app

    app = create_app(Engine.from_config("ticketspike.yaml"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .settings import ServerSettings, server_settings_from_config

if TYPE_CHECKING:
    from .app import create_app
    from .worker import Processor

__all__ = ["Processor", "ServerSettings", "create_app", "server_settings_from_config"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Processor":
        from .worker import Processor

        return Processor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
