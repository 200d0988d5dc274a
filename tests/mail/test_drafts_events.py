"""Draft changes are reported as outbound events, once each: created, approved, sent."""

from __future__ import annotations

import threading
from collections import Counter

from support.mail_servers import NOW, tickets
from ticketspike.config import load_config
from ticketspike.errors import DraftConflict
from ticketspike.model import ticket_event_from_json
from ticketspike.testing import (
    FixedClock,
    RecordingMailTransport,
    StaticPlugin,
    memory_engine,
    sample_account,
)


def test_a_draft_is_reported_created_approved_and_sent_once_however_often_approved() -> None:
    transport = RecordingMailTransport()
    engine = memory_engine(
        StaticPlugin(mail_transports=[transport]),
        config=load_config(text="email:\n  html: false\n", env={}),
        accounts=[sample_account()],
        clock=FixedClock(NOW),
    )
    engine.ingest_many(ticket_event_from_json(t) for t in tickets())
    (draft,) = engine.drafts()
    barrier = threading.Barrier(3)

    def approve(who: str) -> None:
        barrier.wait()
        try:
            engine.approve_draft(draft.id, by=who)
        except DraftConflict:
            pass

    threads = [threading.Thread(target=approve, args=(f"csm-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.approve_draft(draft.id, by="late")  # already sent: nothing new
    events = [e for e in engine.store.outbound_events() if e.type.startswith("draft.")]
    assert Counter(e.type for e in events) == {
        "draft.created": 1,
        "draft.approved": 1,
        "draft.sent": 1,
    }
    assert {e.data["id"] for e in events} == {draft.id}
    assert len(transport.sent) == 1
