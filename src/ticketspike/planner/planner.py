"""Turn one spike transition into an :class:`EscalationPlan`: the workflow, made concrete.

``opened`` runs the workflow's steps whose conditions hold. ``escalated``
(high to critical) adds only what the new severity brings: the steps whose
condition was false at the old severity and is true now (the manager message
of the default workflow), the teams routing adds at the new severity, a reply
in the coordination thread and an update of the thread's first post. It
never repeats the CSM message, the task or the health adjustment.
``resolved`` posts a resolution note in the thread, updates the first post
and reports the episode closed in ``progress``.

Every action's key is ``action_key(episode_id, transition, step_id)``; a
thread reply names its thread by the key the ``opened`` plan gave the post,
so plans for later transitions can be made without looking anything up.
Missing account pieces never fail a plan: the step is left out and
``notes`` says why. Pure: time comes from the transition, nothing is read
or written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs

from ..model import Account, Person
from ..signals import Assessment, Severity, Transition, TransitionKind
from .alert import (
    AlertLinks,
    alert_message,
    escalation_message,
    resolution_message,
)
from .email import email_context, render_email
from .message import AlertMessage, MessageKind
from .plan import (
    Action,
    AddToWarRoom,
    AdjustHealthScore,
    ChannelPost,
    CreateTask,
    DirectMessage,
    DraftEmail,
    EscalationPlan,
    NotifyTeam,
    Recipient,
    ScheduleSync,
    ThreadReply,
    UpdateMessage,
    action_key,
)
from .routing import RoutingDecision, RoutingRules
from .templates import TemplateRenderError, TextTemplate, spike_context
from .workflow import (
    AddToWarRoomStep,
    AdjustHealthScoreStep,
    ChannelPostStep,
    CreateTaskStep,
    DirectMessageStep,
    DraftEmailStep,
    MessageSpec,
    NotifyTeamStep,
    RecipientSpec,
    ScheduleSyncStep,
    Step,
    ThreadReplyStep,
    UpdateMessageStep,
    Workflow,
    default_workflow,
)

__all__ = ["Planner"]

_ROLE_LABEL = {"csm": "CSM", "manager": "manager", "champion": "champion"}
_MANAGER_TITLE = "CRITICAL SUPPORT SPIKE ALERT"


@attrs.frozen
class _Ctx:
    """What one planning pass knows; built once per transition."""

    transition: Transition
    account: Account | None
    severity: Severity
    routing: RoutingDecision
    values: Mapping[str, Any]

    @property
    def name(self) -> str:
        if self.account is not None:
            return self.account.display_name
        return self.transition.customer_id

    def key(self, step_id: str, kind: TransitionKind | None = None) -> str:
        return action_key(self.transition.episode_id, kind or self.transition.kind, step_id)


class _Out:
    """Actions and notes collected while planning (local to one call)."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.notes: list[str] = []
        self.skipped: list[dict[str, str]] = []
        self.teams: list[str] = []

    def skip(self, step: str, reason: str, *, note: bool = True) -> None:
        self.skipped.append({"step": step, "reason": reason})
        if note:
            self.notes.append(reason)


@attrs.frozen(kw_only=True)
class Planner:
    """Plans escalations from transitions; pure and safe to share between threads.

    ``links`` fills the alert's buttons when the host has URLs for
    them. ``previous_severity`` is what an ``escalated`` transition escalated
    from: the lifecycle only escalates high to critical.
    """

    workflow: Workflow = attrs.field(factory=default_workflow)
    routing: RoutingRules = attrs.field(factory=RoutingRules)
    links: AlertLinks = AlertLinks()
    previous_severity: Severity = Severity.HIGH

    def plan(self, transition: Transition, account: Account | None) -> EscalationPlan:
        """The plan for ``transition`` of one episode, given what is known of the account."""
        out = _Out()
        severity = transition.severity
        if transition.suppressed:
            out.notes.append(f"suppressed ({transition.suppressed}): nothing planned")
        elif transition.kind is TransitionKind.RESOLVED:
            self._resolved(self._ctx(transition, account, severity), out)
        elif severity not in self.workflow.trigger.severities:
            out.notes.append(
                f"severity {severity.value} is not in the workflow trigger "
                f"({', '.join(s.value for s in self.workflow.trigger.severities)}): "
                "nothing planned"
            )
        elif transition.kind is TransitionKind.OPENED:
            self._opened(self._ctx(transition, account, severity), out)
        else:
            self._escalated(transition, account, out)
        return EscalationPlan(
            episode_id=transition.episode_id,
            transition=transition.kind,
            customer_id=transition.customer_id,
            severity=severity,
            at=transition.at,
            actions=tuple(out.actions),
            notes=tuple(out.notes),
            routed_teams=tuple(out.teams),
            progress=self._progress(transition, out),
        )

    def preview(self, assessment: Assessment, account: Account | None) -> EscalationPlan:
        """The plan an ``opened`` transition for ``assessment`` would get (``scan --plan``).

        The episode id is ``<customer>@<assessment time>``, so previews are
        reproducible; real episodes get their ids from the lifecycle.
        """
        transition = Transition(
            kind=TransitionKind.OPENED,
            at=assessment.at,
            customer_id=assessment.customer_id,
            episode_id=f"{assessment.customer_id}@{assessment.at.isoformat()}",
            severity=assessment.severity,
            assessment=assessment,
            opened_at=assessment.at,
        )
        return self.plan(transition, account)

    # -- transitions ---------------------------------------------------------

    def _ctx(
        self,
        transition: Transition,
        account: Account | None,
        severity: Severity,
        *,
        previous: Severity | None = None,
    ) -> _Ctx:
        assessment = transition.assessment
        decision = self.routing.route(assessment, account, severity=severity)
        values = spike_context(
            assessment,
            account,
            severity=severity,
            previous_severity=previous,
            transition=transition.kind.value,
            episode_id=transition.episode_id,
            categories=[c.value for c in decision.categories],
            teams=decision.teams,
        )
        return _Ctx(transition, account, severity, decision, values)

    def _opened(self, ctx: _Ctx, out: _Out) -> None:
        if any(
            isinstance(s.config, NotifyTeamStep) and not s.config.teams for s in self.workflow.steps
        ):
            # The dry run of routing, so a reader sees why each team was picked.
            for line in ctx.routing.explanation:
                out.notes.append(f"routing: {line}")
        for step in self.workflow.steps:
            holds = self._holds(step, ctx, out)
            if holds is None:
                continue
            if not holds:
                source = step.condition.source if step.condition is not None else ""
                out.skip(step.id, f"{step.id}: condition {source} is false", note=False)
                continue
            self._build(step, ctx, out, ctx.routing)

    def _escalated(self, transition: Transition, account: Account | None, out: _Out) -> None:
        before = self._ctx(transition, account, self.previous_severity)
        now = self._ctx(transition, account, transition.severity, previous=self.previous_severity)
        added = _new_routes(before.routing, now.routing)
        for step in self.workflow.steps:
            was, holds = self._holds(step, before, out), self._holds(step, now, out)
            if not holds or was is None:
                continue
            if isinstance(step.config, NotifyTeamStep) and not step.config.teams:
                # Routing may send a critical spike further; notify only the additions.
                routes = added if was else now.routing
                if routes.teams or routes.people or routes.channels:
                    out.notes.append(
                        "routing: at "
                        + now.severity.value
                        + " severity also -> "
                        + ", ".join([*routes.teams, *routes.people, *routes.channels])
                    )
                    self._build(step, now, out, routes)
            elif not was:
                # Ran (or was ruled out) when the episode opened; only what the new
                # severity switches on is planned now, so the CSM is never messaged twice.
                self._build(step, now, out, added)
        thread = self.workflow.thread_step
        if thread is None:
            out.notes.append("the workflow has no coordination thread; escalation not posted")
            return
        thread_key = now.key(thread.id, TransitionKind.OPENED)
        assessment = transition.assessment
        out.actions.append(
            ThreadReply(
                step_id=f"{thread.id}.escalation",
                key=now.key(f"{thread.id}.escalation"),
                depends_on=(thread_key,),
                thread_key=thread_key,
                message=escalation_message(
                    assessment,
                    account,
                    severity=transition.severity,
                    previous=self.previous_severity,
                ),
                broadcast=True,
            )
        )
        assert isinstance(thread.config, ChannelPostStep)
        updated = self._message(thread.config.message, now, out, thread.id)
        if updated is not None:
            out.actions.append(
                UpdateMessage(
                    step_id=f"{thread.id}.update",
                    key=now.key(f"{thread.id}.update"),
                    depends_on=(thread_key,),
                    target_key=thread_key,
                    message=updated,
                )
            )

    def _resolved(self, ctx: _Ctx, out: _Out) -> None:
        transition = ctx.transition
        thread = self.workflow.thread_step
        if thread is None:
            out.notes.append("the workflow has no coordination thread; resolution not posted")
            return
        thread_key = ctx.key(thread.id, TransitionKind.OPENED)
        assessment = transition.assessment
        note = resolution_message(
            assessment, ctx.account, opened_at=transition.opened_at, resolved_at=transition.at
        )
        out.actions.append(
            ThreadReply(
                step_id=f"{thread.id}.resolution",
                key=ctx.key(f"{thread.id}.resolution"),
                depends_on=(thread_key,),
                thread_key=thread_key,
                message=note,
            )
        )
        resolved = alert_message(
            assessment,
            ctx.account,
            severity=transition.severity,
            episode_id=transition.episode_id,
            title=f"RESOLVED - SUPPORT SPIKE ALERT: {ctx.name}",
            lines=note.lines,
            links=self.links,
            emoji=":white_check_mark:",
        )
        out.actions.append(
            UpdateMessage(
                step_id=f"{thread.id}.update",
                key=ctx.key(f"{thread.id}.update"),
                depends_on=(thread_key,),
                target_key=thread_key,
                message=resolved,
            )
        )

    # -- steps ---------------------------------------------------------------

    def _holds(self, step: Step, ctx: _Ctx, out: _Out) -> bool | None:
        """The step's condition; ``None`` (with a note) when it cannot be evaluated."""
        if step.condition is None:
            return True
        try:
            return step.condition.evaluate(ctx.values)
        except TemplateRenderError as exc:
            out.skip(step.id, f"{step.id}: not planned, {exc}")
            return None

    def _render(
        self,
        template: TextTemplate,
        ctx: _Ctx,
        out: _Out,
        step_id: str,
        values: Mapping[str, Any] | None = None,
    ) -> str | None:
        try:
            return template.render(ctx.values if values is None else values)
        except TemplateRenderError as exc:
            out.skip(step_id, f"{step_id}: not planned, {exc}")
            return None

    def _message(
        self, spec: MessageSpec, ctx: _Ctx, out: _Out, step_id: str
    ) -> AlertMessage | None:
        title = None
        if spec.title is not None:
            title = self._render(spec.title, ctx, out, step_id)
            if title is None:
                return None
        elif spec.template == "support_spike_manager_alert":
            title = f"{_MANAGER_TITLE}: {ctx.name}"
        lines: tuple[str, ...] = ()
        if spec.text is not None:
            text = self._render(spec.text, ctx, out, step_id)
            if text is None:
                return None
            lines = tuple(text.splitlines())
        return alert_message(
            ctx.transition.assessment,
            ctx.account,
            severity=ctx.severity,
            episode_id=ctx.transition.episode_id,
            title=title,
            lines=lines,
            links=self.links,
        )

    def _person(self, spec: RecipientSpec, ctx: _Ctx) -> Person | None:
        if spec.person is not None:
            return spec.person
        account = ctx.account
        if account is None:
            return None
        if spec.role == "csm":
            return account.csm
        if spec.role == "manager":
            return account.csm.manager if account.csm is not None else None
        if spec.role == "champion":
            return account.champion
        return None

    def _missing(self, spec: RecipientSpec, ctx: _Ctx) -> str:
        return f"no {_ROLE_LABEL.get(spec.role, spec.role)} known for {ctx.name}"

    def _build(self, step: Step, ctx: _Ctx, out: _Out, routes: RoutingDecision) -> None:
        cfg = step.config
        key = ctx.key(step.id)
        if isinstance(cfg, DirectMessageStep):
            person = self._person(cfg.recipient, ctx)
            if person is None:
                label = _ROLE_LABEL.get(cfg.recipient.role, cfg.recipient.role)
                out.skip(
                    step.id, f"{self._missing(cfg.recipient, ctx)}; {label} message not planned"
                )
                return
            message = self._message(cfg.message, ctx, out, step.id)
            if message is not None:
                out.actions.append(
                    DirectMessage(
                        step_id=step.id,
                        key=key,
                        recipient=Recipient(cfg.recipient.role, person),
                        message=message,
                        urgency=cfg.urgency,
                        include_quick_actions=cfg.include_quick_actions,
                    )
                )
        elif isinstance(cfg, ChannelPostStep):
            channel = self._render(cfg.channel, ctx, out, step.id)
            message = self._message(cfg.message, ctx, out, step.id)
            if channel is not None and message is not None:
                out.actions.append(
                    ChannelPost(
                        step_id=step.id,
                        key=key,
                        channel=channel.strip(),
                        message=message,
                        create_thread=cfg.create_thread,
                    )
                )
        elif isinstance(cfg, ThreadReplyStep):
            self._reply(step, cfg, ctx, out)
        elif isinstance(cfg, UpdateMessageStep):
            target = ctx.key(cfg.target, TransitionKind.OPENED)
            message = self._message(cfg.message, ctx, out, step.id)
            if message is not None:
                out.actions.append(
                    UpdateMessage(
                        step_id=step.id,
                        key=key,
                        depends_on=(target,),
                        target_key=target,
                        message=message,
                    )
                )
        elif isinstance(cfg, CreateTaskStep):
            self._task(step, cfg, ctx, out)
        elif isinstance(cfg, DraftEmailStep):
            self._email(step, cfg, ctx, out)
        elif isinstance(cfg, AdjustHealthScoreStep):
            reason = self._render(cfg.reason, ctx, out, step.id)
            if reason is not None:
                out.actions.append(
                    AdjustHealthScore(
                        step_id=step.id,
                        key=key,
                        customer_id=ctx.transition.customer_id,
                        delta=cfg.delta,
                        reason=reason,
                    )
                )
        elif isinstance(cfg, AddToWarRoomStep):
            self._war_room(step, cfg, ctx, out)
        elif isinstance(cfg, ScheduleSyncStep):
            self._sync(step, cfg, ctx, out, routes)
        else:
            self._notify(step, cfg, ctx, out, routes)

    def _reply(self, step: Step, cfg: ThreadReplyStep, ctx: _Ctx, out: _Out) -> None:
        text = self._render(cfg.text, ctx, out, step.id)
        if text is None:
            return
        thread_key = ctx.key(cfg.thread, TransitionKind.OPENED)
        base = alert_message(
            ctx.transition.assessment,
            ctx.account,
            severity=ctx.severity,
            episode_id=ctx.transition.episode_id,
            links=self.links,
        )
        message = attrs.evolve(
            base, kind=MessageKind.NOTE, lines=tuple(text.splitlines()), links=()
        )
        out.actions.append(
            ThreadReply(
                step_id=step.id,
                key=ctx.key(step.id),
                depends_on=(thread_key,),
                thread_key=thread_key,
                message=message,
                broadcast=cfg.broadcast,
            )
        )

    def _task(self, step: Step, cfg: CreateTaskStep, ctx: _Ctx, out: _Out) -> None:
        title = self._render(cfg.title, ctx, out, step.id)
        if title is None:
            return
        description = None
        if cfg.description is not None:
            description = self._render(cfg.description, ctx, out, step.id)
            if description is None:
                return
        person = self._person(cfg.assignee, ctx)
        if person is None:
            out.notes.append(f"{self._missing(cfg.assignee, ctx)}; task is unassigned")
        if description is None:
            alert = alert_message(
                ctx.transition.assessment,
                ctx.account,
                severity=ctx.severity,
                episode_id=ctx.transition.episode_id,
            )
            description = alert.summary
        out.actions.append(
            CreateTask(
                step_id=step.id,
                key=ctx.key(step.id),
                title=" ".join(title.split()),
                priority=cfg.priority,
                due_at=ctx.transition.at + timedelta(hours=cfg.due_hours),
                assignee=Recipient(cfg.assignee.role, person),
                description=description,
            )
        )

    def _email(self, step: Step, cfg: DraftEmailStep, ctx: _Ctx, out: _Out) -> None:
        to = self._person(cfg.to, ctx)
        if to is None:
            out.skip(step.id, f"{self._missing(cfg.to, ctx)}; acknowledgement e-mail not drafted")
            return
        if not to.email:
            out.notes.append(
                f"the {_ROLE_LABEL.get(cfg.to.role, cfg.to.role)} of {ctx.name} "
                "has no e-mail address; add one before approving the draft"
            )
        sender = self._person(cfg.sender, ctx)
        if sender is None:
            out.notes.append(
                f"{self._missing(cfg.sender, ctx)}; the e-mail draft is signed by the team"
            )
        values = email_context(
            ctx.values, ctx.transition.assessment, ctx.account, sla_hours=cfg.sla_hours
        )
        try:
            subject, body = render_email(cfg, values)
        except TemplateRenderError as exc:
            out.skip(step.id, f"{step.id}: not planned, {exc}")
            return
        out.actions.append(
            DraftEmail(
                step_id=step.id,
                key=ctx.key(step.id),
                to=Recipient(cfg.to.role, to),
                subject=subject,
                body=body,
                sender=Recipient(cfg.sender.role, sender),
                requires_approval=True,
            )
        )

    def _war_room(self, step: Step, cfg: AddToWarRoomStep, ctx: _Ctx, out: _Out) -> None:
        room: str | None
        if cfg.war_room is not None:
            room = self._render(cfg.war_room, ctx, out, step.id)
            if room is None:
                return
        else:
            room = ctx.account.war_room if ctx.account is not None else None
        if not room or not room.strip():
            out.skip(step.id, f"no active war room for {ctx.name}; not added")
            return
        summary = self._render(cfg.summary, ctx, out, step.id)
        if summary is not None:
            out.actions.append(
                AddToWarRoom(
                    step_id=step.id,
                    key=ctx.key(step.id),
                    war_room=room.strip(),
                    customer_id=ctx.transition.customer_id,
                    summary=summary,
                )
            )

    def _sync(
        self, step: Step, cfg: ScheduleSyncStep, ctx: _Ctx, out: _Out, routes: RoutingDecision
    ) -> None:
        attendees: list[Recipient] = []
        for spec in cfg.attendees:
            person = self._person(spec, ctx)
            if person is None:
                out.notes.append(f"{self._missing(spec, ctx)}; not invited to the sync")
                continue
            attendees.append(Recipient(spec.role, person))
        if cfg.teams:
            attendees.extend(Recipient(team) for team in routes.teams)
        reason = f"{ctx.values['p1_count']} P1 tickets in the spike"
        if cfg.reason is not None:
            rendered = self._render(cfg.reason, ctx, out, step.id)
            if rendered is None:
                return
            reason = rendered
        if not attendees:
            out.skip(step.id, f"{step.id}: nobody to invite; sync not scheduled")
            return
        out.actions.append(
            ScheduleSync(
                step_id=step.id,
                key=ctx.key(step.id),
                attendees=tuple(attendees),
                within_hours=cfg.within_hours,
                reason=reason,
            )
        )

    def _notify(
        self, step: Step, cfg: NotifyTeamStep, ctx: _Ctx, out: _Out, routes: RoutingDecision
    ) -> None:
        message = self._message(MessageSpec(), ctx, out, step.id)
        if message is None:
            return
        teams = cfg.teams or routes.teams
        for team in teams:
            reason = "listed in the workflow step" if cfg.teams else routes.reason_for(team)
            out.actions.append(
                NotifyTeam(
                    step_id=f"{step.id}.{team}",
                    key=ctx.key(f"{step.id}.{team}"),
                    team=team,
                    reason=reason,
                    message=message,
                    channel=routes.channel_for(team),
                )
            )
            if team not in out.teams:
                out.teams.append(team)
        if cfg.teams:
            return
        for person in routes.people:
            who = Person(email=person) if "@" in person else Person(slack_id=person)
            sub = f"{step.id}.person.{person}"
            out.actions.append(
                DirectMessage(
                    step_id=sub,
                    key=ctx.key(sub),
                    recipient=Recipient("person", who),
                    message=message,
                )
            )
        for channel in routes.channels:
            sub = f"{step.id}.channel.{channel}"
            out.actions.append(
                ChannelPost(step_id=sub, key=ctx.key(sub), channel=channel, message=message)
            )

    # -- progress ------------------------------------------------------------

    def _progress(self, transition: Transition, out: _Out) -> dict[str, Any]:
        """Escalation dashboard data (docs/http.md): status, severity, age, what was planned."""
        hours = (transition.at - transition.opened_at).total_seconds() / 3600.0
        resolved = transition.kind is TransitionKind.RESOLVED
        progress: dict[str, Any] = {
            "stage": transition.kind.value,
            "status": "resolved" if resolved else "active",
            "severity": transition.severity.value,
            "opened_at": transition.opened_at.isoformat(),
            "hours_open": round(max(hours, 0.0), 2),
            "planned_steps": [a.step_id for a in out.actions],
            "skipped_steps": list(out.skipped),
        }
        if resolved:
            progress["resolved_at"] = transition.at.isoformat()
        if transition.suppressed:
            progress["suppressed"] = transition.suppressed
        return progress


def _new_routes(before: RoutingDecision, now: RoutingDecision) -> RoutingDecision:
    """What routing at the new severity adds to routing at the old one."""
    return attrs.evolve(
        now,
        teams=tuple(t for t in now.teams if t not in before.teams),
        people=tuple(p for p in now.people if p not in before.people),
        channels=tuple(c for c in now.channels if c not in before.channels),
    )
