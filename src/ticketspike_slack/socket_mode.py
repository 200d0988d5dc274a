"""Socket Mode: clicks over a WebSocket, for hosts without public ingress.

With ``plugins.slack.interactions.socket_mode: true`` and an app-level token
(``xapp-...``, scope ``connections:write``) in ``SLACK_APP_TOKEN``, the interactions
endpoint opens slack_sdk's :class:`~slack_sdk.socket_mode.SocketModeClient` when the HTTP
app starts (``ticketspike serve``). Each ``interactive`` envelope is acknowledged at once
(Slack's three seconds), dropped if its envelope id was seen before (Slack redelivers
unacknowledged envelopes), checked for the workspace, and handed to the same background
handlers as a signed HTTP request. Socket Mode needs no signing secret: the connection
itself is authenticated by the app token.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from ticketspike import Secret

if TYPE_CHECKING:
    from .interactions import SlackInteractions

__all__ = ["SocketModeRunner"]

log = logging.getLogger("ticketspike_slack.socket_mode")


class SocketModeRunner:
    """Feeds Socket Mode envelopes to :class:`~ticketspike_slack.interactions.SlackInteractions`."""

    def __init__(
        self, interactions: SlackInteractions, *, app_token: Secret, client: WebClient
    ) -> None:
        self.interactions = interactions
        self._app_token = app_token
        self._client = client
        self.socket: SocketModeClient | None = None

    def __repr__(self) -> str:
        return f"SocketModeRunner(app_token={self._app_token!r})"

    def start(self) -> None:
        self.socket = SocketModeClient(
            app_token=self._app_token.reveal(),
            web_client=self._client,
            logger=logging.getLogger("ticketspike_slack.socket_mode.client"),
        )
        self.socket.socket_mode_request_listeners.append(self.on_request)
        try:
            self.socket.connect()
        except Exception as exc:  # noqa: BLE001 - the HTTP app keeps serving without it
            log.warning(
                "slack: Socket Mode could not connect (%s); clicks will not arrive until it "
                "does (check $%s and the app's Socket Mode switch)",
                type(exc).__name__,
                self._app_token.source or "SLACK_APP_TOKEN",
            )
            return
        log.info("slack: Socket Mode connected")

    def stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    def on_request(self, client: Any, request: SocketModeRequest) -> None:
        """Acknowledge the envelope first, then hand an interaction to the handlers."""
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        if request.type != "interactive" or not isinstance(request.payload, dict):
            return
        self.interactions.accept(request.payload, delivery=f"envelope:{request.envelope_id}")
