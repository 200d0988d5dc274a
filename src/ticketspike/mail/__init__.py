"""E-mail for the acknowledgement draft: the ``email:`` settings and composing the message.

Pure: nothing here opens a connection or reads the clock. Saving drafts and sending is the
mail transport's job (:class:`~ticketspike.roles.MailTransport`; the built-in one is
:mod:`ticketspike.builtin.mail_transport`), deciding when to send is the engine's
(:mod:`ticketspike.drafts`).
"""

from __future__ import annotations

from .compose import compose_message, header_safe
from .settings import EmailSettings, ServerSettings, email_settings_from_config

__all__ = [
    "EmailSettings",
    "ServerSettings",
    "compose_message",
    "email_settings_from_config",
    "header_safe",
]
