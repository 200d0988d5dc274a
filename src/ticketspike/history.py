"""History and second chances: backfill from a source, and re-resolving unmatched records.

Both feed old tickets through the same batches as live ingest
(:meth:`~ticketspike.pipeline.IngestPipeline._ingest_batch`), so the detector warms up on
them; a transition older than the detection window is recorded as suppressed ("historical"),
so nobody is paged about last month's spike while one still under way alerts as usual.
Usage is in ``docs/cli.md`` (``ticketspike backfill``, ``ticketspike unmatched``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from . import metrics
from .errors import InputError, PluginError, TicketspikeError
from .pipeline import Counts
from .unmatched import ResolvesUnmatched, Unmatched

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from .config import Config
    from .executor import Executor
    from .model import TicketEvent
    from .monitor import SpikeMonitor
    from .roles import TicketSource
    from .store.base import Store

__all__ = ["BackfillReport", "History", "ReResolveReport"]


@attrs.frozen
class BackfillReport:
    """What a backfill stored: pages, events, and where it would resume."""

    source: str
    pages: int
    events: int
    stored: int
    skipped: int
    cursor: str | None
    done: bool
    resumed: bool
    refused: tuple[str, ...] = ()
    unmatched: int = 0  # kept aside without a customer (``ticketspike unmatched``)


@attrs.frozen
class ReResolveReport:
    """What a re-resolve did: records tried, resolved (and counted), still unmatched."""

    tried: int
    resolved: int
    still_unmatched: int
    skipped_sources: tuple[str, ...] = ()


def _count_page(source: str, received: int, before: tuple[int, int, int], counts: Counts) -> None:
    """Ticket counters (``/metrics``) for one backfill page: what it added to ``counts``."""
    metrics.tickets(
        source,
        received=received,
        stored=counts.stored - before[0],
        updated=counts.updated - before[1],
        duplicates=counts.duplicates - before[2],
    )


class History:
    """The backfill and re-resolve part of :class:`~ticketspike.engine.Engine` (mixed in)."""

    store: Store
    config: Config
    clock: Callable[[], datetime]
    monitor: SpikeMonitor
    executor: Executor
    execute_inline: bool
    sources: dict[str, TicketSource]
    _batch: Callable[[], AbstractContextManager[Any]]
    _watch_from: Callable[..., None]
    _ingest_batch: Callable[..., None]
    _release_held: Callable[..., None]

    def backfill(
        self,
        source: str,
        *,
        since: datetime,
        now: datetime | None = None,
        on_page: Callable[[int, int], None] | None = None,
    ) -> BackfillReport:
        """Load history from a source plugin's ``backfill``, resumably.

        Pages are stored idempotently, each in one transaction together with the source's
        cursor, so an interrupted backfill resumes after the last stored page (for the same
        ``since``). History warms up the detector; transitions older than the detection
        window are recorded as suppressed (nobody is paged about last month's spike), while
        a spike still under way alerts as usual.
        """
        plugin = self.sources.get(source)
        if plugin is None:
            known = ", ".join(sorted(self.sources)) or "none"
            raise InputError(
                f"unknown ticket source {source!r} (installed: {known})", where="backfill"
            )
        now = now or self.clock()
        window = timedelta(hours=self.config.detection.window_hours)
        name = f"backfill:{source}"
        saved = self.store.get_cursor(name)
        cursor: str | None = None
        resumed = False
        if saved is not None:
            since_text, _, saved_cursor = saved.partition("|")
            if since_text == since.isoformat() and saved_cursor:
                cursor, resumed = saved_cursor, True
        counts = Counts()
        pages = events = skipped = unmatched = 0
        done = False
        try:
            iterator = plugin.backfill(since=since, cursor=cursor)
            for page in iterator:
                pages += 1
                events += len(page.events)
                skipped += page.skipped
                unmatched += len(page.unmatched)
                page_cursor = page.cursor if page.cursor is not None else cursor
                value = f"{since.isoformat()}|{page_cursor or ''}"

                def save(value: str = value, aside: tuple[Any, ...] = page.unmatched) -> None:
                    for item in aside:
                        self.store.put_unmatched(item, at=now)
                    self.store.set_cursor(name, value, at=now)

                ordered = sorted(page.events, key=_event_time)
                if self.monitor.watching_since is None:
                    with self._batch():
                        self._watch_from(ordered, since)  # the backfill counts as history
                before = (counts.stored, counts.updated, counts.duplicates)
                self._ingest_batch(
                    ordered, now=now, counts=counts, suppress_before=now - window, also=save
                )
                _count_page(source, len(ordered), before, counts)
                cursor = page_cursor
                done = page.done
                if on_page is not None:
                    on_page(pages, events)
                if page.done:
                    break
        except TicketspikeError:
            raise
        except Exception as exc:
            raise PluginError(
                f"backfill failed: {type(exc).__name__}: {exc}", plugin=source
            ) from exc
        self._release_held(counts)
        if self.execute_inline and counts.plans:
            self.executor.run_pending()
        return BackfillReport(
            source=source,
            pages=pages,
            events=events,
            stored=counts.stored,
            skipped=skipped,
            cursor=cursor,
            done=done,
            resumed=resumed,
            refused=tuple(counts.refused),
            unmatched=unmatched,
        )

    def re_resolve(self, *, now: datetime | None = None) -> ReResolveReport:
        """Ask each source again about the records it could not tie to a customer.

        A record that now resolves is stored and counted like any delivery (history older
        than the detection window stays suppressed, as in a backfill) and leaves the
        unmatched list in the same transaction; one that still does not keeps its place
        with the source's new reason.
        """
        now = now or self.clock()
        window = timedelta(hours=self.config.detection.window_hours)
        counts = Counts()
        tried = resolved = 0
        skipped: set[str] = set()
        for record in self.store.unmatched():
            plugin = self.sources.get(record.source)
            if not isinstance(plugin, ResolvesUnmatched):
                skipped.add(record.source)
                continue
            tried += 1
            outcome = plugin.resolve_unmatched(record.payload)
            if isinstance(outcome, Unmatched):
                self.store.put_unmatched(outcome, at=now)
                continue

            def drop(source: str = record.source, record_id: str = record.record_id) -> None:
                self.store.drop_unmatched(source, record_id)

            ordered = sorted(outcome, key=_event_time)
            self._ingest_batch(
                ordered, now=now, counts=counts, suppress_before=now - window, also=drop
            )
            resolved += 1
        self._release_held(counts)
        if self.execute_inline and counts.plans:
            self.executor.run_pending()
        return ReResolveReport(
            tried=tried,
            resolved=resolved,
            still_unmatched=len(self.store.unmatched()),
            skipped_sources=tuple(sorted(skipped)),
        )


def _event_time(event: TicketEvent) -> datetime:
    return event.at
