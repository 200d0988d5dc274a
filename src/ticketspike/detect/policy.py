"""Detection policy: every knob of the spike rule, with defaults that work.

A :class:`DetectionPolicy` is a plain frozen value so the pure detector can be
handed one and tested without a config file; :func:`policy_from_config` builds
it from the ``detection`` and ``industry_baselines`` sections and refuses bad
values with ``file:line: key: what was expected``. Nothing here reads the
clock or touches files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

import attrs

from ..configfile import Section
from ..model import Account

__all__ = [
    "DEFAULT_SEGMENT",
    "DetectionPolicy",
    "IndustryBaseline",
    "Gate",
    "Mode",
    "Tail",
    "policy_from_config",
]

Mode = Literal["gated", "spec"]
Tail = Literal["negbin", "poisson"]
Gate = Literal["budget", "alpha"]

DEFAULT_SEGMENT = "default"


@attrs.frozen
class IndustryBaseline:
    """The daily ticket rate a segment's customers normally have: what a customer with too
    little history of its own is compared with.

    ``per_seat`` scales with customer size when the account has ``seats``;
    otherwise ``per_account`` applies. ``minimum`` keeps a tiny account's
    expected rate from collapsing to nothing, which would make one ticket look
    like an explosion.
    """

    per_account: float = 1.0
    per_seat: float | None = None
    minimum: float = 0.05

    def rate_for(self, account: Account | None) -> float:
        """Expected tickets per day for ``account`` (or an account of unknown size)."""
        if self.per_seat is not None and account is not None and account.seats:
            return max(self.minimum, self.per_seat * account.seats)
        return max(self.minimum, self.per_account)


def _hours(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted({int(x) for x in value}))


def _default_industry() -> Mapping[str, IndustryBaseline]:
    return MappingProxyType({DEFAULT_SEGMENT: IndustryBaseline()})


def _freeze_industry(value: Mapping[str, IndustryBaseline]) -> Mapping[str, IndustryBaseline]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class DetectionPolicy:
    """How a customer's ticket window is judged: window, baseline period, threshold, gate.

    ``mode="spec"`` is the threshold rule taken literally: ``count >= threshold x
    baseline``. ``mode="gated"`` (the default) also needs the count to be
    improbable under the baseline (tail probability below ``alpha``) and at
    least ``min_count`` tickets, so noise on small customers never pages
    anyone while the moderate spike (8 in a day on 2 a day) still opens.
    """

    mode: Mode = "gated"
    window_hours: int = 24
    baseline_days: int = 30
    threshold: float = 3.0
    critical_above: float = 5.0
    min_history_days: int = 7
    # 0.002 keeps the moderate spike (8 in a day on 2 a day, p ~ 1.4e-3)
    # while cutting chance episodes about fourfold against 0.01 (docs/detection.md).
    alpha: float = 0.002
    min_count: int = 3
    tail: Tail = "negbin"
    # Pseudo-days of segment rate mixed into a customer's own history. Weak on
    # purpose: customers differ by orders of magnitude, so a strong prior would
    # drag a big new customer's baseline toward the segment for weeks.
    prior_days: float = 2.0
    lateness_hours: int = 24
    cap_spike_days: bool = True
    # How the gated mode sets its lines. "budget" (default): every window
    # opens only at counts whose chance crossings, for a customer at a steady
    # rate, add up to ``false_episodes_per_year`` shared across the windows
    # (docs/detection.md, "The false-alarm budget"). "alpha": the 24 h window
    # alone, at a tail probability below ``alpha`` per evaluation.
    gate: Gate = "budget"
    false_episodes_per_year: float = 1.0
    # Shorter windows judged beside ``window_hours``, each against its own
    # expected count, so an intense burst opens within the hour; the signal
    # still reports the ``window_hours`` count, multiplier and severity.
    short_windows_hours: tuple[int, ...] = attrs.field(default=(1, 4), converter=_hours)
    # 8 tickets in a day on a baseline of 2 (4x) is a moderate spike (docs/detection.md):
    # a window_hours count at sure_multiplier x and sure_count tickets always opens.
    sure_multiplier: float = 4.0
    sure_count: int = 8
    # Budget gate: a short window is judged as if the day's tickets all fell
    # within this many hours (office hours), so busy mornings do not spend
    # the budget; 24 judges every hour at a flat share of the day.
    busy_hours: int = 10
    # Prior coefficient of variation of a customer's day level, which the
    # gate's negative-binomial shape is shrunk toward (baseline.day_shape);
    # 0 takes each customer's raw estimate.
    day_spread: float = 0.35
    industry: Mapping[str, IndustryBaseline] = attrs.field(
        factory=_default_industry, converter=_freeze_industry
    )
    default_segment: str = DEFAULT_SEGMENT
    _windows: tuple[int, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        # Programmatic construction gets the same guarantees as the config file.
        if self.mode not in ("gated", "spec"):
            raise ValueError(f"mode must be 'gated' or 'spec', got {self.mode!r}")
        if self.tail not in ("negbin", "poisson"):
            raise ValueError(f"tail must be 'negbin' or 'poisson', got {self.tail!r}")
        if not 1 <= self.window_hours <= 24:
            raise ValueError("window_hours must be between 1 and 24")
        if not 1 <= self.baseline_days <= 365:
            raise ValueError("baseline_days must be between 1 and 365")
        if self.threshold <= 0 or self.critical_above < self.threshold:
            raise ValueError("need 0 < threshold <= critical_above")
        if not 0 <= self.min_history_days <= self.baseline_days:
            raise ValueError("min_history_days must be between 0 and baseline_days")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be between 0 and 1")
        if self.min_count < 1:
            raise ValueError("min_count must be at least 1")
        if self.prior_days < 0:
            raise ValueError("prior_days must be >= 0")
        if not 0 <= self.lateness_hours <= 24:
            raise ValueError("lateness_hours must be between 0 and 24")
        if self.gate not in ("budget", "alpha"):
            raise ValueError(f"gate must be 'budget' or 'alpha', got {self.gate!r}")
        if not 0 < self.false_episodes_per_year <= 1000:
            raise ValueError("false_episodes_per_year must be above 0 (and at most 1000)")
        if any(h < 1 for h in self.short_windows_hours):
            raise ValueError("short_windows_hours must be whole hours >= 1")
        if self.sure_multiplier < self.threshold or self.sure_count < 1:
            raise ValueError("need sure_multiplier >= threshold and sure_count >= 1")
        if not 0 <= self.day_spread <= 10:
            raise ValueError("day_spread must be between 0 and 10")
        if not 1 <= self.busy_hours <= 24:
            raise ValueError("busy_hours must be between 1 and 24")
        windows: tuple[int, ...] = (self.window_hours,)
        if self.mode == "gated" and self.gate == "budget":
            shorts = (h for h in self.short_windows_hours if h < self.window_hours)
            windows = (*shorts, self.window_hours)
        object.__setattr__(self, "_windows", windows)  # derived once: read per cut
        if self.default_segment not in self.industry:
            raise ValueError(
                f"industry baselines lack the default segment {self.default_segment!r}"
            )

    @property
    def gated(self) -> bool:
        return self.mode == "gated"

    @property
    def windows(self) -> tuple[int, ...]:
        """The window lengths judged, in hours: the short ones (budget gate only), then
        ``window_hours``."""
        return self._windows

    def industry_for(self, account: Account | None) -> IndustryBaseline:
        """The segment's baseline, falling back to the default segment."""
        if account is not None and account.segment and account.segment in self.industry:
            return self.industry[account.segment]
        return self.industry[self.default_segment]

    def industry_rate(self, account: Account | None) -> float:
        """Expected tickets per day for a customer with no usable history."""
        return self.industry_for(account).rate_for(account)


_DETECTION_KEYS = frozenset(
    {
        "mode",
        "window_hours",
        "lookback_hours",
        "baseline_days",
        "threshold",
        "spike_threshold",
        "critical_above",
        "min_history_days",
        "alpha",
        "min_count",
        "tail",
        "prior_days",
        "lateness_hours",
        "cap_spike_days",
        "default_segment",
        "gate",
        "false_episodes_per_year",
        "short_windows_hours",
        "sure_multiplier",
        "sure_count",
        "busy_hours",
        "day_spread",
    }
)
_INDUSTRY_KEYS = frozenset({"per_account", "per_seat", "minimum"})


def policy_from_config(
    detection: Section | None, industry_baselines: Section | None
) -> DetectionPolicy:
    """Build a policy from the ``detection`` and ``industry_baselines`` sections.

    ``None`` sections give the defaults. Every key is validated; a bad one
    raises :class:`~ticketspike.errors.ConfigError` naming file, line and key.
    ``lookback_hours`` and ``spike_threshold`` are accepted as alternative
    spellings of ``window_hours`` and ``threshold``.
    """
    defaults = DetectionPolicy()
    industry = _industry_from_config(industry_baselines, defaults.industry)
    if detection is None:
        return attrs.evolve(defaults, industry=industry)
    d = detection
    d.check_keys(_DETECTION_KEYS)
    for spelled, other in (("lookback_hours", "window_hours"), ("spike_threshold", "threshold")):
        if spelled in d and other in d:
            raise d.error(spelled, f"give either {spelled} or {other}, not both")
    mode = d.get_str("mode", defaults.mode, choices=("gated", "spec"))
    tail = d.get_str("tail", defaults.tail, choices=("negbin", "poisson"))
    window_key = "lookback_hours" if "lookback_hours" in d else "window_hours"
    threshold_key = "spike_threshold" if "spike_threshold" in d else "threshold"
    window = d.get_int(window_key, defaults.window_hours, minimum=1, maximum=24)
    baseline_days = d.get_int("baseline_days", defaults.baseline_days, minimum=1, maximum=365)
    threshold = d.get_float(threshold_key, defaults.threshold, minimum=1.0)
    assert threshold is not None and baseline_days is not None
    critical = d.get_float(
        "critical_above", max(defaults.critical_above, threshold), minimum=threshold
    )
    min_history = d.get_int(
        "min_history_days",
        min(defaults.min_history_days, baseline_days),
        minimum=0,
        maximum=baseline_days,
    )
    alpha = d.get_float("alpha", defaults.alpha, minimum=1e-12, maximum=0.5)
    min_count = d.get_int("min_count", defaults.min_count, minimum=1)
    prior_days = d.get_float("prior_days", defaults.prior_days, minimum=0.0, maximum=3650.0)
    lateness = d.get_int("lateness_hours", defaults.lateness_hours, minimum=0, maximum=24)
    exclude = d.get_bool("cap_spike_days", defaults.cap_spike_days)
    segment = d.get_str("default_segment", defaults.default_segment)
    assert segment is not None
    gate = d.get_str("gate", defaults.gate, choices=("budget", "alpha"))
    budget = d.get_float(
        "false_episodes_per_year", defaults.false_episodes_per_year, minimum=1e-6, maximum=1000.0
    )
    shorts = defaults.short_windows_hours
    if "short_windows_hours" in d:
        raw = d.get_list("short_windows_hours")
        if not all(type(h) is int and 1 <= h < window for h in raw):  # type: ignore[operator]
            raise d.error(
                "short_windows_hours",
                f"expected a list of whole hours from 1 to {window - 1}"  # type: ignore[operator]
                f" (shorter than window_hours), got {raw!r}",
            )
        shorts = tuple(raw)
    sure_multiplier = d.get_float(
        "sure_multiplier", max(defaults.sure_multiplier, threshold), minimum=threshold
    )
    sure_count = d.get_int("sure_count", defaults.sure_count, minimum=1)
    busy_hours = d.get_int("busy_hours", defaults.busy_hours, minimum=1, maximum=24)
    day_spread = d.get_float("day_spread", defaults.day_spread, minimum=0.0, maximum=10.0)
    if segment not in industry:
        known = ", ".join(sorted(industry))
        raise d.error("default_segment", f"no industry baseline named {segment!r} (known: {known})")
    return DetectionPolicy(
        mode=mode,  # type: ignore[arg-type]
        window_hours=window,  # type: ignore[arg-type]
        baseline_days=baseline_days,
        threshold=threshold,
        critical_above=critical,  # type: ignore[arg-type]
        min_history_days=min_history,  # type: ignore[arg-type]
        alpha=alpha,  # type: ignore[arg-type]
        min_count=min_count,  # type: ignore[arg-type]
        tail=tail,  # type: ignore[arg-type]
        prior_days=prior_days,  # type: ignore[arg-type]
        lateness_hours=lateness,  # type: ignore[arg-type]
        cap_spike_days=exclude,  # type: ignore[arg-type]
        industry=industry,
        default_segment=segment,
        gate=gate,  # type: ignore[arg-type]
        false_episodes_per_year=budget,  # type: ignore[arg-type]
        short_windows_hours=shorts,
        sure_multiplier=sure_multiplier,  # type: ignore[arg-type]
        sure_count=sure_count,  # type: ignore[arg-type]
        busy_hours=busy_hours,  # type: ignore[arg-type]
        day_spread=day_spread,  # type: ignore[arg-type]
    )


def _industry_from_config(
    section: Section | None, defaults: Mapping[str, IndustryBaseline]
) -> Mapping[str, IndustryBaseline]:
    """Segments as ``name: RATE`` (per account per day) or a mapping.

    The mapping form is ``{per_account, per_seat, minimum}``.
    """
    out = dict(defaults)
    if section is None:
        return out
    base = IndustryBaseline()
    for name in section:
        raw = section[name]
        if isinstance(raw, Section):
            raw.check_keys(_INDUSTRY_KEYS)
            per_account = raw.get_float("per_account", base.per_account, minimum=0.0)
            per_seat = raw.get_float("per_seat", None, minimum=0.0)
            minimum = raw.get_float("minimum", base.minimum, minimum=1e-6)
            assert per_account is not None and minimum is not None
            out[str(name)] = IndustryBaseline(
                per_account=per_account, per_seat=per_seat, minimum=minimum
            )
        else:
            rate = section.get_float(str(name), minimum=0.0)
            if rate is None:
                raise section.error(str(name), "expected a daily rate or a mapping")
            out[str(name)] = IndustryBaseline(per_account=rate)
    return out
