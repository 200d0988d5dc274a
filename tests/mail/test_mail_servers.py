"""The acknowledgement draft against real servers: Dovecot (IMAP) and aiosmtpd (SMTP).

Drafts land in the drafts folder with ``\\Draft``; approving sends exactly one message with
the right headers, even when approved twice or when the sender dies right after handing the
message over; rejecting sends nothing; failures are transient (retried) or permanent, and
the approval is never lost.
"""

from __future__ import annotations

import os
import subprocess
import sys
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from support.mail_servers import (
    ACCOUNTS,
    IMAP_PASSWORD,
    MAIL_ENV,
    NOW,
    SMTP_PASSWORD,
    Dovecot,
    SmtpServer,
    email_yaml,
    free_port,
    write_inputs,
)
from ticketspike.builtin.mail_transport import transport_from_config
from ticketspike.config import load_config
from ticketspike.engine import Engine
from ticketspike.errors import (
    DraftConflict,
    InputError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ticketspike.executor import RetryPolicy
from ticketspike.mail.compose import compose_message, make_address
from ticketspike.store import ActionStatus, DraftStatus
from ticketspike.testing import FixedClock, RecordingSleep, clean_plugins
from ticketspike.ticketfile import iter_ticket_events

RETRY = RetryPolicy(max_attempts=3, initial=0.5, maximum=1.0)


def make_engine(
    tmp_path: Path,
    config_text: str,
    *,
    env: dict[str, str] | None = None,
    accounts: list[dict[str, Any]] | None = None,
) -> Engine:
    _tickets, accounts_path = write_inputs(tmp_path, accounts=accounts)
    config = load_config(text=config_text, env=MAIL_ENV if env is None else env)
    return Engine.from_config(
        config,
        store=tmp_path / "store.db",
        plugins=clean_plugins(),
        accounts=accounts_path,
        clock=FixedClock(NOW),
        retry=RETRY,
        sleep=RecordingSleep(),
    )


def spike(engine: Engine, tmp_path: Path) -> None:
    engine.ingest_many(iter_ticket_events(tmp_path / "tickets.jsonl"))


def only_draft(engine: Engine) -> Any:
    (draft,) = engine.drafts()
    return draft


def test_the_draft_lands_in_the_drafts_folder_with_the_draft_flag(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    engine = make_engine(tmp_path, email_yaml(smtp=smtp, imap=dovecot))
    spike(engine, tmp_path)
    draft = only_draft(engine)
    assert draft.status is DraftStatus.AWAITING_APPROVAL
    assert (draft.mailbox, draft.folder) == (dovecot.user, "Drafts")
    ((flags, message),) = dovecot.messages("Drafts")
    assert "\\Draft" in flags
    assert message["Message-ID"] == draft.message_id
    assert message["From"] == "Mike Johnson <mike@example.com>"  # the CSM sends
    assert message["To"] == "Dana Lee <dana@techcorp.example>"  # to the champion
    assert message["Subject"] == draft.subject
    assert message.get_content_type() == "text/plain"
    assert message.get_content().startswith("Hi Dana Lee,")
    assert smtp.room.accepted == []  # drafting never sends


def test_approve_sends_one_message_with_the_right_headers_and_the_edited_body(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    smtp.room.file_into = dovecot
    engine = make_engine(tmp_path, email_yaml(smtp=smtp, imap=dovecot))
    spike(engine, tmp_path)
    draft = only_draft(engine)
    edited = "Hi Dana,\n\nWe found the cause and are fixing it today.\n\nMike\n"
    sent = engine.approve_draft(draft.id, by="U0MIKE", subject="Your API errors", body=edited)
    assert sent.status is DraftStatus.SENT
    assert (sent.decided_by, sent.decided_at, sent.sent_at) == ("U0MIKE", NOW, NOW)
    ((mail_from, rcpts, message),) = smtp.room.accepted
    assert mail_from == "mike@example.com" and rcpts == ["dana@techcorp.example"]
    assert message["Message-ID"] == draft.message_id
    assert message["Subject"] == "Your API errors"
    assert message["To"] == "Dana Lee <dana@techcorp.example>"
    assert message.get_content().replace("\r\n", "\n") == edited
    assert "Bcc" not in message
    # Sent and filed; the draft copy left the drafts folder.
    assert [m["Message-ID"] for _f, m in dovecot.messages("Sent")] == [draft.message_id]
    assert dovecot.messages("Drafts") == []
    # Approving again changes nothing and sends nothing.
    again = engine.approve_draft(draft.id, by="someone-else")
    assert again == sent
    assert len(smtp.room.accepted) == 1


def test_the_shared_sender_sends_with_reply_to_the_csm(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    engine = make_engine(
        tmp_path, email_yaml(smtp=smtp, imap=dovecot, extra="  reply_to_csm: true\n  html: true")
    )
    spike(engine, tmp_path)
    draft = engine.approve_draft(only_draft(engine).id, by="mike")
    ((mail_from, _rcpts, message),) = smtp.room.accepted
    assert mail_from == "success@example.com"
    assert message["From"] == "TechCorp Success <success@example.com>"
    assert message["Reply-To"] == "Mike Johnson <mike@example.com>"
    assert draft.reply_to == "Mike Johnson <mike@example.com>"
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",))
    assert html is not None and "<p>Hi Dana Lee,</p>" in html.get_content()


def _approve_in_a_process(tmp_path: Path, draft_id: str, config: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **MAIL_ENV, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from ticketspike.cli import main; sys.exit(main(sys.argv[1:]))",
            "drafts",
            "approve",
            draft_id,
            "--store",
            str(tmp_path / "store.db"),
            "--config",
            str(config),
            "--by",
            "mike",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_sender_killed_after_data_is_settled_from_the_sent_folder_without_a_second_send(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    smtp.room.file_into = dovecot
    text = email_yaml(smtp=smtp, imap=dovecot)
    config = tmp_path / "ticketspike.yaml"
    config.write_text(text)
    engine = make_engine(tmp_path, text)
    spike(engine, tmp_path)
    draft = only_draft(engine)
    process = _approve_in_a_process(tmp_path, draft.id, config)
    smtp.room.kill_pid = process.pid
    _out, err = process.communicate(timeout=120)
    assert process.returncode == -9, err.decode()  # killed while the message was being handed over
    assert len(smtp.room.accepted) == 1
    interrupted = engine.draft(draft.id)
    assert interrupted is not None and interrupted.status is DraftStatus.APPROVED
    assert interrupted.sending_since is not None  # recorded before, never after
    # Approving again finds the message in Sent: recorded as sent, not sent again.
    again = _approve_in_a_process(tmp_path, draft.id, config)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    assert len(smtp.room.accepted) == 1
    settled = engine.draft(draft.id)
    assert settled is not None and settled.status is DraftStatus.SENT


def test_without_a_sent_folder_an_interrupted_send_is_unknown_until_a_person_says(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ticketspike.cli import main

    for name, value in MAIL_ENV.items():
        monkeypatch.setenv(name, value)

    text = email_yaml(smtp=smtp)
    config = tmp_path / "ticketspike.yaml"
    config.write_text(text)
    engine = make_engine(tmp_path, text)
    spike(engine, tmp_path)
    draft = only_draft(engine)
    process = _approve_in_a_process(tmp_path, draft.id, config)
    smtp.room.kill_pid = process.pid
    process.communicate(timeout=120)
    assert process.returncode == -9 and len(smtp.room.accepted) == 1
    # Nothing can tell whether it left: it is unknown, visibly, and never sent again.
    assert only_draft(engine).status is DraftStatus.UNKNOWN
    with pytest.raises(DraftConflict, match="resolve"):
        engine.approve_draft(draft.id, by="mike")
    assert len(smtp.room.accepted) == 1
    store, cfg = str(tmp_path / "store.db"), str(config)
    assert main(["drafts", "resolve", draft.id, "--sent", "--store", store, "--config", cfg]) == 0
    resolved = engine.draft(draft.id)
    assert resolved is not None and resolved.status is DraftStatus.SENT
    assert len(smtp.room.accepted) == 1


def test_reject_sends_nothing_and_removes_the_draft_from_the_mailbox(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    engine = make_engine(tmp_path, email_yaml(smtp=smtp, imap=dovecot))
    spike(engine, tmp_path)
    draft = only_draft(engine)
    rejected = engine.reject_draft(draft.id, by="mike", reason="I will call Dana instead")
    assert rejected.status is DraftStatus.REJECTED
    assert (rejected.decided_by, rejected.reason) == ("mike", "I will call Dana instead")
    assert dovecot.messages("Drafts") == []
    with pytest.raises(DraftConflict, match="rejected by mike"):
        engine.approve_draft(draft.id, by="someone-else")
    assert smtp.room.accepted == []
    assert engine.reject_draft(draft.id, by="again") == rejected  # rejecting twice is fine


def test_a_temporary_refusal_is_retried_and_sends_once(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    smtp.room.refuse = ["451 4.3.0 try again later"]
    engine = make_engine(tmp_path, email_yaml(smtp=smtp, imap=dovecot))
    spike(engine, tmp_path)
    sent = engine.approve_draft(only_draft(engine).id, by="mike")
    assert sent.status is DraftStatus.SENT and sent.attempts == 2
    assert len(smtp.room.accepted) == 1
    assert engine.desk.sleep.waits == [0.5]  # type: ignore[attr-defined]


def test_an_unreachable_smtp_server_fails_transiently_and_keeps_the_approval(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    closed = free_port()
    engine = make_engine(tmp_path, email_yaml(smtp_port=closed, imap=dovecot))
    spike(engine, tmp_path)
    draft = only_draft(engine)
    with pytest.raises(TransientDeliveryError, match="approved but not sent after 3 attempts"):
        engine.approve_draft(draft.id, by="mike", body="Edited by Mike.\n")
    kept = engine.draft(draft.id)
    assert kept is not None and kept.status is DraftStatus.APPROVED
    assert kept.decided_by == "mike" and kept.body == "Edited by Mike.\n"
    assert kept.sending_since is None and kept.attempts == 3
    assert f"cannot reach SMTP 127.0.0.1:{closed}" in (kept.error or "")
    engine.close()
    # The server is back (the right port): approving again sends the approved text, once.
    engine = make_engine(tmp_path, email_yaml(smtp=smtp, imap=dovecot))
    sent = engine.approve_draft(draft.id, by="mike")
    assert sent.status is DraftStatus.SENT
    ((_f, _r, message),) = smtp.room.accepted
    assert message.get_content().replace("\r\n", "\n") == "Edited by Mike.\n"


def test_bad_smtp_credentials_fail_for_good_without_leaking_or_losing_the_approval(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    env = {**MAIL_ENV, "TICKETSPIKE_SMTP_PASSWORD": "wrong-password-123"}
    engine = make_engine(tmp_path, email_yaml(smtp=smtp, imap=dovecot), env=env)
    spike(engine, tmp_path)
    draft = only_draft(engine)
    with pytest.raises(PermanentDeliveryError) as caught:
        engine.approve_draft(draft.id, by="mike")
    message = str(caught.value)
    assert "refused the login of the user in $TICKETSPIKE_SMTP_USER" in message
    assert "wrong-password-123" not in message and SMTP_PASSWORD not in message
    kept = engine.draft(draft.id)
    assert kept is not None and kept.status is DraftStatus.APPROVED and kept.attempts == 1
    assert smtp.room.accepted == []


def test_bad_imap_credentials_fail_the_draft_clearly_and_a_retry_saves_it_once(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    env = {**MAIL_ENV, "TICKETSPIKE_IMAP_PASSWORD": "not-the-password"}
    engine = make_engine(tmp_path, email_yaml(smtp=smtp, imap=dovecot), env=env)
    spike(engine, tmp_path)
    (failed,) = [a for a in engine.store.actions() if a.kind == "draft_email"]
    assert failed.status is ActionStatus.FAILED and failed.attempts == 1  # not retried
    assert "refused the login of the user in $TICKETSPIKE_IMAP_USER" in (failed.error or "")
    assert "not-the-password" not in (failed.error or "") and IMAP_PASSWORD not in failed.error
    assert engine.drafts() == [] and dovecot.messages("Drafts") == []
    engine.close()
    engine = make_engine(tmp_path, email_yaml(smtp=smtp, imap=dovecot))
    engine.executor.retry_failed()
    assert len(engine.drafts()) == 1 and len(dovecot.messages("Drafts")) == 1


def test_an_unreachable_imap_server_is_retried_then_fails_visibly(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    text = email_yaml(smtp=smtp).rstrip("\n") + (
        f"\n  imap: {{host: 127.0.0.1, port: {free_port()}, security: none, timeout: 2}}\n"
    )
    engine = make_engine(tmp_path, text)
    spike(engine, tmp_path)
    (failed,) = [a for a in engine.store.actions() if a.kind == "draft_email"]
    assert failed.status is ActionStatus.FAILED and failed.attempts == RETRY.max_attempts
    assert "cannot reach IMAP 127.0.0.1" in (failed.error or "")


def test_a_draft_saved_again_for_the_same_key_is_not_saved_twice(
    dovecot: Dovecot, smtp: SmtpServer
) -> None:
    config = load_config(text=email_yaml(smtp=smtp, imap=dovecot), env=MAIL_ENV)
    transport = transport_from_config(config.plugins)
    assert transport is not None

    def message() -> Any:
        return compose_message(
            to=make_address("Dana", "dana@techcorp.example", field="to"),
            sender=make_address("Mike", "mike@example.com", field="from"),
            reply_to=None,
            subject="Hello",
            body="Body\n",
            message_id=make_msgid(domain="example.com"),
            date=NOW,
            draft_id="dr_1",
            key="ep_1:opened:draft_acknowledgment",
        )

    first, second = message(), message()
    saved = transport.save_draft(first, key="ep_1:opened:draft_acknowledgment", now=NOW)
    again = transport.save_draft(second, key="ep_1:opened:draft_acknowledgment", now=NOW)
    assert again.message_id == saved.message_id == first["Message-ID"]
    assert len(dovecot.messages("Drafts")) == 1


def test_header_injection_through_names_and_subjects_is_refused(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    hostile = [
        {
            **ACCOUNTS[0],
            "csm": {"name": "Mike\r\nBcc: evil@attacker.example", "email": "mike@example.com"},
            "champion": {
                "name": "Dana\r\nBcc: evil@attacker.example\r\nX-Evil: 1",
                "email": "dana@techcorp.example",
            },
        }
    ]
    engine = make_engine(tmp_path, email_yaml(smtp=smtp, imap=dovecot), accounts=hostile)
    spike(engine, tmp_path)
    draft = only_draft(engine)
    ((_flags, saved),) = dovecot.messages("Drafts")
    assert "Bcc" not in saved and "X-Evil" not in saved
    assert saved["To"].addresses[0].addr_spec == "dana@techcorp.example"
    with pytest.raises(InputError, match="subject: must be one line"):
        engine.approve_draft(draft.id, by="mike", subject="Hi\r\nBcc: evil@attacker.example")
    assert smtp.room.accepted == []
    engine.approve_draft(draft.id, by="mike")
    ((_mail_from, rcpts, sent),) = smtp.room.accepted
    assert rcpts == ["dana@techcorp.example"]
    assert "Bcc" not in sent and "X-Evil" not in sent


def test_xoauth2_logs_in_with_the_token_and_a_wrong_token_fails_for_good(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    from support.mail_servers import SMTP_TOKEN, SMTP_USER

    text = email_yaml(smtp=smtp).replace(
        "    security: none", "    security: none\n    auth: xoauth2"
    )
    wrong = {"TICKETSPIKE_SMTP_USER": SMTP_USER, "TICKETSPIKE_SMTP_TOKEN": "expired-token"}
    engine = make_engine(tmp_path, text, env=wrong)
    spike(engine, tmp_path)
    draft = only_draft(engine)
    with pytest.raises(PermanentDeliveryError, match="refused the login"):
        engine.approve_draft(draft.id, by="mike")
    engine.close()
    right = {"TICKETSPIKE_SMTP_USER": SMTP_USER, "TICKETSPIKE_SMTP_TOKEN": SMTP_TOKEN}
    engine = make_engine(tmp_path, text, env=right)
    assert engine.approve_draft(draft.id, by="mike").status is DraftStatus.SENT
    assert len(smtp.room.accepted) == 1


def test_a_csm_with_a_mailbox_of_their_own_gets_the_draft_there_and_sends_as_themselves(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    from support.mail_servers import CSM_PASSWORD, CSM_USER

    text = email_yaml(smtp=smtp, imap=dovecot) + (
        "  mailboxes:\n"
        f"    - {{address: {CSM_USER}, user_env: MIKE_MAIL_USER, password_env: MIKE_MAIL_PW}}\n"
    )
    env = {**MAIL_ENV, "MIKE_MAIL_USER": CSM_USER, "MIKE_MAIL_PW": CSM_PASSWORD}
    engine = make_engine(tmp_path, text, env=env)
    spike(engine, tmp_path)
    draft = only_draft(engine)
    mike = dovecot.as_user(CSM_USER, CSM_PASSWORD)
    assert draft.mailbox == CSM_USER
    assert [m["Message-ID"] for _f, m in mike.messages("Drafts")] == [draft.message_id]
    assert dovecot.messages("Drafts") == []  # not in the shared mailbox
    engine.approve_draft(draft.id, by="mike")
    assert smtp.room.logins == [CSM_USER]  # sent with Mike's own login, From Mike
    assert smtp.room.accepted[0][0] == CSM_USER
    assert mike.messages("Drafts") == []
