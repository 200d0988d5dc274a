"""Each ticket source's delivery rhythm, and whether its silence is longer than it allows.

Datadog calls it "notify on no data": a webhook that broke looks exactly like a quiet week
unless something knows how often the source usually delivers. This module learns that and
judges a silence; it is pure (every time is a parameter, nothing is read or written).

**What is learned.** Time is cut into ten-minute intervals and each interval falls in one of
the 168 hours of the week (UTC). For every hour of the week the model keeps the share of its
intervals that held at least one delivery, as exponentially decayed counts (half-life
``half_life_days``), so a source that works office hours learns that nights and weekends are
empty, and one that changes its habits is followed. Counting *occupied* intervals, not
deliveries, keeps a burst of a thousand tickets from teaching a rate the source never keeps.

**How a silence is judged.** An hour of the week whose intervals are busy with share ``p``
behaves like a Poisson stream of ``-ln(1 - p)`` deliveries per interval, so the silence since
the last delivery has an *expected* count: the sum of those rates over the intervals it
covers. A silence with expected count ``m`` happens by chance with probability ``exp(-m)``;
the source is ``quiet`` once that chance is below ``chance`` (default one in a million) and
the silence is at least ``min_quiet_minutes``. Night hours add (nearly) nothing to ``m``, so
nights and weekends never look like an outage; the office hours of a busy source add a lot.

A source is judged only once it ``normally delivers``: its deliveries span ``learn_days`` and
number at least ``min_deliveries``. A source never seen, or listed in ``disabled``, is never
judged. ``failing`` is the faster verdict for a broken webhook: deliveries keep arriving but
fail their signature check (``signature_failures`` of them since the last good one) and the
silence is already longer than the source's usual gap.

After a warning, the silent stretch is not learned as rhythm when deliveries resume: an outage
must not teach the model that silence is normal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs

__all__ = [
    "HORIZON_SECONDS",
    "INTERVAL_SECONDS",
    "SLOTS",
    "SourcePolicy",
    "SourceRhythm",
    "Verdict",
    "cleared",
    "expected_deliveries",
    "judge",
    "observe",
    "resumed",
    "source_policy_from_section",
    "time_until",
    "warned",
]

INTERVAL_SECONDS = 600.0  # the resolution of the rhythm: ten minutes
SLOTS = 168  # hours of the week
_WEEK = 7 * 24 * 3600.0
_PER_SLOT = 3600.0 / INTERVAL_SECONDS  # intervals per hour of the week, per week
# The share of busy intervals is capped, so no single interval can make a silence unlikely.
_MAX_SHARE = 0.99
# How far ahead a silence is judged (and how much of a long gap is learned): eight weeks.
HORIZON_SECONDS = 8 * _WEEK
_STATE_VERSION = 1


@attrs.frozen(kw_only=True)
class SourcePolicy:
    """The ``quiet_sources:`` section: when a silent source is worth a warning.

    See the module docstring for what each knob means; the defaults are documented in
    ``docs/configuration.md``.
    """

    enabled: bool = True
    chance: float = 1e-6
    min_quiet_minutes: float = 30.0
    learn_days: float = 7.0
    min_deliveries: int = 50
    half_life_days: float = 28.0
    signature_failures: int = 3
    resumed_note: bool = True
    channel: str = ""
    disabled: frozenset[str] = frozenset()
    max_sources: int = 200

    @property
    def threshold(self) -> float:
        """The expected count a silence must reach: ``-ln(chance)``."""
        return -math.log(self.chance)

    @property
    def decay(self) -> float:
        """The weight an hour of the week keeps per new observation of it."""
        per_half_life = self.half_life_days / 7.0 * _PER_SLOT
        return float(0.5 ** (1.0 / per_half_life))

    def watches(self, source: str) -> bool:
        return self.enabled and source not in self.disabled


@attrs.frozen(kw_only=True)
class SourceRhythm:
    """What is known about one source's deliveries (the JSON form is what the store keeps).

    ``busy[h]`` and ``seen[h]`` are the decayed counts of occupied and observed intervals in
    hour of the week ``h``. ``open_ts`` starts the interval of the latest delivery, which is
    not learned until a later interval begins. ``warned_ts`` and ``quiet_since_ts`` are set
    while a warning stands; ``warnings`` counts the warnings raised (it names the next one).
    """

    source: str
    first_ts: float
    last_ts: float
    open_ts: float
    deliveries: int = 1
    busy: tuple[float, ...] = (0.0,) * SLOTS
    seen: tuple[float, ...] = (0.0,) * SLOTS
    warned_ts: float | None = None
    quiet_since_ts: float | None = None
    warning_reason: str = ""
    warnings: int = 0

    @property
    def warned(self) -> bool:
        return self.warned_ts is not None

    def rate(self, slot: int) -> float:
        """Expected deliveries per interval in hour of the week ``slot``."""
        share = min(_MAX_SHARE, self.busy[slot] / (self.seen[slot] + 1.0))
        return -math.log1p(-share)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": _STATE_VERSION,
            "source": self.source,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "open_ts": self.open_ts,
            "deliveries": self.deliveries,
            "busy": list(self.busy),
            "seen": list(self.seen),
            "warned_ts": self.warned_ts,
            "quiet_since_ts": self.quiet_since_ts,
            "warning_reason": self.warning_reason,
            "warnings": self.warnings,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceRhythm:
        """The rhythm from its JSON form; ``ValueError`` if it is not one this version wrote."""
        if not isinstance(data, Mapping) or data.get("v") != _STATE_VERSION:
            raise ValueError("not a source rhythm of this version")
        busy = tuple(float(x) for x in data["busy"])
        seen = tuple(float(x) for x in data["seen"])
        if len(busy) != SLOTS or len(seen) != SLOTS:
            raise ValueError("a source rhythm needs 168 hours of the week")
        return cls(
            source=str(data["source"]),
            first_ts=float(data["first_ts"]),
            last_ts=float(data["last_ts"]),
            open_ts=float(data["open_ts"]),
            deliveries=int(data["deliveries"]),
            busy=busy,
            seen=seen,
            warned_ts=None if data.get("warned_ts") is None else float(data["warned_ts"]),
            quiet_since_ts=None
            if data.get("quiet_since_ts") is None
            else float(data["quiet_since_ts"]),
            warning_reason=str(data.get("warning_reason") or ""),
            warnings=int(data.get("warnings") or 0),
        )


def _interval(ts: float) -> float:
    return math.floor(ts / INTERVAL_SECONDS) * INTERVAL_SECONDS


def _slot(ts: float) -> int:
    # 1970-01-01 was a Thursday; shift so that slot 0 is Monday 00:00 UTC.
    return int(((ts + 3 * 24 * 3600.0) % _WEEK) // 3600.0)


def observe(
    rhythm: SourceRhythm | None,
    source: str,
    times: Iterable[float],
    *,
    policy: SourcePolicy,
) -> SourceRhythm:
    """The rhythm after deliveries at ``times`` (epoch seconds, any order).

    A delivery in an interval before the open one is late: it counts, but teaches nothing.
    While a warning stands, the silent gap is not learned.
    """
    stamps = sorted(times)
    if not stamps:
        if rhythm is None:
            raise ValueError("observe needs at least one delivery for a new source")
        return rhythm
    if rhythm is None:
        first = stamps[0]
        rhythm = SourceRhythm(
            source=source, first_ts=first, last_ts=first, open_ts=_interval(first)
        )
        stamps = stamps[1:]
    busy = list(rhythm.busy)
    seen = list(rhythm.seen)
    decay = policy.decay
    open_ts = rhythm.open_ts
    last_ts = rhythm.last_ts
    learn_gaps = not rhythm.warned
    for ts in stamps:
        interval = _interval(ts)
        last_ts = max(last_ts, ts)
        if interval <= open_ts:
            continue
        _learn(busy, seen, open_ts, 1.0, decay)
        empty_from = open_ts + INTERVAL_SECONDS
        if learn_gaps:
            _learn_empty(busy, seen, max(empty_from, interval - HORIZON_SECONDS), interval, decay)
        open_ts = interval
    return attrs.evolve(
        rhythm,
        last_ts=last_ts,
        open_ts=open_ts,
        deliveries=rhythm.deliveries + len(stamps),
        first_ts=min(rhythm.first_ts, stamps[0]) if stamps else rhythm.first_ts,
        busy=tuple(busy),
        seen=tuple(seen),
    )


def _learn(busy: list[float], seen: list[float], ts: float, value: float, decay: float) -> None:
    slot = _slot(ts)
    busy[slot] = busy[slot] * decay + value
    seen[slot] = seen[slot] * decay + 1.0


def _learn_empty(
    busy: list[float], seen: list[float], start: float, end: float, decay: float
) -> None:
    """Learn the empty intervals from ``start`` to ``end`` (exclusive), in closed form."""
    if end <= start:
        return
    counts = [0] * SLOTS
    ts = start
    # One step per hour: count the empty intervals each hour of the week receives.
    while ts < end:
        hour_end = math.floor(ts / 3600.0) * 3600.0 + 3600.0
        stop = min(hour_end, end)
        counts[_slot(ts)] += int(round((stop - ts) / INTERVAL_SECONDS))
        ts = stop
    for slot, k in enumerate(counts):
        if k:
            keep = decay**k
            busy[slot] *= keep
            seen[slot] = seen[slot] * keep + (1.0 - keep) / (1.0 - decay)


def expected_deliveries(rhythm: SourceRhythm, start: float, end: float) -> float:
    """How many busy intervals the rhythm expects from ``start`` to ``end`` (at most
    :data:`HORIZON_SECONDS` of it)."""
    end = min(end, start + HORIZON_SECONDS)
    total = 0.0
    ts = start
    while ts < end:
        hour_end = math.floor(ts / 3600.0) * 3600.0 + 3600.0
        stop = min(hour_end, end)
        total += rhythm.rate(_slot(ts)) * (stop - ts) / INTERVAL_SECONDS
        ts = stop
    return total


def time_until(rhythm: SourceRhythm, start: float, target: float) -> float | None:
    """Seconds after ``start`` at which the expected count reaches ``target`` (None: not
    within :data:`HORIZON_SECONDS`, the source has no rhythm to speak of)."""
    total = 0.0
    ts = start
    end = start + HORIZON_SECONDS
    while ts < end:
        hour_end = math.floor(ts / 3600.0) * 3600.0 + 3600.0
        stop = min(hour_end, end)
        per_second = rhythm.rate(_slot(ts)) / INTERVAL_SECONDS
        step = per_second * (stop - ts)
        if total + step >= target and per_second > 0:
            return ts + (target - total) / per_second - start
        total += step
        ts = stop
    return None


@attrs.frozen(kw_only=True)
class Verdict:
    """How a source stands at one instant.

    ``status``: ``disabled``, ``learning`` (not yet known to deliver normally), ``ok``,
    ``quiet`` (silent longer than its rhythm allows) or ``failing`` (deliveries fail their
    signature check). ``expected_gap``: seconds after the last delivery by which one more
    is expected; ``warn_after``: seconds of silence after which it is judged quiet (both
    None when the source has no rhythm yet). ``chance``: the probability of the present
    silence under the rhythm.
    """

    source: str
    status: str
    last_delivery: float | None
    deliveries: int
    expected_gap: float | None
    warn_after: float | None
    silence: float
    chance: float
    failures: int = 0
    warned_ts: float | None = None
    quiet_since_ts: float | None = None

    @property
    def alarming(self) -> bool:
        return self.status in ("quiet", "failing")

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "last_delivery": _iso(self.last_delivery),
            "deliveries": self.deliveries,
            "expected_gap_seconds": _round(self.expected_gap),
            "warn_after_seconds": _round(self.warn_after),
            "silence_seconds": round(self.silence, 1),
            "chance": self.chance,
            "signature_failures": self.failures,
            "warned_at": _iso(self.warned_ts),
            "quiet_since": _iso(self.quiet_since_ts),
        }


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def judge(
    rhythm: SourceRhythm,
    now: float,
    *,
    policy: SourcePolicy,
    failures: int = 0,
) -> Verdict:
    """The verdict on ``rhythm`` at ``now`` (epoch seconds); ``failures`` is the number of
    deliveries whose signature failed since its last good one."""
    silence = max(0.0, now - rhythm.last_ts)

    def verdict(
        status: str, gap: float | None = None, after: float | None = None, chance: float = 1.0
    ) -> Verdict:
        return Verdict(
            source=rhythm.source,
            status=status,
            last_delivery=rhythm.last_ts,
            deliveries=rhythm.deliveries,
            expected_gap=gap,
            warn_after=after,
            silence=silence,
            chance=chance,
            failures=failures,
            warned_ts=rhythm.warned_ts,
            quiet_since_ts=rhythm.quiet_since_ts,
        )

    if not policy.watches(rhythm.source):
        return verdict("disabled")
    known = (
        rhythm.last_ts - rhythm.first_ts >= policy.learn_days * 86400.0
        and rhythm.deliveries >= policy.min_deliveries
    )
    if not known:
        return verdict("learning")
    expected = expected_deliveries(rhythm, rhythm.last_ts, now)
    gap = time_until(rhythm, rhythm.last_ts, 1.0)
    after = time_until(rhythm, rhythm.last_ts, policy.threshold)
    if after is not None:
        after = max(after, policy.min_quiet_minutes * 60.0)
    chance = math.exp(-expected)
    long_enough = silence >= policy.min_quiet_minutes * 60.0
    if long_enough and expected >= policy.threshold:
        status = "quiet"
    elif (
        long_enough
        and policy.signature_failures > 0
        and failures >= policy.signature_failures
        and gap is not None
        and silence >= gap
    ):
        status = "failing"
    else:
        status = "ok"
    return verdict(status, gap, after, chance)


def warned(rhythm: SourceRhythm, verdict: Verdict, *, at: float) -> SourceRhythm:
    """The rhythm with the warning ``verdict`` raised at ``at`` recorded."""
    return attrs.evolve(
        rhythm,
        warned_ts=at,
        quiet_since_ts=rhythm.last_ts,
        warning_reason=verdict.status,
        warnings=rhythm.warnings + 1,
    )


def cleared(rhythm: SourceRhythm) -> SourceRhythm:
    """The rhythm with its standing warning cleared."""
    return attrs.evolve(rhythm, warned_ts=None, quiet_since_ts=None, warning_reason="")


def resumed(rhythm: SourceRhythm) -> bool:
    """Whether a delivery arrived after the standing warning's silence began."""
    return (
        rhythm.warned
        and rhythm.quiet_since_ts is not None
        and rhythm.last_ts > rhythm.quiet_since_ts
    )


def source_policy_from_section(data: Mapping[str, Any] | None) -> SourcePolicy:
    """The ``quiet_sources:`` section as a :class:`SourcePolicy`; ``ValueError`` naming the key
    on anything else."""
    if not data:
        return SourcePolicy()
    known = {f.name for f in attrs.fields(SourcePolicy)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (expected one of {', '.join(sorted(known))})")
    out: dict[str, Any] = {}
    for name in ("enabled", "resumed_note"):
        if name in data:
            if not isinstance(data[name], bool):
                raise ValueError(f"{name}: expected true or false")
            out[name] = data[name]
    bounds = {
        "chance": (1e-300, 0.5),
        "min_quiet_minutes": (1.0, 7 * 24 * 60.0),
        "learn_days": (1.0, 365.0),
        "half_life_days": (1.0, 365.0),
    }
    for name, (low, high) in bounds.items():
        if name in data:
            out[name] = _number(data[name], name, low, high)
    for name, (low_i, high_i) in {
        "min_deliveries": (1, 1_000_000),
        "signature_failures": (0, 1_000_000),
        "max_sources": (1, 100_000),
    }.items():
        if name in data:
            value = data[name]
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not low_i <= value <= high_i
            ):
                raise ValueError(f"{name}: expected a whole number from {low_i} to {high_i}")
            out[name] = value
    if "channel" in data and data["channel"] is not None:
        if not isinstance(data["channel"], str):
            raise ValueError("channel: expected a channel name such as '#cs-escalations'")
        out["channel"] = data["channel"]
    if "disabled" in data and data["disabled"] is not None:
        names: Sequence[Any] = data["disabled"]
        if isinstance(names, str) or not isinstance(names, Sequence):
            raise ValueError("disabled: expected a list of source names such as [api]")
        if not all(isinstance(n, str) and n for n in names):
            raise ValueError("disabled: expected a list of source names such as [api]")
        out["disabled"] = frozenset(names)
    return SourcePolicy(**out)


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a number from {low:g} to {high:g}")
    if not low <= value <= high:
        raise ValueError(f"{name}: expected a number from {low:g} to {high:g}")
    return float(value)
