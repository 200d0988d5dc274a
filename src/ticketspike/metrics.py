"""Prometheus metrics, kept behind one small module so the engine never imports a client.

With the ``metrics`` extra installed (``prometheus_client``) every function here counts into
one registry of its own, whose series are all prefixed ``ticketspike_`` (no process or
platform series: a host that wants those registers its own). Without the extra every function
is a no-op, so the engine, the executor and the HTTP face call them unconditionally and pay
nothing when nobody scrapes.

The HTTP app serves the registry at ``GET /metrics`` (:mod:`ticketspike.http.metrics`); a host
that runs the engine without the HTTP face can serve :func:`exposition` itself.

Labels are always bounded sets chosen by the project (source names, error codes, action kinds,
outcomes), never a customer id or ticket text: a hostile sender cannot grow the series.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = [
    "AVAILABLE",
    "CONTENT_TYPE",
    "action",
    "detection_lag",
    "episode",
    "exposition",
    "inbox",
    "refused",
    "retry",
    "tickets",
    "webhook_seconds",
]

AVAILABLE = importlib.util.find_spec("prometheus_client") is not None
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LAG_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0)
_LABEL_CHARS = 64

_series: dict[str, Any] = {}
_registry: Any = None


def _setup() -> None:
    global _registry
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry(auto_describe=True)
    p = "ticketspike"
    _series.update(
        received=Counter(
            f"{p}_tickets_received",
            "Ticket events received, by source.",
            ["source"],
            registry=registry,
        ),
        stored=Counter(
            f"{p}_tickets_stored", "New tickets stored, by source.", ["source"], registry=registry
        ),
        updated=Counter(
            f"{p}_tickets_updated",
            "Stored tickets changed, by source.",
            ["source"],
            registry=registry,
        ),
        duplicates=Counter(
            f"{p}_tickets_duplicates",
            "Ticket events already stored (or replayed deliveries), by source.",
            ["source"],
            registry=registry,
        ),
        webhook=Histogram(
            f"{p}_webhook_seconds",
            "Time to answer a ticket webhook, by source.",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        ),
        refused=Counter(
            f"{p}_http_refused_requests",
            "HTTP requests refused, by error code (unauthorized, bad_signature, ...).",
            ["reason"],
            registry=registry,
        ),
        episodes=Counter(
            f"{p}_episodes",
            "Spike episode transitions recorded, by event (opened, escalated, resolved).",
            ["event"],
            registry=registry,
        ),
        actions=Counter(
            f"{p}_actions",
            "Planned actions finished, by kind and outcome (done, failed).",
            ["kind", "outcome"],
            registry=registry,
        ),
        retries=Counter(
            f"{p}_action_retries",
            "Action attempts that failed transiently and were retried, by kind.",
            ["kind"],
            registry=registry,
        ),
        inbox_depth=Gauge(
            f"{p}_inbox_depth",
            "Ticket events stored by webhooks and not yet through detection.",
            registry=registry,
        ),
        inbox_age=Gauge(
            f"{p}_inbox_oldest_age_seconds",
            "Age of the oldest ticket event waiting in the inbox (0 when empty).",
            registry=registry,
        ),
        lag=Histogram(
            f"{p}_detection_lag_seconds",
            "From a ticket event's time to the moment detection saw it.",
            buckets=_LAG_BUCKETS,
            registry=registry,
        ),
    )
    _registry = registry


if AVAILABLE:
    _setup()


def _label(value: object) -> str:
    return str(value)[:_LABEL_CHARS]


def tickets(
    source: str, *, received: int = 0, stored: int = 0, updated: int = 0, duplicates: int = 0
) -> None:
    """Count what one delivery or batch from ``source`` brought."""
    if not _series:
        return
    label = _label(source)
    for name, value in (
        ("received", received),
        ("stored", stored),
        ("updated", updated),
        ("duplicates", duplicates),
    ):
        if value:
            _series[name].labels(label).inc(value)


def webhook_seconds(source: str, seconds: float) -> None:
    """Observe how long one webhook took to answer."""
    if _series:
        _series["webhook"].labels(_label(source)).observe(max(0.0, seconds))


def refused(reason: str) -> None:
    """Count one refused HTTP request by its error code."""
    if _series:
        _series["refused"].labels(_label(reason)).inc()


def episode(event: str) -> None:
    """Count one recorded episode transition (``opened``, ``escalated``, ``resolved``)."""
    if _series:
        _series["episodes"].labels(_label(event)).inc()


def action(kind: str, outcome: str) -> None:
    """Count one action that finished (``done``) or failed for good (``failed``)."""
    if _series:
        _series["actions"].labels(_label(kind), _label(outcome)).inc()


def retry(kind: str) -> None:
    """Count one transient failure that will be retried."""
    if _series:
        _series["retries"].labels(_label(kind)).inc()


def detection_lag(seconds: float) -> None:
    """Observe how late detection saw a ticket event."""
    if _series:
        _series["lag"].observe(max(0.0, seconds))


def inbox(depth: int, oldest_age_seconds: float) -> None:
    """Set the inbox gauges (read from the store when scraped)."""
    if _series:
        _series["inbox_depth"].set(depth)
        _series["inbox_age"].set(max(0.0, oldest_age_seconds))


def exposition() -> bytes:
    """Every series in the Prometheus text format (empty without the extra)."""
    if _registry is None:
        return b""
    from prometheus_client import generate_latest

    return bytes(generate_latest(_registry))
