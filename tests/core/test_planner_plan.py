"""Escalation plans for opened, escalated and resolved spikes (docs/workflow.md)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs
import pytest

from ticketspike.configfile import load_text
from ticketspike.model import Account, Category, Person, Priority
from ticketspike.planner.message import render_text
from ticketspike.planner.plan import (
    AddToWarRoom,
    AdjustHealthScore,
    ChannelPost,
    CreateTask,
    DirectMessage,
    DraftEmail,
    NotifyTeam,
    ScheduleSync,
    ThreadReply,
    UpdateMessage,
)
from ticketspike.planner.planner import Planner
from ticketspike.planner.routing import routing_from_config
from ticketspike.planner.summary import plan_lines
from ticketspike.planner.workflow import workflow_from_config
from ticketspike.signals import (
    Assessment,
    BaselineSource,
    Severity,
    Transition,
    TransitionKind,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def assessment(
    *,
    severity: Severity = Severity.CRITICAL,
    categories: dict[Category, int] | None = None,
    priorities: dict[Priority, int] | None = None,
    themes: tuple[str, ...] = ("API errors", "login issues"),
    multiplier: float = 6.5,
) -> Assessment:
    cats = (
        categories
        if categories is not None
        else {Category.TECHNICAL: 10, Category.BILLING: 2, Category.TRAINING: 3}
    )
    prios = (
        priorities if priorities is not None else {Priority.P1: 3, Priority.P2: 7, Priority.P3: 5}
    )
    count = sum(cats.values())
    return Assessment(
        customer_id="techcorp",
        at=T0,
        is_spike=True,
        severity=severity,
        ticket_count=count,
        baseline_daily_avg=count / multiplier,
        expected_count=count / multiplier,
        spike_multiplier=multiplier,
        period_start=T0 - timedelta(hours=24),
        period_end=T0,
        period_hours=24.0,
        baseline_source=BaselineSource.OWN,
        baseline_days=30.0,
        p_value=1e-6,
        category_breakdown=tuple(cats.items()),
        severity_breakdown=tuple(prios.items()),
        themes=themes,
    )


def transition(
    kind: TransitionKind = TransitionKind.OPENED,
    *,
    severity: Severity = Severity.CRITICAL,
    at: datetime = T0,
    suppressed: str | None = None,
    **kw: object,
) -> Transition:
    return Transition(
        kind=kind,
        at=at,
        customer_id="techcorp",
        episode_id="ep-7",
        severity=severity,
        assessment=assessment(severity=severity, **kw),  # type: ignore[arg-type]
        opened_at=T0,
        suppressed=suppressed,
    )


MANAGER = Person(name="Sara Chen", email="sara@vendor.example", slack_id="U0SARA")
CSM = Person(name="Mike Johnson", email="mike@vendor.example", slack_id="U0MIKE", manager=MANAGER)
ACCOUNT = Account(
    id="techcorp",
    name="TechCorp Inc",
    arr=500_000,
    health_score=52,
    previous_health_score=78,
    segment="enterprise",
    organization="org-a",
    csm=CSM,
    champion=Person(name="Dana Lee", email="dana@techcorp.example"),
)


def of(plan_actions: tuple[object, ...], kind: type) -> list:  # type: ignore[type-arg]
    return [a for a in plan_actions if isinstance(a, kind)]


def test_critical_plan_holds_every_prd_step() -> None:
    plan = Planner().plan(transition(), ACCOUNT)

    dms = of(plan.actions, DirectMessage)
    assert [(d.recipient.role, d.recipient.person) for d in dms] == [
        ("csm", CSM),
        ("manager", MANAGER),
    ]
    assert dms[0].urgency == "high" and dms[0].include_quick_actions

    (post,) = of(plan.actions, ChannelPost)
    assert post.channel == "#cs-escalations" and post.create_thread

    (task,) = of(plan.actions, CreateTask)
    assert task.title == "URGENT: Support spike for TechCorp Inc - 15 tickets"
    assert task.due_at == datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc)
    assert task.priority == "critical"
    assert task.assignee.person == CSM

    (email,) = of(plan.actions, DraftEmail)
    assert email.requires_approval is True
    assert email.to.person is not None and email.to.person.email == "dana@techcorp.example"

    (health,) = of(plan.actions, AdjustHealthScore)
    assert health.delta == -15 and health.reason == "Support ticket spike detected"

    teams = [n.team for n in of(plan.actions, NotifyTeam)]
    assert teams == ["support_lead", "product"]
    assert plan.routed_teams == ("support_lead", "product")
    # 3 P1 tickets: the workflow asks for an internal sync.
    (sync,) = of(plan.actions, ScheduleSync)
    assert [a.role for a in sync.attendees] == ["csm", "manager", "support_lead", "product"]


def test_high_spike_has_no_manager_message() -> None:
    plan = Planner().plan(transition(severity=Severity.HIGH), ACCOUNT)
    roles = [d.recipient.role for d in of(plan.actions, DirectMessage)]
    assert roles == ["csm"]
    assert of(plan.actions, CreateTask) and of(plan.actions, DraftEmail)
    assert "notify_manager" in [s["step"] for s in plan.progress["skipped_steps"]]


def test_keys_are_stable_and_built_from_episode_transition_and_step() -> None:
    first = Planner().plan(transition(), ACCOUNT)
    again = Planner().plan(transition(), ACCOUNT)
    assert [a.key for a in first.actions] == [a.key for a in again.actions]
    assert first.to_json() == again.to_json()
    assert "ep-7:opened:notify_csm" in [a.key for a in first.actions]
    assert len({a.key for a in first.actions}) == len(first.actions)


def test_missing_manager_degrades_with_a_note() -> None:
    account = attrs.evolve(ACCOUNT, csm=Person(name="Mike Johnson", slack_id="U0MIKE"))
    plan = Planner().plan(transition(), account)
    assert [d.recipient.role for d in of(plan.actions, DirectMessage)] == ["csm"]
    assert "no manager known for TechCorp Inc; manager message not planned" in plan.notes


def test_unknown_account_still_plans_what_it_can() -> None:
    plan = Planner().plan(transition(severity=Severity.HIGH), None)
    kinds = {a.kind for a in plan.actions}
    assert {"channel_post", "create_task", "adjust_health_score", "notify_team"} <= kinds
    assert "direct_message" not in kinds and "draft_email" not in kinds
    assert "no CSM known for techcorp; CSM message not planned" in plan.notes
    assert "no champion known for techcorp; acknowledgement e-mail not drafted" in plan.notes


def test_war_room_only_when_one_is_active() -> None:
    without = Planner().plan(transition(), ACCOUNT)
    assert not of(without.actions, AddToWarRoom)
    with_room = Planner().plan(transition(), attrs.evolve(ACCOUNT, war_room="WR-12"))
    (room,) = of(with_room.actions, AddToWarRoom)
    assert room.war_room == "WR-12" and room.customer_id == "techcorp"


def test_no_sync_with_a_single_p1() -> None:
    plan = Planner().plan(transition(priorities={Priority.P1: 1, Priority.P2: 14}), ACCOUNT)
    assert not of(plan.actions, ScheduleSync)


def test_escalation_adds_manager_and_thread_update_but_never_repeats_csm() -> None:
    later = T0 + timedelta(hours=3)
    plan = Planner().plan(transition(TransitionKind.ESCALATED, at=later), ACCOUNT)
    dms = of(plan.actions, DirectMessage)
    assert [d.recipient.role for d in dms] == ["manager"]
    assert dms[0].key == "ep-7:escalated:notify_manager"
    assert not of(plan.actions, CreateTask) and not of(plan.actions, DraftEmail)
    assert not of(plan.actions, AdjustHealthScore)

    thread_key = "ep-7:opened:create_coordination_thread"
    (reply,) = of(plan.actions, ThreadReply)
    assert reply.thread_key == thread_key and reply.depends_on == (thread_key,)
    assert "Severity raised from high to critical." in reply.message.lines
    (update,) = of(plan.actions, UpdateMessage)
    assert update.target_key == thread_key and update.message.severity is Severity.CRITICAL
    # The thread the escalation replies in is the one the opened plan posted.
    opened = Planner().plan(transition(), ACCOUNT)
    assert thread_key in [a.key for a in opened.actions]


def test_escalation_routes_only_teams_the_new_severity_adds() -> None:
    routing = routing_from_config(
        load_text(
            """
routing:
  match: all
  rules:
    - name: exec-on-critical
      when: {severity: critical}
      send_to: {teams: [exec_team]}
      defaults: keep
""",
            name="r.yaml",
        ).get_section("routing")
    )
    plan = Planner(routing=routing).plan(transition(TransitionKind.ESCALATED), ACCOUNT)
    assert [n.team for n in of(plan.actions, NotifyTeam)] == ["exec_team"]
    assert plan.routed_teams == ("exec_team",)


def test_resolution_posts_in_the_thread_and_closes_the_loop() -> None:
    end = T0 + timedelta(hours=30)
    plan = Planner().plan(
        transition(TransitionKind.RESOLVED, severity=Severity.HIGH, at=end), ACCOUNT
    )
    assert [a.kind for a in plan.actions] == ["thread_reply", "update_message"]
    reply = plan.actions[0]
    assert isinstance(reply, ThreadReply)
    assert reply.thread_key == "ep-7:opened:create_coordination_thread"
    assert "The spike lasted 1d 6h" in render_text(reply.message)
    assert plan.progress["status"] == "resolved"
    assert plan.progress["hours_open"] == 30.0
    assert plan.progress["resolved_at"] == end.isoformat()


def test_suppressed_transition_pages_nobody() -> None:
    plan = Planner().plan(transition(suppressed="outage INC-1"), ACCOUNT)
    assert plan.actions == ()
    assert plan.notes == ("suppressed (outage INC-1): nothing planned",)
    assert plan.progress["suppressed"] == "outage INC-1"


def test_hostile_ticket_text_stays_literal() -> None:
    hostile = "{{ 7*7 }} <!channel>"
    account = attrs.evolve(ACCOUNT, name="Evil {{ 7*7 }} <!here>")
    plan = Planner().plan(transition(themes=(hostile,)), account)
    (task,) = of(plan.actions, CreateTask)
    assert task.title == "URGENT: Support spike for Evil {{ 7*7 }} <!here> - 15 tickets"
    text = render_text(of(plan.actions, DirectMessage)[0].message)
    assert "Common Themes: {{ 7*7 }} <!channel>" in text
    assert "49" not in text
    blob = str(plan.to_json())
    assert "49" not in blob


def test_custom_workflow_thread_reply_and_update_steps() -> None:
    workflow = workflow_from_config(
        load_text(
            """
workflow:
  steps:
    - id: post
      action: channel_post
      config: {channel: "#spikes", create_thread: true}
    - id: followup
      action: thread_reply
      config: {text: "Owner: {{ customer.csm.name }}"}
    - id: teams
      action: notify_team
      config: {teams: [sre]}
""",
            name="w.yaml",
        ).get_section("workflow")
    )
    plan = Planner(workflow=workflow).plan(transition(), ACCOUNT)
    assert [a.kind for a in plan.actions] == ["channel_post", "thread_reply", "notify_team"]
    reply = plan.actions[1]
    assert isinstance(reply, ThreadReply)
    assert reply.thread_key == "ep-7:opened:post" and reply.message.lines == (
        "Owner: Mike Johnson",
    )
    assert plan.routed_teams == ("sre",)


def test_condition_on_missing_account_value_is_a_note_not_a_crash() -> None:
    workflow = workflow_from_config(
        load_text(
            """
workflow:
  steps:
    - id: big
      condition: "{{ customer.arr }} > 100000"
      action: create_task
      config: {title: "Big customer spike"}
""",
            name="w.yaml",
        ).get_section("workflow")
    )
    plan = Planner(workflow=workflow).plan(transition(), Account(id="techcorp"))
    assert plan.actions == ()
    assert len(plan.notes) == 1 and plan.notes[0].startswith("big: not planned, condition")


@pytest.mark.parametrize("severity", [Severity.HIGH, Severity.CRITICAL])
def test_trigger_severity_filter(severity: Severity) -> None:
    workflow = workflow_from_config(
        load_text(
            """
workflow:
  trigger:
    type: risk_signal_created
    filter: {signal_type: ticket_spike, severity: critical}
""",
            name="w.yaml",
        ).get_section("workflow")
    )
    plan = Planner(workflow=workflow).plan(transition(severity=severity), ACCOUNT)
    assert bool(plan.actions) is (severity is Severity.CRITICAL)


def test_preview_plans_an_assessment_as_if_it_opened() -> None:
    a = assessment()
    plan = Planner().preview(a, ACCOUNT)
    assert plan.transition is TransitionKind.OPENED
    assert plan.episode_id == "techcorp@2026-03-02T09:00:00+00:00"
    assert plan.actions[0].key == "techcorp@2026-03-02T09:00:00+00:00:opened:notify_csm"
    assert Planner().preview(a, ACCOUNT).to_json() == plan.to_json()


def test_plan_lines_say_what_and_for_whom() -> None:
    lines = plan_lines(Planner().plan(transition(severity=Severity.HIGH), None))
    assert lines[0] == "plan for techcorp (opened, high, episode ep-7):"
    assert "  1. post in #cs-escalations, opens the coordination thread" in lines
    assert (
        "  2. task 'URGENT: Support spike for techcorp - 15 tickets' for csm (unknown), "
        "priority critical, due 2026-03-02T13:00:00+00:00"
    ) in lines
    assert "  3. health score -15: Support ticket spike detected" in lines
    assert "  note: no CSM known for techcorp; CSM message not planned" in lines
