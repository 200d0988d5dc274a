"""Built-in mail transport: drafts into an IMAP folder (``imaplib``), sent over SMTP (``smtplib``).

It registers when the config's ``email:`` section has ``smtp`` or ``imap`` (see
:mod:`ticketspike.mail.settings`). What it promises the engine:

* **One draft per action.** ``APPEND`` to the drafts folder with ``\\Draft``, after searching
  that folder for the action's ``X-Ticketspike-Key``: a retry after a crash finds the draft it
  already saved and hands back *its* Message-ID instead of saving a second one.
* **Honest failures.** Refused connections, timeouts and 4xx answers are transient; refused
  logins, unknown folders and 5xx answers are permanent; a connection lost *after* the message
  went over ``DATA`` is :class:`~ticketspike.errors.DeliveryUncertainError`, because the server
  may have accepted it.
* **Sent-folder check.** With ``imap.sent_folder`` set (where the provider files mail sent
  over SMTP: Gmail, Microsoft 365), :meth:`was_sent` searches it for the Message-ID, which is
  how an interrupted send is settled without sending twice.

Logins come from environment variables (user and password, or an XOAUTH2 access token);
neither they nor any message content appear in errors or logs.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from typing import cast

import attrs

from ..errors import (
    DeliveryUncertainError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ..hookspecs import hookimpl
from ..mail.settings import EmailSettings, ServerSettings, email_settings_from_config
from ..roles import MailTransport, PluginConfig, SavedDraft
from ..secrets import Secret

__all__ = ["ImapSmtpTransport", "Login", "register_mail_transports"]

log = logging.getLogger("ticketspike.mail")

_MESSAGE_ID = re.compile(rb"message-id:\s*(<[^>\r\n]+>)", re.IGNORECASE)


@attrs.frozen
class Login:
    """Who logs in and how: ``password`` (user + password), ``xoauth2`` (user + token), ``none``."""

    mechanism: str
    user: str = ""
    secret: Secret | None = attrs.field(default=None, repr=False)
    source: str = ""  # the variables' names, for errors

    def xoauth2(self) -> str:
        assert self.secret is not None
        return f"user={self.user}\x01auth=Bearer {self.secret.reveal()}\x01\x01"


def _quote(value: str) -> str:
    """An IMAP quoted string (values here were checked to be one line)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, (OSError, imaplib.IMAP4.abort, smtplib.SMTPServerDisconnected)) and (
        not isinstance(exc, ssl.SSLCertVerificationError)
    )


def _context() -> ssl.SSLContext:
    return ssl.create_default_context()


class ImapSmtpTransport:
    """A :class:`~ticketspike.roles.MailTransport` over IMAP (drafts, Sent) and SMTP (sending).

    Either server may be missing: without IMAP drafts are kept only in the store (and the
    ``.eml`` files, if configured) and an interrupted send cannot be checked; without SMTP
    nothing can be sent, and approving says so.
    """

    name = "imap_smtp"

    def __init__(
        self,
        settings: EmailSettings,
        *,
        smtp_login: Login | None = None,
        imap_login: Login | None = None,
        mailboxes: Mapping[str, Login] | None = None,
    ) -> None:
        self.settings = settings
        self.smtp = settings.smtp
        self.imap = settings.imap
        self.smtp_login = smtp_login or Login("none")
        self.imap_login = imap_login or Login("none")
        # Per-CSM logins by lower-cased address (``email.mailboxes``): used for both servers.
        self.mailboxes = {k.lower(): v for k, v in (mailboxes or {}).items()}

    def __repr__(self) -> str:
        smtp = f"{self.smtp.host}:{self.smtp.port}" if self.smtp else "-"
        imap = f"{self.imap.host}:{self.imap.port}" if self.imap else "-"
        return f"ImapSmtpTransport(smtp={smtp}, imap={imap})"

    @property
    def checks_sent(self) -> bool:
        return self.imap is not None and self.imap.sent_folder is not None

    def _own_login(self, *addresses: str | None) -> Login | None:
        for address in addresses:
            if address and address.lower() in self.mailboxes:
                return self.mailboxes[address.lower()]
        return None

    def _draft_login(self, message: EmailMessage) -> Login:
        """The CSM's own mailbox when configured (Reply-To, else From), else the shared one."""
        return self._own_login(_addr(message, "Reply-To"), _addr(message, "From")) or (
            self.imap_login
        )

    def _sending_login(self, message: EmailMessage, shared: Login) -> Login:
        return self._own_login(_addr(message, "From")) or shared

    def _login_of_mailbox(self, mailbox: str | None) -> Login:
        for login in self.mailboxes.values():
            if mailbox and login.user == mailbox:
                return login
        return self.imap_login

    def _mailbox_name(self, login: Login) -> str:
        assert self.imap is not None
        return login.user or self.imap.host

    # -- IMAP ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _imap_session(self, what: str, login: Login) -> Iterator[imaplib.IMAP4]:
        server = self.imap
        assert server is not None
        where = f"IMAP {server.host}:{server.port}"
        try:
            conn = self._imap_connect(server)
        except Exception as exc:
            raise _failure(exc, f"{what}: cannot reach {where}") from None
        try:
            try:
                self._imap_auth(conn, login)
            except imaplib.IMAP4.error as exc:
                if isinstance(exc, imaplib.IMAP4.abort):
                    raise
                raise PermanentDeliveryError(
                    f"{what}: {where} refused the login of the user in "
                    f"${login.source or server.user_env} ({_imap_text(exc)})"
                ) from None
            yield conn
        except (PermanentDeliveryError, TransientDeliveryError):
            raise
        except imaplib.IMAP4.error as exc:
            if isinstance(exc, imaplib.IMAP4.abort):
                raise TransientDeliveryError(f"{what}: {where} dropped the connection") from None
            raise PermanentDeliveryError(f"{what}: {where} said {_imap_text(exc)}") from None
        except Exception as exc:
            raise _failure(exc, f"{what}: {where}") from None
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def _imap_connect(self, server: ServerSettings) -> imaplib.IMAP4:
        if server.security == "tls":
            return imaplib.IMAP4_SSL(
                server.host, server.port, ssl_context=_context(), timeout=server.timeout
            )
        conn = imaplib.IMAP4(server.host, server.port, timeout=server.timeout)
        if server.security == "starttls":
            conn.starttls(ssl_context=_context())
        return conn

    def _imap_auth(self, conn: imaplib.IMAP4, login: Login) -> None:
        if login.mechanism == "password":
            assert login.secret is not None
            conn.login(login.user, login.secret.reveal())
        elif login.mechanism == "xoauth2":
            text = login.xoauth2().encode()
            conn.authenticate("XOAUTH2", lambda _challenge: text)

    def _select(self, conn: imaplib.IMAP4, folder: str, *, readonly: bool = False) -> None:
        status, data = conn.select(_quote(folder), readonly=readonly)
        if status != "OK":
            raise PermanentDeliveryError(
                f"folder {folder!r} cannot be opened on IMAP {self._host()} "
                f"({_imap_text(data)}); check imap folder names in the email section"
            )

    def _host(self) -> str:
        return f"{self.imap.host}:{self.imap.port}" if self.imap else "-"

    def _search(self, conn: imaplib.IMAP4, header: str, value: str) -> list[bytes]:
        status, data = conn.uid("SEARCH", "HEADER", header, _quote(value))
        if status != "OK":
            raise PermanentDeliveryError(f"IMAP search failed ({_imap_text(data)})")
        return [uid for chunk in data if chunk for uid in bytes(chunk).split()]

    def save_draft(self, message: EmailMessage, *, key: str, now: datetime) -> SavedDraft:
        message_id = str(message["Message-ID"])
        if self.imap is None:
            return SavedDraft(message_id=message_id)
        folder = self.imap.drafts_folder
        login = self._draft_login(message)
        mailbox = self._mailbox_name(login)
        with self._imap_session("saving the draft", login) as conn:
            self._select(conn, folder)
            found = self._search(conn, "X-Ticketspike-Key", key)
            if found:
                earlier = self._message_id_of(conn, found[0])
                if earlier:
                    log.info("draft for %s already in %s; not saved twice", key, folder)
                    return SavedDraft(message_id=earlier, mailbox=mailbox, folder=folder)
            status, data = conn.append(
                _quote(folder),
                r"(\Draft \Seen)",
                imaplib.Time2Internaldate(now.timestamp()),
                message.as_bytes(policy=SMTP_POLICY),
            )
            if status != "OK":
                raise PermanentDeliveryError(
                    f"IMAP {self._host()} refused the draft in {folder!r} ({_imap_text(data)})"
                )
        return SavedDraft(message_id=message_id, mailbox=mailbox, folder=folder)

    def _message_id_of(self, conn: imaplib.IMAP4, uid: bytes) -> str | None:
        status, data = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        if status != "OK":
            return None
        for part in data:
            if isinstance(part, tuple):
                match = _MESSAGE_ID.search(part[1])
                if match:
                    return match.group(1).decode("ascii", "replace")
        return None

    def was_sent(self, message: EmailMessage) -> bool | None:
        if self.imap is None or self.imap.sent_folder is None:
            return None
        # The provider files it in the Sent folder of the mailbox that sent it.
        login = self._sending_login(message, self.imap_login)
        with self._imap_session("checking the Sent folder", login) as conn:
            self._select(conn, self.imap.sent_folder, readonly=True)
            return bool(self._search(conn, "Message-ID", str(message["Message-ID"])))

    def discard_draft(self, saved: SavedDraft) -> None:
        if self.imap is None or saved.folder is None:
            return
        login = self._login_of_mailbox(saved.mailbox)
        with self._imap_session("removing the draft", login) as conn:
            self._select(conn, saved.folder)
            uids = self._search(conn, "Message-ID", saved.message_id)
            if not uids:
                return
            ids = b",".join(uids).decode()
            conn.uid("STORE", ids, "+FLAGS.SILENT", r"(\Deleted)")
            _, caps = conn.capability()  # the greeting's list may predate the login
            if b"UIDPLUS" in b" ".join(c for c in caps if isinstance(c, bytes)).upper().split():
                conn.uid("EXPUNGE", ids)

    # -- SMTP ------------------------------------------------------------------------
    def _smtp_connect(self, server: ServerSettings) -> smtplib.SMTP:
        if server.security == "tls":
            return smtplib.SMTP_SSL(
                server.host, server.port, timeout=server.timeout, context=_context()
            )
        conn = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
        if server.security == "starttls":
            conn.starttls(context=_context())
        return conn

    def send(self, message: EmailMessage) -> None:
        server = self.smtp
        if server is None:
            raise PermanentDeliveryError(
                "no SMTP server is configured (add `email: smtp: {host: ...}` to the config)"
            )
        where = f"SMTP {server.host}:{server.port}"
        recipients = [a.addr_spec for a in message["To"].addresses]
        sender = message["From"].addresses[0].addr_spec
        payload = message.as_bytes(policy=SMTP_POLICY)
        try:
            conn = self._smtp_connect(server)
        except Exception as exc:
            raise _failure(exc, f"sending: cannot reach {where}") from None
        try:
            self._smtp_auth(conn, where, self._sending_login(message, self.smtp_login))
            code, text = conn.mail(sender)
            if code != 250:
                raise _smtp_refusal(code, text, f"{where} refused the sender")
            for rcpt in recipients:
                code, text = conn.rcpt(rcpt)
                if code not in (250, 251):
                    raise _smtp_refusal(code, text, f"{where} refused a recipient")
        except (PermanentDeliveryError, TransientDeliveryError):
            _close(conn)
            raise
        except Exception as exc:
            _close(conn)
            raise _failure(exc, f"sending via {where}") from None
        # From here on the message is on its way: a lost connection leaves it unknown.
        try:
            code, text = conn.data(payload)
        except smtplib.SMTPDataError as exc:
            _close(conn)
            refusal = _smtp_refusal(exc.smtp_code, exc.smtp_error, f"{where} refused the message")
            raise refusal from None
        except Exception as exc:
            _close(conn)
            raise DeliveryUncertainError(
                f"{where}: the connection was lost while the message was being handed over "
                f"({type(exc).__name__}); it may or may not have been accepted"
            ) from None
        if code != 250:
            # A definite answer: the server refused the message, nothing was sent.
            _close(conn)
            raise _smtp_refusal(code, text, f"{where} refused the message")
        with contextlib.suppress(Exception):
            conn.quit()

    def _smtp_auth(self, conn: smtplib.SMTP, where: str, login: Login) -> None:
        if login.mechanism == "none":
            return
        assert login.secret is not None
        try:
            if login.mechanism == "password":
                conn.login(login.user, login.secret.reveal())
            else:
                conn.ehlo_or_helo_if_needed()
                text = login.xoauth2()

                def xoauth2(challenge: bytes | None = None) -> str:
                    return text if challenge is None else ""

                conn.auth("XOAUTH2", xoauth2, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentDeliveryError(
                f"{where} refused the login of the user in ${login.source} "
                f"({exc.smtp_code} {_smtp_text(exc.smtp_error)})"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise PermanentDeliveryError(
                f"{where} offers no login; set `auth: none` or use `security: starttls`/`tls`"
            ) from None
        except smtplib.SMTPException as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected):
                raise TransientDeliveryError(f"{where} dropped the connection at login") from None
            raise PermanentDeliveryError(f"{where}: login failed ({exc})") from None


def _addr(message: EmailMessage, header: str) -> str | None:
    value = message.get(header)
    addresses = getattr(value, "addresses", ()) if value is not None else ()
    return str(addresses[0].addr_spec) if addresses else None


def _close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        conn.close()


def _smtp_text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:200]


def _imap_text(value: object) -> str:
    if isinstance(value, list):
        value = b" ".join(v if isinstance(v, bytes) else str(v).encode() for v in value if v)
    if isinstance(value, BaseException):
        value = value.args[0] if value.args else type(value).__name__
    return _smtp_text(value if isinstance(value, (bytes, str)) else str(value))


def _smtp_refusal(code: int, text: bytes | str, what: str) -> Exception:
    message = f"{what}: {code} {_smtp_text(text)}"
    if 400 <= code < 500:
        return TransientDeliveryError(message)
    return PermanentDeliveryError(message)


def _failure(exc: BaseException, what: str) -> Exception:
    if isinstance(exc, (PermanentDeliveryError, TransientDeliveryError)):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentDeliveryError(f"{what}: the server's TLS certificate was not trusted")
    if isinstance(exc, socket.timeout):
        return TransientDeliveryError(f"{what}: timed out")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _smtp_refusal(exc.smtp_code, exc.smtp_error, what)
    if _transient(exc):
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        return TransientDeliveryError(f"{what}: {reason}")
    return PermanentDeliveryError(f"{what}: {type(exc).__name__}")


def _login(config: PluginConfig, server: ServerSettings, section_name: str) -> Login:
    if server.auth == "none":
        return Login("none")
    env = config.env
    user = env.get(server.user_env, "").strip()
    secret_name = server.token_env if server.auth == "xoauth2" else server.password_env
    secret = config.secret(None, "", secret_name)
    missing = [n for n, v in ((server.user_env, user), (secret_name, secret)) if not v]
    if missing:
        from ..errors import MissingSecretError

        what = "an OAuth access token" if server.auth == "xoauth2" else "the login"
        names = " and ".join(missing)
        verb = "is" if len(missing) == 1 else "are"
        raise MissingSecretError(
            f"environment variable{'s' if len(missing) > 1 else ''} {names} {verb} not set; "
            f"{'it holds' if len(missing) == 1 else 'they hold'} {what} for {server.host} "
            "(or set `auth: none`)",
            where=section_name,
            field=f"email.{server.protocol}",
        )
    assert secret is not None
    return Login(server.auth, user=user, secret=secret, source=f"{server.user_env}/{secret_name}")


def transport_from_config(config: PluginConfig) -> ImapSmtpTransport | None:
    """The transport the ``email:`` section describes, or None when it names no server."""
    section = config.root.get_section("email")
    settings = email_settings_from_config(section)
    if not settings.configured:
        return None
    where = settings.where
    mailboxes = {}
    for box in settings.mailboxes:
        server = settings.imap or settings.smtp
        assert server is not None
        own = attrs.evolve(
            server,
            auth=box.auth,
            user_env=box.user_env,
            password_env=box.password_env,
            token_env=box.token_env,
        )
        mailboxes[box.address] = _login(config, own, box.where)
    return ImapSmtpTransport(
        settings,
        smtp_login=_login(config, settings.smtp, where) if settings.smtp else None,
        imap_login=_login(config, settings.imap, where) if settings.imap else None,
        mailboxes=mailboxes,
    )


@hookimpl
def register_mail_transports(
    register: Callable[[MailTransport], None], config: PluginConfig
) -> None:
    transport = transport_from_config(config)
    if transport is not None:
        register(cast(MailTransport, transport))
