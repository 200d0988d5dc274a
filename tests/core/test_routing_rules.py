"""Routing (docs/workflow.md): category defaults, the mixed-spike rule, per-organization rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ticketspike.configfile import load_text
from ticketspike.errors import ConfigError
from ticketspike.model import Account, Category, Person, Priority
from ticketspike.planner.plan import ChannelPost, DirectMessage, NotifyTeam
from ticketspike.planner.planner import Planner
from ticketspike.planner.routing import RoutingRules, leading_categories, routing_from_config
from ticketspike.signals import Assessment, BaselineSource, Severity, Transition, TransitionKind

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ACME = Account(
    id="acme-1",
    name="Acme",
    arr=250_000,
    segment="enterprise",
    organization="acme",
    csm=Person(name="Mike", slack_id="U0MIKE"),
)


def spike(
    cats: dict[Category, int],
    *,
    p1: int = 0,
    severity: Severity = Severity.HIGH,
    themes: tuple[str, ...] = (),
) -> Assessment:
    count = sum(cats.values())
    return Assessment(
        customer_id="acme-1",
        at=T0,
        is_spike=True,
        severity=severity,
        ticket_count=count,
        baseline_daily_avg=1.0,
        expected_count=1.0,
        spike_multiplier=float(count),
        period_start=T0 - timedelta(hours=24),
        period_end=T0,
        period_hours=24.0,
        baseline_source=BaselineSource.OWN,
        baseline_days=30.0,
        p_value=0.001,
        category_breakdown=tuple(cats.items()),
        severity_breakdown=((Priority.P1, p1), (Priority.P3, count - p1)),
        themes=themes,
    )


def rules(yaml_text: str) -> RoutingRules:
    return routing_from_config(load_text(yaml_text, name="r.yaml").get_section("routing"))


@pytest.mark.parametrize(
    ("category", "teams"),
    [
        (Category.TECHNICAL, ("support_lead", "product")),
        (Category.BILLING, ("finance", "csm")),
        (Category.TRAINING, ("csm", "enablement")),
        (Category.FEATURE_REQUEST, ("product",)),
    ],
)
def test_default_routing_per_category(category: Category, teams: tuple[str, ...]) -> None:
    decision = RoutingRules().route(spike({category: 8, Category.OTHER: 1}), ACME)
    assert decision.teams == teams
    assert decision.categories == (category,)


def test_mixed_spike_routes_every_category_with_30_percent() -> None:
    decision = RoutingRules().route(
        spike({Category.TECHNICAL: 6, Category.BILLING: 5, Category.TRAINING: 1}), ACME
    )
    assert decision.categories == (Category.TECHNICAL, Category.BILLING)
    assert decision.teams == ("support_lead", "product", "finance", "csm")
    assert decision.explanation == (
        "category technical 50% >= 30% -> support_lead, product",
        "category billing 42% >= 30% -> finance, csm",
    )


def test_exactly_30_percent_counts_and_no_leader_falls_back_to_largest() -> None:
    assert leading_categories(spike({Category.TECHNICAL: 7, Category.BILLING: 3})) == (
        Category.TECHNICAL,
        Category.BILLING,
    )
    even = spike(
        {
            Category.TECHNICAL: 1,
            Category.BILLING: 1,
            Category.TRAINING: 1,
            Category.FEATURE_REQUEST: 1,
            Category.OTHER: 1,
        }
    )
    assert leading_categories(even) == (Category.TECHNICAL,)
    assert leading_categories(spike({})) == ()


def test_custom_organization_rule_overrides_defaults() -> None:
    routing = rules("""
routing:
  rules:
    - name: acme-technical
      when:
        organization: acme
        categories: {technical: 0.5}
      send_to:
        teams: [acme_sre]
        people: [U0LEAD, cto@acme.example]
        channels: ["#acme-war-room"]
""")
    decision = routing.route(spike({Category.TECHNICAL: 9, Category.BILLING: 1}), ACME)
    assert decision.teams == ("acme_sre",)
    assert decision.people == ("U0LEAD", "cto@acme.example")
    assert decision.channels == ("#acme-war-room",)
    assert decision.matched_rules == ("acme-technical",)
    assert decision.explanation == (
        "rule 'acme-technical' matched (organization acme; technical share 90% >= 50%) -> "
        "acme_sre, U0LEAD, cto@acme.example, #acme-war-room; category routing replaced",
    )
    other_org = Account(id="globex-1", organization="globex")
    fallback = routing.route(spike({Category.TECHNICAL: 9, Category.BILLING: 1}), other_org)
    assert fallback.teams == ("support_lead", "product")
    assert fallback.explanation[0] == (
        "rule 'acme-technical' did not match: organization globex is not acme"
    )


def test_planner_sends_rule_targets_as_team_person_and_channel_actions() -> None:
    routing = rules("""
routing:
  channels: {acme_sre: "#acme-sre"}
  rules:
    - name: acme
      when: {organization: acme}
      send_to: {teams: [acme_sre], people: [U0LEAD], channels: ["#acme-war-room"]}
""")
    transition = Transition(
        kind=TransitionKind.OPENED,
        at=T0,
        customer_id="acme-1",
        episode_id="e1",
        severity=Severity.HIGH,
        assessment=spike({Category.BILLING: 5}),
        opened_at=T0,
    )
    plan = Planner(routing=routing).plan(transition, ACME)
    (team,) = [a for a in plan.actions if isinstance(a, NotifyTeam)]
    assert (team.team, team.channel, team.reason) == ("acme_sre", "#acme-sre", "rule 'acme'")
    person = [
        a for a in plan.actions if isinstance(a, DirectMessage) and a.recipient.role == "person"
    ]
    assert [p.recipient.person.slack_id for p in person if p.recipient.person] == ["U0LEAD"]
    posts = [a.channel for a in plan.actions if isinstance(a, ChannelPost)]
    assert "#acme-war-room" in posts
    assert (
        "routing: rule 'acme' matched (organization acme) -> acme_sre, U0LEAD, "
        "#acme-war-room; category routing replaced" in plan.notes
    )


def test_first_match_vs_all_match_and_keep_defaults() -> None:
    text = """
routing:
  match: {mode}
  rules:
    - name: big
      when: {{min_arr: 100000}}
      send_to: {{teams: [exec]}}
      defaults: keep
    - name: p1s
      when: {{min_p1: 2, severity: [high, critical]}}
      send_to: {{teams: [oncall]}}
      defaults: keep
"""
    a = spike({Category.BILLING: 5}, p1=3)
    first = rules(text.format(mode="first")).route(a, ACME)
    assert first.matched_rules == ("big",)
    assert first.teams == ("exec", "finance", "csm")
    every = rules(text.format(mode="all")).route(a, ACME)
    assert every.matched_rules == ("big", "p1s")
    assert every.teams == ("exec", "oncall", "finance", "csm")


@pytest.mark.parametrize(
    ("when", "account", "matches"),
    [
        ("{segment: enterprise}", ACME, True),
        ("{segment: [smb, mid]}", ACME, False),
        ("{min_arr: 300000}", ACME, False),
        ("{max_arr: 300000}", ACME, True),
        ("{min_arr: 1}", Account(id="acme-1"), False),
        ("{themes: [login]}", ACME, True),
        ("{themes: [invoice]}", ACME, False),
        ("{severity: critical}", ACME, False),
        ("{min_tickets: 5}", ACME, True),
        ("{customer: acme-1}", ACME, True),
    ],
)
def test_rule_conditions(when: str, account: Account, matches: bool) -> None:
    routing = rules(
        f"routing:\n  rules:\n    - name: r\n      when: {when}\n      send_to: {{teams: [x]}}\n"
    )
    decision = routing.route(spike({Category.TRAINING: 5}, themes=("Login issues",)), account)
    assert (decision.matched_rules == ("r",)) is matches


def test_team_mapping_override() -> None:
    routing = rules("routing:\n  teams:\n    training: [academy]\n  mixed_share: 0.5\n")
    decision = routing.route(spike({Category.TRAINING: 5, Category.BILLING: 4}), ACME)
    assert decision.teams == ("academy",)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("routing:\n  match: any\n", "r.yaml:2: routing.match: expected one of first, all"),
        ("routing:\n  mixed_share: 2\n", "r.yaml:2: routing.mixed_share: expected a number <= 1"),
        (
            "routing:\n  teams:\n    hardware: [x]\n",
            "r.yaml:3: routing.teams.hardware: unknown category",
        ),
        (
            "routing:\n  rules:\n    - name: r\n      when: {orgnization: a}\n"
            "      send_to: {teams: [x]}\n",
            "r.yaml:4: routing.rules[0].when.orgnization: unknown key (did you mean 'organization'?)",  # noqa: E501
        ),
        (
            "routing:\n  rules:\n    - name: r\n      send_to: {people: [bob]}\n",
            "r.yaml:4: routing.rules[0].send_to.people: expected Slack user ids",
        ),
        (
            "routing:\n  rules:\n    - name: r\n      send_to: {}\n",
            "r.yaml:4: routing.rules[0].send_to: expected at least one of teams, people or channels",  # noqa: E501
        ),
        (
            "routing:\n  rules:\n    - name: r\n",
            "r.yaml:3: routing.rules[0]: missing required key 'send_to'",
        ),
        (
            "routing:\n  rules:\n    - name: r\n      when: {min_p1: many}\n      send_to: {teams: [x]}\n",  # noqa: E501
            "r.yaml:4: routing.rules[0].when.min_p1: expected a whole number",
        ),
        (
            "routing:\n  rules:\n    - name: r\n      send_to: {channels: ['not a channel']}\n",
            "r.yaml:4: routing.rules[0].send_to.channels: expected a channel name",
        ),
        (
            "routing:\n  rules:\n    - {name: r, send_to: {teams: [x]}}\n"
            "    - {name: r, send_to: {teams: [y]}}\n",
            "r.yaml:4: routing.rules[1].name: duplicate rule name 'r'",
        ),
    ],
)
def test_bad_routing_fails_with_file_line_and_key(yaml_text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        rules(yaml_text)
    assert expected in str(err.value)
