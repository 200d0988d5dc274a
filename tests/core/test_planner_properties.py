"""Properties of planning: deterministic, unique keys, dependencies that exist, text as data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ticketspike.configfile import load_text
from ticketspike.model import Account, Category, Person, Priority
from ticketspike.planner.plan import action_key
from ticketspike.planner.planner import Planner
from ticketspike.planner.routing import routing_from_config
from ticketspike.signals import Assessment, BaselineSource, Severity, Transition, TransitionKind

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

ROUTING = routing_from_config(
    load_text(
        """
routing:
  match: all
  rules:
    - name: big
      when: {min_arr: 100000}
      send_to: {teams: [exec], people: [U0EXEC]}
      defaults: keep
    - name: crit
      when: {severity: critical}
      send_to: {channels: ["#incidents"]}
      defaults: keep
""",
        name="r.yaml",
    ).get_section("routing")
)

people = st.builds(
    Person,
    name=st.text(max_size=20),
    email=st.one_of(st.none(), st.just("p@example.com")),
    slack_id=st.one_of(st.none(), st.just("U0P")),
    manager=st.one_of(
        st.none(), st.builds(Person, name=st.text(max_size=10), slack_id=st.just("U0M"))
    ),
)
accounts = st.one_of(
    st.none(),
    st.builds(
        Account,
        id=st.just("c1"),
        name=st.text(max_size=30),
        arr=st.one_of(st.none(), st.floats(0, 1e7)),
        health_score=st.one_of(st.none(), st.floats(0, 100)),
        organization=st.one_of(st.none(), st.sampled_from(["acme", "globex"])),
        csm=st.one_of(st.none(), people),
        champion=st.one_of(st.none(), people),
        war_room=st.one_of(st.none(), st.just("WR-1")),
    ),
)


@st.composite
def transitions(draw: st.DrawFn) -> Transition:
    cats = draw(st.dictionaries(st.sampled_from(list(Category)), st.integers(0, 40)))
    prios = draw(st.dictionaries(st.sampled_from(list(Priority)), st.integers(0, 10)))
    count = sum(cats.values())
    severity = draw(st.sampled_from([Severity.HIGH, Severity.CRITICAL]))
    kind = draw(st.sampled_from(list(TransitionKind)))
    hours = draw(st.integers(0, 96))
    at = T0 + timedelta(hours=hours)
    assessment = Assessment(
        customer_id="c1",
        at=at,
        is_spike=kind is not TransitionKind.RESOLVED,
        severity=severity,
        ticket_count=count,
        baseline_daily_avg=1.0,
        expected_count=1.0,
        spike_multiplier=draw(st.one_of(st.floats(0, 50), st.just(float("inf")))),
        period_start=at - timedelta(hours=24),
        period_end=at,
        period_hours=24.0,
        baseline_source=BaselineSource.OWN,
        baseline_days=30.0,
        p_value=None,
        category_breakdown=tuple(cats.items()),
        severity_breakdown=tuple(prios.items()),
        themes=tuple(draw(st.lists(st.text(max_size=15), max_size=3))),
    )
    return Transition(
        kind=kind,
        at=at,
        customer_id="c1",
        episode_id="ep-9",
        severity=severity,
        assessment=assessment,
        opened_at=T0,
        suppressed=draw(st.one_of(st.none(), st.just("silence"))),
    )


@settings(max_examples=150, deadline=None)
@given(transitions(), accounts)
def test_planning_is_deterministic_with_unique_keys(
    transition: Transition, account: Account | None
) -> None:
    plan = Planner(routing=ROUTING).plan(transition, account)
    again = Planner(routing=ROUTING).plan(transition, account)
    assert plan.to_json() == again.to_json()

    keys = [a.key for a in plan.actions]
    assert len(keys) == len(set(keys))
    for action in plan.actions:
        assert action.key == action_key("ep-9", transition.kind, action.step_id)
        for dep in action.depends_on:
            # Either an earlier action of this plan, or the post the opened plan made.
            assert dep in keys[: keys.index(action.key)] or dep.startswith("ep-9:opened:")
    if transition.kind is TransitionKind.ESCALATED:
        assert not any(
            getattr(a, "recipient", None) is not None and a.recipient.role == "csm"
            for a in plan.actions
        )
    # Ticket text is carried as data, exactly as it came.
    for action in plan.actions:
        message = getattr(action, "message", None)
        if message is not None and message.themes:
            assert message.themes == transition.assessment.themes
