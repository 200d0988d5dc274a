"""The learned delivery rhythm of a ticket source, judged at explicit times (pure)."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketspike.source_health import (
    SourcePolicy,
    SourceRhythm,
    cleared,
    judge,
    observe,
    resumed,
    source_policy_from_section,
    warned,
)

POLICY = SourcePolicy()
MONDAY = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday, 00:00 UTC


def ts(day: int, hour: float) -> float:
    return (MONDAY + timedelta(days=day, hours=hour)).timestamp()


def office_hours(weeks: int, *, every_minutes: float = 12.0, seed: int = 1) -> list[float]:
    """Deliveries on weekdays 09:00-17:00 UTC, gaps of 1 to 2x ``every_minutes``."""
    rng = random.Random(seed)
    out: list[float] = []
    for day in range(weeks * 7):
        if day % 7 >= 5:
            continue
        t = ts(day, 9.0)
        end = ts(day, 17.0)
        while True:
            t += rng.uniform(1.0, 2.0) * every_minutes * 60.0
            if t >= end:
                break
            out.append(t)
    return out


def learned(times: list[float], source: str = "zendesk") -> SourceRhythm:
    rhythm = None
    for t in times:
        rhythm = observe(rhythm, source, [t], policy=POLICY)
    assert rhythm is not None
    return rhythm


def test_nights_and_weekends_are_not_quiet_but_a_silent_morning_is() -> None:
    rhythm = learned(office_hours(3))  # until Friday of week 3, ~17:00
    friday_evening = rhythm.last_ts
    assert judge(rhythm, friday_evening + 3600, policy=POLICY).status == "ok"
    assert judge(rhythm, ts(21, 3.0), policy=POLICY).status == "ok"  # Monday 03:00
    assert judge(rhythm, ts(21, 9.5), policy=POLICY).status == "ok"  # Monday 09:30
    late = judge(rhythm, ts(21, 12.0), policy=POLICY)  # Monday noon, nothing since Friday
    assert late.status == "quiet"
    assert late.chance < POLICY.chance
    # It would warn within the working morning, not after the weekend's hours.
    assert late.warn_after is not None
    assert ts(21, 9.0) < rhythm.last_ts + late.warn_after < ts(21, 12.0)
    assert late.expected_gap is not None and late.expected_gap > 2 * 86400  # over the weekend


def test_a_busy_source_is_judged_quiet_within_the_hour() -> None:
    times = [ts(0, 0) + i * 60.0 for i in range(60 * 24 * 14)]  # one a minute, two weeks
    rhythm = learned(times)
    assert judge(rhythm, rhythm.last_ts + 15 * 60, policy=POLICY).status == "ok"
    verdict = judge(rhythm, rhythm.last_ts + 60 * 60, policy=POLICY)
    assert verdict.status == "quiet"
    assert verdict.warn_after is not None and 30 * 60 <= verdict.warn_after <= 60 * 60


def test_a_source_still_learning_or_disabled_is_never_quiet() -> None:
    young = learned([ts(0, 9) + i * 600.0 for i in range(200)])  # 33 hours of history
    assert judge(young, young.last_ts + 30 * 86400, policy=POLICY).status == "learning"
    few = learned([ts(d, 10) for d in range(10)])  # ten deliveries over ten days
    assert judge(few, few.last_ts + 30 * 86400, policy=POLICY).status == "learning"
    rhythm = learned(office_hours(3))
    off = SourcePolicy(disabled=frozenset({"zendesk"}))
    assert judge(rhythm, ts(30, 12), policy=off).status == "disabled"
    assert judge(rhythm, ts(30, 12), policy=SourcePolicy(enabled=False)).status == "disabled"


def test_a_burst_does_not_teach_a_rate_the_source_never_keeps() -> None:
    times = office_hours(3, every_minutes=60.0)  # a few a day
    burst = [ts(8, 10.0) + i for i in range(2000)]  # 2,000 in half an hour, once
    rhythm = learned(sorted(times + burst))
    calm = learned(times)
    assert rhythm.deliveries == calm.deliveries + 2000
    # Judged alike: the burst filled a few intervals, nothing more.
    for hours in (4, 24, 72):
        now = calm.last_ts + hours * 3600
        assert judge(rhythm, now, policy=POLICY).status == judge(calm, now, policy=POLICY).status


def test_failing_signatures_are_told_apart_from_a_quiet_week() -> None:
    rhythm = learned(office_hours(3, every_minutes=5.0))
    soon = rhythm.last_ts - 6 * 3600 - 30 * 60  # mid-afternoon on the last Friday
    rhythm = learned([t for t in office_hours(3, every_minutes=5.0) if t <= soon])
    now = soon + 40 * 60
    assert judge(rhythm, now, policy=POLICY).status == "ok"
    failing = judge(rhythm, now, policy=POLICY, failures=5)
    assert failing.status == "failing"
    assert judge(rhythm, now, policy=POLICY, failures=2).status == "ok"  # below the threshold


def test_a_warned_gap_is_not_learned_as_rhythm_and_resuming_is_seen() -> None:
    rhythm = learned(office_hours(3))
    verdict = judge(rhythm, ts(21, 12.0), policy=POLICY)
    standing = warned(rhythm, verdict, at=ts(21, 12.0))
    assert standing.warned and standing.warnings == 1 and not resumed(standing)
    back = observe(standing, "zendesk", [ts(23, 10.0)], policy=POLICY)
    assert resumed(back)
    unwarned = observe(rhythm, "zendesk", [ts(23, 10.0)], policy=POLICY)
    # The two silent days taught the warned rhythm nothing; the plain one learned them.
    assert sum(back.seen) < sum(unwarned.seen)
    after = cleared(back)
    assert not after.warned and after.warnings == 1


def test_the_rhythm_survives_its_json_form() -> None:
    rhythm = learned(office_hours(2))
    again = SourceRhythm.from_json(json.loads(json.dumps(rhythm.to_json())))
    now = ts(16, 12)
    first, second = judge(again, now, policy=POLICY), judge(rhythm, now, policy=POLICY)
    assert first.status == second.status and first.deliveries == second.deliveries
    assert first.expected_gap == pytest.approx(second.expected_gap, rel=1e-4)
    with pytest.raises(ValueError):
        SourceRhythm.from_json({"v": 99})


def test_late_deliveries_count_but_do_not_move_the_last_delivery() -> None:
    rhythm = learned([ts(0, 10), ts(0, 11)])
    late = observe(rhythm, "zendesk", [ts(0, 9)], policy=POLICY)
    assert late.deliveries == 3 and late.last_ts == rhythm.last_ts
    assert late.busy == rhythm.busy


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"chance": 0.9}, "chance: expected a number"),
        ({"chance": float("nan")}, "chance: expected a number"),
        ({"min_deliveries": 2.5}, "min_deliveries: expected a whole number"),
        ({"disabled": "api"}, "disabled: expected a list"),
        ({"enabled": "yes"}, "enabled: expected true or false"),
        ({"quiet_after": 3}, "unknown key 'quiet_after'"),
    ],
)
def test_bad_policy_keys_are_named(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        source_policy_from_section(section)


def test_the_documented_defaults() -> None:
    policy = source_policy_from_section(None)
    assert policy == SourcePolicy()
    assert (policy.chance, policy.min_quiet_minutes, policy.learn_days) == (1e-6, 30.0, 7.0)
    assert (policy.min_deliveries, policy.half_life_days, policy.signature_failures) == (
        50,
        28.0,
        3,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    max_gap_minutes=st.floats(1.0, 90.0),
    start_hour=st.integers(0, 12),
    hours=st.integers(4, 24),
    weekdays_only=st.booleans(),
    weeks=st.integers(2, 5),
)
def test_a_steady_source_never_warns(
    seed: int,
    max_gap_minutes: float,
    start_hour: int,
    hours: int,
    weekdays_only: bool,
    weeks: int,
) -> None:
    """A source that, in its active hours, never leaves more than ``max_gap_minutes`` between
    deliveries is never judged quiet, however its hours and gaps fall: checked at the worst
    instant of every gap (just before the next delivery) and through nights and weekends."""
    rng = random.Random(seed)
    times: list[float] = []
    for day in range(weeks * 7):
        if weekdays_only and day % 7 >= 5:
            continue
        t = ts(day, start_hour)
        end = t + hours * 3600.0
        while True:
            t += rng.uniform(0.05, 1.0) * max_gap_minutes * 60.0
            if t >= end:
                break
            times.append(t)
    rhythm: SourceRhythm | None = None
    for t in times:
        if rhythm is not None:
            for now in (t - 1.0, (rhythm.last_ts + t) / 2):
                assert judge(rhythm, now, policy=POLICY).status != "quiet"
        rhythm = observe(rhythm, "steady", [t], policy=POLICY)


def test_the_documented_keys_and_defaults_are_the_real_ones() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    section = doc.split("### `quiet_sources`", 1)[1].split("\n### ", 1)[0]
    rows = {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"^\| `([a-z_]+)` \| ([^|]+) \|", section, flags=re.M)
    }
    fields = {f.name: f.default for f in attrs.fields(SourcePolicy)}
    assert set(rows) == set(fields)
    for name, shown in rows.items():
        value = fields[name]
        if isinstance(value, bool):
            assert shown == f"`{str(value).lower()}`", name
        elif isinstance(value, (int, float)):
            assert float(shown.strip("`")) == value, name
