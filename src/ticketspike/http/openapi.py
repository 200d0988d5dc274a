"""The OpenAPI 3.1 document of the HTTP API, written by hand.

Hand-written because the endpoints read raw bytes (signatures are checked over them) rather than
declaring typed bodies a generator could inspect; a test checks that every route the app serves
is described here and every ``$ref`` resolves, so the two cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .dashboard import dashboard_paths, session_scheme
from .drafts import DRAFT_SCHEMAS, draft_paths
from .episodes import episode_paths
from .incidents import INCIDENT_SCHEMAS, incident_paths
from .records import record_paths
from .source_health import DETAIL_SCHEMA as HEALTH_DETAIL_SCHEMA
from .tickets import TICKET_SCHEMAS, ticket_paths

__all__ = ["openapi_document"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


_STRING_MAP = {"type": "object", "additionalProperties": {"type": "integer"}}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["invalid_signature"]},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "Ticket": {
        "type": "object",
        "description": "The canonical ticket JSON.",
        "required": ["ticketId", "customerId", "createdAt"],
        "properties": {
            "ticketId": {"type": "string"},
            "customerId": {"type": "string"},
            "category": {
                "type": "string",
                "description": "technical, billing, training or feature_request (any case; "
                "'feature request' and 'feature-request' too); anything else is 'other'.",
            },
            "severity": {"type": "string", "enum": ["P1", "P2", "P3", "P4"], "default": "P3"},
            "subject": {"type": "string"},
            "createdAt": {
                "type": "string",
                "format": "date-time",
                "description": "ISO-8601 with an offset or Z; naive times are refused.",
            },
            "event": {
                "type": "string",
                "enum": ["created", "updated", "resolved"],
                "default": "created",
            },
            "url": {"type": "string"},
            "internal": {"type": "boolean", "default": False},
            "body": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "source": {"type": "string"},
            "bodyTruncated": {
                "type": "boolean",
                "description": "in lists: the body is an excerpt; the ticket read has it whole",
            },
            "bodyLength": {"type": "integer", "description": "characters of the whole body"},
        },
    },
    "Accepted": {
        "type": "object",
        "properties": {
            "accepted": {"type": "boolean"},
            "received": {"type": "integer"},
            "stored": {"type": "integer", "description": "new tickets"},
            "updated": {"type": "integer"},
            "duplicates": {"type": "integer", "description": "redeliveries of known tickets"},
            "replayed": {"type": "boolean", "description": "this delivery id was seen before"},
            "queued": {"type": "integer", "description": "events waiting for detection"},
            "ignored": {"type": ["string", "null"]},
        },
    },
    "CheckSpikeRequest": {
        "type": "object",
        "required": ["customerId"],
        "properties": {"customerId": {"type": "string", "maxLength": 256}},
    },
    "RiskSignal": {
        "type": "object",
        "description": "The risk signal a spike raises (type ticket_spike).",
        "required": ["signal_type", "customer_id", "severity", "detected_at", "metadata"],
        "properties": {
            "signal_type": {"const": "ticket_spike"},
            "customer_id": {"type": "string"},
            "severity": {"type": "string", "enum": ["high", "critical"]},
            "detected_at": {"type": "string", "format": "date-time"},
            "metadata": {
                "type": "object",
                "required": [
                    "ticket_count",
                    "baseline_daily_avg",
                    "spike_multiplier",
                    "period_hours",
                    "ticket_breakdown",
                    "severity_breakdown",
                    "common_themes",
                    "ticket_ids",
                ],
                "properties": {
                    "ticket_count": {"type": "integer"},
                    "baseline_daily_avg": {"type": "number"},
                    "spike_multiplier": {"type": ["number", "null"]},
                    "period_hours": {"type": "number"},
                    "ticket_breakdown": _STRING_MAP,
                    "severity_breakdown": _STRING_MAP,
                    "common_themes": {"type": "array", "items": {"type": "string"}},
                    "ticket_ids": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
    "Assessment": {
        "type": "object",
        "description": "Spike check result, assessed at the time of the request.",
        "properties": {
            "customerId": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
            "isSpike": {"type": "boolean"},
            "severity": {"type": "string", "enum": ["none", "medium", "high", "critical"]},
            "ticketCount": {"type": "integer"},
            "baseline": {"type": "number", "description": "tickets per day"},
            "baselineSource": {"type": "string", "enum": ["own", "industry", "blended"]},
            "expectedCount": {"type": "number"},
            "multiplier": {"type": ["number", "null"]},
            "percentageIncrease": {"type": ["number", "null"]},
            "periodHours": {"type": "number"},
            "pValue": {"type": ["number", "null"]},
            "themes": {"type": "array", "items": {"type": "string"}},
            "ticketIds": {"type": "array", "items": {"type": "string"}},
            "explanation": {"type": "string"},
            "riskSignal": {"oneOf": [_ref("RiskSignal"), {"type": "null"}]},
        },
    },
    "Summary": {
        "type": "object",
        "description": "Ticket summary of one customer: recent tickets, baseline, rate.",
        "required": ["recentTickets", "baseline", "currentRate", "isSpike", "themes"],
        "properties": {
            "customerId": {"type": "string"},
            "recentTickets": {"type": "array", "items": _ref("Ticket")},
            "baseline": {"type": "number", "description": "tickets per day"},
            "currentRate": {"type": "number", "description": "tickets per day in the window"},
            "isSpike": {"type": "boolean"},
            "themes": {"type": "array", "items": {"type": "string"}},
            "severity": {"type": "string"},
            "multiplier": {"type": ["number", "null"]},
            "ticketCount": {"type": "integer"},
            "periodHours": {"type": "number"},
            "at": {"type": "string", "format": "date-time"},
        },
    },
    "Banner": {
        "type": "object",
        "description": "Customer banner: active spike, count, trend, link.",
        "properties": {
            "customerId": {"type": "string"},
            "active": {"type": "boolean"},
            "episodeId": {"type": ["string", "null"]},
            "severity": {"type": "string"},
            "ticketCount": {"type": "integer"},
            "previousCount": {"type": "integer", "description": "the window before this one"},
            "trend": {"type": "string", "enum": ["rising", "steady", "falling"]},
            "periodHours": {"type": "number"},
            "link": {"type": "string", "description": "path of this customer's summary"},
            "ticketLinks": {"type": "object", "additionalProperties": {"type": "string"}},
            "quickAction": {"type": ["string", "null"], "examples": ["Address Spike"]},
        },
    },
    "EscalationCard": {
        "type": "object",
        "description": "Escalation dashboard entry (one active spike episode).",
        "properties": {
            "customerId": {"type": "string"},
            "customerName": {"type": "string"},
            "episodeId": {"type": "string"},
            "severity": {"type": "string"},
            "status": {"type": "string"},
            "suppressed": {"type": ["string", "null"]},
            "detectedAt": {"type": "string", "format": "date-time"},
            "hoursSinceDetection": {"type": "number"},
            "actionsTaken": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string"},
                        "step": {"type": "string"},
                        "status": {
                            "type": "string",
                            "enum": ["pending", "running", "done", "failed"],
                        },
                        "summary": {"type": "string"},
                        "error": {"type": ["string", "null"]},
                    },
                },
            },
            "progress": {
                "type": "object",
                "properties": {
                    "stage": {"type": "string"},
                    "actionsDone": {"type": "integer"},
                    "actionsTotal": {"type": "integer"},
                    "failed": {"type": "integer"},
                    "plan": {"type": "object"},
                    "ticketsResolved": {
                        "type": "integer",
                        "description": "the spike's tickets resolved so far",
                    },
                    "ticketsTotal": {"type": "integer", "description": "the spike's tickets"},
                },
            },
            "ticketCount": {"type": ["integer", "null"]},
            "multiplier": {"type": ["number", "null"]},
            "logoUrl": {"type": ["string", "null"], "description": "the account's logo"},
            "acknowledgedBy": {"type": ["string", "null"]},
            "acknowledgedAt": {"type": ["string", "null"], "format": "date-time"},
            "snoozedUntil": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Escalations": {
        "type": "object",
        "properties": {
            "generatedAt": {"type": "string", "format": "date-time"},
            "escalations": {"type": "array", "items": _ref("EscalationCard")},
        },
    },
    "Health": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "reason": {"type": "string"},
            "detail": HEALTH_DETAIL_SCHEMA,
        },
    },
}

_SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "Unique delivery id; a second delivery with the same id is not stored.",
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "description": "Unix seconds; refused when more than the tolerance (300 s) away.",
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "Space-separated 'v1,<base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\">'.",
    },
]


def _customer_param() -> dict[str, Any]:
    return {
        "name": "customerId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 256},
    }


def openapi_document(
    *, max_body_bytes: int = 1_048_576, sources: Sequence[str] = ()
) -> dict[str, Any]:
    """The document ``GET /openapi.json`` serves (``sources``: the installed source names)."""
    read: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    source_schema: dict[str, Any] = {"type": "string"}
    if sources:
        source_schema["enum"] = list(sources)
    responses = {
        f"E{status}": {
            "description": text,
            "content": {"application/json": {"schema": _ref("Error")}},
        }
        for status, text in {
            400: "Malformed request.",
            401: "Missing or invalid credentials.",
            404: "Not found.",
            413: f"Body larger than {max_body_bytes} bytes.",
            415: "Content-Type is not JSON.",
            422: "A field is missing or has the wrong type or format.",
            503: "The store is unavailable; retry later.",
        }.items()
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "ticketspike",
            "version": "1",
            "description": "Support-ticket spike detection: signed ticket webhooks in, spike "
            "assessments, summaries, banners and the escalation dashboard out.",
        },
        "paths": {
            "/api/webhooks/support/ticket": {
                "post": {
                    "operationId": "receiveTicket",
                    "summary": "Receive a ticket event (canonical ticket JSON, Standard Webhooks).",
                    "description": "Answered once the ticket is stored; detection and "
                    "notifications run afterwards. Also accepts a list of tickets or "
                    '{"tickets": [...]}.',
                    "parameters": _SIGNATURE_HEADERS,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("Ticket")}},
                    },
                    "responses": {
                        "202": _json(_ref("Accepted"), "Stored; processing follows."),
                        "200": _json(_ref("Accepted"), "Nothing new (replayed id or duplicate)."),
                        **_errors(400, 401, 404, 413, 415, 422, 503),
                    },
                }
            },
            "/api/webhooks/{source}": {
                "post": {
                    "operationId": "receiveSourceWebhook",
                    "summary": "Receive a vendor webhook, verified by the named source plugin.",
                    "parameters": [
                        {"name": "source", "in": "path", "required": True, "schema": source_schema}
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                        },
                    },
                    "responses": {
                        "202": _json(_ref("Accepted"), "Stored; processing follows."),
                        "200": _json(_ref("Accepted"), "Nothing new or nothing to store."),
                        **_errors(400, 401, 404, 413, 415, 422, 503),
                    },
                }
            },
            "/api/support/check-spike": {
                "post": {
                    "operationId": "checkSpike",
                    "summary": "Assess a customer's ticket window now.",
                    "security": read,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("CheckSpikeRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("Assessment"), "The assessment."),
                        **_errors(400, 401, 413, 415, 422),
                    },
                }
            },
            "/api/support/summary/{customerId}": {
                "get": {
                    "operationId": "getSummary",
                    "summary": "Recent tickets, baseline, current rate, spike flag and themes.",
                    "security": read,
                    "parameters": [
                        _customer_param(),
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1},
                            "description": "How many recent tickets (newest first).",
                        },
                    ],
                    "responses": {
                        "200": _json(_ref("Summary"), "The summary."),
                        **_errors(401, 422),
                    },
                }
            },
            "/api/support/banner/{customerId}": {
                "get": {
                    "operationId": "getBanner",
                    "summary": "Data for the customer-detail spike banner.",
                    "security": read,
                    "parameters": [_customer_param()],
                    "responses": {
                        "200": _json(_ref("Banner"), "The banner data."),
                        **_errors(401, 422),
                    },
                }
            },
            "/api/support/escalations": {
                "get": {
                    "operationId": "listEscalations",
                    "summary": "Escalation dashboard: one card per active spike.",
                    "security": read,
                    "responses": {
                        "200": _json(_ref("Escalations"), "The active escalations."),
                        **_errors(401),
                    },
                }
            },
            "/api/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness and store reachability (no credentials needed); "
                    "with the read token also each ticket source's delivery status (detail).",
                    "responses": {
                        "200": _json(_ref("Health"), "Serving."),
                        "503": _json(
                            _ref("Health"), "The store cannot be reached or cannot write."
                        ),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (series prefixed ticketspike_).",
                    "description": "Needs the bearer token unless server.metrics_public is "
                    "true; 501 without the metrics extra.",
                    "security": read,
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition format.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **_errors(401),
                    },
                }
            },
            "/docs": {
                "get": {
                    "operationId": "docs",
                    "summary": "Swagger UI over this document (no credentials needed).",
                    "responses": {
                        "200": {"description": "HTML page.", "content": {"text/html": {}}}
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1 document.",
                            "content": {"application/json": {}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "responses": responses,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The token in $TICKETSPIKE_API_TOKEN (or server.api_token_env).",
                }
            },
        },
    }
    document["paths"].update(draft_paths(read))
    document["paths"].update(incident_paths(read))
    document["paths"].update(episode_paths(read))
    document["paths"].update(record_paths(read))
    document["paths"].update(ticket_paths(read))
    document["paths"].update(dashboard_paths())
    document["components"]["securitySchemes"]["dashboardSession"] = session_scheme()
    document["components"]["schemas"] = {
        **SCHEMAS,
        **DRAFT_SCHEMAS,
        **INCIDENT_SCHEMAS,
        **TICKET_SCHEMAS,
    }
    return document
