"""Properties of the webhook endpoint over many generated inputs.

* Any change to a signed body, or to the id or timestamp it was signed with, is a 401.
* Whatever signed bytes arrive, the answer is a 2xx, 400 or 422 JSON body, never a 500, and a
  refusal stores nothing.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketspike.http import ServerSettings, create_app

PATH = "/api/webhooks/support/ticket"


@pytest.fixture
def served(kit):
    engine = kit.make_engine()
    client = kit.Client(create_app(engine, settings=ServerSettings(background=False), env={}))
    try:
        yield engine, client
    finally:
        client.close()
        engine.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
ticket_like = st.fixed_dictionaries(
    {},
    optional={
        "ticketId": json_values | st.text(min_size=1, max_size=12),
        "customerId": json_values | st.sampled_from(["acme", "globex", 42]),
        "category": json_values | st.sampled_from(["technical", "Feature Request", "x"]),
        "severity": json_values | st.sampled_from(["p1", "P4", "P5"]),
        "subject": json_values,
        "createdAt": json_values
        | st.sampled_from(
            ["2026-03-02T11:00:00Z", "2026-03-02T11:00:00", "2026-03-02T11:00:00+05:30"]
        ),
        "event": json_values | st.sampled_from(["created", "resolved", "deleted"]),
        "tags": json_values,
    },
)
SLOW = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SLOW
@given(data=st.data())
def test_any_change_to_what_was_signed_is_refused(served, kit, data):
    engine, client = served
    body = kit.encode(kit.ticket("TKT-1"))
    headers = kit.signed(body, msg_id="msg_1")
    what = data.draw(st.sampled_from(["body", "id", "timestamp"]))
    if what == "body":
        index = data.draw(st.integers(0, len(body) - 1))
        flip = data.draw(st.integers(1, 255))
        body = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    elif what == "id":
        headers["webhook-id"] = data.draw(
            st.text("abcdefghij_0123456789", min_size=1, max_size=12).filter(lambda s: s != "msg_1")
        )
    else:
        shift = data.draw(st.integers(-299, 299).filter(lambda n: n != 0))
        headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) + shift)

    answer = client.post(PATH, content=body, headers=headers)

    assert answer.status_code == 401
    assert engine.store.ticket_count() == 0


@SLOW
@given(payload=st.one_of(ticket_like, json_values, st.binary(max_size=64)))
def test_signed_garbage_is_never_a_server_error_and_refusals_store_nothing(served, kit, payload):
    engine, client = served
    before = engine.store.ticket_count()
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    msg_id = f"msg_{abs(hash(body))}"

    answer = client.post(PATH, content=body, headers=kit.signed(body, msg_id=msg_id))

    assert answer.status_code in (200, 202, 400, 422), answer.text
    assert answer.headers["content-type"] == "application/json"
    if answer.status_code >= 400:
        assert set(answer.json()["error"]) == {"code", "message"}
        assert engine.store.ticket_count() == before
