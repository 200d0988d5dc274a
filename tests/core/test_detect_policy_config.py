"""The detection and industry_baselines sections: defaults that work, clear errors."""

from __future__ import annotations

import pytest

from ticketspike.config import load_config
from ticketspike.detect.policy import DetectionPolicy, IndustryBaseline
from ticketspike.errors import ConfigError
from ticketspike.model import Account


def test_no_sections_give_the_documented_defaults() -> None:
    policy = load_config(None).detection
    assert policy == DetectionPolicy()
    assert (policy.mode, policy.window_hours, policy.baseline_days) == ("gated", 24, 30)
    assert (policy.threshold, policy.critical_above, policy.min_history_days) == (3.0, 5.0, 7)
    assert policy.industry_rate(None) == 1.0


def test_every_key_is_read() -> None:
    config = load_config(
        "t.yaml",
        text="""
detection:
  mode: spec
  lookback_hours: 12
  baseline_days: 21
  spike_threshold: 2.5
  critical_above: 6
  min_history_days: 5
  alpha: 0.01
  min_count: 4
  tail: poisson
  prior_days: 3
  lateness_hours: 2
  cap_spike_days: false
  default_segment: smb
industry_baselines:
  smb: 0.4
  enterprise:
    per_account: 3
    per_seat: 0.002
    minimum: 0.5
""",
    )
    p = config.detection
    assert (p.mode, p.window_hours, p.baseline_days, p.threshold) == ("spec", 12, 21, 2.5)
    assert (p.critical_above, p.min_history_days, p.alpha, p.min_count) == (6.0, 5, 0.01, 4)
    assert (p.tail, p.prior_days, p.lateness_hours, p.cap_spike_days) == ("poisson", 3.0, 2, False)
    assert p.default_segment == "smb"
    assert p.industry["smb"] == IndustryBaseline(per_account=0.4)
    assert p.industry_rate(None) == 0.4
    big = Account(id="x", segment="enterprise", seats=5000)
    assert p.industry_rate(big) == pytest.approx(10.0)
    small = Account(id="x", segment="enterprise", seats=10)
    assert p.industry_rate(small) == 0.5  # the floor
    assert p.industry_rate(Account(id="x", segment="enterprise")) == 3.0


@pytest.mark.parametrize(
    ("text", "start"),
    [
        (
            "detection:\n  treshold: 3\n",
            "t.yaml:2: detection.treshold: unknown key (did you mean 'threshold'?)",
        ),
        ("detection:\n  mode: strict\n", "t.yaml:2: detection.mode: expected one of gated, spec"),
        (
            "detection:\n  window_hours: 48\n",
            "t.yaml:2: detection.window_hours: expected a whole number <= 24",
        ),
        ("detection:\n  threshold: x\n", "t.yaml:2: detection.threshold: expected a number"),
        (
            "detection:\n  threshold: 4\n  critical_above: 3\n",
            "t.yaml:3: detection.critical_above: expected a number >= 4",
        ),
        ("detection:\n  alpha: 0\n", "t.yaml:2: detection.alpha"),
        ("detection:\n  min_history_days: 40\n", "t.yaml:2: detection.min_history_days"),
        (
            "detection:\n  threshold: 3\n  spike_threshold: 3\n",
            "t.yaml:3: detection.spike_threshold",
        ),
        (
            "detection:\n  default_segment: mid\n",
            "t.yaml:2: detection.default_segment: no industry baseline named 'mid'",
        ),
        (
            "detection:\n  busy_hours: 0\n",
            "t.yaml:2: detection.busy_hours: expected a whole number >= 1",
        ),
        (
            "detection:\n  day_spread: -0.1\n",
            "t.yaml:2: detection.day_spread: expected a number >= 0",
        ),
        (
            "industry_baselines:\n  smb: lots\n",
            "t.yaml:2: industry_baselines.smb: expected a number",
        ),
        (
            "industry_baselines:\n  smb:\n    per_sat: 1\n",
            "t.yaml:3: industry_baselines.smb.per_sat: unknown key",
        ),
        (
            "industry_baselines:\n  smb:\n    per_seat: -1\n",
            "t.yaml:3: industry_baselines.smb.per_seat: expected a number >= 0",
        ),
    ],
)
def test_bad_values_name_file_line_and_key(text: str, start: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("t.yaml", text=text)
    assert str(info.value).startswith(start), str(info.value)
    assert "\n" not in str(info.value)


def test_programmatic_policies_are_checked_too() -> None:
    with pytest.raises(ValueError):
        DetectionPolicy(mode="loose")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DetectionPolicy(threshold=6.0, critical_above=5.0)
    with pytest.raises(ValueError):
        DetectionPolicy(lateness_hours=30)
    with pytest.raises(ValueError):
        DetectionPolicy(industry={"smb": IndustryBaseline()})


def test_busy_hours_and_day_spread_are_read() -> None:
    p = load_config("t.yaml", text="detection:\n  busy_hours: 8\n  day_spread: 0\n").detection
    assert (p.busy_hours, p.day_spread) == (8, 0.0)
    assert (DetectionPolicy().busy_hours, DetectionPolicy().day_spread) == (10, 0.35)
    with pytest.raises(ValueError):
        DetectionPolicy(busy_hours=25)
