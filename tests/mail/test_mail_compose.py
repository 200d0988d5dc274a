"""The message and the ``email:`` section: headers built from parts, hostile text kept inert,
and a bad section refused with its line and key.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketspike.config import load_config
from ticketspike.errors import ConfigError, InputError, MissingSecretError
from ticketspike.mail.compose import (
    compose_message,
    header_safe,
    make_address,
    parse_address,
    sender_addresses,
)
from ticketspike.mail.settings import EmailSettings, email_settings_from_config
from ticketspike.model import Person
from ticketspike.testing import clean_plugins

AT = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def compose(**changes: object) -> bytes:
    values: dict[str, object] = {
        "to": make_address("Dana Lee", "dana@techcorp.example", field="to"),
        "sender": make_address("Mike Johnson", "mike@example.com", field="from"),
        "reply_to": None,
        "subject": "We're on it",
        "body": "Hi Dana,\n",
        "message_id": "<m1@example.com>",
        "date": AT,
        "draft_id": "dr_1",
        "key": "ep_1:opened:ack",
    }
    values.update(changes)
    return compose_message(**values).as_bytes(policy=policy.SMTP)  # type: ignore[arg-type]


def headers(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    return [line.split(":", 1)[0] for line in head.split("\r\n") if line and line[0] not in " \t"]


@given(st.text(alphabet=st.sampled_from("ab \r\n:\u2028\x85\tBcc@x.ïé<>\"'"), max_size=60))
def test_no_name_or_subject_can_add_a_header(text: str) -> None:
    raw = compose(
        to=make_address(text, "dana@techcorp.example", field="to"),
        sender=make_address(text, "mike@example.com", field="from"),
        subject=text,
    )
    assert sorted(headers(raw)) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "X-Ticketspike-Draft",
            "X-Ticketspike-Key",
            "Content-Type",
            "Content-Transfer-Encoding",
            "MIME-Version",
        ]
    )
    parsed = message_from_bytes(raw, policy=policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["dana@techcorp.example"]


def test_a_follow_up_threads_and_the_html_alternative_is_escaped() -> None:
    raw = compose(
        in_reply_to="<first@example.com>",
        references=["<zero@example.com>"],
        html=True,
        body="Hi <b>Dana</b> & team,\n\nThanks.\n",
    )
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["In-Reply-To"] == "<first@example.com>"
    assert parsed["References"] == "<zero@example.com> <first@example.com>"
    html = parsed.get_body(("html",))
    assert html is not None and "Hi &lt;b&gt;Dana&lt;/b&gt; &amp; team," in html.get_content()


@pytest.mark.parametrize(
    "text",
    ["dana@techcorp.example\r\nBcc: evil@x.example", "a@b.example, c@d.example", "not-an-address"],
)
def test_an_address_must_be_exactly_one(text: str) -> None:
    with pytest.raises(InputError):
        parse_address(text, field="to")


def test_an_edited_subject_with_a_line_break_is_refused_not_folded() -> None:
    with pytest.raises(InputError, match="subject: must be one line"):
        header_safe("Hello\r\nBcc: evil@x.example", field="subject")
    assert header_safe("  Hello \t there ", field="subject") == "Hello there"


def test_from_is_the_csm_or_the_shared_sender_with_reply_to_the_csm() -> None:
    csm = Person(name="Mike Johnson", email="mike@example.com")
    shared = EmailSettings(from_addr="Success <success@example.com>")
    assert [str(a) for a in sender_addresses(shared, csm) if a] == [
        "Mike Johnson <mike@example.com>"
    ]
    assert (
        str(sender_addresses(shared, Person(name="No Mail"))[0]) == "Success <success@example.com>"
    )
    reply = EmailSettings(from_addr="Success <success@example.com>", reply_to_csm=True)
    sender, reply_to = sender_addresses(reply, csm)
    assert (str(sender), str(reply_to)) == (
        "Success <success@example.com>",
        "Mike Johnson <mike@example.com>",
    )
    with pytest.raises(InputError, match="no sender address"):
        sender_addresses(EmailSettings(), Person(name="No Mail"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("email:\n  smtp: {port: 25}\n", "email.smtp: missing required key 'host'"),
        ("email:\n  smtp: {host: a.example, security: ssl}\n", "email.smtp.security: expected one"),
        ("email:\n  smtp: {host: a.example, port: 0}\n", "email.smtp.port: expected a whole"),
        ('email:\n  imap: {host: a.example, drafts_folder: "a\\"b"}\n', "drafts_folder"),
        ('email:\n  from: "x\\r\\nBcc: y@z"\n', "email.from: expected an e-mail address"),
        ("email:\n  reply_to_csm: true\n", "email.reply_to_csm: needs `from:`"),
        ("email:\n  smtp: {host: a.example, user_env: 'not a var'}\n", "user_env"),
        ("email:\n  stmp: {host: a.example}\n", "did you mean 'smtp'"),
        (
            "email:\n  mailboxes: [{address: m@x.example, user_env: U}]\n  smtp: {host: a.b}\n",
            "missing required key 'password_env'",
        ),
        (
            "email:\n  mailboxes:\n  - {address: m@x.example, user_env: U, password_env: P}\n"
            "  - {address: M@x.example, user_env: V, password_env: Q}\n  smtp: {host: a.b}\n",
            "listed twice",
        ),
        (
            "email:\n  mailboxes: [{address: m@x.example, user_env: U, password_env: P}]\n",
            "needs `smtp` or `imap`",
        ),
    ],
)
def test_a_bad_email_section_is_refused_with_its_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"<config>:\d") as caught:
        load_config(text=text, env={})
    assert message in str(caught.value)


def test_an_unset_login_variable_is_named_and_no_secret_shows() -> None:
    config = load_config(text="email:\n  smtp: {host: smtp.example.com}\n", env={})
    with pytest.raises(ConfigError, match="TICKETSPIKE_SMTP_USER and TICKETSPIKE_SMTP_P") as caught:
        clean_plugins().mail_transports(config.plugins)
    assert isinstance(caught.value.__cause__, MissingSecretError)
    env = {"TICKETSPIKE_SMTP_USER": "u@example.com", "TICKETSPIKE_SMTP_PASSWORD": "hunter2-secret"}
    config = load_config(text="email:\n  smtp: {host: smtp.example.com}\n", env=env)
    (transport,) = clean_plugins().mail_transports(config.plugins)
    assert "hunter2" not in repr(transport) and "hunter2" not in repr(vars(transport))
    settings = email_settings_from_config(config.section("email"))
    assert settings.smtp is not None and settings.smtp.port == 587
