"""Conversation history through python-intercom's search, one page at a time.

Three facts about python-intercom 5.0.1 shape this module:

* iterating the pager ``conversations.search`` returns asks for page 1 again
  and again (its ``get_next`` reuses the first request's pagination), so we
  page by hand on ``pages.next.starting_after``;
* its ``max_retries`` option is off by two (3 gives one retry), so it stays at
  0 and retries are ours, with tenacity: rate limits (429), timeouts and 5xx,
  honouring ``Retry-After`` (or ``X-RateLimit-Reset``) up to a cap;
* its models are built without validation, so a malformed page would come
  through silently; we check the shape and fail with a clear error instead.

Each :class:`~ticketspike.BackfillPage` carries a cursor that resumes after
it, so an interrupted backfill picks up where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import httpx
import pydantic
import tenacity
from intercom import Intercom
from intercom.core.api_error import ApiError
from intercom.types import SingleFilterSearchRequest, StartingAfterPaging

from ticketspike import (
    BackfillPage,
    ConfigError,
    EventKind,
    InputError,
    InvalidTicket,
    Secret,
    TicketEvent,
    TicketspikeError,
    Unmatched,
)

from .customers import CustomerResolver, Resolution
from .mapping import SOURCE_NAME, unix_time
from .retries import retry_after as _retry_after
from .retries import transient as _transient
from .settings import IntercomSettings

__all__ = ["ConversationSearch", "IntercomApiError", "decode_cursor", "encode_cursor"]

log = logging.getLogger("ticketspike_intercom")

WHERE = "intercom backfill"
_CURSOR_TAG = "ic1"


class IntercomApiError(TicketspikeError):
    """The Intercom API failed or answered with something unusable.

    ``status`` is the HTTP status when there was one. The message never
    includes the token or the response body (it may quote customer text).
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(f"{WHERE}: {message}")


class _MalformedPage(Exception):
    pass


def encode_cursor(since: int, starting_after: str) -> str:
    """A resumable cursor: Intercom's ``starting_after`` is only valid for the
    query that produced it, so the query's start travels with it."""
    return f"{_CURSOR_TAG}:{since}:{starting_after}"


def decode_cursor(cursor: str) -> tuple[int, str]:
    """``(since, starting_after)`` from :func:`encode_cursor`; InputError otherwise."""
    tag, _, rest = cursor.partition(":")
    since, _, after = rest.partition(":")
    if tag != _CURSOR_TAG or not since.isdigit() or not after:
        raise InputError(
            "not a cursor this Intercom source wrote (expected 'ic1:<since>:<starting_after>')",
            where=WHERE,
            field="cursor",
        )
    return int(since), after


def _get(obj: object, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    if isinstance(obj, pydantic.BaseModel):  # an SDK model
        return getattr(obj, name, None)
    raise _MalformedPage(f"expected an object holding {name!r}, got {type(obj).__name__}")


def _plain(item: object) -> dict[str, Any]:
    """The conversation as plain JSON, whatever the SDK made of it."""
    if isinstance(item, Mapping):
        return dict(item)
    if isinstance(item, pydantic.BaseModel):
        # warnings=False: the SDK builds models unvalidated, so odd field types are
        # expected here and reported by the mapping, not as pydantic warnings.
        plain = item.model_dump(by_alias=True, exclude_none=True, warnings=False)
        if isinstance(plain, dict):
            return plain
    raise _MalformedPage(f"expected conversation objects, got {type(item).__name__}")


class ConversationSearch:
    """Backfill pages from Intercom's conversation search.

    :param settings: the validated ``plugins.intercom`` section.
    :param token: the access token (``None`` fails on first use, naming the variable).
    :param sleep: how to wait between retries (tests pass a recorder).
    :param clock: unix time, for ``X-RateLimit-Reset``; only read when retrying.
    """

    def __init__(
        self,
        *,
        settings: IntercomSettings,
        token: Secret | None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        resolver: CustomerResolver | None = None,
    ) -> None:
        self.settings = settings
        self._token = token
        self._sleep = sleep
        self._clock = clock
        self.resolver = resolver or CustomerResolver(settings, None)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        cap = self.settings.max_retry_wait
        exc = state.outcome.exception() if state.outcome is not None else None
        hinted = _retry_after(exc, self._clock) if exc is not None else None
        if hinted is not None:
            return min(hinted, cap)
        backoff = tenacity.wait_exponential(multiplier=0.5, max=cap)
        return float(backoff(state))

    def _search(
        self, client: Intercom, since: int, starting_after: str | None
    ) -> tuple[list[dict[str, Any]], str | None, int | None]:
        query = SingleFilterSearchRequest(field="created_at", operator=">", value=since)
        paging = StartingAfterPaging(
            per_page=self.settings.page_size, starting_after=starting_after
        )
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(_transient),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            pager = retrying(
                client.conversations.search,
                query=query,
                pagination=paging,
                request_options={"max_retries": 0},
            )
        except ApiError as exc:
            raise self._api_error(exc) from None
        except httpx.TransportError as exc:
            raise IntercomApiError(
                f"cannot reach Intercom at {self.settings.base_url} "
                f"({type(exc).__name__}) after {self.settings.max_attempts} attempt(s)"
            ) from None
        except (TypeError, ValueError, AttributeError) as exc:
            # The SDK fails this way when the page is JSON of the wrong shape
            # (a list, or a 'pages' that is not an object).
            raise IntercomApiError(
                "malformed search page: not the documented conversation.list shape "
                f"({type(exc).__name__})"
            ) from None
        try:
            response = pager.response
            items = _get(response, "conversations")
            if not isinstance(items, list):
                raise _MalformedPage("'conversations' is missing or not a list")
            after = _get(_get(_get(response, "pages"), "next"), "starting_after")
            if after is not None and not isinstance(after, str):
                raise _MalformedPage("'pages.next.starting_after' is not a string")
            total = _get(response, "total_count")
            conversations = [_plain(item) for item in items]
        except _MalformedPage as exc:
            page = f"after cursor {starting_after!r}" if starting_after else "first page"
            raise IntercomApiError(f"malformed search page ({page}): {exc}") from None
        return conversations, after or None, total if isinstance(total, int) else None

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        status = getattr(exc, "status_code", None)
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.info(
            "intercom search: attempt %d failed (%s), retrying in %.1f s",
            state.attempt_number,
            status or type(exc).__name__,
            wait,
        )

    def _api_error(self, exc: ApiError) -> IntercomApiError:
        status = exc.status_code
        if status is not None and 200 <= status < 300:
            return IntercomApiError("malformed search page: the body is not JSON", status=status)
        if status == 401:
            return IntercomApiError(
                f"Intercom refused the access token in ${self.settings.access_token_env} "
                "(401 Unauthorized)",
                status=status,
            )
        if status == 403:
            return IntercomApiError(
                "the access token may not read conversations (403 Forbidden); grant the app "
                "the 'Read conversations' permission",
                status=status,
            )
        if status == 429:
            return IntercomApiError(
                f"still rate limited (429) after {self.settings.max_attempts} attempt(s); "
                "resume later with the last cursor",
                status=status,
            )
        code = ""
        errors = exc.body.get("errors") if isinstance(exc.body, Mapping) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            raw_code = errors[0].get("code")
            if isinstance(raw_code, str) and raw_code.isidentifier():
                code = f" ({raw_code})"
        return IntercomApiError(
            f"conversation search failed with HTTP {status}{code}", status=status
        )

    def events(self, conversation: Mapping[str, Any]) -> list[TicketEvent] | Unmatched:
        """A conversation's created (and, if closed, resolved) events, or why it has no customer."""
        ticket = self.resolver.ticket(
            conversation, app_id=self.settings.app_id, where="conversation"
        )
        if isinstance(ticket, Resolution):
            return Unmatched(
                source=SOURCE_NAME,
                record_id=str(conversation.get("id")),
                reason=f"no customer: {ticket.reason}",
                payload={"conversation": dict(conversation)},
            )
        events = [TicketEvent(ticket=ticket, kind=EventKind.CREATED, occurred_at=ticket.created_at)]
        if conversation.get("state") == "closed" or conversation.get("open") is False:
            closed = ticket.created_at
            statistics = conversation.get("statistics")
            for raw in (
                statistics.get("last_close_at") if isinstance(statistics, Mapping) else None,
                conversation.get("updated_at"),
            ):
                try:
                    closed = max(
                        unix_time(raw, where=WHERE, field="last_close_at"), ticket.created_at
                    )
                    break
                except InvalidTicket:
                    continue
            events.append(TicketEvent(ticket=ticket, kind=EventKind.RESOLVED, occurred_at=closed))
        return events

    def pages(self, *, since: datetime, cursor: str | None = None) -> Iterator[BackfillPage]:
        """Yield pages of conversations created at or after ``since``.

        With ``cursor`` (from an earlier page), resume right after that page;
        the cursor's own start time wins over ``since``, because Intercom's
        paging token is only valid for the query that made it.
        """
        if self._token is None:
            raise ConfigError(
                f"no access token: set ${self.settings.access_token_env} to an Intercom "
                "access token with 'Read conversations'",
                field="plugins.intercom.access_token_env",
            )
        if cursor:
            start, starting_after = decode_cursor(cursor)
            after: str | None = starting_after
        else:
            if since.tzinfo is None or since.utcoffset() is None:
                raise InputError(
                    "naive datetime: give --since with an offset such as Z",
                    where=WHERE,
                    field="since",
                )
            start = int(since.astimezone(timezone.utc).timestamp())
            after = None
        seen: set[str] = set()
        with httpx.Client(timeout=self.settings.timeout) as http:
            client = Intercom(
                token=self._token.reveal(),
                base_url=self.settings.base_url,
                headers={"Intercom-Version": self.settings.api_version},
                httpx_client=http,
            )
            while True:
                conversations, next_after, total = self._search(client, start, after)
                events: list[TicketEvent] = []
                aside: list[Unmatched] = []
                skipped = 0
                for conversation in conversations:
                    conversation_id = str(conversation.get("id", ""))
                    if conversation_id and conversation_id in seen:
                        continue  # search pages can shift while we read them
                    try:
                        mapped = self.events(conversation)
                    except InvalidTicket as exc:
                        skipped += 1
                        log.warning("intercom backfill: skipped a conversation: %s", exc)
                        continue
                    if isinstance(mapped, Unmatched):
                        aside.append(mapped)
                    else:
                        events.extend(mapped)
                    seen.add(conversation_id)
                log.debug(
                    "intercom backfill: page with %d conversations (total %s)",
                    len(conversations),
                    total,
                )
                done = next_after is None
                yield BackfillPage(
                    events=tuple(events),
                    cursor=None if done else encode_cursor(start, next_after or ""),
                    done=done,
                    skipped=skipped,
                    unmatched=tuple(aside),
                )
                if done:
                    return
                after = next_after
