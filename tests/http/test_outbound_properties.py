"""Whatever an endpoint answers, and in whatever order it fails, every event reaches it once,
in order, under one id, within the retry budget; and a run out of attempts disables it.

The dispatcher sends through an ``httpx.MockTransport`` here (the receiving side is not under
test; the real receivers on loopback are in ``test_records_webhooks.py``), so hundreds of
failure patterns run in seconds on an injected clock.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("standardwebhooks", reason="the webhooks extra is not installed")

from standardwebhooks.webhooks import Webhook  # noqa: E402

from ticketspike.events import emit  # noqa: E402
from ticketspike.outbound import EndpointSettings, WebhookDispatcher, WebhookSettings  # noqa: E402
from ticketspike.secrets import Secret  # noqa: E402
from ticketspike.store.memory import MemoryStore  # noqa: E402
from ticketspike.testing import FixedClock  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"property-test-key-of-32-bytes!!!").decode()
START = datetime(2026, 2, 20, 5, 0, tzinfo=timezone.utc)

# Each request's fate: an answer status, or a connection failure (None).
fates = st.lists(st.sampled_from([200, 204, 500, 503, 429, 404, None]), max_size=40)


@settings(max_examples=60, deadline=None)
@given(answers=fates, count=st.integers(min_value=1, max_value=6))
def test_every_event_arrives_once_in_order_under_one_id(
    answers: list[int | None], count: int
) -> None:
    clock = FixedClock(START)
    queue = list(answers)
    sent: list[tuple[str, bytes, str, str, int]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        fate = queue.pop(0) if queue else 204
        if fate is None:
            raise httpx.ConnectError("refused", request=request)
        sent.append(
            (
                request.headers["webhook-id"],
                request.content,
                request.headers["webhook-timestamp"],
                request.headers["webhook-signature"],
                fate,
            )
        )
        return httpx.Response(fate)

    settings_ = WebhookSettings(
        endpoints=(EndpointSettings("ep", "http://127.0.0.1:9/x", Secret(SECRET)),),
        max_attempts=50,
        initial_delay=1.0,
        max_delay=60.0,
    )
    store = MemoryStore()
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        hooks = WebhookDispatcher(
            store,
            settings_,
            clock=clock,
            sleep=lambda s: clock.advance(seconds=s),
            client=client,
        )
        hooks.register()
        ids = [
            emit(store, "task.created", {"n": n}, key=f"t{n}", at=START + timedelta(minutes=n)).id
            for n in range(count)
        ]
        hooks.drain(within=24 * 3600)
    accepted = [item[0] for item in sent if 200 <= item[4] < 300]
    assert accepted == ids  # once each, in the order they happened
    signer = Webhook(SECRET)
    for msg_id, body, ts, signature, _fate in sent:
        at = datetime.fromtimestamp(int(ts), tz=timezone.utc)
        assert signer.sign(msg_id, at, body.decode()) == signature
    assert all(state.enabled for state in store.endpoint_states())


@settings(max_examples=30, deadline=None)
@given(max_attempts=st.integers(min_value=1, max_value=6))
def test_an_endpoint_that_never_answers_is_disabled_after_its_attempts(max_attempts: int) -> None:
    clock = FixedClock(START)
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["webhook-id"])
        return httpx.Response(503)

    store = MemoryStore()
    settings_ = WebhookSettings(
        endpoints=(EndpointSettings("ep", "http://127.0.0.1:9/x", Secret(SECRET)),),
        max_attempts=max_attempts,
    )
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        hooks = WebhookDispatcher(
            store, settings_, clock=clock, sleep=lambda s: clock.advance(seconds=s), client=client
        )
        hooks.register()
        first = emit(store, "task.created", {}, key="a", at=START)
        emit(store, "task.created", {}, key="b", at=START)
        hooks.drain(within=7 * 24 * 3600)
    assert calls == [first.id] * max_attempts  # the later event waits behind the first
    (state,) = store.endpoint_states()
    assert not state.enabled and state.disabled_reason is not None
    assert [d.status for d in store.deliveries()] == ["failed", "pending"]
