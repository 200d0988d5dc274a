"""Detection policy: every knob of the spike rule, with defaults that work.

A :class:`DetectionPolicy` is a plain frozen value so the pure detector can be
handed one and tested without a config file; :func:`policy_from_config` builds
it from the ``detection`` and ``industry_baselines`` sections and refuses bad
values with ``file:line: key: what was expected``. Nothing here reads the
clock or touches files.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import attrs

from ..configfile import Section
from ..model import Account

__all__ = [
    "DEFAULT_SEGMENT",
    "DetectionPolicy",
    "IndustryBaseline",
    "Mode",
    "Tail",
    "policy_from_config",
]

Mode = Literal["gated", "spec"]
Tail = Literal["negbin", "poisson"]

DEFAULT_SEGMENT = "default"


@attrs.frozen
class IndustryBaseline:
    """The daily ticket rate a segment's customers normally have (PRD FR-1.4, open question 3).

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


def _default_industry() -> Mapping[str, IndustryBaseline]:
    return MappingProxyType({DEFAULT_SEGMENT: IndustryBaseline()})


def _freeze_industry(value: Mapping[str, IndustryBaseline]) -> Mapping[str, IndustryBaseline]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class DetectionPolicy:
    """How a customer's ticket window is judged (PRD 4.3 ``SpikeDetectionParams`` and more).

    ``mode="spec"`` is the PRD rule taken literally: ``count >= threshold x
    baseline``. ``mode="gated"`` (the default) also needs the count to be
    improbable under the baseline (tail probability below ``alpha``) and at
    least ``min_count`` tickets, so noise on small customers never pages
    anyone while the PRD 7.1 scenarios still behave as written.
    """

    mode: Mode = "gated"
    window_hours: int = 24
    baseline_days: int = 30
    threshold: float = 3.0
    critical_above: float = 5.0
    min_history_days: int = 7
    # 0.002 keeps the PRD's moderate spike (8 in a day on 2 a day, p ~ 1.4e-3)
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
    industry: Mapping[str, IndustryBaseline] = attrs.field(
        factory=_default_industry, converter=_freeze_industry
    )
    default_segment: str = DEFAULT_SEGMENT

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
        if self.default_segment not in self.industry:
            raise ValueError(
                f"industry baselines lack the default segment {self.default_segment!r}"
            )

    @property
    def gated(self) -> bool:
        return self.mode == "gated"

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
    }
)
_INDUSTRY_KEYS = frozenset({"per_account", "per_seat", "minimum"})


def policy_from_config(
    detection: Section | None, industry_baselines: Section | None
) -> DetectionPolicy:
    """Build a policy from the ``detection`` and ``industry_baselines`` sections.

    ``None`` sections give the defaults. Every key is validated; a bad one
    raises :class:`~ticketspike.errors.ConfigError` naming file, line and key.
    ``lookback_hours`` and ``spike_threshold`` are accepted as the PRD 4.3
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
