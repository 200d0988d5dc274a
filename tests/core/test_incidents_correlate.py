"""Incident correlation: many customers opening episodes together on one key make one incident."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketspike.incidents import (
    Correlator,
    IncidentPolicy,
    binomial_tail,
    correlate,
)
from ticketspike.lifecycle import episode_id_for
from ticketspike.model import Category
from ticketspike.signals import Transition, TransitionKind
from ticketspike.testing import sample_assessment, sample_transition

UTC = timezone.utc
T0 = datetime(2026, 3, 5, 10, tzinfo=UTC)


def opened(cid: str, at: datetime, category: Category = Category.TECHNICAL) -> Transition:
    base = sample_assessment(cid, at, ticket_count=9, themes=())
    import attrs

    assessment = attrs.evolve(base, category_breakdown=((category, 9),))
    return sample_transition(
        customer_id=cid, at=at, episode_id=episode_id_for(cid, at), assessment=assessment
    )


def resolved(t: Transition, at: datetime) -> Transition:
    import attrs

    return attrs.evolve(t, kind=TransitionKind.RESOLVED, at=at)


def activity(n: int, at: datetime) -> list[tuple[str, datetime]]:
    return [(f"c{i:03d}", at - timedelta(minutes=30)) for i in range(n)]


def test_three_customers_on_one_category_open_one_incident_and_others_join() -> None:
    c = Correlator()
    for cid, at in activity(100, T0):
        c.saw(cid, at)
    out = []
    for i in range(5):
        out += c.observe(opened(f"c{i:03d}", T0 + timedelta(minutes=i)))
    kinds = [x.kind for x in out]
    assert kinds == ["incident_opened", "incident_joined", "incident_joined"]
    assert out[0].customer_ids == ("c000", "c001", "c002")
    assert out[1].customer_ids == ("c003",)
    incident = c.incidents()[0]
    assert incident.customer_ids == tuple(f"c{i:03d}" for i in range(5))
    assert incident.first_spike == T0 and incident.latest_spike == T0 + timedelta(minutes=4)
    assert incident.ticket_counts["c004"] == 9 and incident.ticket_count == 45
    assert json.loads(json.dumps(out[0].to_json()))["transition"] == "incident_opened"


def test_another_category_stays_an_ordinary_episode() -> None:
    c = Correlator()
    for cid, at in activity(100, T0):
        c.saw(cid, at)
    for i in range(3):
        c.observe(opened(f"c{i:03d}", T0 + timedelta(minutes=i)))
    assert c.observe(opened("c050", T0 + timedelta(minutes=9), Category.BILLING)) == []
    assert c.incident_of(episode_id_for("c050", T0 + timedelta(minutes=9))) is None


def test_resolves_when_every_member_has_and_later_episodes_are_ordinary_again() -> None:
    c = Correlator()
    members = [opened(f"c{i:03d}", T0 + timedelta(minutes=i)) for i in range(3)]
    for t in members:
        c.observe(t)
    assert c.observe(resolved(members[0], T0 + timedelta(hours=8))) == []
    assert c.observe(resolved(members[1], T0 + timedelta(hours=8))) == []
    done = c.observe(resolved(members[2], T0 + timedelta(hours=9)))
    assert [d.kind for d in done] == ["incident_resolved"]
    assert done[0].incident.resolved_at == T0 + timedelta(hours=9)
    later = T0 + timedelta(hours=10)
    assert c.observe(opened("c010", later)) == []


def test_spikes_further_apart_than_the_window_never_group() -> None:
    c = Correlator(IncidentPolicy(window_hours=2))
    for i in range(6):
        assert c.observe(opened(f"c{i:03d}", T0 + timedelta(hours=3 * i))) == []


def test_a_usual_rate_of_spikes_opens_no_incident() -> None:
    """When a tenth of the customers open an episode in a normal window, ten at once is
    nothing unusual (the busy Monday): the binomial check holds the incident back."""
    c = Correlator(IncidentPolicy(min_share=0.0))
    hour = T0 - timedelta(days=20)
    n = 0
    while hour < T0 - timedelta(hours=30):
        for i in range(100):
            c.saw(f"c{i:03d}", hour)
        for _ in range(5):  # 5 of 100 customers open an episode every hour
            c.observe(opened(f"c{n % 100:03d}", hour, Category.OTHER))
            n += 1
        hour += timedelta(hours=1)
    for cid, at in activity(100, T0):
        c.saw(cid, at)
    out = []
    for i in range(10):
        out += c.observe(opened(f"c{i:03d}", T0 + timedelta(minutes=i)))
    assert out == []
    assert c.base_rate() > 0.03


def test_state_round_trips_through_json() -> None:
    c = Correlator()
    for cid, at in activity(50, T0):
        c.saw(cid, at)
    for i in range(4):
        c.observe(opened(f"c{i:03d}", T0 + timedelta(minutes=i)))
    again = Correlator.from_json(json.loads(json.dumps(c.to_json())))
    assert again.to_json() == c.to_json()
    assert again.observe(opened("c009", T0 + timedelta(minutes=20)))[0].kind == "incident_joined"
    with pytest.raises(ValueError):
        Correlator.from_json({"activity": {}})


def test_binomial_tail_matches_small_cases() -> None:
    assert binomial_tail(0, 10, 0.3) == 1.0
    assert binomial_tail(11, 10, 0.3) == 0.0
    assert binomial_tail(1, 2, 0.5) == pytest.approx(0.75)
    assert binomial_tail(2, 2, 0.5) == pytest.approx(0.25)


customers = st.lists(
    st.sampled_from([f"c{i:03d}" for i in range(30)]), min_size=0, max_size=25, unique=True
)


@settings(max_examples=60, deadline=None)
@given(customers, st.lists(st.integers(0, 110), min_size=25, max_size=25), st.randoms())
def test_correlation_does_not_depend_on_input_order(cids, minutes, rnd) -> None:
    transitions = [
        opened(c, T0 + timedelta(minutes=m)) for c, m in zip(cids, minutes, strict=False)
    ]
    seen = activity(60, T0)
    first = correlate(transitions, activity=seen)
    shuffled = list(transitions)
    rnd.shuffle(shuffled)
    again = correlate(shuffled, activity=list(reversed(seen)))
    assert [i.to_json() for i in again] == [i.to_json() for i in first]


@settings(max_examples=60, deadline=None)
@given(customers, st.integers(2, 6))
def test_no_incident_below_the_minimum_number_of_customers(cids, minimum) -> None:
    policy = IncidentPolicy(min_customers=minimum, min_share=0.0)
    transitions = [opened(c, T0 + timedelta(minutes=i)) for i, c in enumerate(cids)]
    found = correlate(transitions, policy=policy, activity=activity(60, T0))
    if len(cids) < minimum:
        assert found == []
    for incident in found:
        assert len(incident.customer_ids) >= minimum
        assert incident.first_spike <= incident.latest_spike


@settings(max_examples=40, deadline=None)
@given(customers)
def test_each_episode_is_in_at_most_one_incident(cids) -> None:
    transitions = [opened(c, T0 + timedelta(minutes=2 * i)) for i, c in enumerate(cids)]
    transitions += [opened(c, T0 + timedelta(hours=5, minutes=i)) for i, c in enumerate(cids)]
    found = correlate(transitions, activity=activity(60, T0))
    episodes = [e for incident in found for e in incident.episode_ids]
    assert len(episodes) == len(set(episodes))
