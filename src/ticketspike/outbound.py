"""Outbound webhooks: the logged events, delivered signed to the host's endpoints.

Deliveries follow the Standard Webhooks spec (signed with the ``standardwebhooks`` library,
sent with httpx): headers ``webhook-id`` (the event id: the same on every retry, so a receiver
dedupes on it), ``webhook-timestamp`` and ``webhook-signature``, and the JSON body
``{"type", "timestamp", "data"}``. Configuration::

    webhooks:
      endpoints:
        - url: https://hooks.example.com/ticketspike
          secret_env: TICKETSPIKE_HOOK_SECRET     # holds whsec_<base64>
          events: [escalation.opened, task.*]     # none: every event

Why it is built this way:

* Events are logged in the store with the change they report (:mod:`ticketspike.events`);
  the :class:`WebhookDispatcher` only reads that log. It fans each event out once per
  endpoint (a delivery keyed on event and endpoint), so one event is one delivery id per
  endpoint whatever happens to the process.
* A failed attempt is not retried in a loop that holds a thread for hours: the delivery keeps
  its next attempt time in the store, computed with tenacity's exponential wait (30 s, 1 min,
  2 min... up to 4 h, 12 attempts over about twelve hours by default), and any later pass of
  the worker (``serve`` runs one in the background, ``run`` one pass after executing)
  picks it up, even after a restart.
* An endpoint whose delivery used up every attempt is disabled and says so
  (``ticketspike webhooks``, ``/api/health``); its deliveries wait, and ``ticketspike webhooks
  enable ID`` turns it back on and resends them, with their original ids.
* The signing secret comes from the named environment variable and is never logged; neither
  is the URL (it may carry a token): logs name the endpoint id.

The clock and the sleep are injected, so tests drive hours of retries without waiting.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import importlib.util
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
import tenacity

from .configfile import Section
from .errors import ConfigError
from .events import EVENT_TYPES
from .secrets import Secret, secret_from_env
from .store.outbound import DeliveryAttempt, DeliveryRecord, EndpointState, OutboundEvent

if TYPE_CHECKING:
    import httpx

    from .store.base import Store

__all__ = [
    "EndpointSettings",
    "WebhookDispatcher",
    "WebhookSettings",
    "webhook_settings_from_config",
]

log = logging.getLogger("ticketspike.webhooks")

_ERROR_LIMIT = 300


@attrs.frozen
class EndpointSettings:
    """One receiver: where, signed with which secret, for which events (empty: all)."""

    endpoint_id: str
    url: str = attrs.field(repr=False)
    secret: Secret = attrs.field(repr=False)
    events: tuple[str, ...] = ()

    def accepts(self, event_type: str) -> bool:
        return not self.events or any(fnmatch.fnmatchcase(event_type, p) for p in self.events)


@attrs.frozen
class WebhookSettings:
    """The ``webhooks:`` section: endpoints and the retry schedule shared by them."""

    endpoints: tuple[EndpointSettings, ...] = ()
    max_attempts: int = 12
    initial_delay: float = 30.0
    max_delay: float = 4 * 3600.0
    timeout: float = 10.0
    interval: float = 5.0

    def wait(self, failed_attempts: int) -> float:
        """Seconds before the next attempt after ``failed_attempts`` failures (tenacity)."""
        return float(
            tenacity.wait_exponential(multiplier=self.initial_delay, max=self.max_delay)(
                _state(failed_attempts)
            )
        )

    def gives_up(self, failed_attempts: int) -> bool:
        return bool(tenacity.stop_after_attempt(self.max_attempts)(_state(failed_attempts)))


def _state(attempt_number: int) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(retry_object=tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt_number
    return state


_KEYS = {
    "endpoints",
    "max_attempts",
    "initial_delay_seconds",
    "max_delay_seconds",
    "timeout_seconds",
    "interval_seconds",
}


def webhook_settings_from_config(
    section: Section | None, env: Mapping[str, str]
) -> WebhookSettings:
    """Parse the section; a missing or malformed secret is a :class:`ConfigError` naming the
    variable (never its value)."""
    if section is None:
        return WebhookSettings()
    section.check_keys(_KEYS)
    endpoints: list[EndpointSettings] = []
    items = section.get_list("endpoints")
    for index, item in enumerate(items):
        where = f"endpoints[{index}]"
        if not isinstance(item, Section):
            raise section.error("endpoints", f"{where}: expected a mapping with url and secret_env")
        endpoints.append(_endpoint(item, env))
    if endpoints:
        missing = [m for m in ("httpx", "standardwebhooks") if importlib.util.find_spec(m) is None]
        if missing:
            raise section.error(
                "endpoints",
                f"outbound webhooks need {' and '.join(missing)}: "
                'pip install "ticketspike[webhooks]"',
            )
    ids = [e.endpoint_id for e in endpoints]
    for endpoint_id in ids:
        if ids.count(endpoint_id) > 1:
            raise section.error("endpoints", f"two endpoints share the id {endpoint_id!r}")
    return WebhookSettings(
        endpoints=tuple(endpoints),
        max_attempts=section.get_int("max_attempts", 12, minimum=1, maximum=100) or 12,
        initial_delay=section.get_float("initial_delay_seconds", 30.0, minimum=0.001) or 30.0,
        max_delay=section.get_float("max_delay_seconds", 4 * 3600.0, minimum=0.001) or 14400.0,
        timeout=section.get_float("timeout_seconds", 10.0, minimum=0.1, maximum=120) or 10.0,
        interval=section.get_float("interval_seconds", 5.0, minimum=0.05) or 5.0,
    )


def _endpoint(item: Section, env: Mapping[str, str]) -> EndpointSettings:
    item.check_keys({"id", "url", "secret_env", "events"})
    url = item.get_str("url", required=True) or ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise item.error("url", "expected an http:// or https:// URL")
    name = item.get_str("secret_env", required=True) or ""
    secret = secret_from_env(env, name)
    if secret is None:
        raise item.error(
            "secret_env", f"environment variable {name} is not set; it must hold whsec_<base64>"
        )
    if not _valid_secret(secret.reveal()):
        raise item.error(
            "secret_env", f"environment variable {name} must hold whsec_ followed by base64"
        )
    events: list[str] = []
    for raw in item.get_list("events"):
        text = str(raw)
        if not isinstance(raw, str) or not any(fnmatch.fnmatchcase(t, text) for t in EVENT_TYPES):
            if not (isinstance(raw, str) and text.endswith(".*")):
                raise item.error(
                    "events",
                    f"unknown event {text[:80]!r}; expected one of {', '.join(EVENT_TYPES)}",
                )
        events.append(text)
    endpoint_id = item.get_str("id") or "ep_" + hashlib.sha256(url.encode()).hexdigest()[:12]
    return EndpointSettings(endpoint_id=endpoint_id, url=url, secret=secret, events=tuple(events))


def _valid_secret(value: str) -> bool:
    if not value.startswith("whsec_") or len(value) <= len("whsec_"):
        return False
    try:
        return bool(base64.b64decode(value[len("whsec_") :] + "==", validate=False))
    except (binascii.Error, ValueError):
        return False


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 1] + "…"


def encode_body(event: OutboundEvent) -> str:
    """The delivery body: the event's JSON, compact, keys sorted (what is signed)."""
    return json.dumps(event.body(), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


class WebhookDispatcher:
    """Fans logged events out to endpoints and delivers what is due.

    :param store: where the event log and deliveries live.
    :param settings: the endpoints and the retry schedule.
    :param clock: now (attempt times, the signature timestamp, the retry schedule).
    :param sleep: how :meth:`drain` waits for the next due delivery.
    :param client: an ``httpx.Client`` to send with (default: one of its own, closed by
        :meth:`close`).
    """

    def __init__(
        self,
        store: Store,
        settings: WebhookSettings,
        *,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
        client: httpx.Client | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()
        self._by_id = {e.endpoint_id: e for e in settings.endpoints}
        self._signers: dict[str, Any] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.settings.endpoints)

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    # -- endpoints ---------------------------------------------------------------------
    def register(self) -> None:
        """Make the store know every configured endpoint; a new one starts at the log's end
        (it receives what happens from now on, not the whole history)."""
        at = self.clock()
        with self.store.transaction():
            last = self.store.last_outbound_seq()
            known = {s.endpoint_id: s for s in self.store.endpoint_states()}
            for endpoint in self.settings.endpoints:
                state = known.get(endpoint.endpoint_id)
                if state is None:
                    self.store.add_endpoint(
                        EndpointState(
                            endpoint_id=endpoint.endpoint_id,
                            url=_shown_url(endpoint.url),
                            cursor=last,
                            updated_at=at,
                        )
                    )

    def status(self) -> list[dict[str, Any]]:
        """Each configured endpoint's state and delivery counts (no secrets, no full URL)."""
        states = {s.endpoint_id: s for s in self.store.endpoint_states()}
        out: list[dict[str, Any]] = []
        for endpoint in self.settings.endpoints:
            state = states.get(endpoint.endpoint_id)
            counts = {"pending": 0, "delivered": 0, "failed": 0}
            for record in self.store.deliveries(endpoint_id=endpoint.endpoint_id):
                counts[record.status] = counts.get(record.status, 0) + 1
            out.append(
                {
                    "id": endpoint.endpoint_id,
                    "url": _shown_url(endpoint.url),
                    "events": list(endpoint.events) or ["*"],
                    "enabled": state.enabled if state is not None else True,
                    "consecutive_failures": state.consecutive_failures if state else 0,
                    "disabled_at": (
                        state.disabled_at.isoformat() if state and state.disabled_at else None
                    ),
                    "disabled_reason": state.disabled_reason if state else None,
                    "deliveries": counts,
                }
            )
        return out

    def enable(self, endpoint_id: str) -> EndpointState:
        """Turn a disabled endpoint back on; its waiting and given-up deliveries are due now."""
        if endpoint_id not in self._by_id:
            raise ConfigError(f"no webhook endpoint {endpoint_id[:80]!r} in the config")
        self.register()
        now = self.clock()
        with self.store.transaction():
            state = next(s for s in self.store.endpoint_states() if s.endpoint_id == endpoint_id)
            new = attrs.evolve(
                state,
                enabled=True,
                consecutive_failures=0,
                disabled_at=None,
                disabled_reason=None,
                updated_at=now,
            )
            self.store.put_endpoint(new)
            for record in self.store.deliveries(endpoint_id=endpoint_id):
                if record.status != "delivered":
                    self.store.put_delivery(
                        attrs.evolve(record, status="pending", attempts=0, next_ts=now.timestamp())
                    )
        log.info("webhook endpoint %s enabled", endpoint_id)
        return new

    # -- the work --------------------------------------------------------------------------
    def fan_out(self) -> int:
        """One delivery per new event and accepting endpoint; returns how many were made."""
        made = 0
        now = self.clock()
        for state in self.store.endpoint_states():
            endpoint = self._by_id.get(state.endpoint_id)
            if endpoint is None:
                continue
            while True:
                events = self.store.outbound_events(after_seq=state.cursor, limit=500)
                if not events:
                    break
                with self.store.transaction():
                    for event in events:
                        if endpoint.accepts(event.type):
                            made += self.store.add_delivery(
                                DeliveryRecord(
                                    event_id=event.id,
                                    endpoint_id=endpoint.endpoint_id,
                                    event_seq=event.seq,
                                    type=event.type,
                                    created_at=now,
                                    next_ts=now.timestamp(),
                                )
                            )
                    state = attrs.evolve(state, cursor=events[-1].seq, updated_at=now)
                    self.store.put_endpoint(state)
        return made

    def run_once(self) -> dict[str, int]:
        """Fan out, then try every due delivery once; what happened, by outcome."""
        with self._lock:
            made = self.fan_out()
            delivered, failed = self._deliver_due()
        return {"new": made, "delivered": delivered, "failed": failed}

    def next_due(self) -> float | None:
        """When the next delivery of an enabled endpoint is due (epoch seconds): each
        endpoint's oldest waiting delivery, since an endpoint's events go out in order."""
        times = [head.next_ts for head in self._heads() if head.next_ts is not None]
        return min(times) if times else None

    def _heads(self) -> list[DeliveryRecord]:
        heads: list[DeliveryRecord] = []
        for state in self.store.endpoint_states():
            if state.enabled and state.endpoint_id in self._by_id:
                waiting = self.store.deliveries(endpoint_id=state.endpoint_id, status="pending")
                if waiting:
                    heads.append(waiting[0])
        return heads

    def drain(self, *, within: float) -> dict[str, int]:
        """Deliver, waiting (with the injected sleep) for retries due within ``within`` s."""
        total = {"new": 0, "delivered": 0, "failed": 0}
        deadline = self.clock().timestamp() + within
        while True:
            for k, v in self.run_once().items():
                total[k] += v
            due = self.next_due()
            now = self.clock().timestamp()
            if due is None or due > deadline:
                return total
            if due > now:
                self.sleep(due - now)

    def _deliver_due(self) -> tuple[int, int]:
        """Each enabled endpoint's waiting deliveries, oldest first, until one is not due yet
        or fails: events reach an endpoint in the order they happened, and an endpoint that
        is down gets one request per retry time, not one per waiting event."""
        delivered = failed = 0
        for state in self.store.endpoint_states():
            endpoint = self._by_id.get(state.endpoint_id)
            if endpoint is None or not state.enabled:
                continue
            for record in self.store.deliveries(endpoint_id=state.endpoint_id, status="pending"):
                if record.next_ts is None or record.next_ts > self.clock().timestamp():
                    break
                event = self.store.outbound_event(record.event_id)
                if event is None:
                    continue
                ok, state = self._attempt(endpoint, state, record, event)
                if not ok:
                    failed += 1
                    break
                delivered += 1
        return delivered, failed

    def _attempt(
        self,
        endpoint: EndpointSettings,
        state: EndpointState,
        record: DeliveryRecord,
        event: OutboundEvent,
    ) -> tuple[bool, EndpointState]:
        ok, code, error = self._send(endpoint, event)
        at = self.clock()
        number = record.attempts + 1
        with self.store.transaction():
            self.store.add_delivery_attempt(
                DeliveryAttempt(
                    event_id=record.event_id,
                    endpoint_id=record.endpoint_id,
                    number=number,
                    at=at,
                    outcome="delivered" if ok else "failed",
                    status_code=code,
                    error=error,
                )
            )
            if ok:
                self.store.put_delivery(
                    attrs.evolve(
                        record,
                        status="delivered",
                        attempts=number,
                        next_ts=None,
                        delivered_at=at,
                        last_status_code=code,
                        last_error=None,
                    )
                )
                state = attrs.evolve(state, consecutive_failures=0, updated_at=at)
            else:
                state = self._failed(record, state, number, code, error, at)
            self.store.put_endpoint(state)
        return ok, state

    def _failed(
        self,
        record: DeliveryRecord,
        state: EndpointState,
        number: int,
        code: int | None,
        error: str | None,
        at: datetime,
    ) -> EndpointState:
        settings = self.settings
        gave_up = settings.gives_up(number)
        delay = settings.wait(number)
        self.store.put_delivery(
            attrs.evolve(
                record,
                status="failed" if gave_up else "pending",
                attempts=number,
                next_ts=None if gave_up else at.timestamp() + delay,
                last_status_code=code,
                last_error=error,
            )
        )
        state = attrs.evolve(
            state, consecutive_failures=state.consecutive_failures + 1, updated_at=at
        )
        if gave_up:
            reason = f"delivery {record.event_id} failed {number} times ({error})"
            log.warning(
                "webhook endpoint %s disabled: %s; `ticketspike webhooks enable %s` resends",
                record.endpoint_id,
                reason,
                record.endpoint_id,
            )
            return attrs.evolve(state, enabled=False, disabled_at=at, disabled_reason=reason)
        log.warning(
            "webhook %s to endpoint %s: attempt %d of %d failed (%s); next in %.0f s",
            record.event_id,
            record.endpoint_id,
            number,
            settings.max_attempts,
            error,
            delay,
        )
        return state

    def _send(
        self, endpoint: EndpointSettings, event: OutboundEvent
    ) -> tuple[bool, int | None, str | None]:
        import httpx

        body = encode_body(event)
        now = self.clock()
        headers = {
            "content-type": "application/json",
            "user-agent": "ticketspike-webhooks",
            "webhook-id": event.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer(endpoint).sign(event.id, now, body),
        }
        if self._client is None:
            self._client = httpx.Client(timeout=self.settings.timeout, follow_redirects=False)
        try:
            response = self._client.post(
                endpoint.url, content=body.encode("utf-8"), headers=headers
            )
        except httpx.HTTPError as exc:
            return False, None, type(exc).__name__
        if 200 <= response.status_code < 300:
            return True, response.status_code, None
        return False, response.status_code, f"HTTP {response.status_code}"

    def _signer(self, endpoint: EndpointSettings) -> Any:
        signer = self._signers.get(endpoint.endpoint_id)
        if signer is None:
            from standardwebhooks.webhooks import Webhook

            signer = Webhook(endpoint.secret.reveal())
            self._signers[endpoint.endpoint_id] = signer
        return signer


def _shown_url(url: str) -> str:
    """The URL without credentials, query or fragment: what may be shown and stored."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


class DeliveryLoop:
    """A background thread running :meth:`WebhookDispatcher.run_once` every ``interval``
    seconds (``serve`` starts one); :meth:`stop` ends it and waits for the pass under way."""

    def __init__(self, dispatcher: WebhookDispatcher, *, interval: float | None = None) -> None:
        self.dispatcher = dispatcher
        self.interval = interval if interval is not None else dispatcher.settings.interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="ticketspike-webhooks", daemon=True
            )
            self._thread.start()

    def notify(self) -> None:
        """Run a pass now (something was just logged)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.dispatcher.run_once()
            except Exception as exc:  # noqa: BLE001 - a bad pass must not end the loop
                log.warning("webhook delivery pass failed (%s)", type(exc).__name__)
            self._wake.wait(self.interval)
            self._wake.clear()
