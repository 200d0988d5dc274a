"""What a done plan action leaves behind as data, and the reads built on those records.

The planner's ``create_task``, ``adjust_health_score``, ``add_to_war_room`` and
``schedule_sync`` actions used to end as outbox lines only. Now, whichever plugin carried the
action out, :func:`record_done_action` keeps its record (a task, a health-score ledger entry, a
war-room entry, a sync) in the same store transaction that marks the action done, under an id
derived from the action key: made exactly once, even when a crash makes the action run again.
Each change also logs its outbound event (:func:`ticketspike.events.emit`) in that
transaction.

The health score is a ledger: the account's base score (from the account directory) plus every
adjustment, clamped to 0..100, so the alert can say "Health Score: 63 (was 78)" and mean it. A
resolved spike may give part of its adjustment back (``records.health_restore_on_resolve``).
Resolved escalations are history, kept for ``records.history_retention_days`` (forever when
unset) and then dropped by :func:`forget_history`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from .configfile import Section
from .errors import InputError, RecordConflict, RecordNotFound
from .events import emit
from .model import Account
from .planner.plan import (
    Action,
    AddToWarRoom,
    AdjustHealthScore,
    CreateTask,
    EscalationPlan,
    Recipient,
    ScheduleSync,
)
from .store.records import (
    HealthAdjustment,
    SyncRecord,
    TaskRecord,
    TaskStatus,
    WarRoomEntry,
    WarRoomStatus,
    record_id_for,
)

if TYPE_CHECKING:
    from .store.base import Store

__all__ = [
    "HealthView",
    "RecordSettings",
    "account_with_ledger",
    "change_task",
    "forget_history",
    "health_of",
    "record_done_action",
    "record_resolution",
    "record_settings_from_config",
]

SCORE_MIN = 0.0
SCORE_MAX = 100.0


@attrs.frozen
class RecordSettings:
    """The ``records:`` config section.

    ``history_retention_days``: how long a resolved escalation (its transitions, plans,
    actions, acts and records) is kept after it resolved; ``None`` keeps it for good.
    ``health_restore_on_resolve``: the fraction (0..1) of a spike's health adjustment given
    back when the spike resolves; 0 gives nothing back.
    """

    history_retention_days: float | None = None
    health_restore_on_resolve: float = 0.0


def record_settings_from_config(section: Section | None) -> RecordSettings:
    if section is None:
        return RecordSettings()
    section.check_keys({"history_retention_days", "health_restore_on_resolve"})
    return RecordSettings(
        history_retention_days=section.get_float("history_retention_days", minimum=0),
        health_restore_on_resolve=section.get_float(
            "health_restore_on_resolve", 0.0, minimum=0.0, maximum=1.0
        )
        or 0.0,
    )


def _who(recipient: Recipient) -> str:
    person = recipient.person
    if person is not None and person.name:
        return person.name
    return recipient.role


def _clamp(score: float) -> float:
    return min(SCORE_MAX, max(SCORE_MIN, score))


@attrs.frozen
class HealthView:
    """A customer's health score: the base, the adjustments, and what they add up to."""

    customer_id: str
    base: float | None
    adjustments: tuple[HealthAdjustment, ...]

    @property
    def current(self) -> float | None:
        if self.base is None:
            return None
        return _clamp(self.base + sum(a.delta for a in self.adjustments))

    def to_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "base": self.base,
            "current": self.current,
            "adjustments": [
                {
                    k: v
                    for k, v in a.to_json().items()
                    if k in ("delta", "reason", "episode_id", "at")
                }
                for a in self.adjustments
            ],
        }


def health_of(store: Store, customer_id: str, account: Account | None) -> HealthView:
    """The customer's health score from its account's base and the ledger."""
    adjustments = tuple(store.list_records(HealthAdjustment, customer_id=customer_id))
    base = account.health_score if account is not None else None
    if base is None:
        # No directory at hand (a CLI read without the config): the base it was recorded on.
        base = next((a.base for a in reversed(adjustments) if a.base is not None), None)
    return HealthView(customer_id=customer_id, base=base, adjustments=adjustments)


def account_with_ledger(
    store: Store, account: Account | None, *, planned_delta: float | None
) -> Account | None:
    """The account as the alert should show it: now and before, from the ledger.

    With an adjustment in the plan, "now" is the score after it and "was" the score before
    (78 -> 63); without one, "now" is the ledger's current score and "was" the base.
    """
    if account is None or account.health_score is None:
        return account
    view = health_of(store, account.id, account)
    current = view.current
    assert current is not None
    if planned_delta:
        return attrs.evolve(
            account, health_score=_clamp(current + planned_delta), previous_health_score=current
        )
    if view.adjustments:
        return attrs.evolve(account, health_score=current, previous_health_score=view.base)
    return account


def planned_delta(plan: EscalationPlan) -> float | None:
    """The health-score change a plan asks for (None when it asks for none)."""
    deltas = [a.delta for a in plan.actions if isinstance(a, AdjustHealthScore)]
    return sum(deltas) if deltas else None


def _health_event(
    store: Store, adjustment: HealthAdjustment, account: Account | None, at: datetime
) -> None:
    view = health_of(store, adjustment.customer_id, account)
    current = view.current
    emit(
        store,
        "health_score.adjusted",
        {
            "customer_id": adjustment.customer_id,
            "base": view.base,
            "before": None if current is None else _clamp(current - adjustment.delta),
            "current": current,
            "adjustment": adjustment.to_json(),
        },
        key=adjustment.id,
        at=at,
    )


def record_done_action(
    store: Store,
    action: Action,
    plan: EscalationPlan,
    *,
    account: Account | None,
    at: datetime,
) -> None:
    """Keep the record a done action leaves (call inside the transaction marking it done)."""
    if isinstance(action, CreateTask):
        task = TaskRecord(
            id=record_id_for("task", action.key),
            action_key=action.key,
            episode_id=plan.episode_id,
            customer_id=plan.customer_id,
            title=action.title,
            priority=action.priority,
            due_at=action.due_at,
            assignee=_who(action.assignee),
            assignee_role=action.assignee.role,
            description=action.description,
            created_at=at,
        )
        if store.add_record(task):
            emit(store, "task.created", task.to_json(), key=f"{task.id}:0", at=at)
    elif isinstance(action, AdjustHealthScore):
        adjustment = HealthAdjustment(
            id=record_id_for("hs", action.key),
            customer_id=action.customer_id,
            delta=action.delta,
            reason=action.reason,
            at=at,
            episode_id=plan.episode_id,
            key=action.key,
            base=account.health_score if account is not None else None,
        )
        if store.add_record(adjustment):
            _health_event(store, adjustment, account, at)
    elif isinstance(action, AddToWarRoom):
        store.add_record(
            WarRoomEntry(
                id=record_id_for("wr", action.key),
                action_key=action.key,
                episode_id=plan.episode_id,
                customer_id=action.customer_id,
                war_room=action.war_room,
                summary=action.summary,
                created_at=at,
            )
        )
    elif isinstance(action, ScheduleSync):
        store.add_record(
            SyncRecord(
                id=record_id_for("sync", action.key),
                action_key=action.key,
                episode_id=plan.episode_id,
                customer_id=plan.customer_id,
                due_at=plan.at + timedelta(hours=action.within_hours),
                attendees=tuple(_who(r) for r in action.attendees),
                reason=action.reason,
                created_at=at,
            )
        )


def record_resolution(
    store: Store,
    episode_id: str,
    customer_id: str,
    *,
    account: Account | None,
    settings: RecordSettings,
    at: datetime,
) -> None:
    """What a resolved spike changes in the records: war-room entries close, and part of the
    health adjustment comes back when configured. Call inside the transition's transaction.
    """
    for entry in store.list_records(WarRoomEntry, episode_id=episode_id):
        if entry.status is WarRoomStatus.ACTIVE:
            closed = attrs.evolve(
                entry, status=WarRoomStatus.CLOSED, closed_at=at, version=entry.version + 1
            )
            store.replace_record(closed, version=entry.version)
    fraction = settings.health_restore_on_resolve
    if fraction <= 0:
        return
    taken = sum(
        a.delta for a in store.list_records(HealthAdjustment, episode_id=episode_id) if a.delta < 0
    )
    if taken >= 0:
        return
    key = f"{episode_id}:resolved:health_restore"
    restore = HealthAdjustment(
        id=record_id_for("hs", key),
        customer_id=customer_id,
        delta=round(-taken * fraction, 6),
        reason=f"spike resolved: {fraction:.0%} of its adjustment restored",
        at=at,
        episode_id=episode_id,
        key=key,
        base=account.health_score if account is not None else None,
    )
    if store.add_record(restore):
        _health_event(store, restore, account, at)


def change_task(
    store: Store,
    task_id: str,
    *,
    status: TaskStatus | str | None = None,
    by: str,
    at: datetime,
    changes: Mapping[str, Any] | None = None,
) -> TaskRecord:
    """Close (``done``/``cancelled``), reopen or reassign a task, and report it.

    Setting the status it already has changes nothing and returns the task (a repeated
    click). A task changed meanwhile by someone else is a :class:`RecordConflict`.
    """
    who = " ".join(str(by).split())[:200]
    if not who:
        raise InputError("who changes the task must be named", field="by")
    try:
        wanted = None if status is None else TaskStatus(status)
    except ValueError:
        choices = ", ".join(s.value for s in TaskStatus)
        raise InputError(f"status: expected one of {choices}", field="status") from None
    extra = dict(changes or {})
    unknown = set(extra) - {"assignee", "priority", "due_at"}
    if unknown:
        raise InputError(f"task fields that cannot change: {', '.join(sorted(unknown))}")
    with store.transaction():
        task = store.get_record(TaskRecord, str(task_id))
        if task is None:
            raise RecordNotFound(f"no task {str(task_id)[:80]!r}")
        updates: dict[str, Any] = {k: v for k, v in extra.items() if getattr(task, k) != v}
        if wanted is not None and wanted is not task.status:
            updates["status"] = wanted
            closed = wanted is not TaskStatus.OPEN
            updates["closed_by"] = who if closed else None
            updates["closed_at"] = at if closed else None
        if not updates:
            return task
        new = attrs.evolve(task, **updates, updated_at=at, version=task.version + 1)
        if not store.replace_record(new, version=task.version):
            raise RecordConflict(f"task {task.id} changed meanwhile; read it again")
        emit(
            store,
            "task.updated",
            {**new.to_json(), "changed_by": who},
            key=f"{new.id}:{new.version}",
            at=at,
        )
        return new


def forget_history(store: Store, *, settings: RecordSettings, now: datetime) -> int:
    """Drop resolved escalations older than the retention; returns how many were dropped."""
    days = settings.history_retention_days
    if days is None:
        return 0
    cutoff = now - timedelta(days=days)
    old = [
        e.episode_id
        for e in store.episodes()
        if e.status == "resolved" and e.resolved_at is not None and e.resolved_at < cutoff
    ]
    return store.forget_episodes(old) if old else 0


class RecordActs:
    """The records part of :class:`~ticketspike.engine.Engine` (mixed in): reads for the
    CLI and HTTP faces, the task changes people make, and the hooks the pipeline calls."""

    store: Store
    config: Any
    clock: Any
    account: Any
    episode_view: Any  # from EpisodeActs

    @property
    def record_settings(self) -> RecordSettings:
        cached: RecordSettings | None = getattr(self, "_record_settings", None)
        if cached is None:
            cached = record_settings_from_config(self.config.section("records"))
            self._record_settings = cached
        return cached

    # -- hooks the pipeline calls (inside its transactions) -------------------------------
    def _on_action_done(
        self, record: Any, action: Action, plan: EscalationPlan, at: datetime
    ) -> None:
        record_done_action(self.store, action, plan, account=self.account(plan.customer_id), at=at)
        if record.kind == "draft_email":
            from .store.drafts import draft_id_for

            draft_id = draft_id_for(record.key)
            emit(
                self.store,
                "draft.created",
                {
                    "id": draft_id,
                    "status": "awaiting_approval",
                    "episode_id": plan.episode_id,
                    "customer_id": plan.customer_id,
                    "subject": getattr(action, "subject", ""),
                },
                key=draft_id,
                at=at,
            )

    def _on_transition(self, transition: Any, at: datetime) -> None:
        kind = transition.kind.value
        emit(
            self.store,
            f"escalation.{kind}",
            {
                "episode_id": transition.episode_id,
                "customer_id": transition.customer_id,
                "severity": transition.severity.value,
                "at": transition.at.isoformat(),
                "suppressed": transition.suppressed,
            },
            key=f"{transition.episode_id}:{kind}",
            at=at,
        )
        if kind == "resolved":
            record_resolution(
                self.store,
                transition.episode_id,
                transition.customer_id,
                account=self.account(transition.customer_id),
                settings=self.record_settings,
                at=at,
            )

    # -- reads ------------------------------------------------------------------------------
    def tasks(
        self,
        *,
        status: str | None = None,
        customer_id: str | None = None,
        episode_id: str | None = None,
    ) -> list[TaskRecord]:
        if status is not None:
            try:
                status = TaskStatus(status).value
            except ValueError:
                choices = ", ".join(s.value for s in TaskStatus)
                raise InputError(f"status: expected one of {choices}", field="status") from None
        return self.store.list_records(
            TaskRecord, status=status, customer_id=customer_id, episode_id=episode_id
        )

    def task(self, task_id: str) -> TaskRecord:
        found = self.store.get_record(TaskRecord, str(task_id))
        if found is None:
            raise RecordNotFound(f"no task {str(task_id)[:80]!r}")
        return found

    def update_task(
        self,
        task_id: str,
        *,
        by: str,
        status: str | None = None,
        changes: Mapping[str, Any] | None = None,
    ) -> TaskRecord:
        """Close, cancel, reopen or reassign a task (see :func:`change_task`)."""
        return change_task(
            self.store, task_id, status=status, by=by, at=self.clock(), changes=changes
        )

    def health(self, customer_id: str) -> HealthView:
        return health_of(self.store, customer_id, self.account(customer_id))

    def escalation_records(self, episode_id: str) -> dict[str, Any]:
        """What an escalation left as records: tasks, health entries, war room, syncs."""
        return {
            "tasks": [
                t.to_json() for t in self.store.list_records(TaskRecord, episode_id=episode_id)
            ],
            "health_adjustments": [
                a.to_json()
                for a in self.store.list_records(HealthAdjustment, episode_id=episode_id)
            ],
            "war_room_entries": [
                w.to_json() for w in self.store.list_records(WarRoomEntry, episode_id=episode_id)
            ],
            "syncs": [
                s.to_json() for s in self.store.list_records(SyncRecord, episode_id=episode_id)
            ],
            "actions_taken": [
                {
                    "kind": a.kind,
                    "step": a.step_id,
                    "status": a.status.value,
                    "summary": a.summary,
                    "error": a.error,
                    "at": a.updated_at.isoformat(),
                }
                for a in self.store.actions(episode_id=episode_id)
                if a.status.value in ("done", "failed")
            ],
        }

    def escalation_history(
        self, *, status: str | None = None, customer_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every kept escalation (active and resolved), newest first, with its records."""
        if status not in (None, "active", "resolved"):
            raise InputError("status: expected active or resolved", field="status")
        views = self.episode_view
        out: list[dict[str, Any]] = []
        for episode in self.store.episodes():
            if status is not None and episode.status != status:
                continue
            if customer_id is not None and episode.customer_id != customer_id:
                continue
            out.append({**views(episode), **self.escalation_records(episode.episode_id)})
        out.sort(key=lambda e: (e["opened_at"], e["episode_id"]), reverse=True)
        return out

    def _tasks_panel(self, episode: Any) -> Any:
        """The escalation page's task list, each open task with a button that closes it."""
        from .views import Panel, PanelItem

        tasks = self.store.list_records(TaskRecord, episode_id=episode.episode_id)
        items = tuple(
            PanelItem(
                label=t.title,
                value=(
                    f"{t.status.value}, {t.priority}, due {t.due_at:%Y-%m-%d %H:%M} UTC, "
                    f"for {t.assignee}" + (f", closed by {t.closed_by}" if t.closed_by else "")
                ),
                action="close_task" if t.status is TaskStatus.OPEN else None,
                target=t.id,
                action_label="Close task",
            )
            for t in tasks
        )
        return Panel(key="tasks", title="Tasks", items=items, empty="No task.")

    def forget_history(self) -> int:
        """Drop resolved escalations older than ``records.history_retention_days``."""
        return forget_history(self.store, settings=self.record_settings, now=self.clock())
