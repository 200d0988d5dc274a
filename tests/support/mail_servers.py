"""Real mail servers for the e-mail tests: Dovecot (IMAP) and aiosmtpd (SMTP) on 127.0.0.1.

Dovecot comes from the system packages (``apt-get install dovecot-imapd``) and is started
once per session with a throw-away configuration: one passwd-file user, maildirs in a
temporary directory, plain-text login on a free loopback port. Without it the IMAP tests skip
with one reason, unless ``TICKETSPIKE_REQUIRE_IMAP=1`` (set by CI) turns the skip into a
failure.

The SMTP server is aiosmtpd in a thread, with a handler (:class:`Mailroom`) that keeps what
it accepted, can refuse the next messages with a given reply, checks logins, and, like Gmail
or Microsoft 365, files every accepted message into the sender's Sent folder over IMAP.
"""

from __future__ import annotations

import base64
import imaplib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

IMAP_USER = "csm@example.com"
IMAP_PASSWORD = "imap-secret-3e9d"
SMTP_USER = "mailer@example.com"
SMTP_PASSWORD = "smtp-secret-71c2"
SMTP_TOKEN = "ya29.oauth-access-token-8d0f"
# A CSM with a mailbox of their own (``email.mailboxes``): the same login for IMAP and SMTP.
CSM_USER = "mike@example.com"
CSM_PASSWORD = "mike-secret-20aa"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SPIKE_DAY = START + timedelta(days=40)
NOW = SPIKE_DAY + timedelta(hours=14)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _require_imap() -> bool:
    return os.environ.get("TICKETSPIKE_REQUIRE_IMAP", "") not in ("", "0")


def _unavailable(reason: str) -> None:
    if _require_imap():
        pytest.fail(f"TICKETSPIKE_REQUIRE_IMAP is set but {reason}")
    pytest.skip(reason)


@attrs.frozen
class Dovecot:
    host: str
    port: int
    user: str
    password: str

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def as_user(self, user: str, password: str) -> Dovecot:
        return attrs.evolve(self, user=user, password=password)

    def messages(self, folder: str) -> list[tuple[set[str], EmailMessage]]:
        """Every message in ``folder`` with its flags."""
        conn = self.connect()
        try:
            conn.select(f'"{folder}"', readonly=True)
            _, data = conn.uid("SEARCH", "ALL")
            out = []
            for uid in data[0].split():
                _, parts = conn.uid("FETCH", uid.decode(), "(FLAGS BODY.PEEK[])")
                head, raw = parts[0][0], parts[0][1]
                flags = set(head.decode().split("FLAGS (", 1)[1].split(")", 1)[0].split())
                out.append((flags, message_from_bytes(raw, policy=policy.default)))
            return out
        finally:
            conn.logout()

    def append(self, folder: str, raw: bytes) -> None:
        conn = self.connect()
        try:
            conn.append(f'"{folder}"', r"(\Seen)", None, raw)
        finally:
            conn.logout()

    def empty(self) -> None:
        conn = self.connect()
        try:
            for folder in ("Drafts", "Sent", "INBOX"):
                _, count = conn.select(f'"{folder}"')
                if count and count[0] not in (b"0", None):
                    conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
                    conn.expunge()
        finally:
            conn.logout()


_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@attrs.define
class Mailroom:
    """The SMTP server's handler: keeps accepted messages, refuses on request, files to Sent."""

    accepted: list[tuple[str, list[str], EmailMessage]] = attrs.field(factory=list)
    logins: list[str] = attrs.field(factory=list)  # who was logged in for each accepted one
    refuse: list[str] = attrs.field(factory=list)
    file_into: Dovecot | None = None
    kill_pid: int | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return self.refuse.pop(0)
        raw = bytes(envelope.original_content or envelope.content)
        message = message_from_bytes(raw, policy=policy.default)
        self.accepted.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        auth = getattr(session, "auth_data", None)
        login = getattr(auth, "login", None)
        self.logins.append(login.decode() if isinstance(login, bytes) else str(login))
        if self.file_into is not None:
            # Like Gmail and Microsoft 365: what is sent over SMTP lands in Sent.
            self.file_into.append("Sent", raw)
        if self.kill_pid is not None:
            # The sender dies right after handing the message over, before any reply.
            os.kill(self.kill_pid, signal.SIGKILL)
            self.kill_pid = None
        return "250 2.0.0 accepted"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:  # noqa: N802
        """SASL XOAUTH2 as Gmail and Microsoft 365 take it (initial response only)."""
        expected = f"user={SMTP_USER}\x01auth=Bearer {SMTP_TOKEN}\x01\x01".encode()
        try:
            offered = base64.b64decode(args[1]) if len(args) > 1 else b""
        except ValueError:
            offered = b""
        return AuthResult(success=offered == expected, handled=False)


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    users = {SMTP_USER.encode(): SMTP_PASSWORD.encode(), CSM_USER.encode(): CSM_PASSWORD.encode()}
    ok = isinstance(auth_data, LoginPassword) and users.get(auth_data.login) == auth_data.password
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@attrs.define
class SmtpServer:
    host: str
    port: int
    room: Mailroom


def run_dovecot() -> Iterator[Dovecot]:
    """Start Dovecot (see the module docstring); stop it when the generator closes."""
    binary = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )
    if binary is None:
        _unavailable("dovecot is not installed (apt-get install dovecot-imapd)")
    if os.geteuid() != 0:
        _unavailable("dovecot is started by the tests as root; not running as root")
    version = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not version.startswith("2.3."):
        # The configuration below is Dovecot 2.3's syntax (Debian 12); 2.4 renamed its settings.
        _unavailable(f"the test configuration is written for Dovecot 2.3, found {version!r}")
    import grp
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
        group = grp.getgrgid(nobody.pw_gid)
    except KeyError:
        _unavailable("no 'nobody' user to own the test mailboxes")
    root = Path(tempfile.mkdtemp(prefix="ticketspike-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    os.chown(root / "mail", nobody.pw_uid, nobody.pw_gid)
    (root / "passwd").write_text(
        f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}::::::\n{CSM_USER}:{{PLAIN}}{CSM_PASSWORD}::::::\n"
    )
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_CONF.format(root=root, port=port, uid=nobody.pw_name, gid=group.gr_name))
    process = subprocess.Popen(
        [str(binary), "-F", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # it logs to log_path
    )
    server = Dovecot("127.0.0.1", port, IMAP_USER, IMAP_PASSWORD)
    deadline = time.monotonic() + 30
    while True:
        try:
            server.connect().logout()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                shutil.rmtree(root, ignore_errors=True)
                _unavailable(f"dovecot did not start: {log.strip()[-300:]}")
            time.sleep(0.1)
    try:
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def run_smtp() -> Iterator[SmtpServer]:
    """Start aiosmtpd with a fresh :class:`Mailroom`; stop it when the generator closes."""
    room = Mailroom()
    port = free_port()
    controller = Controller(
        room,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_required=False,  # AUTH offered and checked; required only over TLS
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, room)
    finally:
        controller.stop()


# -- a store with one acknowledgement draft ------------------------------------------------
ACCOUNTS = [
    {
        "id": "techcorp",
        "name": "TechCorp Inc",
        "arr": 500000,
        "health_score": 52,
        "segment": "enterprise",
        "seats": 400,
        "csm": {"name": "Mike Johnson", "email": "mike@example.com", "slack_id": "U0MIKE"},
        "champion": {"name": "Dana Lee", "email": "dana@techcorp.example"},
    }
]


def tickets(customer: str = "techcorp") -> list[dict[str, Any]]:
    """Forty quiet days, then fifteen technical tickets in twelve hours: one spike."""
    rows = []
    for day in range(40):
        for k in range(2):
            at = START + timedelta(days=day, hours=9 + 4 * k)
            rows.append(
                {
                    "ticketId": f"{customer}-H{day}-{k}",
                    "customerId": customer,
                    "category": "training",
                    "severity": "P3",
                    "subject": "How do I export reports",
                    "createdAt": at.isoformat(),
                }
            )
    for i in range(15):
        at = SPIKE_DAY + timedelta(minutes=50 * i)
        rows.append(
            {
                "ticketId": f"{customer}-S{i}",
                "customerId": customer,
                "category": "technical",
                "severity": "P1" if i < 3 else "P2",
                "subject": "API returning 500 errors on orders",
                "createdAt": at.isoformat(),
            }
        )
    return rows


def write_inputs(
    directory: Path, *, accounts: list[dict[str, Any]] | None = None
) -> tuple[Path, Path]:
    tickets_path = directory / "tickets.jsonl"
    tickets_path.write_text("".join(json.dumps(t) + "\n" for t in tickets()))
    accounts_path = directory / "accounts.json"
    accounts_path.write_text(json.dumps(accounts or ACCOUNTS))
    return tickets_path, accounts_path


def email_yaml(
    *,
    smtp: SmtpServer | None = None,
    imap: Dovecot | None = None,
    smtp_port: int | None = None,
    sent_folder: bool = True,
    extra: str = "",
) -> str:
    lines = ["email:", "  from: 'TechCorp Success <success@example.com>'", extra]
    if smtp is not None or smtp_port is not None:
        port = smtp_port if smtp_port is not None else smtp.port  # type: ignore[union-attr]
        lines += ["  smtp:", "    host: 127.0.0.1", f"    port: {port}", "    security: none"]
        lines += ["    timeout: 5"]
    if imap is not None:
        lines += [
            "  imap:",
            f"    host: {imap.host}",
            f"    port: {imap.port}",
            "    security: none",
            "    drafts_folder: Drafts",
            "    timeout: 5",
        ]
        if sent_folder:
            lines.append("    sent_folder: Sent")
    return "\n".join(line for line in lines if line) + "\n"


MAIL_ENV = {
    "TICKETSPIKE_SMTP_USER": SMTP_USER,
    "TICKETSPIKE_SMTP_PASSWORD": SMTP_PASSWORD,
    "TICKETSPIKE_IMAP_USER": IMAP_USER,
    "TICKETSPIKE_IMAP_PASSWORD": IMAP_PASSWORD,
}
