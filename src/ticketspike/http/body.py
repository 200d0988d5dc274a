"""Reading request bodies safely: content type first, size while streaming, then JSON.

A body over the limit is refused as soon as the declared ``Content-Length`` or the bytes
received so far exceed it, so a client cannot make the server buffer a gigabyte before being
told no. The raw bytes are kept as received, because signatures are checked over exactly them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import ClientDisconnect, Request

from ..jsontext import JsonError, loads
from .errors import ApiError

__all__ = ["parse_json", "read_body", "require_content_type"]

JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded",)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_content_type(request: Request, *, allow_form: bool = False) -> None:
    """Refuse (415) anything but JSON (``application/json`` or ``application/*+json``)."""
    media = media_type(request)
    if media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json")):
        return
    if allow_form and media in FORM_TYPES:
        return
    expected = "application/json" + (" or application/x-www-form-urlencoded" if allow_form else "")
    got = media or "none"
    raise ApiError(415, "unsupported_media_type", f"expected Content-Type {expected}, got {got}")


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"request body exceeds {limit} bytes")


async def read_body(request: Request, *, limit: int) -> bytes:
    """The raw body, refusing (413) as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, "bad_request", "Content-Length is not a number") from None
        if size > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        # The client went away, or ``serve`` closed a body that did not arrive in time: the
        # answer goes nowhere, and it is no server error either.
        raise ApiError(400, "client_disconnected", "the request body did not arrive") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body`` or a 400 saying where the syntax breaks."""
    try:
        return loads(body)
    except JsonError as exc:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}") from None
