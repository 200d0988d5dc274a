"""The ``detail`` of ``GET /api/health``: each ticket source and whether it went quiet.

``/api/health`` answers anyone (load balancers ask it), so the detail, which names the
sources and their delivery times, is added only for a request carrying the read token. A
quiet source never makes the service unhealthy: the status stays ``ok`` (a 503 would take a
working server out of rotation because a vendor stopped sending).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["DETAIL_SCHEMA", "health_detail"]

DETAIL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Only with the read token: every ticket source the store has seen.",
    "properties": {
        "quiet_sources": {"type": "array", "items": {"type": "string"}},
        "sources": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "source": {"type": "string"},
                    "status": {
                        "type": "string",
                        "enum": ["learning", "ok", "quiet", "failing", "disabled"],
                    },
                    "last_delivery": {"type": ["string", "null"], "format": "date-time"},
                    "deliveries": {"type": "integer"},
                    "expected_gap_seconds": {"type": ["number", "null"]},
                    "warn_after_seconds": {"type": ["number", "null"]},
                    "silence_seconds": {"type": "number"},
                    "chance": {"type": "number"},
                    "signature_failures": {"type": "integer"},
                    "warned_at": {"type": ["string", "null"], "format": "date-time"},
                    "quiet_since": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        },
    },
}


def health_detail(engine: Engine) -> dict[str, Any]:
    """Every known source's verdict now, and the names of those quiet or failing."""
    verdicts = engine.source_statuses()
    return {
        "quiet_sources": [v.source for v in verdicts if v.alarming],
        "sources": [v.to_json() for v in verdicts],
    }
