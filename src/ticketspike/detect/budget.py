"""Calling plugin code (a language-model analyzer, say) within a time budget.

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
from collections.abc import Callable
from typing import Generic, TypeVar

import attrs

__all__ = ["Outcome", "call_with_budget", "warn_fallback"]

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
