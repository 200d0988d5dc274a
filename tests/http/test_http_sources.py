"""``POST /api/webhooks/{source}``: vendor webhooks verified by the source plugin; mounting."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.routing import Mount

from ticketspike.http import create_app


def vendor_post(h, payload, *, token, delivery="d-1", content_type="application/json"):
    headers = {"content-type": content_type, "x-delivery-id": delivery}
    if token is not None:
        headers["x-fake-token"] = token
    return h.client.post(
        "/api/webhooks/fake", content=json.dumps(payload).encode(), headers=headers
    )


def test_a_verified_vendor_delivery_is_stored_under_its_source(harness, kit):
    answer = vendor_post(harness, kit.ticket("Z-1"), token=kit.FAKE_TOKEN)
    assert answer.status_code == 202
    record = harness.engine.store.get_ticket("fake", "Z-1")
    assert record is not None and record.ticket.customer_id == "acme"


def test_a_vendor_delivery_replayed_by_id_is_dropped(harness, kit):
    codes = [
        vendor_post(harness, kit.ticket("Z-1"), token=kit.FAKE_TOKEN, delivery="same").status_code
        for _ in range(3)
    ]
    assert codes == [202, 200, 200]
    assert harness.stored == 1


def test_the_plugin_refusing_the_signature_is_a_401(harness, kit):
    for token in (None, "wrong"):
        answer = vendor_post(harness, kit.ticket("Z-1"), token=token)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_signature"
    assert harness.stored == 0


def test_an_unknown_source_is_404_and_its_body_is_not_read(harness):
    async def endless():
        raise AssertionError("the body of an unknown source must not be read")
        yield b""  # pragma: no cover

    answer = harness.client.post(
        "/api/webhooks/freshdesk", content=b"{}", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "unknown_source"
    streamed = harness.client.post(
        "/api/webhooks/freshdesk", content=endless(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 404


def test_the_canonical_source_is_also_reachable_by_name(harness, kit):
    body = kit.encode(kit.ticket("TKT-by-name"))
    answer = harness.client.post("/api/webhooks/ticket", content=body, headers=kit.signed(body))
    assert answer.status_code == 202
    assert harness.stored == 1


def test_vendor_routes_refuse_non_json_non_form_content(harness, kit):
    answer = vendor_post(harness, kit.ticket("Z-1"), token=kit.FAKE_TOKEN, content_type="text/xml")
    assert answer.status_code == 415
    assert harness.stored == 0


def test_a_plugin_crash_is_a_500_without_its_text_and_stores_nothing(kit):
    class Broken:
        name = "broken"

        def parse_webhook(self, body, headers, *, now):
            raise RuntimeError("secret-value-from-plugin-state")

        def backfill(self, *, since, cursor=None):
            return iter(())

    from ticketspike.testing import StaticPlugin

    engine = kit.make_engine(extra=(StaticPlugin(sources=[Broken()]),))
    client = kit.Client(create_app(engine, env={}))
    try:
        answer = client.post(
            "/api/webhooks/broken", content=b"{}", headers={"content-type": "application/json"}
        )
        assert answer.status_code == 500
        assert answer.json() == {"error": {"code": "internal_error", "message": "internal error"}}
        assert "secret-value" not in answer.text
        # ... and the app still serves.
        assert client.get("/api/health").status_code == 200
    finally:
        client.close()
        engine.close()
    assert engine.store.ticket_count() == 0


def test_mounted_under_a_prefix_in_a_host_app(kit):
    """What a FastAPI or Starlette host does: no lifespan runs, the worker starts on demand."""
    engine = kit.make_engine()
    api = create_app(engine, env={"TICKETSPIKE_API_TOKEN": kit.TOKEN})
    host = Starlette(routes=[Mount("/support-spikes", app=api)])
    client = kit.Client(host)
    auth = {"Authorization": f"Bearer {kit.TOKEN}"}
    try:
        body = kit.encode(kit.ticket("TKT-m"))
        posted = client.post(
            "/support-spikes/api/webhooks/support/ticket", content=body, headers=kit.signed(body)
        )
        assert posted.status_code == 202
        processor = api.state.processor
        assert processor.running  # started by the webhook, not by a lifespan
        assert processor.wait_idle(timeout=30)
        assert engine.store.pending_event_count() == 0

        banner = client.get("/support-spikes/api/support/banner/acme", headers=auth).json()
        assert banner["link"] == "/support-spikes/api/support/summary/acme"
        summary = client.get(banner["link"], headers=auth).json()
        assert summary["ticketCount"] == 1
        assert client.get("/api/health").status_code == 404  # only under the prefix
    finally:
        api.state.processor.stop()
        client.close()
        engine.close()
