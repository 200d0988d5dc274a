"""Every refusal of the HTTP face as one JSON shape: ``{"error": {"code", "message"}}``.

Clients branch on ``code`` (stable, snake_case) and show ``message`` (one line). Messages for
authentication and signature failures are deliberately generic: saying *why* a signature
failed (stale, wrong secret, missing header) would help an attacker more than a sender, whose
operator can read the server log. No message ever carries a secret, a signature or a token.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import (
    InputError,
    SignatureError,
    StoreError,
    TicketspikeError,
    WebhookRejected,
)

__all__ = [
    "ApiError",
    "api_error_from",
    "error_response",
    "exception_handlers",
    "unexpected",
]

log = logging.getLogger("ticketspike.http")

SIGNATURE_MESSAGE = "missing or invalid webhook signature"

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_field",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """A request refused with ``status``; ``code`` is what clients branch on."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = " ".join(message.split())  # one line, whatever came in
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.message, headers=self.headers)


def error_response(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def api_error_from(exc: TicketspikeError) -> ApiError:
    """The HTTP answer to an error the engine or a source plugin raised."""
    if isinstance(exc, SignatureError):
        return ApiError(401, "invalid_signature", SIGNATURE_MESSAGE)
    if isinstance(exc, WebhookRejected):
        if exc.status == 404:
            return ApiError(404, "unknown_source", exc.message)
        if exc.status == 400 and exc.field:
            return ApiError(422, "invalid_field", str(exc))
        return ApiError(exc.status, _STATUS_CODES.get(exc.status, "rejected"), str(exc))
    if isinstance(exc, InputError):
        if exc.field:
            return ApiError(422, "invalid_field", str(exc))
        return ApiError(400, "bad_request", str(exc))
    if isinstance(exc, StoreError):
        # The sender should retry: nothing was stored, and the store may be back soon.
        return ApiError(
            503,
            "store_unavailable",
            "the store is unavailable; retry later",
            headers={"Retry-After": "5"},
        )
    return ApiError(500, "internal_error", "internal error")


async def _http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = {404: "no such endpoint", 405: "method not allowed"}.get(
        exc.status_code, str(exc.detail)
    )
    return error_response(exc.status_code, code, message, headers=exc.headers)


def unexpected(exc: BaseException) -> ApiError:
    """A 500 for a bug, logged by type only: its text may quote ticket content or secrets."""
    log.error("unexpected %s while serving a request", type(exc).__name__)
    return ApiError(500, "internal_error", "internal error")


def exception_handlers() -> dict[Any, Any]:
    """Handlers for what the router raises itself (unknown path, wrong method).

    Endpoint errors never get here: each endpoint turns its own failures into answers, so an
    unexpected exception is answered and logged once, without a traceback carrying its text.
    """
    return {HTTPException: _http_exception}
