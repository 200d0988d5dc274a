"""The engine's drafts API (``drafts``, ``draft``, ``approve_draft``, ``reject_draft``,
``resolve_draft``) and the draft records in both stores.

The transport here is :class:`~ticketspike.testing.RecordingMailTransport`: these tests are
about who decides what and how often a message leaves, which the real servers in
``test_mail_servers.py`` then confirm end to end.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import attrs
import pytest

from support.mail_servers import NOW, SPIKE_DAY, tickets
from ticketspike.config import load_config
from ticketspike.engine import Engine
from ticketspike.errors import (
    DeliveryUncertainError,
    DraftConflict,
    DraftNotFound,
    InputError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ticketspike.model import ticket_event_from_json
from ticketspike.store import DraftRecord, DraftStatus
from ticketspike.testing import (
    FixedClock,
    RecordingMailTransport,
    StaticPlugin,
    memory_engine,
    sample_account,
)


def engine_with(
    transport: RecordingMailTransport | None, *, config_text: str = "", **options: Any
) -> Engine:
    config = load_config(text=config_text or "email:\n  html: false\n", env={})
    plugins = [StaticPlugin(mail_transports=[transport])] if transport is not None else []
    options.setdefault("clock", FixedClock(NOW))
    return memory_engine(*plugins, config=config, accounts=[sample_account()], **options)


def spiked(engine: Engine) -> DraftRecord:
    engine.ingest_many(ticket_event_from_json(t) for t in tickets())
    (draft,) = engine.drafts()
    return draft


def test_a_draft_record_is_made_once_per_draft_action_with_the_contract_fields() -> None:
    transport = RecordingMailTransport()
    engine = engine_with(transport)
    draft = spiked(engine)
    data = draft.to_json()
    for key in ("id", "status", "to", "subject", "episode_id"):
        assert data[key]
    assert data["status"] == "awaiting_approval"
    assert draft.to == "Dana Lee <dana@techcorp.example>"
    assert draft.from_addr == "Mike Johnson <mike@example.com>"
    assert draft.action_key.endswith(":opened:draft_acknowledgment")
    assert draft.message_id == str(transport.drafts[draft.action_key]["Message-ID"])
    # Listing again, or by action key, finds the same single record.
    assert engine.drafts() == [draft]
    assert engine.draft(draft.action_key) == draft
    assert engine.draft("dr_nope") is None
    assert engine.drafts(status=DraftStatus.SENT) == []
    assert engine.drafts(episode_id=draft.episode_id) == [draft]


def test_approving_twice_at_once_sends_one_message() -> None:
    transport = RecordingMailTransport()
    engine = engine_with(transport)
    draft = spiked(engine)
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def approve(who: str) -> None:
        barrier.wait()
        try:
            results.append(engine.approve_draft(draft.id, by=who))
        except DraftConflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=approve, args=(f"csm-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(transport.sent) == 1
    sent = [r for r in results if isinstance(r, DraftRecord)]
    assert sent and all(r.status is DraftStatus.SENT for r in sent)
    final = engine.draft(draft.id)
    assert final is not None and final.status is DraftStatus.SENT


def test_a_draft_for_a_resolved_episode_asks_before_sending() -> None:
    transport = RecordingMailTransport()
    clock = FixedClock(NOW)
    engine = engine_with(transport, clock=clock)
    draft = spiked(engine)
    later = SPIKE_DAY + timedelta(days=4)
    clock.at = later
    engine.tick(later)
    episode = engine.store.episode(draft.episode_id)
    assert episode is not None and episode.status == "resolved"
    with pytest.raises(DraftConflict, match="resolved .* confirm"):
        engine.approve_draft(draft.id, by="mike")
    assert transport.sent == []
    sent = engine.approve_draft(draft.id, by="mike", confirm_resolved=True)
    assert sent.status is DraftStatus.SENT and len(transport.sent) == 1


def test_an_uncertain_send_with_a_sent_folder_is_settled_there() -> None:
    transport = RecordingMailTransport()
    engine = engine_with(transport)
    draft = spiked(engine)

    class LeavesThenDrops(RecordingMailTransport):
        def send(self, message: Any) -> None:
            transport.sent.append(message)  # the server took it...
            raise DeliveryUncertainError("connection lost after DATA")  # ...then silence

    engine.desk.transport = LeavesThenDrops(sent=transport.sent)
    sent = engine.approve_draft(draft.id, by="mike")
    assert sent.status is DraftStatus.SENT and len(transport.sent) == 1


def test_an_uncertain_send_nothing_can_check_becomes_unknown_and_never_resends() -> None:
    transport = RecordingMailTransport(checks_sent=False)
    transport.fail_sends.append(DeliveryUncertainError("connection lost after DATA"))
    engine = engine_with(transport)
    draft = spiked(engine)
    with pytest.raises(DraftConflict, match="resolve"):
        engine.approve_draft(draft.id, by="mike")
    unknown = engine.draft(draft.id)
    assert unknown is not None and unknown.status is DraftStatus.UNKNOWN
    assert unknown.decided_by == "mike"
    with pytest.raises(DraftConflict):
        engine.reject_draft(draft.id, by="mike")
    with pytest.raises(DraftConflict):
        engine.approve_draft(draft.id, by="mike")
    assert transport.sent == []
    # The person looked: it did not leave. Back to approved; approving sends it.
    back = engine.resolve_draft(draft.id, by="mike", sent=False)
    assert back.status is DraftStatus.APPROVED
    assert engine.approve_draft(draft.id, by="mike").status is DraftStatus.SENT
    assert len(transport.sent) == 1


def test_a_send_cut_off_by_an_interrupt_is_settled_on_the_next_approval() -> None:
    transport = RecordingMailTransport()
    engine = engine_with(transport)
    draft = spiked(engine)

    class Interrupted(RecordingMailTransport):
        def send(self, message: Any) -> None:
            transport.sent.append(message)
            raise KeyboardInterrupt  # the process is stopped right after the send

    engine.desk.transport = Interrupted(sent=transport.sent)
    with pytest.raises(KeyboardInterrupt):
        engine.approve_draft(draft.id, by="mike")
    cut = engine.draft(draft.id)
    assert cut is not None and cut.status is DraftStatus.APPROVED and cut.sending_since
    engine.desk.transport = transport
    assert engine.approve_draft(draft.id, by="mike").status is DraftStatus.SENT
    assert len(transport.sent) == 1


def test_transient_failures_are_retried_and_permanent_ones_are_not() -> None:
    transport = RecordingMailTransport()
    transport.fail_sends += [TransientDeliveryError("421 busy"), TransientDeliveryError("421")]
    engine = engine_with(transport)
    draft = spiked(engine)
    sent = engine.approve_draft(draft.id, by="mike")
    assert sent.attempts == 3 and len(transport.sent) == 1
    engine = engine_with(transport := RecordingMailTransport())
    draft = spiked(engine)
    transport.fail_sends.append(PermanentDeliveryError("550 no such user"))
    with pytest.raises(PermanentDeliveryError, match="approved but not sent: 550"):
        engine.approve_draft(draft.id, by="mike")
    kept = engine.draft(draft.id)
    assert kept is not None and kept.status is DraftStatus.APPROVED and kept.attempts == 1


def test_bad_requests_are_refused_with_the_field_and_change_nothing() -> None:
    transport = RecordingMailTransport()
    engine = engine_with(transport)
    draft = spiked(engine)
    with pytest.raises(DraftNotFound):
        engine.approve_draft("dr_0000", by="mike")
    with pytest.raises(InputError, match="by"):
        engine.approve_draft(draft.id, by="  ")
    with pytest.raises(InputError, match="subject: must be one line"):
        engine.approve_draft(draft.id, by="mike", subject="Hello\nBcc: evil@x.example")
    with pytest.raises(InputError, match="body: must not be empty"):
        engine.approve_draft(draft.id, by="mike", body="\n\n")
    with pytest.raises(InputError, match="subject: must be at most"):
        engine.approve_draft(draft.id, by="mike", subject="x" * 300)
    assert engine.draft(draft.id) == draft and transport.sent == []


def test_without_a_transport_drafts_are_listed_and_rejected_but_not_sent() -> None:
    engine = engine_with(None)
    draft = spiked(engine)  # made by the built-in file drafter
    assert draft.status is DraftStatus.AWAITING_APPROVAL and draft.mailbox is None
    assert draft.message_id.startswith("<") and draft.message_id.endswith(">")
    with pytest.raises(PermanentDeliveryError, match="no mail transport is configured"):
        engine.approve_draft(draft.id, by="mike")
    kept = engine.draft(draft.id)
    assert kept is not None and kept.status is DraftStatus.AWAITING_APPROVAL
    assert engine.reject_draft(draft.id, by="mike").status is DraftStatus.REJECTED


def test_a_follow_up_draft_threads_to_the_first_acknowledgement() -> None:
    from ticketspike.builtin.mail_drafter import MailboxDrafter
    from ticketspike.mail.settings import EmailSettings
    from ticketspike.planner.plan import DraftEmail, Recipient
    from ticketspike.roles import ActionResult
    from ticketspike.signals import TransitionKind
    from ticketspike.testing import sample_plan

    transport = RecordingMailTransport()
    drafter = MailboxDrafter(transport, EmailSettings())
    account = sample_account()
    plan = attrs.evolve(sample_plan(), transition=TransitionKind.ESCALATED)
    first_key = f"{plan.episode_id}:opened:ack"

    class Ctx:
        def __init__(self) -> None:
            self.plan, self.account, self.now = plan, account, NOW

        def result_of(self, key: str) -> ActionResult | None:
            if key == first_key:
                return ActionResult(ref={"message_id": "<first@example.com>"})
            return None

    action = DraftEmail(
        step_id="ack",
        key=f"{plan.episode_id}:escalated:ack",
        to=Recipient("champion", account.champion),
        subject="Update on your issues",
        body="Hi Dana,\n",
        sender=Recipient("csm", account.csm),
    )
    result = drafter.execute(action, Ctx())  # type: ignore[arg-type]
    message = transport.drafts[action.key]
    assert message["In-Reply-To"] == "<first@example.com>"
    assert message["References"] == "<first@example.com>"
    assert result.ref["in_reply_to"] == "<first@example.com>"


# -- the records in both stores ----------------------------------------------------------
@pytest.fixture
def store(any_store: Any) -> Any:
    """Every store kind in turn (``any_store`` in tests/conftest.py)."""
    return any_store


def record(**changes: Any) -> DraftRecord:
    base = DraftRecord(
        id="dr_1",
        episode_id="ep_1",
        customer_id="techcorp",
        action_key="ep_1:opened:ack",
        status=DraftStatus.AWAITING_APPROVAL,
        to="Dana <dana@techcorp.example>",
        from_addr="Mike <mike@example.com>",
        reply_to=None,
        subject="Hello",
        body="Hi\n",
        message_id="<m1@example.com>",
        mailbox="mike@example.com",
        folder="Drafts",
        created_at=NOW,
    )
    return attrs.evolve(base, **changes)


def test_store_keeps_a_draft_once_and_changes_it_only_from_the_version_read(store: Any) -> None:
    assert store.add_draft(record()) is True
    assert store.add_draft(record(subject="Other")) is False
    kept = store.draft("dr_1")
    assert kept == record()
    changed = store.change_draft(
        "dr_1", {"status": DraftStatus.APPROVED, "decided_by": "mike"}, version=0, at=NOW
    )
    assert changed is not None and changed.version == 1 and changed.updated_at == NOW
    # A second decision made from the old version is refused: nobody sends twice.
    assert store.change_draft("dr_1", {"status": DraftStatus.REJECTED}, version=0, at=NOW) is None
    assert store.draft("dr_1") == changed
    with pytest.raises(ValueError, match="cannot change"):
        store.change_draft("dr_1", {"message_id": "<x@y>"}, version=1, at=NOW)


def test_store_lists_drafts_by_status_and_episode_and_rolls_back(store: Any) -> None:
    store.add_draft(record())
    store.add_draft(record(id="dr_2", action_key="ep_2:opened:ack", episode_id="ep_2"))
    assert [d.id for d in store.drafts()] == ["dr_1", "dr_2"]
    assert [d.id for d in store.drafts(episode_id="ep_2")] == ["dr_2"]
    assert store.drafts(status=DraftStatus.SENT) == []
    with pytest.raises(RuntimeError), store.transaction():
        store.change_draft("dr_1", {"status": DraftStatus.SENT}, version=0, at=NOW)
        raise RuntimeError("crash inside the transaction")
    draft = store.draft("dr_1")
    assert draft is not None and draft.status is DraftStatus.AWAITING_APPROVAL
