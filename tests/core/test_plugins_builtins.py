"""The built-in plugins: ticket JSON source, accounts file, console, e-mail drafter, outbox."""

from __future__ import annotations

import email
import io
import json
from datetime import datetime, timedelta, timezone
from email import policy
from pathlib import Path

import attrs
import pytest

from ticketspike.builtin.accounts_file import accounts_path
from ticketspike.builtin.console import ConsoleNotifier
from ticketspike.builtin.email_drafter import EmailDrafter
from ticketspike.builtin.jsonl_source import TicketJsonSource, sign, source_from_config
from ticketspike.builtin.outbox import OutboxRecorder, describe
from ticketspike.config import load_config
from ticketspike.engine import with_accounts_file
from ticketspike.errors import (
    ConfigError,
    InputError,
    PermanentDeliveryError,
    PluginError,
    SignatureError,
    WebhookRejected,
)
from ticketspike.executor import Executor
from ticketspike.planner.plan import DirectMessage, DraftEmail, Recipient
from ticketspike.roles import ActionResult, PluginConfig
from ticketspike.secrets import Secret
from ticketspike.store import MemoryStore
from ticketspike.testing import (
    FixedClock,
    clean_plugins,
    sample_account,
    sample_plan,
    sample_transition,
    ticket_event,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
BODY = json.dumps(
    [ticket_event("T1").ticket.to_json(), ticket_event("T2").ticket.to_json()]
).encode()


def signed(
    body: bytes = BODY, *, secret: str = "k1", msg_id: str = "msg_1", at: datetime = NOW
) -> dict[str, str]:
    stamp = int(at.timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(Secret(secret), msg_id=msg_id, timestamp=stamp, body=body),
    }


# -- the ticket JSON source ----------------------------------------------------------------------
def test_a_signed_delivery_yields_its_tickets_and_delivery_id() -> None:
    source = TicketJsonSource(secrets=(Secret("k1"),))
    result = source.parse_webhook(BODY, signed(), now=NOW)
    assert [e.ticket.ticket_id for e in result.events] == ["T1", "T2"]
    assert result.delivery_id == "msg_1"


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda h, b: (h, b + b" "), "signature does not match"),
        (lambda h, b: ({**h, "webhook-signature": "v1,AAAA"}, b), "signature does not match"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), "missing"),
        (lambda h, b: ({**h, "webhook-timestamp": "yesterday"}, b), "unix seconds"),
    ],
)
def test_tampered_or_incomplete_deliveries_are_refused(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    source = TicketJsonSource(secrets=(Secret("k1"),))
    headers, body = mutate(signed(), BODY)
    with pytest.raises(SignatureError, match=reason) as caught:
        source.parse_webhook(body, headers, now=NOW)
    assert caught.value.status == 401
    assert "k1" not in str(caught.value)


def test_stale_and_future_timestamps_are_refused() -> None:
    source = TicketJsonSource(secrets=(Secret("k1"),), tolerance_seconds=300)
    for offset in (-301, 301):
        headers = signed(at=NOW + timedelta(seconds=offset))
        with pytest.raises(SignatureError, match="outside the allowed window"):
            source.parse_webhook(BODY, headers, now=NOW)


def test_rotation_accepts_either_secret_and_whsec_keys_are_decoded() -> None:
    source = TicketJsonSource(secrets=(Secret("old"), Secret("new")))
    assert source.parse_webhook(BODY, signed(secret="old"), now=NOW).events
    assert source.parse_webhook(BODY, signed(secret="new"), now=NOW).events
    whsec = "whsec_" + "c2VjcmV0LWJ5dGVzLWZvci10aGUtdGVzdA=="  # base64 of the raw key
    raw = TicketJsonSource(secrets=(Secret("secret-bytes-for-the-test"),))
    encoded = TicketJsonSource(secrets=(Secret(whsec),))
    headers = signed(secret=whsec)
    assert encoded.parse_webhook(BODY, headers, now=NOW).events
    assert raw.parse_webhook(BODY, headers, now=NOW).events  # same key, either spelling


def test_with_no_secret_configured_nothing_is_accepted() -> None:
    with pytest.raises(SignatureError, match="TICKETSPIKE_WEBHOOK_SECRET"):
        TicketJsonSource().parse_webhook(BODY, signed(), now=NOW)


def test_bad_content_is_rejected_with_the_field() -> None:
    source = TicketJsonSource(secrets=(Secret("k1"),))
    body = b"{not json"
    with pytest.raises(WebhookRejected, match="not valid JSON"):
        source.parse_webhook(body, signed(body), now=NOW)
    body = json.dumps({"tickets": [{"ticketId": "T1", "customerId": "c"}]}).encode()
    with pytest.raises(WebhookRejected) as caught:
        source.parse_webhook(body, signed(body), now=NOW)
    assert caught.value.field == "createdAt" and caught.value.status == 400
    body = b"[]"
    assert source.parse_webhook(body, signed(body), now=NOW).ignored


def test_the_secret_comes_from_the_named_environment_variable() -> None:
    config = load_config(
        text="plugins:\n  ticket:\n    secret_env: MY_HOOK_KEYS\n",
        env={"MY_HOOK_KEYS": "key-one key-two", "TICKETSPIKE_WEBHOOK_SECRET": "unused"},
    )
    source = source_from_config(config.plugins)
    assert [s.reveal() for s in source.secrets] == ["key-one", "key-two"]
    assert "key-" not in repr(source) and "unused" not in repr(source)


def test_backfill_reads_the_file_in_pages_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    events = [ticket_event(f"T{i}", at=NOW + timedelta(hours=i)) for i in range(7)]
    path.write_text("".join(json.dumps(e.ticket.to_json()) + "\n\n" for e in events))
    source = TicketJsonSource(path=path, page_size=3)
    pages = list(source.backfill(since=NOW + timedelta(hours=1)))
    assert [len(p.events) for p in pages] == [3, 3, 0]
    assert pages[0].skipped == 1 and pages[-1].done
    resumed = list(source.backfill(since=NOW, cursor=pages[0].cursor))
    assert [e.ticket.ticket_id for p in resumed for e in p.events] == ["T4", "T5", "T6"]
    with pytest.raises(InputError, match="plugins.ticket.path"):
        list(TicketJsonSource().backfill(since=NOW))


# -- the accounts file --------------------------------------------------------------
ACCOUNTS = "- id: acme\n  name: Acme\n  csm: {name: Ann}\n"


def test_accounts_file_named_at_the_top_level_is_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "accounts.yaml").write_text(ACCOUNTS)
    config = tmp_path / "ticketspike.yaml"
    config.write_text("accounts: accounts.yaml\n")
    loaded = load_config(config, env={})
    assert accounts_path(loaded.plugins) == str(tmp_path / "accounts.yaml")
    [directory] = clean_plugins().account_directories(loaded.plugins)
    account = directory.get_account("acme")
    assert account is not None and account.name == "Acme"
    assert directory.get_account("nobody") is None


def test_the_accounts_option_overrides_the_config(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text("- id: beta\n")
    config = with_accounts_file(PluginConfig(), tmp_path / "other.yaml")
    [directory] = clean_plugins().account_directories(config)
    assert directory.get_account("beta") is not None


def test_no_accounts_file_means_no_directory() -> None:
    assert clean_plugins().account_directories(PluginConfig()) == []


def test_a_broken_accounts_file_fails_at_start_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text("- id: acme\n  arr: lots\n")
    with pytest.raises(ConfigError, match=r"accounts.yaml:2: \[0\].arr: expected a number"):
        clean_plugins().account_directories(with_accounts_file(PluginConfig(), path))


# -- the console notifier --------------------------------------------------------------------------
def _context(plan_transition=None):  # type: ignore[no-untyped-def]
    store = MemoryStore()
    plan = sample_plan(plan_transition or sample_transition(), sample_account())
    store.record_transition(sample_transition(), plan, at=NOW)
    return store, plan


def test_console_prints_the_prd_alert_without_control_characters() -> None:
    transition = sample_transition()
    hostile = attrs.evolve(transition.assessment, themes=("\x1b[2Jwipe", "API errors"))
    plan = sample_plan(attrs.evolve(transition, assessment=hostile), sample_account())
    dm = next(a for a in plan.actions if isinstance(a, DirectMessage))
    out = io.StringIO()
    store = MemoryStore()
    store.record_transition(transition, plan, at=NOW)
    Executor(
        store, {"direct_message": ConsoleNotifier(stream=out)}, clock=FixedClock(NOW)
    ).run_pending()
    text = out.getvalue()
    assert "--- direct message to Mike Johnson (csm) ---" in text
    assert ":rotating_light: SUPPORT SPIKE ALERT: TechCorp Inc" in text
    assert "15 tickets in last 24 hours (6.5x normal rate)" in text
    assert "\x1b" not in text and "[2Jwipe" in text
    record = store.action(dm.key)
    assert record is not None and record.summary.startswith("direct message to Mike Johnson")


def test_console_can_write_to_stderr_or_be_switched_off() -> None:
    to_stderr = load_config(text="plugins:\n  console:\n    stream: stderr\n", env={})
    handlers = clean_plugins().action_handlers(to_stderr.plugins)
    import sys

    assert handlers["direct_message"].stream is sys.stderr  # type: ignore[attr-defined]
    off = load_config(text="plugins:\n  console:\n    enabled: false\n", env={})
    assert "direct_message" not in clean_plugins().action_handlers(off.plugins)
    bad = load_config(text="plugins:\n  console:\n    colour: red\n", env={})
    with pytest.raises(ConfigError, match="<config>:3: plugins.console.colour: unknown key") as e:
        clean_plugins().action_handlers(bad.plugins)
    assert isinstance(e.value, PluginError) and e.value.plugin == "console"


# -- the e-mail drafter -------------------------------------------------------------
def _draft(plan=None) -> DraftEmail:  # type: ignore[no-untyped-def]
    plan = plan or sample_plan(sample_transition(), sample_account())
    return next(a for a in plan.actions if isinstance(a, DraftEmail))


class _Ctx:
    plan = sample_plan(sample_transition(), sample_account())
    account = sample_account()
    now = NOW

    def result_of(self, key: str) -> ActionResult | None:
        return None


def test_a_draft_is_recorded_for_approval_and_written_as_an_eml(tmp_path: Path) -> None:
    draft = _draft()
    result = EmailDrafter(drafts_dir=tmp_path).execute(draft, _Ctx())
    assert result.ref["status"] == "awaiting_approval"
    assert result.ref["to"] == "Dana Lee <dana@techcorp.example>"
    files = list(tmp_path.glob("*.eml"))
    assert [str(f) for f in files] == [result.ref["file"]]
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] == "Dana Lee <dana@techcorp.example>"
    assert message["X-Ticketspike-Requires-Approval"] == "yes"
    assert message["Subject"] == draft.subject
    assert "Dana" in message.get_content()


def test_a_draft_without_approval_or_address_is_refused() -> None:
    draft = _draft()
    with pytest.raises(PermanentDeliveryError, match="does not require approval"):
        EmailDrafter().execute(attrs.evolve(draft, requires_approval=False), _Ctx())
    with pytest.raises(PermanentDeliveryError, match="no e-mail address known"):
        EmailDrafter().execute(attrs.evolve(draft, to=Recipient("champion")), _Ctx())


def test_drafts_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "ticketspike.yaml"
    config.write_text("plugins:\n  email_drafter:\n    drafts_dir: out/drafts\n")
    handlers = clean_plugins().action_handlers(load_config(config, env={}).plugins)
    assert handlers["draft_email"].drafts_dir == tmp_path / "out" / "drafts"  # type: ignore[attr-defined]


# -- the outbox recorder ------------------------------------------------------------
def test_the_outbox_describes_each_recorded_action_in_one_line() -> None:
    plan = sample_plan(sample_transition(), sample_account())
    recorder = OutboxRecorder(
        kinds=frozenset({"create_task", "adjust_health_score", "schedule_sync"})
    )
    lines = {
        a.kind: recorder.execute(a, _Ctx()).summary
        for a in plan.actions
        if a.kind in recorder.kinds
    }
    assert lines["create_task"].startswith("task 'URGENT: Support spike for TechCorp Inc - 15")
    assert "priority critical" in lines["create_task"]
    assert lines["adjust_health_score"] == (
        "health score -15 for techcorp: Support ticket spike detected"
    )
    assert "Mike Johnson (csm)" in lines["schedule_sync"]
    with pytest.raises(PermanentDeliveryError):
        describe(next(a for a in plan.actions if isinstance(a, DirectMessage)))
