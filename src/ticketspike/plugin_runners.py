"""Running plugin code (a language-model analyzer, say) within a time budget.

This is the threaded side of text analysis, kept next to the plugin manager and out of
the pure :mod:`ticketspike.text` package: :func:`classify_with_fallback` and
:func:`analyze_with_fallback` ask the first registered classifier or theme analyzer and
fall back to the built-in (pure) one.

Theme analysis and classification may be served by a plugin that calls a
remote model; a slow or broken one must never hold up detection or an alert.
The plugin runs in a daemon worker thread and the caller waits at most the
budget. A plugin that overruns is abandoned, not killed (Python threads
cannot be), which is why the thread is a daemon: it can never keep the
process alive. The caller then uses the built-in analyzer.

What is logged names the plugin and the kind of failure only: an exception
message from a plugin may quote the ticket text it was given, and ticket
text must never reach a log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import attrs

from .model import Ticket
from .signals import Classification, Theme
from .text.classify import DEFAULT_CLASSIFIER, NaiveBayesClassifier, safe_reason
from .text.themes import StatisticalThemeAnalyzer, sanitize_theme

__all__ = [
    "FallbackClassifier",
    "Outcome",
    "analyze_with_fallback",
    "call_with_budget",
    "classify_with_fallback",
    "warn_fallback",
]

T = TypeVar("T")

log = logging.getLogger("ticketspike.analysis")


@attrs.frozen
class Outcome(Generic[T]):
    """What a budgeted call produced: ``value`` when ``ok``, else why it failed."""

    ok: bool
    value: T | None = None
    failure: str = ""


def call_with_budget(fn: Callable[[], T], *, budget_seconds: float | None, what: str) -> Outcome[T]:
    """Run ``fn`` in a worker thread and wait at most ``budget_seconds``.

    ``None`` means no budget (run inline). Never raises for ``fn``'s sake:
    an exception or an overrun comes back as ``Outcome(ok=False)`` and is
    logged as a warning naming ``what`` and the exception type only.
    """
    if budget_seconds is None:
        try:
            return Outcome(ok=True, value=fn())
        except Exception as exc:  # noqa: BLE001 - plugin code may fail any way
            return _failed(what, f"raised {type(exc).__name__}")

    box: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            errors.append(exc)

    worker = threading.Thread(target=run, name=f"ticketspike-{what}", daemon=True)
    worker.start()
    worker.join(max(0.0, budget_seconds))
    if worker.is_alive():
        return _failed(what, f"did not answer within {budget_seconds:g}s")
    if errors:
        return _failed(what, f"raised {type(errors[0]).__name__}")
    return Outcome(ok=True, value=box[0])


def _failed(what: str, failure: str) -> Outcome[T]:
    warn_fallback(what, failure)
    return Outcome(ok=False, failure=failure)


def warn_fallback(what: str, failure: str) -> None:
    """Log that ``what`` failed and the built-in answers instead (no ticket text)."""
    log.warning("%s %s; using the built-in one instead", what, failure)


@attrs.frozen
class FallbackClassifier:
    """A :class:`~ticketspike.roles.Classifier` that asks a plugin within a budget.

    Wraps what :meth:`ticketspike.Plugins.classifiers` returns; see
    :func:`classify_with_fallback`. Hand it to :func:`categorize`.
    """

    classifiers: tuple[Any, ...]
    budget_seconds: float | None = 2.0
    name: str = "fallback"

    def classify(self, ticket: Ticket) -> Classification:
        return classify_with_fallback(self.classifiers, ticket, budget_seconds=self.budget_seconds)


def _builtin(classifiers: Sequence[Any]) -> NaiveBayesClassifier:
    for c in reversed(classifiers):
        if isinstance(c, NaiveBayesClassifier):
            return c
    return DEFAULT_CLASSIFIER


def classify_with_fallback(
    classifiers: Sequence[Any], ticket: Ticket, *, budget_seconds: float | None = 2.0
) -> Classification:
    """The first classifier's answer, or the built-in one's on error, overrun or abstention.

    Mirrors :func:`analyze_with_fallback`: the first
    (plugin) classifier runs in a worker thread for at most
    ``budget_seconds``; failures are logged naming the classifier, never the
    ticket text. A plugin answer must be a :class:`~ticketspike.Classification`
    with a confidence in [0, 1].
    """
    builtin = _builtin(classifiers)
    if ticket.category_given:
        return builtin.classify(ticket)
    first = classifiers[0] if classifiers else builtin
    if isinstance(first, NaiveBayesClassifier):
        return first.classify(ticket)
    name = getattr(first, "name", type(first).__name__)
    what = f"classifier {name!r}"
    outcome = call_with_budget(
        lambda: first.classify(ticket), budget_seconds=budget_seconds, what=what
    )
    if outcome.ok:
        answer = outcome.value
        if isinstance(answer, Classification) and 0.0 <= answer.confidence <= 1.0:
            return Classification(answer.category, answer.confidence, safe_reason(answer))
        if answer is not None:
            warn_fallback(what, "returned something other than a Classification")
    return builtin.classify(ticket)


def _fallback_analyzer(analyzers: Sequence[Any]) -> Any:
    for analyzer in reversed(analyzers):
        if isinstance(analyzer, StatisticalThemeAnalyzer):
            return analyzer
    return StatisticalThemeAnalyzer()


def analyze_with_fallback(
    analyzers: Sequence[Any],
    window: Sequence[Ticket],
    baseline: Sequence[Ticket],
    *,
    limit: int = 5,
    budget_seconds: float | None = 5.0,
) -> list[Theme]:
    """Themes from the first analyzer, or the built-in one if it fails or overruns.

    ``analyzers`` is what :meth:`ticketspike.Plugins.theme_analyzers` returns
    (third-party first, built-ins last). The first one runs in a worker
    thread for at most ``budget_seconds``; if it raises, overruns, or returns
    something that is not a list of :class:`~ticketspike.Theme`, a warning
    is logged (naming the analyzer, never the ticket text) and the built-in
    statistical analyzer answers, with its configured settings when it is
    among ``analyzers``. A plugin's phrases are cleaned like ticket text.
    """
    fallback = _fallback_analyzer(analyzers)
    first = analyzers[0] if analyzers else fallback
    if first is fallback or isinstance(first, StatisticalThemeAnalyzer):
        return list(first.analyze(window, baseline, limit=limit))
    win, base = tuple(window), tuple(baseline)  # a plugin gets its own copies
    name = getattr(first, "name", type(first).__name__)
    outcome = call_with_budget(
        lambda: first.analyze(win, base, limit=limit),
        budget_seconds=budget_seconds,
        what=f"theme analyzer {name!r}",
    )
    if outcome.ok:
        themes = _plugin_themes(outcome.value)
        if themes is not None:
            return themes[: max(0, limit)]
        warn_fallback(f"theme analyzer {name!r}", "returned something other than themes")
    return list(fallback.analyze(window, baseline, limit=limit))


def _plugin_themes(value: object) -> list[Theme] | None:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        return None
    cleaned = [sanitize_theme(t) for t in value]
    if any(t is None for t in cleaned):
        return None
    return [t for t in cleaned if t is not None]
