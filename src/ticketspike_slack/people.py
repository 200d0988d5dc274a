"""Finding the Slack user behind a CSM or a manager.

Order: the ``slack_id`` the account directory gave, then the ``users`` mapping
in ``plugins.slack`` (by e-mail, then by name), then ``users.lookupByEmail``.
Lookups are cached for the life of the notifier: a spike sends several
messages to the same people, and Slack rate-limits lookups (Tier 4).
Someone who cannot be found is a :class:`~ticketspike.PermanentDeliveryError`
for that one action; the rest of the plan goes on.
"""

from __future__ import annotations

import threading

from slack_sdk import WebClient

from ticketspike import PermanentDeliveryError, Recipient

from .failures import guarded
from .settings import SlackSettings

__all__ = ["PeopleDirectory"]


class PeopleDirectory:
    """Resolves a plan :class:`~ticketspike.Recipient` to a Slack user id."""

    def __init__(self, client: WebClient, settings: SlackSettings) -> None:
        self._client = client
        self._settings = settings
        self._by_email: dict[str, str] = {}
        self._lock = threading.Lock()

    def user_id(self, recipient: Recipient) -> str:
        person = recipient.person
        if person is None:
            raise PermanentDeliveryError(
                f"no {recipient.role} is known for this account, so there is nobody to message"
            )
        if person.slack_id:
            return person.slack_id
        mapped = self._settings.user_for(person.email, person.name)
        if mapped:
            return mapped
        who = f"{recipient.role} {person.name!r}" if person.name else recipient.role
        if not person.email:
            raise PermanentDeliveryError(
                f"{who} has no Slack id and no e-mail address; add one to the account "
                "or map them under plugins.slack.users"
            )
        email = person.email.strip().lower()
        with self._lock:
            cached = self._by_email.get(email)
        if cached:
            return cached
        try:
            response = guarded(
                "users.lookupByEmail", lambda: self._client.users_lookupByEmail(email=email)
            )
        except PermanentDeliveryError as exc:
            raise PermanentDeliveryError(f"cannot find {who} ({email}) in Slack: {exc}") from None
        user = response.get("user") or {}
        user_id = user.get("id") if isinstance(user, dict) else None
        if not isinstance(user_id, str) or not user_id:
            raise PermanentDeliveryError(
                f"cannot find {who} ({email}) in Slack: the lookup returned no user id"
            )
        with self._lock:
            self._by_email[email] = user_id
        return user_id
