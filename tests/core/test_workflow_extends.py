"""``workflow: extends: default``: change the default workflow without replacing it."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketspike.configfile import load_text
from ticketspike.errors import ConfigError
from ticketspike.planner.workflow import (
    CreateTaskStep,
    Workflow,
    default_workflow,
    workflow_from_config,
)

DEFAULT_IDS = [step.id for step in default_workflow().steps]


def load(yaml_text: str) -> Workflow:
    root = load_text(textwrap.dedent(yaml_text), name="w.yaml")
    return workflow_from_config(root.get_section("workflow"))


def refusal(yaml_text: str) -> str:
    with pytest.raises(ConfigError) as err:
        load(yaml_text)
    return str(err.value)


def test_extends_alone_is_the_default_workflow() -> None:
    assert load("workflow:\n  extends: default\n").steps == default_workflow().steps


def test_a_new_step_is_added_after_every_default_step() -> None:
    workflow = load(
        """\
        workflow:
          extends: default
          steps:
            - id: tell_finance
              action: notify_team
              config: {teams: [finance]}
        """
    )
    assert [s.id for s in workflow.steps] == [*DEFAULT_IDS, "tell_finance"]
    assert workflow.steps[:-1] == default_workflow().steps


def test_a_step_with_a_default_id_replaces_it_in_place_and_remove_drops_steps() -> None:
    workflow = load(
        """\
        workflow:
          extends: default
          remove: [schedule_sync, update_health_score]
          steps:
            - id: create_task
              action: create_task
              config: {title: "Look at {{customer.name}}", due_date_offset_hours: 2}
        """
    )
    expected = [i for i in DEFAULT_IDS if i not in ("schedule_sync", "update_health_score")]
    assert [s.id for s in workflow.steps] == expected
    task = workflow.step("create_task")
    assert task is not None and isinstance(task.config, CreateTaskStep)
    assert task.config.due_hours == 2.0
    assert workflow.step("notify_csm") == default_workflow().step("notify_csm")


def test_an_added_step_may_reply_in_the_default_coordination_thread() -> None:
    workflow = load(
        """\
        workflow:
          extends: default
          steps:
            - id: thread_note
              action: thread_reply
              config: {thread: create_coordination_thread, text: "Runbook: https://wiki/x"}
        """
    )
    assert workflow.steps[-1].id == "thread_note"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  extends: mine\n", "w.yaml:2: workflow.extends: expected one of default, got 'mine'"),
        ("  extends: default\n  remove: [notify_cms]\n", "w.yaml:3: workflow.remove: item 0"),
        ("  remove: [notify_csm]\n", "w.yaml:2: workflow.remove: remove needs extends: default"),
        (
            "  extends: default\n  remove: [notify_csm]\n  steps:\n"
            "    - {id: notify_csm, action: slack_dm}\n",
            "workflow.steps: step 'notify_csm' is both removed and given",
        ),
    ],
)
def test_mistakes_name_the_line_and_key(body: str, expected: str) -> None:
    assert expected in refusal("workflow:\n" + body)


@given(st.sets(st.sampled_from(DEFAULT_IDS)))
def test_removing_any_set_of_default_steps_keeps_the_rest_in_order(removed: set[str]) -> None:
    listed = ", ".join(sorted(removed))
    workflow = load(f"workflow:\n  extends: default\n  remove: [{listed}]\n")
    assert [s.id for s in workflow.steps] == [i for i in DEFAULT_IDS if i not in removed]
