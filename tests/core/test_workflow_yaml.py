"""Workflow YAML (docs/workflow.md): the default, aliases, load-time refusals with file:line:key."""

from __future__ import annotations

import json
import textwrap

import pytest

from ticketspike.configfile import load_text
from ticketspike.errors import ConfigError
from ticketspike.planner.workflow import (
    ChannelPostStep,
    CreateTaskStep,
    DirectMessageStep,
    DraftEmailStep,
    Workflow,
    default_workflow,
    workflow_from_config,
)

DOCUMENTED_WORKFLOW = """\
workflow: support_spike_escalation
version: 1.0
trigger:
  type: risk_signal_created
  filter:
    signal_type: ticket_spike

steps:
  - id: notify_csm
    action: slack_dm
    config:
      message_template: "support_spike_alert"
      urgency: high
      include_quick_actions: true

  - id: notify_manager
    condition: "{{severity}} == 'critical'"
    action: slack_dm
    config:
      recipient: "{{customer.csm.manager_id}}"
      message_template: "support_spike_manager_alert"

  - id: create_coordination_thread
    action: slack_channel_post
    config:
      channel: "#cs-escalations"
      message_template: "support_spike_coordination"
      create_thread: true

  - id: create_task
    action: create_task
    config:
      title: "URGENT: Support spike for {{customer.name}} - {{ticket_count}} tickets"
      due_date_offset_hours: 4
      priority: critical

  - id: draft_acknowledgment
    action: delegate_to_agent
    config:
      agent: communicator
      action: draft_email
      params:
        template: support_spike_acknowledgment
        requires_approval: true

  - id: update_health_score
    action: update_health_score
    config:
      adjustment: -15
      reason: "Support ticket spike detected"
"""


def load(yaml_text: str) -> Workflow:
    root = load_text(yaml_text, name="w.yaml")
    return workflow_from_config(root.get_section("workflow"))


def steps_yaml(body: str) -> str:
    return "workflow:\n  steps:\n" + textwrap.indent(textwrap.dedent(body), "    ")


def test_prd_workflow_loads_verbatim_with_aliases() -> None:
    workflow = load("workflow:\n" + textwrap.indent(DOCUMENTED_WORKFLOW, "  "))
    assert workflow.name == "support_spike_escalation"
    assert [(s.id, s.action) for s in workflow.steps] == [
        ("notify_csm", "direct_message"),
        ("notify_manager", "direct_message"),
        ("create_coordination_thread", "channel_post"),
        ("create_task", "create_task"),
        ("draft_acknowledgment", "draft_email"),
        ("update_health_score", "adjust_health_score"),
    ]
    manager = workflow.steps[1].config
    assert isinstance(manager, DirectMessageStep) and manager.recipient.role == "manager"
    task = workflow.steps[3].config
    assert isinstance(task, CreateTaskStep)
    assert (task.due_hours, task.priority) == (4.0, "critical")


def test_default_workflow_is_the_prd_workflow_plus_war_room_sync_and_routing() -> None:
    workflow = default_workflow()
    documented = load("workflow:\n" + textwrap.indent(DOCUMENTED_WORKFLOW, "  "))
    assert workflow.steps[:6] == documented.steps
    assert [s.action for s in workflow.steps[6:]] == [
        "add_to_war_room",
        "schedule_sync",
        "notify_team",
    ]
    assert workflow_from_config(None) == workflow
    thread = workflow.thread_step
    assert thread is not None and isinstance(thread.config, ChannelPostStep)


def test_section_without_steps_keeps_default_steps() -> None:
    workflow = load("workflow:\n  name: ours\n")
    assert workflow.name == "ours"
    assert workflow.steps == default_workflow().steps


def test_our_kinds_are_accepted() -> None:
    workflow = load(
        steps_yaml("""\
        - id: post
          action: channel_post
          config: {channel: "#x", create_thread: true}
        - id: reply
          action: thread_reply
          config: {text: "{{ ticket_count }} tickets", broadcast: true}
        - id: update
          action: update_message
          config: {target: post}
        - id: room
          action: add_to_war_room
        - id: sync
          action: schedule_sync
          config: {attendees: [csm, U0ABC, lead@vendor.example], within_hours: 2}
        - id: teams
          action: notify_team
          config: {teams: [sre, product]}
        - id: mail
          action: draft_email
          config: {sla_hours: 12}
        """)
    )
    assert [s.action for s in workflow.steps] == [
        "channel_post",
        "thread_reply",
        "update_message",
        "add_to_war_room",
        "schedule_sync",
        "notify_team",
        "draft_email",
    ]
    mail = workflow.steps[-1].config
    assert isinstance(mail, DraftEmailStep) and mail.sla_hours == 12


def refusal(yaml_text: str) -> str:
    with pytest.raises(ConfigError) as err:
        load(yaml_text)
    return str(err.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "- id: a\n  action: slack_dmm\n",
            "w.yaml:4: workflow.steps[0].action: unknown action 'slack_dmm'",
        ),
        (
            "- id: a\n  action: create_task\n  config:\n    titel: x\n",
            "w.yaml:6: workflow.steps[0].config.titel: unknown key (did you mean 'title'?)",
        ),
        (
            "- id: a\n  action: create_task\n  config:\n    priority: 3\n",
            "w.yaml:6: workflow.steps[0].config.priority: expected one of low, normal, high",
        ),
        (
            "- id: a\n  action: create_task\n  config:\n    due_date_offset_hours: soon\n",
            "w.yaml:6: workflow.steps[0].config.due_date_offset_hours: expected a number",
        ),
        (
            "- id: a\n  action: channel_post\n  config:\n    channel: '#x'\n"
            "    create_thread: yes please\n",
            "w.yaml:7: workflow.steps[0].config.create_thread: expected true or false",
        ),
        (
            "- id: a\n  action: update_health_score\n  config:\n    adjustment: lots\n",
            "w.yaml:6: workflow.steps[0].config.adjustment: expected a number",
        ),
        (
            "- id: a\n  action: draft_email\n  config:\n    requires_approval: false\n",
            "w.yaml:6: workflow.steps[0].config.requires_approval: e-mail drafts always require",
        ),
        (
            "- id: a\n  action: create_task\n  colour: red\n",
            "w.yaml:5: workflow.steps[0].colour: unknown key",
        ),
        (
            "- id: a\n  action: create_task\n- id: a\n  action: create_task\n",
            "w.yaml:5: workflow.steps[1].id: duplicate step id 'a'",
        ),
        (
            "- id: a.b\n  action: create_task\n",
            "w.yaml:3: workflow.steps[0].id: expected letters, digits",
        ),
        (
            "- id: r\n  action: thread_reply\n  config: {text: hi}\n",
            "workflow.steps[0].config: expected the id of an earlier channel post with create_thread",  # noqa: E501
        ),
        (
            "- id: a\n  action: slack_dm\n  config:\n    recipient: the boss\n",
            "w.yaml:6: workflow.steps[0].config.recipient: expected csm, manager, champion",
        ),
        ("- just a string\n", "w.yaml:3: workflow.steps[0]: expected a step mapping"),
    ],
)
def test_bad_steps_fail_at_load_with_file_line_and_key(body: str, expected: str) -> None:
    assert expected in refusal(steps_yaml(body))


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ ''.__class__.__mro__ }}", "refers to Python internals"),
        ("{{ cycler.__init__.__globals__ }}", "refers to Python internals"),
        ("{{ customer['__class__'] }}", "refers to Python internals"),
        ("{{ customer.__dict__ }}", "refers to Python internals"),
        ("{{ self }}", "unknown variable 'self'"),
        ("{{ range(10) }}", "calling functions is not allowed"),
        ("{{ themes.pop() }}", "calling functions is not allowed"),
        ("{{ themes | map(attribute='__class__') | list }}", "No filter named 'map'"),
        ("{{ customer | attr('__class__') }}", "No filter named 'attr'"),
        ("{% set x = 1 %}{{ x }}", "{% set %} is not allowed"),
        ("{% include 'x' %}", "including other templates is not allowed"),
        ("{{ customer.nam }}", "unknown field 'nam' in customer"),
        ("{{ severty }}", "unknown variable 'severty'"),
        ("{{ ticket_count + 'x' }}", "unsupported operand"),
        ("{{ ticket_count ", "invalid template"),
    ],
)
def test_templates_reaching_internals_or_unknowns_are_refused(template: str, expected: str) -> None:
    # A JSON string is a YAML double-quoted scalar: the template arrives unchanged.
    body = f"- id: a\n  action: create_task\n  config:\n    title: {json.dumps(template)}\n"
    message = refusal(steps_yaml(body))
    assert message.startswith("w.yaml:6: workflow.steps[0].config.title: ")
    assert expected in message


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("{{severity}} ==", "invalid condition"),
        ("{{ severity.__class__ }} == 'x'", "refers to Python internals"),
        ("{{ cycler.__init__.__globals__ }}", "refers to Python internals"),
        ("{{ lipsum() }}", "calling functions is not allowed"),
        ("{{ sevrity }} == 'critical'", "unknown variable 'sevrity'"),
        ("{{ severity }} }} {{", "unbalanced"),
        ("{{ ticket_count }} > 'x'", "not supported"),
    ],
)
def test_bad_conditions_fail_at_load(condition: str, expected: str) -> None:
    body = f"- id: a\n  action: create_task\n  condition: {json.dumps(condition)}\n"
    message = refusal(steps_yaml(body))
    assert message.startswith("w.yaml:5: workflow.steps[0].condition: ")
    assert expected in message


def test_templates_may_loop_and_branch_over_context_values() -> None:
    workflow = load(
        steps_yaml("""\
        - id: a
          action: create_task
          condition: "severity == 'critical' and p1_count >= 1"
          config:
            title: >-
              {% for t in themes %}{{ t | upper }}{% if not loop.last %}/{% endif %}{% endfor %}
            description: "{{ customer.arr | default(0) | round }} ARR; top {{ top_category }}"
        """)
    )
    step = workflow.steps[0]
    assert step.condition is not None and step.condition.expression == (
        "severity == 'critical' and p1_count >= 1"
    )
    config = step.config
    assert isinstance(config, CreateTaskStep)
    assert config.title.render({"themes": ["a", "b"]}) == "A/B"


def test_trigger_is_checked() -> None:
    message = refusal("workflow:\n  trigger:\n    type: cron\n")
    assert message.startswith(
        "w.yaml:3: workflow.trigger.type: expected one of risk_signal_created"
    )
    message = refusal("workflow:\n  trigger:\n    filter:\n      severity: [medium]\n")
    assert message.startswith(
        "w.yaml:4: workflow.trigger.filter.severity: expected high or critical"
    )
