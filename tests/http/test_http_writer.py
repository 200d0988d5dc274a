"""Group commit: deliveries that arrive together are stored in one transaction, answered after
it commits, and one bad delivery never costs its neighbours their place."""

from __future__ import annotations

import threading
import time

from ticketspike.http import ServerSettings, create_app
from ticketspike.testing import StaticPlugin

PATH = "/api/webhooks/support/ticket"


class Exploding:
    """A source whose parser crashes on deliveries saying "boom" (a plugin bug)."""

    name = "exploding"

    def parse_webhook(self, body, headers, *, now):
        raise RuntimeError("boom")

    def backfill(self, *, since, cursor=None):
        return iter(())


def held(store):
    """Hold the store from another thread until the returned event is set."""
    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        with store.transaction():
            holding.set()
            release.wait(30)

    threading.Thread(target=hold, daemon=True).start()
    assert holding.wait(10)
    return release


def test_a_burst_is_one_group_and_a_bad_delivery_is_answered_alone(kit):
    engine = kit.make_engine(extra=(StaticPlugin(sources=[Exploding()]),))
    app = create_app(engine, settings=ServerSettings(background=False), env={})
    client = kit.Client(app)
    writer = app.state.writer
    try:
        release = held(engine.store)
        first = kit.encode(kit.ticket("TKT-0"))
        pending = [
            client.submit("POST", PATH, content=first, headers=kit.signed(first, msg_id="m0"))
        ]
        # The writer took the first delivery and waits for the store; the rest queue up.
        deadline = time.monotonic() + 10
        while not writer.running and time.monotonic() < deadline:
            time.sleep(0.01)
        bodies = [kit.encode(kit.ticket(f"TKT-{n}")) for n in range(1, 6)]
        for n, body in enumerate(bodies, start=1):
            pending.append(
                client.submit("POST", PATH, content=body, headers=kit.signed(body, msg_id=f"m{n}"))
            )
        bad = kit.encode(kit.ticket("TKT-bad"))
        pending.append(
            client.submit(
                "POST", PATH, content=bad, headers=kit.signed(bad, key=b"x" * 32, msg_id="mbad")
            )
        )
        while writer.queued < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer.queued == 6
        assert not any(f.done() for f in pending)  # nobody answered before a commit
        release.set()
        codes = [f.result(30).status_code for f in pending]
    finally:
        client.close()
        writer.stop()

    assert codes == [202] * 6 + [401]
    assert writer.groups == 2  # the first alone, then the six that waited, together
    assert engine.store.ticket_count() == 6


def test_a_crashing_plugin_in_a_group_costs_only_its_own_delivery(kit):
    engine = kit.make_engine(extra=(StaticPlugin(sources=[Exploding()]),))
    app = create_app(engine, settings=ServerSettings(background=False), env={})
    client = kit.Client(app)
    writer = app.state.writer
    try:
        release = held(engine.store)
        first = kit.encode(kit.ticket("TKT-0"))
        pending = [
            client.submit("POST", PATH, content=first, headers=kit.signed(first, msg_id="m0"))
        ]
        deadline = time.monotonic() + 10
        while not writer.running and time.monotonic() < deadline:
            time.sleep(0.01)
        good = kit.encode(kit.ticket("TKT-1"))
        pending.append(
            client.submit("POST", PATH, content=good, headers=kit.signed(good, msg_id="m1"))
        )
        pending.append(
            client.submit(
                "POST",
                "/api/webhooks/exploding",
                content=b"{}",
                headers={"content-type": "application/json"},
            )
        )
        later = kit.encode(kit.ticket("TKT-2"))
        pending.append(
            client.submit("POST", PATH, content=later, headers=kit.signed(later, msg_id="m2"))
        )
        while writer.queued < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()
        answers = [f.result(30) for f in pending]
    finally:
        client.close()
        writer.stop()

    assert [a.status_code for a in answers] == [202, 202, 500, 202]
    assert answers[2].json()["error"]["code"] == "internal_error"
    assert "boom" not in answers[2].text
    assert sorted(r.ticket.ticket_id for r in engine.store.tickets()) == ["TKT-0", "TKT-1", "TKT-2"]


def test_stopping_the_writer_stores_and_answers_what_was_queued_first(kit):
    engine = kit.make_engine()
    app = create_app(engine, settings=ServerSettings(background=False), env={})
    client = kit.Client(app)
    writer = app.state.writer
    try:
        release = held(engine.store)
        bodies = [kit.encode(kit.ticket(f"TKT-{n}")) for n in range(4)]
        pending = [
            client.submit(
                "POST", PATH, content=bodies[0], headers=kit.signed(bodies[0], msg_id="m0")
            )
        ]
        deadline = time.monotonic() + 10
        while not writer.running and time.monotonic() < deadline:
            time.sleep(0.01)
        for n in range(1, 4):
            pending.append(
                client.submit(
                    "POST", PATH, content=bodies[n], headers=kit.signed(bodies[n], msg_id=f"m{n}")
                )
            )
        while writer.queued < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        stopped: list[bool] = []
        stopper = threading.Thread(target=lambda: stopped.append(writer.stop(timeout=30)))
        stopper.start()
        release.set()
        stopper.join(30)
        codes = [f.result(30).status_code for f in pending]
    finally:
        client.close()
    assert stopped == [True]
    assert codes == [202] * 4
    assert engine.store.ticket_count() == 4


def test_a_failing_pass_is_logged_by_kind_and_the_worker_carries_on(kit, tmp_path, caplog):
    from ticketspike.http import Processor
    from ticketspike.store.sqlite import SQLiteStore

    engine = kit.make_engine(store=SQLiteStore(tmp_path / "s.db"))
    processor = Processor(engine, delay=0, interval=60)
    engine.store.close()  # the store goes away under the worker
    with caplog.at_level("ERROR", logger="ticketspike.http.worker"):
        assert processor.run_once() == 0
    assert processor.failures == 1
    assert processor.last_error is not None
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "background processing failed"
    ]
