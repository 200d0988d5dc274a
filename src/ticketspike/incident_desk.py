"""The engine's side of product incidents: one escalation for many customers' episodes.

The pure :class:`~ticketspike.incidents.Correlator` says which episodes form an incident;
this desk turns that into plans, using the same typed actions and exactly-once keys as
every episode:

* the incident's own plan (``<incident>:opened``): one coordination post, one message per
  routed team, one task, one war room entry, taken from its members' plans;
* each member episode's ``opened`` plan is rewritten: a short CSM message that points at the
  incident instead of the full alert, the health adjustment of the incident rule, the
  acknowledgement draft kept (it mentions the known issue); everything the incident
  already does is dropped. A customer joining later also gets a reply in the incident
  thread, and any team not yet told hears once;
* later transitions of member episodes plan nothing of their own (the incident speaks).

So that the first customers of an incident are not escalated on their own before anyone
knows it is an incident, the ``opened`` plan of an episode that could still join one is
held until the end of the engine call that recorded it (a delivery batch, a replayed
file); then it is released unchanged if no incident took it in. The correlator's state and
the held plans live in the store, saved in the same transaction as the transitions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs

from .configfile import Section
from .errors import StoreError
from .events import emit
from .incidents import (
    KNOWN_ISSUE_VARIABLES,
    Correlator,
    Incident,
    IncidentPolicy,
    IncidentTransition,
    episode_keys,
)
from .model import Account
from .planner.message import AlertMessage, MessageKind
from .planner.plan import (
    AddToWarRoom,
    AdjustHealthScore,
    ChannelPost,
    CreateTask,
    DirectMessage,
    DraftEmail,
    EscalationPlan,
    NotifyTeam,
    ThreadReply,
    UpdateMessage,
    action_key,
)
from .planner.templates import TemplateRenderError, TextTemplate, compile_text
from .signals import Transition, TransitionKind
from .store.base import Store, plan_id_of
from .store.codec import plan_from_json
from .store.incidents import IncidentRecord

__all__ = ["IncidentDesk", "STATE_CURSOR", "event_key"]

STATE_CURSOR = "incidents:state"

# Listeners get every incident transition once its batch has committed (outbound events,
# dashboards); a crash between the commit and the call loses the call, never the record.
Listener = Callable[[IncidentTransition], None]


class IncidentDesk:
    """Correlates the engine's transitions into incidents and plans their escalation."""

    def __init__(
        self,
        store: Store,
        policy: IncidentPolicy,
        *,
        account: Callable[[str], Account | None],
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.account = account
        self.known_issue = known_issue_template(policy)
        self.listeners: list[Listener] = []
        self._unsent: list[IncidentTransition] = []
        self._reset()

    def _reset(self) -> None:
        self.correlator = Correlator(self.policy)
        self._held: dict[str, list[dict[str, Any]]] = {}  # episode id -> plan JSONs, in order
        self._rewritten: set[str] = set()  # member episodes whose plans the incident replaced
        self._roots: dict[str, str | None] = {}  # incident id -> key of its coordination post
        self._teams: dict[str, list[str]] = {}  # incident id -> teams told
        self._latest: datetime | None = None  # the newest ticket seen: the stream's time

    # -- state --------------------------------------------------------------------------
    def load(self) -> None:
        """Read the saved state (inside the batch's transaction)."""
        self._unsent = []
        if not self.policy.enabled:
            return
        raw = self.store.get_cursor(STATE_CURSOR)
        if raw is None:
            self._reset()
            return
        try:
            data = json.loads(raw)
            self.correlator = Correlator.from_json(data["correlator"], self.policy)
            self._held = {str(k): list(v) for k, v in data["held"].items()}
            self._rewritten = set(map(str, data["rewritten"]))
            self._roots = dict(data["roots"])
            self._teams = {str(k): list(v) for k, v in data["teams"].items()}
            latest = data.get("latest")
            self._latest = None if latest is None else datetime.fromisoformat(str(latest))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"saved incident state is unreadable ({exc})") from None

    def save(self, *, at: datetime) -> None:
        if not self.policy.enabled:
            return
        live = {i.incident_id for i in self.correlator.incidents()}
        data = {
            "correlator": self.correlator.to_json(),
            "held": self._held,
            "rewritten": sorted(
                e for e in self._rewritten if self.correlator.incident_of(e) is not None
            ),
            "roots": {k: v for k, v in self._roots.items() if k in live},
            "teams": {k: v for k, v in self._teams.items() if k in live},
            "latest": None if self._latest is None else self._latest.isoformat(),
        }
        self.store.set_cursor(STATE_CURSOR, json.dumps(data, sort_keys=True), at=at)

    # -- feeding ------------------------------------------------------------------------
    def saw(self, customer_id: str, at: datetime) -> None:
        self.correlator.saw(customer_id, at)
        if self._latest is None or at > self._latest:
            self._latest = at

    def record(
        self, transition: Transition, plan: EscalationPlan, *, at: datetime
    ) -> tuple[bool, list[EscalationPlan]]:
        """Record ``transition`` (once) with the plan the incident rules give it.

        Returns whether it was new and the plans recorded now (possibly none: held).
        """
        if not self.policy.enabled:
            return self.store.record_transition(transition, plan, at=at), [plan]
        episode = transition.episode_id
        if transition.kind is not TransitionKind.OPENED:
            if episode in self._held:
                if not self.store.record_transition(transition, None, at=at):
                    return False, []
                self._held[episode].append(plan.to_json())
                self._observed(transition, at)
                return True, []
            if episode in self._rewritten:
                incident = self.correlator.incident_of(episode)
                plan = attrs.evolve(
                    plan,
                    actions=(),
                    notes=(
                        *plan.notes,
                        f"part of product incident {incident.incident_id if incident else '?'}:"
                        " handled in the incident's thread",
                    ),
                )
            if not self.store.record_transition(transition, plan, at=at):
                return False, []
            return True, [plan, *self._observed(transition, at)]
        if transition.suppressed or not episode_keys(
            transition, dominant_share=self.policy.dominant_share
        ):
            recorded = self.store.record_transition(transition, plan, at=at)
            if recorded:
                self.correlator.observe(transition)  # counts towards the learned rate
            return recorded, [plan] if recorded else []
        if self.store.transitions(episode_id=episode):
            return False, []
        changes = self.correlator.observe(transition)
        incident = changes[0].incident if changes else None
        if incident is None:
            self.store.record_transition(transition, None, at=at)
            self._held[episode] = [plan.to_json()]
            return True, []
        member = self._member_plan(plan, incident)
        self.store.record_transition(transition, member, at=at)
        self._rewritten.add(episode)
        return True, [member, *self._incident_changes(changes, at, newcomer=plan)]

    def committed(self) -> None:
        """The batch committed: tell the listeners what it recorded (once)."""
        sent, self._unsent = self._unsent, []
        for change in sent:
            for listener in self.listeners:
                listener(change)

    def handles(self, episode_id: str) -> bool:
        """Whether the episode's escalation is the incident's (or still held for one)."""
        return episode_id in self._rewritten or episode_id in self._held

    def has_held(self) -> bool:
        """Whether plans wait for the end of the call (as of the last batch's state)."""
        return bool(self._held)

    def release(self, at: datetime | None = None) -> list[EscalationPlan]:
        """Record the held plans no incident took in, unchanged (end of an engine call).

        With ``hold_minutes``, only those held that long by the stream's time (the newest
        ticket, or ``at`` of a tick) are released; the others wait for a later call.
        """
        hold = timedelta(minutes=self.policy.hold_minutes)
        now = max((t for t in (at, self._latest) if t is not None), default=None)
        out: list[EscalationPlan] = []
        for episode in list(self._held):
            if hold and (now is None or plan_from_json(self._held[episode][0]).at + hold > now):
                continue
            for raw in self._held.pop(episode):
                plan = plan_from_json(raw)
                if self.store.record_plan(plan, plan_id=plan_id_of(plan), at=self.clock()):
                    out.append(plan)
        return out

    # -- planning ---------------------------------------------------------------------------
    def _observed(self, transition: Transition, at: datetime) -> list[EscalationPlan]:
        """Feed a member's later transition to the correlator and keep the stored view true.

        A member escalating or resolving changes the incident (its counts, its open episodes)
        without an incident transition; the stored record follows, so the API and CLI never
        list a resolved member as open.
        """
        changes = self.correlator.observe(transition)
        out = self._incident_changes(changes, at)
        incident = self.correlator.incident_of(transition.episode_id)
        if incident is not None and not any(
            c.incident.incident_id == incident.incident_id for c in changes
        ):
            self.store.put_incident(
                IncidentRecord(
                    incident_id=incident.incident_id,
                    status=incident.status,
                    first_spike=incident.first_spike,
                    updated_at=at,
                    data=incident.to_json(),
                )
            )
        return out

    def _incident_changes(
        self,
        changes: list[IncidentTransition],
        at: datetime,
        *,
        newcomer: EscalationPlan | None = None,
    ) -> list[EscalationPlan]:
        out: list[EscalationPlan] = []
        for change in changes:
            incident = change.incident
            iid = incident.incident_id
            if change.kind == "incident_opened":
                founders = [newcomer] if newcomer is not None else []
                for episode in incident.episode_ids:
                    held = self._held.pop(episode, None)
                    if held is None:
                        continue
                    plans = [plan_from_json(raw) for raw in held]
                    founders.append(plans[0])
                    member = self._member_plan(plans[0], incident)
                    self.store.record_plan(member, plan_id=plan_id_of(member), at=at)
                    self._rewritten.add(episode)
                    out.append(member)
                out.insert(0, self._opened_plan(incident, founders, at))
                self.store.record_plan(out[0], plan_id=plan_id_of(out[0]), at=at)
            elif change.kind == "incident_joined" and newcomer is not None:
                joined = self._joined_plan(incident, change, newcomer, at)
                if self.store.record_plan(
                    joined, plan_id=f"{iid}:joined:{change.episode_ids[0]}", at=at
                ):
                    out.append(joined)
            elif change.kind == "incident_resolved":
                done = self._resolved_plan(incident, at)
                if self.store.record_plan(done, plan_id=plan_id_of(done), at=at):
                    out.append(done)
            self.store.put_incident(
                IncidentRecord(
                    incident_id=iid,
                    status=incident.status,
                    first_spike=incident.first_spike,
                    updated_at=at,
                    data=incident.to_json(),
                )
            )
            _emit_change(self.store, change, at)
            self._unsent.append(change)
        return out

    def _names(self, incident: Incident) -> list[str]:
        names = []
        for cid in incident.customer_ids:
            account = self.account(cid)
            names.append(account.display_name if account is not None else cid)
        return names

    def _message(self, incident: Incident, title: str, lines: tuple[str, ...]) -> AlertMessage:
        first = incident.members[0]
        return AlertMessage(
            kind=MessageKind.NOTE,
            title=title,
            customer_id=first.customer_id,
            customer_name=f"{len(incident.customer_ids)} customers",
            severity=_severity_of(incident),
            ticket_count=incident.ticket_count,
            themes=incident.themes,
            lines=lines,
        )

    def _summary(self, incident: Incident) -> tuple[str, ...]:
        names = self._names(incident)
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        return (
            f"{len(names)} customers spiking together on {incident.label} since "
            f"{incident.first_spike.isoformat()} ({incident.ticket_count} tickets).",
            f"Customers: {shown}.",
            f"Incident {incident.incident_id}: customers joining later are added to this thread.",
        )

    def _opened_plan(
        self, incident: Incident, founders: list[EscalationPlan], at: datetime
    ) -> EscalationPlan:
        iid = incident.incident_id
        title = f"PRODUCT INCIDENT: {incident.label} at {len(incident.customer_ids)} customers"
        message = self._message(incident, title, self._summary(incident))
        actions: list[Any] = []
        notes: list[str] = []
        post = next(
            (
                a
                for p in founders
                for a in p.actions
                if isinstance(a, ChannelPost) and a.create_thread
            ),
            None,
        )
        root: str | None = None
        if post is not None:
            root = action_key(iid, TransitionKind.OPENED, "coordination")
            actions.append(
                ChannelPost(
                    step_id="coordination",
                    key=root,
                    channel=post.channel,
                    message=message,
                    create_thread=True,
                )
            )
        else:
            notes.append("the workflow has no coordination thread; the incident is not posted")
        self._roots[iid] = root
        actions.extend(self._team_actions(incident, founders, message))
        task = next((a for p in founders for a in p.actions if isinstance(a, CreateTask)), None)
        if task is not None:
            actions.append(
                CreateTask(
                    step_id="task",
                    key=action_key(iid, TransitionKind.OPENED, "task"),
                    title=f"Product incident: {incident.label} at {len(incident.customer_ids)} "
                    "customers (support and product)",
                    priority=task.priority,
                    due_at=task.due_at,
                    assignee=task.assignee,
                    description="\n".join(self._summary(incident)),
                )
            )
        room = next((a for p in founders for a in p.actions if isinstance(a, AddToWarRoom)), None)
        if room is not None:
            actions.append(
                AddToWarRoom(
                    step_id="war_room",
                    key=action_key(iid, TransitionKind.OPENED, "war_room"),
                    war_room=room.war_room,
                    customer_id=incident.members[0].customer_id,
                    summary=title,
                )
            )
        return EscalationPlan(
            episode_id=iid,
            transition=TransitionKind.OPENED,
            customer_id=incident.members[0].customer_id,
            severity=_severity_of(incident),
            at=at,
            actions=tuple(actions),
            notes=tuple(notes),
            routed_teams=tuple(self._teams.get(iid, ())),
            progress={"stage": "incident_opened", "customers": len(incident.customer_ids)},
        )

    def _team_actions(
        self, incident: Incident, plans: list[EscalationPlan], message: AlertMessage
    ) -> list[NotifyTeam]:
        iid = incident.incident_id
        told = self._teams.setdefault(iid, [])
        out = []
        for plan in plans:
            for action in plan.actions:
                if isinstance(action, NotifyTeam) and action.team not in told:
                    told.append(action.team)
                    step = f"notify.{action.team}"
                    out.append(
                        NotifyTeam(
                            step_id=step,
                            key=action_key(iid, TransitionKind.OPENED, step),
                            team=action.team,
                            reason=f"product incident: {action.reason}",
                            message=message,
                            channel=action.channel,
                        )
                    )
        return out

    def _joined_plan(
        self,
        incident: Incident,
        change: IncidentTransition,
        newcomer: EscalationPlan,
        at: datetime,
    ) -> EscalationPlan:
        iid = incident.incident_id
        episode = change.episode_ids[0]
        message = self._message(
            incident,
            f"PRODUCT INCIDENT: {incident.label} at {len(incident.customer_ids)} customers",
            self._summary(incident),
        )
        actions: list[Any] = []
        root = self._roots.get(iid)
        if root is not None:
            name = self._names(attrs.evolve(incident, members=incident.members[-1:]))[0]
            actions.append(
                ThreadReply(
                    step_id=f"joined.{episode}",
                    key=action_key(iid, "joined", episode),
                    depends_on=(root,),
                    thread_key=root,
                    message=attrs.evolve(
                        message,
                        title=f"{name} joined the incident",
                        lines=(
                            f"{name} is spiking on {incident.label} too "
                            f"({incident.members[-1].ticket_count} tickets); "
                            f"{len(incident.customer_ids)} customers now.",
                        ),
                    ),
                )
            )
        actions.extend(self._team_actions(incident, [newcomer], message))
        return EscalationPlan(
            episode_id=iid,
            transition=TransitionKind.OPENED,
            customer_id=change.customer_ids[0],
            severity=newcomer.severity,
            at=at,
            actions=tuple(actions),
            progress={"stage": "incident_joined", "customers": len(incident.customer_ids)},
        )

    def _resolved_plan(self, incident: Incident, at: datetime) -> EscalationPlan:
        iid = incident.incident_id
        root = self._roots.get(iid)
        actions: list[Any] = []
        if root is not None:
            done = self._message(
                incident,
                f"RESOLVED: product incident {incident.label}",
                (
                    f"Every one of the {len(incident.customer_ids)} customers' spikes has "
                    f"resolved (at {at.isoformat()}); their episodes follow their own "
                    "lifecycle again.",
                ),
            )
            actions.append(
                ThreadReply(
                    step_id="resolution",
                    key=action_key(iid, TransitionKind.RESOLVED, "resolution"),
                    depends_on=(root,),
                    thread_key=root,
                    message=done,
                )
            )
            actions.append(
                UpdateMessage(
                    step_id="root",
                    key=action_key(iid, TransitionKind.RESOLVED, "root"),
                    depends_on=(root,),
                    target_key=root,
                    message=done,
                )
            )
        return EscalationPlan(
            episode_id=iid,
            transition=TransitionKind.RESOLVED,
            customer_id=incident.members[0].customer_id,
            severity=_severity_of(incident),
            at=at,
            actions=tuple(actions),
            progress={"stage": "incident_resolved", "customers": len(incident.customer_ids)},
        )

    def _member_plan(self, plan: EscalationPlan, incident: Incident) -> EscalationPlan:
        """The episode's opened plan as an incident member: a short CSM note, the incident
        health rule, the acknowledgement draft (naming the known issue); nothing else."""
        iid = incident.incident_id
        account = self.account(plan.customer_id)
        name = account.display_name if account is not None else plan.customer_id
        actions: list[Any] = []
        for action in plan.actions:
            if isinstance(action, DirectMessage) and action.recipient.role == "csm":
                actions.append(
                    DirectMessage(
                        step_id="incident_dm",
                        key=action_key(plan.episode_id, TransitionKind.OPENED, "incident_dm"),
                        recipient=action.recipient,
                        message=AlertMessage(
                            kind=MessageKind.NOTE,
                            title=f"Known product incident: {name} is affected",
                            customer_id=plan.customer_id,
                            customer_name=name,
                            severity=plan.severity,
                            ticket_count=action.message.ticket_count,
                            period_hours=action.message.period_hours,
                            lines=(
                                f"{name}'s tickets spike with many other customers' on "
                                f"{incident.label}: one product incident, {iid}.",
                                "It is handled in the incident's coordination thread; no "
                                "separate escalation for this account.",
                            ),
                        ),
                    )
                )
            elif isinstance(action, AdjustHealthScore):
                actions.append(
                    attrs.evolve(
                        action,
                        delta=self.policy.health_delta,
                        reason=f"{action.reason} (part of product incident {iid})",
                    )
                )
            elif isinstance(action, DraftEmail):
                known = self._known_issue(incident, name)
                if known:
                    action = attrs.evolve(action, body=f"{action.body.rstrip()}\n\n{known}\n")
                actions.append(action)
        return attrs.evolve(
            plan,
            actions=tuple(actions),
            notes=(
                *plan.notes,
                f"part of product incident {iid}: the coordination post, team messages, task "
                "and war room are the incident's",
            ),
        )

    def _known_issue(self, incident: Incident, name: str) -> str:
        try:
            return self.known_issue.render(
                {
                    "incident_id": incident.incident_id,
                    "incident_label": incident.label,
                    "incident_customers": len(incident.customer_ids),
                    "incident_themes": ", ".join(incident.themes),
                    "customer_name": name,
                }
            ).strip()
        except TemplateRenderError:
            return ""


def known_issue_template(policy: IncidentPolicy) -> TextTemplate:
    """The ``incidents.known_issue`` template, compiled (checked when the config loaded)."""
    section = Section({"known_issue": policy.known_issue}, name="incidents", path="incidents")
    return compile_text(
        policy.known_issue, section=section, key="known_issue", variables=KNOWN_ISSUE_VARIABLES
    )


def _severity_of(incident: Incident) -> Any:
    from .signals import Severity

    return Severity.CRITICAL if len(incident.customer_ids) >= 10 else Severity.HIGH


def event_key(change: IncidentTransition) -> str:
    """What an incident event reports: the opening, one newcomer joining, the resolution."""
    iid = change.incident_id
    if change.kind == "incident_joined":
        return f"{iid}:joined:{change.episode_ids[0]}"
    return f"{iid}:{change.kind.removeprefix('incident_')}"


def _emit_change(store: Store, change: IncidentTransition, at: datetime) -> None:
    """Log ``incident.opened|joined|resolved`` in the transaction writing the incident record,
    so the outbound log has each incident change exactly when the store has it."""
    data = change.to_json()
    data.pop("transition")
    emit(
        store,
        "incident." + change.kind.removeprefix("incident_"),
        data,
        key=event_key(change),
        at=at,
    )
