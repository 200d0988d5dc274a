"""The escalation workflow: YAML (docs/workflow.md) turned into checked, typed steps.

A workflow is a trigger and an ordered list of steps, each with an ``id``, an
``action``, an optional ``condition`` and a ``config``. Everything is parsed
and compiled when the config loads (unknown actions, unknown keys, bad types,
bad templates and conditions fail with ``file:line: key: what was expected``),
so planning never meets a surprise it could have caught earlier.

The long action names of earlier workflow files are accepted as aliases of our action kinds:
``slack_dm`` is ``direct_message``, ``slack_channel_post`` is
``channel_post``, ``update_health_score`` is ``adjust_health_score`` and
``delegate_to_agent`` with ``action: draft_email`` is ``draft_email``.

The built-in default (:func:`default_workflow`) is the workflow of
docs/workflow.md: alert the CSM, a review task, the acknowledgement draft, the
health score, the coordination thread, the war room, a sync on several P1 tickets and
team routing. Pure: parsing text, no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..configfile import Section, SequenceView, load_text
from ..errors import ConfigError
from ..model import Person
from ..signals import Severity
from .templates import (
    EMAIL_VARIABLES,
    Condition,
    TextTemplate,
    compile_condition,
    compile_text,
)

__all__ = [
    "ACTION_ALIASES",
    "ACTION_KINDS",
    "DEFAULT_WORKFLOW_YAML",
    "MESSAGE_TEMPLATES",
    "AddToWarRoomStep",
    "AdjustHealthScoreStep",
    "ChannelPostStep",
    "CreateTaskStep",
    "DirectMessageStep",
    "DraftEmailStep",
    "MessageSpec",
    "NotifyTeamStep",
    "RecipientSpec",
    "ScheduleSyncStep",
    "Step",
    "StepConfig",
    "ThreadReplyStep",
    "Trigger",
    "UpdateMessageStep",
    "Workflow",
    "default_workflow",
    "workflow_from_config",
]

ACTION_KINDS = (
    "direct_message",
    "channel_post",
    "thread_reply",
    "update_message",
    "create_task",
    "draft_email",
    "adjust_health_score",
    "add_to_war_room",
    "schedule_sync",
    "notify_team",
)
ACTION_ALIASES = {
    "slack_dm": "direct_message",
    "slack_channel_post": "channel_post",
    "update_health_score": "adjust_health_score",
    "delegate_to_agent": "draft_email",  # with config.action: draft_email
}
# Built-in message layouts a step may name in ``message_template``; each is
# the opening alert with its own title (see planner/alert.py).
MESSAGE_TEMPLATES = (
    "support_spike_alert",
    "support_spike_manager_alert",
    "support_spike_coordination",
)
EMAIL_TEMPLATES = ("support_spike_acknowledgment",)
TRIGGER_TYPES = ("risk_signal_created",)
URGENCIES = ("low", "normal", "high")
TASK_PRIORITIES = ("low", "normal", "high", "urgent", "critical")
ROLES = ("csm", "manager", "champion")

# The default acknowledgement e-mail, in the same template language
# users customise it in. Values are data: ticket text is never template source.
DEFAULT_EMAIL_SUBJECT = "We're on it - addressing your recent issues"
DEFAULT_EMAIL_BODY = """\
Hi {{ champion_name }},

I wanted to reach out personally because I noticed your team has experienced \
several issues recently. First and foremost, I want to apologize for any \
disruption this has caused.

I've already coordinated with our support and technical teams to prioritize \
your tickets. Here's what we're doing:
{% if technical_issues %}
- Our engineering team is actively investigating the reported technical issues
{%- endif %}
{%- if billing_issues %}
- Our billing team is reviewing the concerns and will reach out directly
{%- endif %}
{%- if training_issues %}
- Our enablement team will set up a session to walk your team through the \
areas causing questions
{%- endif %}
{%- if feature_requests %}
- I've shared your feature requests with our product team and will follow up \
on what we can do
{%- endif %}

You should expect updates on your open tickets within the next {{ sla_hours }} hours.

In the meantime, if there's anything urgent or if you'd like to discuss this \
directly, please don't hesitate to reach out. I'm here to help.

Best regards,
{{ csm_name }}
"""

DEFAULT_WORKFLOW_YAML = """\
name: support_spike_escalation
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

  - id: add_to_war_room
    condition: "{{customer.war_room}} is not none"
    action: add_to_war_room

  - id: schedule_sync
    condition: "{{p1_count}} >= 2"
    action: schedule_sync
    config:
      within_hours: 24

  - id: route_teams
    action: notify_team
"""


# -- typed steps -------------------------------------------------------------


@attrs.frozen
class RecipientSpec:
    """Who a step addresses: a role of the account (``csm``, ``manager``, ``champion``)
    or a fixed ``person`` (a Slack id or an e-mail address from the config)."""

    role: str
    person: Person | None = None


@attrs.frozen
class MessageSpec:
    """A built-in message layout, optionally with a custom title and extra lines."""

    template: str = "support_spike_alert"
    title: TextTemplate | None = None
    text: TextTemplate | None = None


@attrs.frozen(kw_only=True)
class DirectMessageStep:
    recipient: RecipientSpec = RecipientSpec("csm")
    message: MessageSpec = MessageSpec()
    urgency: str = "normal"
    include_quick_actions: bool = False


@attrs.frozen(kw_only=True)
class ChannelPostStep:
    channel: TextTemplate
    message: MessageSpec = MessageSpec("support_spike_coordination")
    create_thread: bool = False


@attrs.frozen(kw_only=True)
class ThreadReplyStep:
    thread: str  # id of the channel_post step that roots the thread
    text: TextTemplate
    broadcast: bool = False


@attrs.frozen(kw_only=True)
class UpdateMessageStep:
    target: str  # id of the step whose message is rewritten
    message: MessageSpec = MessageSpec()


@attrs.frozen(kw_only=True)
class CreateTaskStep:
    title: TextTemplate
    due_hours: float = 4.0
    priority: str = "high"
    assignee: RecipientSpec = RecipientSpec("csm")
    description: TextTemplate | None = None


@attrs.frozen(kw_only=True)
class DraftEmailStep:
    subject: TextTemplate
    body: TextTemplate
    template: str = "support_spike_acknowledgment"
    sla_hours: float = 4.0
    to: RecipientSpec = RecipientSpec("champion")
    sender: RecipientSpec = RecipientSpec("csm")


@attrs.frozen(kw_only=True)
class AdjustHealthScoreStep:
    delta: float
    reason: TextTemplate


@attrs.frozen(kw_only=True)
class AddToWarRoomStep:
    summary: TextTemplate
    war_room: TextTemplate | None = None  # None: the account's active war room


@attrs.frozen(kw_only=True)
class ScheduleSyncStep:
    within_hours: float = 24.0
    attendees: tuple[RecipientSpec, ...] = (RecipientSpec("csm"), RecipientSpec("manager"))
    teams: bool = True  # invite the routed teams as well
    reason: TextTemplate | None = None


@attrs.frozen(kw_only=True)
class NotifyTeamStep:
    teams: tuple[str, ...] = ()  # empty: the teams routing picks


StepConfig = (
    DirectMessageStep
    | ChannelPostStep
    | ThreadReplyStep
    | UpdateMessageStep
    | CreateTaskStep
    | DraftEmailStep
    | AdjustHealthScoreStep
    | AddToWarRoomStep
    | ScheduleSyncStep
    | NotifyTeamStep
)


@attrs.frozen
class Step:
    """One checked workflow step; ``action`` is always one of :data:`ACTION_KINDS`."""

    id: str
    action: str
    config: StepConfig
    condition: Condition | None = None
    line: int = attrs.field(default=0, eq=False)  # where it was written, not what it is


@attrs.frozen
class Trigger:
    """When the workflow runs: risk signals of type ``ticket_spike`` at these severities."""

    type: str = "risk_signal_created"
    signal_type: str = "ticket_spike"
    severities: tuple[Severity, ...] = (Severity.HIGH, Severity.CRITICAL)


@attrs.frozen
class Workflow:
    """A checked workflow. Build with :func:`workflow_from_config` or :func:`default_workflow`."""

    name: str
    version: str
    trigger: Trigger
    steps: tuple[Step, ...]

    def step(self, step_id: str) -> Step | None:
        for step in self.steps:
            if step.id == step_id:
                return step
        return None

    @property
    def thread_step(self) -> Step | None:
        """The first channel post that opens the coordination thread, if any."""
        for step in self.steps:
            if isinstance(step.config, ChannelPostStep) and step.config.create_thread:
                return step
        return None

    def describe(self) -> dict[str, Any]:
        """What was understood, for ``check-config`` (plain values only)."""
        return {
            "name": self.name,
            "version": self.version,
            "trigger": {
                "type": self.trigger.type,
                "signal_type": self.trigger.signal_type,
                "severities": [s.value for s in self.trigger.severities],
            },
            "steps": [_describe_step(step) for step in self.steps],
        }


def _describe_step(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"id": step.id, "action": step.action}
    if step.condition is not None:
        out["condition"] = step.condition.source
    config: dict[str, Any] = {}
    for field in attrs.fields(type(step.config)):
        value = getattr(step.config, field.name)
        config[field.name] = _plain(value)
    out["config"] = config
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, TextTemplate):
        return value.source
    if isinstance(value, RecipientSpec):
        if value.person is not None:
            return value.person.slack_id or value.person.email
        return value.role
    if isinstance(value, MessageSpec):
        out: dict[str, Any] = {"template": value.template}
        if value.title is not None:
            out["title"] = value.title.source
        if value.text is not None:
            out["text"] = value.text.source
        return out
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# -- parsing -----------------------------------------------------------------

_STEP_KEYS = frozenset({"id", "action", "condition", "config", "description"})
_WORKFLOW_KEYS = frozenset(
    {"name", "workflow", "version", "trigger", "steps", "description", "extends", "remove"}
)
EXTENDS = ("default",)
# No dots: the planner derives sub-step ids as "<step>.<team>", which must not collide.
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")


def workflow_from_config(section: Section | None) -> Workflow:
    """The ``workflow`` section as a checked :class:`Workflow`; ``None`` gives the default.

    A section without ``steps`` keeps the default steps (so a config may only
    rename the workflow or narrow its trigger). ``steps`` alone replace the default steps
    whole. ``extends: default`` keeps them and changes only what is named: ``remove`` lists
    default step ids to drop, and each of ``steps`` replaces the default step with its id in
    place or, with a new id, is added at the end. Raises :class:`ConfigError` naming file,
    line and key.
    """
    if section is None:
        return default_workflow()
    return _parse_workflow(section, default_steps=True)


@functools.lru_cache(maxsize=1)
def default_workflow() -> Workflow:
    """The default workflow (:data:`DEFAULT_WORKFLOW_YAML`)."""
    root = load_text(DEFAULT_WORKFLOW_YAML, name="<default workflow>")
    assert isinstance(root, Section)
    return _parse_workflow(root, default_steps=False)


def _parse_workflow(section: Section, *, default_steps: bool) -> Workflow:
    section.check_keys(_WORKFLOW_KEYS)
    if "name" in section and "workflow" in section:
        raise section.error("workflow", "give the workflow's name once, as 'name'")
    name_key = "workflow" if "workflow" in section else "name"
    name = section.get_str(name_key, "support_spike_escalation") or "support_spike_escalation"
    version = section.get_str("version", "1.0") or "1.0"
    section.get_str("description")
    trigger = _parse_trigger(section.get_section("trigger"))
    if "extends" in section:
        steps = _extended_steps(section)
    elif "remove" in section:
        raise section.error("remove", "remove needs extends: default (the steps it removes from)")
    elif "steps" not in section and default_steps:
        steps = default_workflow().steps
    else:
        steps = _parse_steps(section)
    return Workflow(name=name, version=version, trigger=trigger, steps=steps)


def _extended_steps(section: Section) -> tuple[Step, ...]:
    """``extends: default``: the default steps, less ``remove``, with ``steps`` merged in."""
    section.get_str("extends", required=True, choices=EXTENDS)
    base = list(default_workflow().steps)
    known = {step.id for step in base}
    removed: set[str] = set()
    items = section.get_list("remove")
    for index, item in enumerate(items):
        if not isinstance(item, str) or item not in known:
            raise section.error(
                "remove",
                f"item {index}: expected the id of a default step "
                f"({', '.join(sorted(known))}), got {item!r}",
            )
        removed.add(item)
    kept = [step for step in base if step.id not in removed]
    added = _parse_steps(section, earlier={step.id: step for step in kept})
    for step in added:
        if step.id in removed:
            raise section.error("steps", f"step {step.id!r} is both removed and given")
    by_id = {step.id: step for step in added}
    merged = [by_id.pop(step.id, step) for step in kept]
    merged.extend(step for step in added if step.id in by_id)
    return tuple(merged)


def _parse_trigger(section: Section | None) -> Trigger:
    if section is None:
        return Trigger()
    section.check_keys({"type", "filter"})
    kind = section.get_str("type", TRIGGER_TYPES[0], choices=TRIGGER_TYPES) or TRIGGER_TYPES[0]
    filt = section.get_section("filter")
    signal_type = "ticket_spike"
    severities: tuple[Severity, ...] = (Severity.HIGH, Severity.CRITICAL)
    if filt is not None:
        filt.check_keys({"signal_type", "severity"})
        signal_type = (
            filt.get_str("signal_type", "ticket_spike", choices=("ticket_spike",)) or "ticket_spike"
        )
        if "severity" in filt:
            severities = _severities(filt, "severity")
    return Trigger(type=kind, signal_type=signal_type, severities=severities)


def _severities(section: Section, key: str) -> tuple[Severity, ...]:
    raw = section[key]
    values = raw if isinstance(raw, list) else [raw]
    out: list[Severity] = []
    for value in values:
        if value not in ("high", "critical"):
            raise section.error(
                key, f"expected high or critical (or a list of them), got {value!r}"
            )
        out.append(Severity(value))
    if not out:
        raise section.error(key, "expected at least one severity")
    return tuple(out)


def _parse_steps(
    section: Section, *, earlier: Mapping[str, Step] | None = None
) -> tuple[Step, ...]:
    items = section.get_list("steps")
    seq = section["steps"] if items else None
    steps: list[Step] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, Section):
            assert isinstance(seq, SequenceView)
            raise seq.error(index, "expected a step mapping with id and action")
        step = _parse_step(item, earlier={**(earlier or {}), **{s.id: s for s in steps}})
        if step.id in seen:
            raise item.error("id", f"duplicate step id {step.id!r}")
        seen.add(step.id)
        steps.append(step)
    return tuple(steps)


def _parse_step(item: Section, *, earlier: dict[str, Step]) -> Step:
    item.check_keys(_STEP_KEYS)
    step_id = item.get_str("id", required=True) or ""
    if not _ID.match(step_id):
        raise item.error("id", "expected letters, digits, '_' or '-' (at most 64)")
    raw_action = item.get_str("action", required=True) or ""
    action = ACTION_ALIASES.get(raw_action, raw_action)
    if action not in ACTION_KINDS:
        known = sorted({*ACTION_KINDS, *ACTION_ALIASES})
        raise item.error(
            "action", f"unknown action {raw_action!r}; expected one of: " + ", ".join(known)
        )
    item.get_str("description")
    condition = None
    if "condition" in item and item["condition"] is not None:
        condition = compile_condition(item["condition"], section=item, key="condition")
    config = item.get_section("config")
    if config is None:
        config = Section(name=item.name, path=item.key_path("config"), line=item.line)
    if raw_action == "delegate_to_agent":
        config = _agent_params(config)
    parser = _PARSERS[action]
    return Step(
        id=step_id,
        action=action,
        config=parser(config, earlier),
        condition=condition,
        line=item.line,
    )


def _agent_params(config: Section) -> Section:
    """The ``delegate_to_agent`` form: ``{agent, action: draft_email, params}``."""
    config.check_keys({"agent", "action", "params"})
    config.get_str("agent")
    config.get_str("action", "draft_email", choices=("draft_email",))
    params = config.get_section("params")
    if params is None:
        return Section(name=config.name, path=config.key_path("params"), line=config.line)
    return params


# -- per-kind config parsers ---------------------------------------------------


def _recipient(section: Section, key: str, default: str) -> RecipientSpec:
    raw = section.get_str(key, default) or default
    return _recipient_value(raw, lambda message: section.error(key, message))


def _recipient_value(raw: str, error: Callable[[str], ConfigError]) -> RecipientSpec:
    text = raw.strip()
    if text in ROLES:
        return RecipientSpec(text)
    match = re.fullmatch(r"\{\{\s*([A-Za-z_.]+)\s*\}\}", text)
    if match:
        path = match.group(1)
        for prefix, role in (
            ("customer.csm.manager", "manager"),
            ("customer.csm", "csm"),
            ("customer.champion", "champion"),
        ):
            if path == prefix or path.startswith(prefix + ".") or path == prefix + "_id":
                return RecipientSpec(role)
        raise error(
            "a recipient template must name customer.csm, customer.csm.manager or customer.champion"
        )
    if re.fullmatch(r"[UW][A-Z0-9]{2,}", text):
        return RecipientSpec("person", Person(slack_id=text))
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        return RecipientSpec("person", Person(email=text))
    raise error(
        f"expected csm, manager, champion, a Slack user id (U...) or an e-mail address, got {raw!r}"
    )


def _message(section: Section, default: str) -> MessageSpec:
    template = section.get_str("message_template", default, choices=MESSAGE_TEMPLATES) or default
    title = _optional_text(section, "title")
    text = _optional_text(section, "text")
    return MessageSpec(template=template, title=title, text=text)


def _optional_text(section: Section, key: str) -> TextTemplate | None:
    if key not in section or section[key] is None:
        return None
    return compile_text(section[key], section=section, key=key)


def _hours(section: Section, key: str, default: float) -> float:
    value = section.get_float(key, default, minimum=0)
    return default if value is None else value


def _dm(config: Section, _earlier: dict[str, Step]) -> DirectMessageStep:
    config.check_keys(
        {"recipient", "message_template", "title", "text", "urgency", "include_quick_actions"}
    )
    return DirectMessageStep(
        recipient=_recipient(config, "recipient", "csm"),
        message=_message(config, "support_spike_alert"),
        urgency=config.get_str("urgency", "normal", choices=URGENCIES) or "normal",
        include_quick_actions=bool(config.get_bool("include_quick_actions", False)),
    )


def _post(config: Section, _earlier: dict[str, Step]) -> ChannelPostStep:
    config.check_keys({"channel", "message_template", "title", "text", "create_thread"})
    if "channel" not in config or config["channel"] is None:
        raise config.error(None, "missing required key 'channel'")
    return ChannelPostStep(
        channel=compile_text(config["channel"], section=config, key="channel"),
        message=_message(config, "support_spike_coordination"),
        create_thread=bool(config.get_bool("create_thread", False)),
    )


def _reply(config: Section, earlier: dict[str, Step]) -> ThreadReplyStep:
    config.check_keys({"thread", "text", "broadcast"})
    threads = [
        s.id
        for s in earlier.values()
        if isinstance(s.config, ChannelPostStep) and s.config.create_thread
    ]
    thread = config.get_str("thread", threads[0] if threads else None)
    if thread is None or thread not in threads:
        known = ", ".join(threads) or "none"
        raise config.error(
            "thread" if "thread" in config else None,
            f"expected the id of an earlier channel post with create_thread (known: {known})",
        )
    if "text" not in config or config["text"] is None:
        raise config.error(None, "missing required key 'text'")
    return ThreadReplyStep(
        thread=thread,
        text=compile_text(config["text"], section=config, key="text"),
        broadcast=bool(config.get_bool("broadcast", False)),
    )


def _update(config: Section, earlier: dict[str, Step]) -> UpdateMessageStep:
    config.check_keys({"target", "message_template", "title", "text"})
    target = config.get_str("target", required=True) or ""
    posts = [s.id for s in earlier.values() if s.action in ("channel_post", "direct_message")]
    if target not in posts:
        raise config.error(
            "target",
            "expected the id of an earlier channel post or direct "
            f"message (known: {', '.join(posts) or 'none'})",
        )
    return UpdateMessageStep(target=target, message=_message(config, "support_spike_alert"))


def _task(config: Section, _earlier: dict[str, Step]) -> CreateTaskStep:
    config.check_keys({"title", "due_date_offset_hours", "priority", "assignee", "description"})
    title = config.get("title", "Support spike for {{customer.name}} - {{ticket_count}} tickets")
    return CreateTaskStep(
        title=compile_text(title, section=config, key="title"),
        due_hours=_hours(config, "due_date_offset_hours", 4.0),
        priority=config.get_str("priority", "high", choices=TASK_PRIORITIES) or "high",
        assignee=_recipient(config, "assignee", "csm"),
        description=_optional_text(config, "description"),
    )


def _email(config: Section, _earlier: dict[str, Step]) -> DraftEmailStep:
    config.check_keys(
        {"template", "requires_approval", "sla_hours", "subject", "body", "to", "sender"}
    )
    template = config.get_str("template", EMAIL_TEMPLATES[0], choices=EMAIL_TEMPLATES)
    if config.get_bool("requires_approval", True) is False:
        raise config.error(
            "requires_approval", "e-mail drafts always require approval; remove the key or set true"
        )
    subject = config.get("subject", DEFAULT_EMAIL_SUBJECT)
    body = config.get("body", DEFAULT_EMAIL_BODY)
    return DraftEmailStep(
        subject=compile_text(subject, section=config, key="subject", variables=EMAIL_VARIABLES),
        body=compile_text(body, section=config, key="body", variables=EMAIL_VARIABLES),
        template=template or EMAIL_TEMPLATES[0],
        sla_hours=_hours(config, "sla_hours", 4.0),
        to=_recipient(config, "to", "champion"),
        sender=_recipient(config, "sender", "csm"),
    )


def _health(config: Section, _earlier: dict[str, Step]) -> AdjustHealthScoreStep:
    config.check_keys({"adjustment", "reason"})
    delta = config.get_float("adjustment", -15.0, minimum=-100, maximum=100)
    reason = config.get("reason", "Support ticket spike detected")
    return AdjustHealthScoreStep(
        delta=-15.0 if delta is None else delta,
        reason=compile_text(reason, section=config, key="reason"),
    )


def _war_room(config: Section, _earlier: dict[str, Step]) -> AddToWarRoomStep:
    config.check_keys({"war_room", "summary"})
    summary = config.get(
        "summary",
        "Support spike: {{ticket_count}} tickets in {{period_hours}}h ({{severity}})",
    )
    return AddToWarRoomStep(
        summary=compile_text(summary, section=config, key="summary"),
        war_room=_optional_text(config, "war_room"),
    )


def _sync(config: Section, _earlier: dict[str, Step]) -> ScheduleSyncStep:
    config.check_keys({"within_hours", "attendees", "teams", "reason"})
    attendees: tuple[RecipientSpec, ...] = (RecipientSpec("csm"), RecipientSpec("manager"))
    if "attendees" in config and config["attendees"] is not None:
        items = config.get_list("attendees")
        seq = config["attendees"]
        if not items:
            raise config.error("attendees", "expected at least one attendee")
        parsed = []
        for i, value in enumerate(items):
            if not isinstance(value, str):
                raise seq.error(i, f"expected a role or a person, got {value!r}")
            parsed.append(_recipient_value(value, functools.partial(seq.error, i)))
        attendees = tuple(parsed)
    return ScheduleSyncStep(
        within_hours=_hours(config, "within_hours", 24.0),
        attendees=attendees,
        teams=bool(config.get_bool("teams", True)),
        reason=_optional_text(config, "reason"),
    )


def _notify(config: Section, _earlier: dict[str, Step]) -> NotifyTeamStep:
    config.check_keys({"teams"})
    teams = config.get_list("teams")
    for team in teams:
        if not isinstance(team, str) or not _ID.match(team):
            raise config.error("teams", f"expected team ids (letters, digits, '_'), got {team!r}")
    return NotifyTeamStep(teams=tuple(teams))


_PARSERS: dict[str, Any] = {
    "direct_message": _dm,
    "channel_post": _post,
    "thread_reply": _reply,
    "update_message": _update,
    "create_task": _task,
    "draft_email": _email,
    "adjust_health_score": _health,
    "add_to_war_room": _war_room,
    "schedule_sync": _sync,
    "notify_team": _notify,
}
