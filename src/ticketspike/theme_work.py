"""Themes for alerts and reads: what a spike's tickets are about, computed outside batches.

Theme analysis reads every ticket of a customer's window and its baseline, and a plugin
analyzer may take seconds, so it never runs inside a store transaction. A batch that records
a transition only *peeks* at the cache (:class:`~ticketspike._themecache.ThemeCache`); a miss
is noted in the batch's :class:`~ticketspike.pipeline.BatchContext`, the batch is rolled back,
the themes are computed here, and the batch runs again with them (the last attempt records
without). Reads (check-spike, summary, banner) call :meth:`ThemeWork.themes_of`, which
computes on a miss within the analysis budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import attrs

from ._themecache import window_key
from .limits import analysis_prefix
from .plugin_runners import analyze_with_fallback
from .store.ticket_heads import ticket_heads

if TYPE_CHECKING:
    from ._themecache import ThemeCache
    from .config import Config
    from .limits import IngestLimits
    from .model import Ticket
    from .pipeline import BatchContext
    from .roles import ThemeAnalyzer
    from .signals import Assessment, Transition
    from .store.base import Store

__all__ = ["ThemeWork"]


class ThemeWork:
    """The themes part of :class:`~ticketspike.engine.Engine` (mixed in)."""

    store: Store
    config: Config
    limits: IngestLimits
    theme_cache: ThemeCache
    theme_budget: float | None
    analyzers: Sequence[ThemeAnalyzer]

    def _with_themes(self, transition: Transition, ctx: BatchContext | None) -> Transition:
        """The transition with its window's themes, if they are computed already.

        Runs inside a batch's transaction, so it never analyses: a miss is noted in ``ctx``
        and the batch is run again once the themes are computed outside (see
        :meth:`~ticketspike.pipeline.IngestPipeline._retrying`).
        """
        assessment = transition.assessment
        if not assessment.ticket_ids:
            return transition
        key = window_key(assessment)
        phrases = self.theme_cache.peek(key)
        if phrases is None:
            if ctx is not None and not ctx.last_attempt:
                window, baseline = self._window_tickets(assessment)
                ctx.wanted[key] = (
                    assessment.customer_id,
                    analysis_prefix(window, self.limits),
                    analysis_prefix(baseline, self.limits),
                )
            return transition
        if not phrases:
            return transition
        return attrs.evolve(transition, assessment=attrs.evolve(assessment, themes=phrases))

    def _compute_themes(
        self, key: str, customer_id: str, window: list[Ticket], baseline: list[Ticket]
    ) -> tuple[str, ...]:
        """Themes for a window (prefix-capped tickets), cached, within the analysis budget.

        Never called inside a store transaction.
        """
        if not window:
            return ()

        def compute() -> list[str]:
            themes = analyze_with_fallback(
                self.analyzers, window, baseline, limit=5, budget_seconds=self.theme_budget
            )
            return [t.phrase for t in themes]

        found = self.theme_cache.get(key, compute, what=customer_id)
        return () if found is None else found

    def themes_of(self, assessment: Assessment) -> tuple[str, ...]:
        """The themes of an assessment's window: cached per window (a hit reads no ticket),
        else computed outside any transaction within the analysis budget."""
        if not assessment.ticket_ids:
            return ()
        key = window_key(assessment)
        cached = self.theme_cache.peek(key)
        if cached is not None:
            return cached
        window, baseline = self._window_tickets(assessment)
        return self._compute_themes(
            key,
            assessment.customer_id,
            analysis_prefix(window, self.limits),
            analysis_prefix(baseline, self.limits),
        )

    def _window_tickets(self, assessment: Assessment) -> tuple[list[Ticket], list[Ticket]]:
        """The window's tickets and its baseline period's, each body read only as far as
        analysis reads it."""
        start, end = assessment.period_start, assessment.period_end
        days = max(1.0, float(assessment.baseline_days or self.config.detection.baseline_days))
        cut = self.limits.analysis_body_chars
        customer = assessment.customer_id
        window = [
            h.ticket
            for h in ticket_heads(self.store, customer, since=start, until=end, body_chars=cut)
        ]
        since = start - timedelta(days=days)
        baseline = [
            h.ticket
            for h in ticket_heads(self.store, customer, since=since, until=start, body_chars=cut)
        ]
        return window, baseline
