"""The ``email:`` section: who the acknowledgement comes from, and the IMAP and SMTP servers.

::

    email:
      from: "Acme Customer Success <success@acme.example>"  # the shared sender
      reply_to_csm: true        # From the shared sender, Reply-To the CSM
      html: false               # add a text/html alternative to the plain text
      send_attempts: 5          # tries of an approved send before giving up (approval kept)
      smtp: {host: smtp.gmail.com, port: 587, security: starttls}
      imap: {host: imap.gmail.com, port: 993, security: tls,
             drafts_folder: "[Gmail]/Drafts", sent_folder: "[Gmail]/Sent Mail"}

Credentials never live in the file: each server section names the environment variables
that hold them (``user_env``, ``password_env``, ``token_env``), defaulting to
``TICKETSPIKE_SMTP_USER``/``TICKETSPIKE_SMTP_PASSWORD`` (``TICKETSPIKE_SMTP_TOKEN`` for
``auth: xoauth2``) and the ``TICKETSPIKE_IMAP_*`` equivalents.
"""

from __future__ import annotations

import re

import attrs

from ..configfile import Section

__all__ = ["EmailSettings", "MailboxLogin", "ServerSettings", "email_settings_from_config"]

SECURITY = ("none", "starttls", "tls")
AUTH = ("password", "xoauth2", "none")
_DEFAULT_PORTS = {
    "smtp": {"none": 25, "starttls": 587, "tls": 465},
    "imap": {"none": 143, "starttls": 143, "tls": 993},
}
_HOST = re.compile(r"^[A-Za-z0-9._:\[\]-]{1,253}$")
_ADDRESS = re.compile(r"^[^\s@<>\"(),;:\\\[\]]+@[A-Za-z0-9.-]+$")


@attrs.frozen(kw_only=True)
class ServerSettings:
    """One mail server: where it is, how the connection is secured, and where the login is.

    ``user_env``, ``password_env`` and ``token_env`` are names of environment variables.
    """

    protocol: str  # "smtp" or "imap"
    host: str
    port: int
    security: str = "starttls"
    auth: str = "password"
    user_env: str = ""
    password_env: str = ""
    token_env: str = ""
    timeout: float = 30.0
    drafts_folder: str = "Drafts"
    sent_folder: str | None = None


@attrs.frozen(kw_only=True)
class MailboxLogin:
    """A CSM's own mailbox (``email.mailboxes``): drafts for them land there, and mail From
    them is sent with this login. The same login serves IMAP and SMTP (as with Gmail and
    Microsoft 365 accounts).
    """

    address: str
    auth: str = "password"
    user_env: str = ""
    password_env: str = ""
    token_env: str = ""
    where: str = "email.mailboxes"


@attrs.frozen(kw_only=True)
class EmailSettings:
    """The validated ``email:`` section (see the module docstring)."""

    from_addr: str | None = None
    reply_to_csm: bool = False
    html: bool = False
    send_attempts: int | None = None
    smtp: ServerSettings | None = None
    imap: ServerSettings | None = None
    mailboxes: tuple[MailboxLogin, ...] = ()
    where: str = "email"

    @property
    def configured(self) -> bool:
        """Whether a server is configured (the built-in transport serves then)."""
        return self.smtp is not None or self.imap is not None


def _folder(section: Section, key: str, default: str | None) -> str | None:
    name = section.get_str(key, default)
    if name is None:
        return None
    if not name.strip() or not name.isascii() or any(ch in name for ch in '\r\n\0"\\'):
        raise section.error(
            key, "expected a folder name of printable ASCII without quotes or backslashes"
        )
    return name


def _server(section: Section, protocol: str) -> ServerSettings:
    allowed = {"host", "port", "security", "auth", "user_env", "password_env", "token_env"}
    allowed.add("timeout")
    if protocol == "imap":
        allowed |= {"drafts_folder", "sent_folder"}
    section.check_keys(allowed)
    host = section.get_str("host", required=True) or ""
    if not _HOST.match(host):
        raise section.error("host", f"expected a host name or address, got {host!r}")
    default_security = "tls" if protocol == "imap" else "starttls"
    security = section.get_str("security", default_security, choices=SECURITY) or default_security
    port = section.get_int("port", _DEFAULT_PORTS[protocol][security], minimum=1, maximum=65535)
    auth = section.get_str("auth", "password", choices=AUTH) or "password"
    prefix = f"TICKETSPIKE_{protocol.upper()}_"
    names = {}
    for key, default in (
        ("user_env", prefix + "USER"),
        ("password_env", prefix + "PASSWORD"),
        ("token_env", prefix + "TOKEN"),
    ):
        value = section.get_str(key, default) or default
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise section.error(key, "expected the name of an environment variable")
        names[key] = value
    timeout = section.get_float("timeout", 30.0, minimum=0.1, maximum=600.0) or 30.0
    drafts_folder = _folder(section, "drafts_folder", "Drafts") or "Drafts"
    sent_folder = _folder(section, "sent_folder", None)
    return ServerSettings(
        protocol=protocol,
        host=host,
        port=int(port or 0),
        security=security,
        auth=auth,
        timeout=timeout,
        user_env=names["user_env"],
        password_env=names["password_env"],
        token_env=names["token_env"],
        drafts_folder=drafts_folder,
        sent_folder=sent_folder,
    )


def email_settings_from_config(section: Section | None) -> EmailSettings:
    """Validate the ``email:`` section (``None``: no e-mail servers, drafts stay files)."""
    if section is None:
        return EmailSettings()
    section.check_keys(
        {"from", "reply_to_csm", "html", "send_attempts", "smtp", "imap", "mailboxes"}
    )
    sender = section.get_str("from")
    if sender is not None:
        address = sender.rpartition("<")[2].rstrip(">").strip() if "<" in sender else sender
        if "\r" in sender or "\n" in sender or not _ADDRESS.match(address.strip()):
            raise section.error("from", f"expected an e-mail address, got {sender!r}")
    reply_to_csm = bool(section.get_bool("reply_to_csm", False))
    if reply_to_csm and sender is None:
        raise section.error(
            "reply_to_csm", "needs `from:` (the shared sender the CSM's Reply-To goes with)"
        )
    smtp = section.get_section("smtp")
    imap = section.get_section("imap")
    return EmailSettings(
        from_addr=sender,
        reply_to_csm=reply_to_csm,
        html=bool(section.get_bool("html", False)),
        send_attempts=section.get_int("send_attempts", None, minimum=1, maximum=20),
        smtp=_server(smtp, "smtp") if smtp is not None else None,
        imap=_server(imap, "imap") if imap is not None else None,
        mailboxes=_mailboxes(section),
        where=section.where(),
    )


def _env_name(section: Section, key: str) -> str:
    value = section.get_str(key, required=key == "user_env") or ""
    if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise section.error(key, "expected the name of an environment variable")
    return value


def _mailboxes(section: Section) -> tuple[MailboxLogin, ...]:
    found: list[MailboxLogin] = []
    seen: set[str] = set()
    for index, item in enumerate(section.get_list("mailboxes")):
        if not isinstance(item, Section):
            raise section.error("mailboxes", f"item {index}: expected a mapping")
        item.check_keys({"address", "auth", "user_env", "password_env", "token_env"})
        address = (item.get_str("address", required=True) or "").strip()
        if not _ADDRESS.match(address):
            raise item.error("address", f"expected an e-mail address, got {address!r}")
        if address.lower() in seen:
            raise item.error("address", f"{address} is listed twice")
        seen.add(address.lower())
        auth = item.get_str("auth", "password", choices=("password", "xoauth2")) or "password"
        secret_key = "token_env" if auth == "xoauth2" else "password_env"
        if item.get_str(secret_key) is None:
            raise item.error(None, f"missing required key {secret_key!r} (auth: {auth})")
        found.append(
            MailboxLogin(
                address=address,
                auth=auth,
                user_env=_env_name(item, "user_env"),
                password_env=_env_name(item, "password_env"),
                token_env=_env_name(item, "token_env"),
                where=item.where(),
            )
        )
    if found and section.get_section("smtp") is None and section.get_section("imap") is None:
        raise section.error("mailboxes", "needs `smtp` or `imap` (the servers they log in to)")
    return tuple(found)
