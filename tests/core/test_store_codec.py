"""Plans and events survive the store's JSON round trip exactly (another process runs them)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ticketspike.model import Account, EventKind, Person
from ticketspike.signals import Severity, TransitionKind
from ticketspike.store.codec import event_from_json, event_to_json, plan_from_json
from ticketspike.testing import (
    sample_account,
    sample_assessment,
    sample_plan,
    sample_transition,
    ticket_event,
)

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)

accounts = st.one_of(
    st.none(),
    st.just(sample_account()),
    st.builds(
        Account,
        id=st.just("techcorp"),
        name=st.text(max_size=30),
        arr=st.one_of(st.none(), st.floats(min_value=0, max_value=1e7)),
        csm=st.one_of(
            st.none(),
            st.builds(Person, name=st.text(max_size=20), email=st.just("csm@example.com")),
        ),
        war_room=st.one_of(st.none(), st.just("WR-1")),
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(list(TransitionKind)),
    severity=st.sampled_from([Severity.HIGH, Severity.CRITICAL]),
    count=st.integers(min_value=1, max_value=40),
    themes=st.lists(st.text(min_size=1, max_size=25), max_size=4),
    account=accounts,
    minutes=st.integers(min_value=0, max_value=10_000),
)
def test_every_plan_round_trips_through_json(
    kind: TransitionKind,
    severity: Severity,
    count: int,
    themes: list[str],
    account: Account | None,
    minutes: int,
) -> None:
    at = T0 + timedelta(minutes=minutes)
    assessment = sample_assessment(at=at, ticket_count=count, severity=severity, themes=themes)
    plan = sample_plan(
        sample_transition(kind, at=at, severity=severity, assessment=assessment), account
    )
    stored = json.loads(json.dumps(plan.to_json()))
    back = plan_from_json(stored)
    assert back == plan
    assert back.to_json() == plan.to_json()
    assert [type(a) for a in back.actions] == [type(a) for a in plan.actions]


def test_events_round_trip_with_their_own_keys() -> None:
    event = ticket_event("T1", at=T0, category="other", kind=EventKind.UPDATED, tags=["vip"])
    event = type(event)(
        ticket=event.ticket,
        kind=event.kind,
        occurred_at=T0 + timedelta(hours=1),
        event_id="delivery-7",
    )
    assert event_from_json(json.loads(json.dumps(event_to_json(event)))) == event
