"""The opening alert and the acknowledgement e-mail (docs/workflow.md, docs/email.md)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ticketspike.configfile import load_text
from ticketspike.model import Account, Category, Person, Priority
from ticketspike.planner.alert import AlertLinks, alert_message, percent
from ticketspike.planner.email import clean_text
from ticketspike.planner.message import render_text
from ticketspike.planner.plan import DirectMessage, DraftEmail
from ticketspike.planner.planner import Planner
from ticketspike.planner.workflow import workflow_from_config
from ticketspike.signals import Assessment, BaselineSource, Severity, Transition, TransitionKind

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

# The alert of docs/workflow.md, line for line.
EXAMPLE_ALERT = """\
:rotating_light: SUPPORT SPIKE ALERT: TechCorp Inc

15 tickets in last 24 hours (6.5x normal rate)

Ticket Breakdown:
- Technical: 10 (67%)
- Billing: 2 (13%)
- Training: 3 (20%)

Severity: 3 P1, 7 P2, 5 P3

Common Themes: API errors, login issues

Customer: TechCorp Inc
ARR: $500,000
Health Score: 52 (was 78)
CSM: Mike Johnson

[View Tickets] [Draft Response] [Start War Room] [View Customer]"""

ACCOUNT = Account(
    id="techcorp",
    name="TechCorp Inc",
    arr=500_000,
    health_score=52,
    previous_health_score=78,
    csm=Person(name="Mike Johnson", email="mike@vendor.example", slack_id="U0MIKE"),
    champion=Person(name="Dana Lee", email="dana@techcorp.example"),
)


def assessment(
    categories: dict[Category, int] | None = None,
    themes: tuple[str, ...] = ("API errors", "login issues"),
) -> Assessment:
    cats = (
        categories
        if categories is not None
        else {Category.TECHNICAL: 10, Category.BILLING: 2, Category.TRAINING: 3}
    )
    count = sum(cats.values())
    return Assessment(
        customer_id="techcorp",
        at=T0,
        is_spike=True,
        severity=Severity.CRITICAL,
        ticket_count=count,
        baseline_daily_avg=count / 6.5,
        expected_count=count / 6.5,
        spike_multiplier=6.5,
        period_start=T0 - timedelta(hours=24),
        period_end=T0,
        period_hours=24.0,
        baseline_source=BaselineSource.OWN,
        baseline_days=30.0,
        p_value=1e-6,
        category_breakdown=tuple(cats.items()),
        severity_breakdown=((Priority.P1, 3), (Priority.P2, 7), (Priority.P3, 5)),
        themes=themes,
        ticket_links=(("101", "https://support.example/tickets/101"),),
    )


def test_alert_reproduces_prd_layout_line_for_line() -> None:
    message = alert_message(assessment(), ACCOUNT, severity=Severity.CRITICAL)
    assert render_text(message).splitlines() == EXAMPLE_ALERT.splitlines()


def test_planned_csm_message_is_the_prd_alert() -> None:
    transition = Transition(
        kind=TransitionKind.OPENED,
        at=T0,
        customer_id="techcorp",
        episode_id="ep",
        severity=Severity.CRITICAL,
        assessment=assessment(),
        opened_at=T0,
    )
    plan = Planner().plan(transition, ACCOUNT)
    csm = next(a for a in plan.actions if isinstance(a, DirectMessage))
    assert render_text(csm.message) == EXAMPLE_ALERT
    assert csm.message.ticket_links == (("101", "https://support.example/tickets/101"),)


@pytest.mark.parametrize(
    ("count", "total", "expected"),
    [(10, 15, 67), (2, 15, 13), (3, 15, 20), (1, 8, 13), (1, 3, 33), (0, 5, 0), (1, 0, 0)],
)
def test_percent_rounds_half_up(count: int, total: int, expected: int) -> None:
    assert percent(count, total) == expected


def test_links_fill_ids_url_quoted() -> None:
    links = AlertLinks(view_customer="https://crm.example/c/{customer_id}?e={episode_id}")
    message = alert_message(
        assessment(), ACCOUNT, severity=Severity.HIGH, episode_id="ep/1", links=links
    )
    by_label = {link.label: link for link in message.links}
    assert by_label["View Customer"].url == "https://crm.example/c/techcorp?e=ep%2F1"
    assert by_label["View Tickets"].url is None
    assert by_label["View Tickets"].action_id == "view_tickets"


def _email(
    categories: dict[Category, int],
    account: Account = ACCOUNT,
    workflow_yaml: str | None = None,
    themes: tuple[str, ...] = ("API errors",),
) -> DraftEmail:
    workflow = None
    if workflow_yaml is not None:
        workflow = workflow_from_config(
            load_text(workflow_yaml, name="w.yaml").get_section("workflow")
        )
    transition = Transition(
        kind=TransitionKind.OPENED,
        at=T0,
        customer_id="techcorp",
        episode_id="ep",
        severity=Severity.HIGH,
        assessment=assessment(categories, themes),
        opened_at=T0,
    )
    planner = Planner(workflow=workflow) if workflow is not None else Planner()
    return next(a for a in planner.plan(transition, account).actions if isinstance(a, DraftEmail))


def test_email_paragraphs_follow_the_ticket_categories() -> None:
    technical = _email({Category.TECHNICAL: 9})
    assert technical.subject == "We're on it - addressing your recent issues"
    assert technical.body.startswith("Hi Dana Lee,\n")
    assert "engineering team is actively investigating" in technical.body
    assert "billing team" not in technical.body
    assert "within the next 4 hours" in technical.body
    assert technical.body.rstrip().endswith("Best regards,\nMike Johnson")

    billing = _email({Category.BILLING: 4, Category.TRAINING: 2, Category.FEATURE_REQUEST: 1})
    assert "engineering team" not in billing.body
    assert "billing team is reviewing the concerns" in billing.body
    assert "enablement team will set up a session" in billing.body
    assert "feature requests with our product team" in billing.body
    assert billing.requires_approval is True


def test_email_sla_hours_and_templates_are_configurable() -> None:
    email = _email(
        {Category.TECHNICAL: 5},
        workflow_yaml="""
workflow:
  steps:
    - id: ack
      action: draft_email
      config:
        sla_hours: 8
        subject: "Update for {{ customer.name }}"
        body: >-
          Hello {{ champion_name }}, expect news in {{ sla_hours }}h.
          Themes: {{ themes | join(', ') }}
""",
    )
    assert email.subject == "Update for TechCorp Inc"
    assert email.body == "Hello Dana Lee, expect news in 8h. Themes: API errors\n"


def test_email_strips_control_characters_and_never_evaluates_ticket_text() -> None:
    account = Account(
        id="techcorp",
        name="Tech\r\nBcc: evil@x.example",
        champion=Person(name="Dana\u202e\x07 Lee", email="d@t.example"),
        csm=Person(name="Mike"),
    )
    email = _email(
        {Category.TECHNICAL: 5},
        account=account,
        themes=("{{ 7*7 }}\n\nP.S. wire money",),
        workflow_yaml="""
workflow:
  steps:
    - id: ack
      action: draft_email
      config:
        subject: "Issues at {{ customer.name }}"
        body: "Hi {{ champion_name }}: {{ themes | join(', ') }}"
""",
    )
    assert email.subject == "Issues at Tech Bcc: evil@x.example"
    assert "\n" not in email.subject
    assert email.body == "Hi Dana Lee: {{ 7*7 }} P.S. wire money\n"


def test_clean_text_keeps_ordinary_unicode() -> None:
    assert clean_text("Zoë  Łukasz\t日本") == "Zoë Łukasz 日本"
    assert clean_text("a\x00b\u2066c\u2069") == "abc"


def test_no_champion_means_no_draft_and_a_note() -> None:
    transition = Transition(
        kind=TransitionKind.OPENED,
        at=T0,
        customer_id="techcorp",
        episode_id="ep",
        severity=Severity.HIGH,
        assessment=assessment(),
        opened_at=T0,
    )
    account = Account(id="techcorp", name="TechCorp Inc", csm=ACCOUNT.csm)
    plan = Planner().plan(transition, account)
    assert not [a for a in plan.actions if isinstance(a, DraftEmail)]
    assert "no champion known for TechCorp Inc; acknowledgement e-mail not drafted" in plan.notes


def test_custom_title_and_text_follow_the_facts() -> None:
    workflow = workflow_from_config(
        load_text(
            """
workflow:
  steps:
    - id: notify_csm
      action: slack_dm
      config:
        title: "Spike at {{ customer.name }} ({{ severity }})"
        text: "Top category: {{ top_category }}.\\nReview within 4 hours."
""",
            name="w.yaml",
        ).get_section("workflow")
    )
    transition = Transition(
        kind=TransitionKind.OPENED,
        at=T0,
        customer_id="techcorp",
        episode_id="ep",
        severity=Severity.HIGH,
        assessment=assessment(),
        opened_at=T0,
    )
    (dm,) = Planner(workflow=workflow).plan(transition, ACCOUNT).actions
    assert isinstance(dm, DirectMessage)
    lines = render_text(dm.message).splitlines()
    assert lines[0] == ":rotating_light: Spike at TechCorp Inc (high)"
    assert lines[lines.index("CSM: Mike Johnson") :] == [
        "CSM: Mike Johnson",
        "",
        "Top category: technical.",
        "Review within 4 hours.",
        "",
        "[View Tickets] [Draft Response] [Start War Room] [View Customer]",
    ]
