"""What people do about an episode, as engine methods: acknowledge, snooze, resolve, war room.

These are the acts a CSM performs from a Slack alert, and a host without Slack performs from
the CLI or the HTTP API, so they live in the engine, not in any adapter. Every act:

* is idempotent: it carries a key (the episode and the act, or the snooze's end), and a second
  call with the same key records nothing and does nothing, returning the first record;
* is recorded (who, when, what, outcome) and shows in :meth:`EpisodeActs.episode_history`;
* happens in one store transaction with what it changes.

An acknowledgement or a resolution stops the escalation chain (:mod:`ticketspike.planner.chain`);
a snooze is a recorded customer silence (the lifecycle suppresses what it covers) and pauses
the chain until it ends. The chain itself runs from :meth:`Engine.tick`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .events import emit
from .lifecycle import Silence
from .planner.chain import (
    ChainPolicy,
    chain_plan_id,
    chain_policy_from_section,
    due_steps,
    plan_chain_step,
)
from .signals import Severity
from .store.base import ActionStatus, EpisodeRecord
from .store.interactions import InteractionRecord, SilenceRecord
from .store.records import WarRoomEntry, record_id_for

if TYPE_CHECKING:
    from .config import Config
    from .executor import Executor
    from .model import Account
    from .monitor import SpikeMonitor
    from .signals import Transition
    from .store.base import Store

__all__ = ["MAX_SNOOZE", "EpisodeActs", "parse_duration"]

log = logging.getLogger("ticketspike.engine")

MAX_SNOOZE = timedelta(days=30)
MAX_ACTOR = 200


def _actor(by: str) -> str:
    text = " ".join(str(by).split())
    if not text:
        raise InputError("who acted must be named", field="by")
    return text[:MAX_ACTOR]


class EpisodeActs:
    """The acts part of :class:`~ticketspike.engine.Engine` (mixed in)."""

    store: Store
    config: Config
    clock: Callable[[], datetime]
    monitor: SpikeMonitor
    executor: Executor
    execute_inline: bool
    account: Callable[[str], Account | None]
    _batch: Callable[[], AbstractContextManager[Any]]
    _sync: Callable[[str], None]
    _record: Callable[..., None]
    _dirty: set[str]

    # -- the chain's policy ----------------------------------------------------------
    @property
    def chain_policy(self) -> ChainPolicy:
        """The escalation chain's timeouts (config section ``escalation_chain``)."""
        cached: ChainPolicy | None = getattr(self, "_chain_policy", None)
        if cached is None:
            section = self.config.section("escalation_chain")
            try:
                cached = chain_policy_from_section(section)
            except ValueError as exc:
                if section is None:
                    raise
                raise section.error(None, str(exc)) from None
            self._chain_policy = cached
        return cached

    # -- lookups -----------------------------------------------------------------------
    def _episode(self, episode_id: str) -> EpisodeRecord:
        episode = self.store.episode(str(episode_id))
        if episode is None:
            raise InputError(f"no episode {str(episode_id)[:200]!r} in the store", field="episode")
        return episode

    def _first(self, episode_id: str, kind: str) -> InteractionRecord | None:
        for record in self.store.interactions(episode_id=episode_id):
            if record.kind == kind and record.outcome == "done":
                return record
        return None

    def acknowledgement(self, episode_id: str) -> InteractionRecord | None:
        """Who acknowledged the episode and when (None: nobody yet)."""
        return self._first(episode_id, "acknowledge")

    def war_room(self, episode_id: str) -> InteractionRecord | None:
        """The war room recorded on the episode (``data``: channel, name, url)."""
        return self._first(episode_id, "war_room")

    def _by_key(self, key: str) -> InteractionRecord:
        for record in self.store.interactions():
            if record.key == key:
                return record
        raise InputError(f"no record {key!r}")  # pragma: no cover - written just before

    def _once(self, record: InteractionRecord) -> InteractionRecord:
        if self._record_interaction(record):
            log.info(
                "%s %s by %s (%s)",
                record.episode_id or record.customer_id,
                record.kind,
                record.by,
                record.outcome,
            )
        return self._by_key(record.key)

    # -- the acts ------------------------------------------------------------------------
    def acknowledge(
        self, episode_id: str, *, by: str, at: datetime | None = None
    ) -> InteractionRecord:
        """Record that ``by`` has the episode in hand; the escalation chain stops.

        Idempotent: a second acknowledgement (by anyone) returns the first one.
        """
        episode = self._episode(episode_id)
        return self._once(
            InteractionRecord(
                key=f"{episode.episode_id}:acknowledge",
                episode_id=episode.episode_id,
                customer_id=episode.customer_id,
                kind="acknowledge",
                by=_actor(by),
                at=at or self.clock(),
            )
        )

    def snooze(
        self, customer_id: str, *, until: datetime, by: str, at: datetime | None = None
    ) -> InteractionRecord:
        """Silence the customer until ``until`` (a recorded silence); the chain pauses.

        Transitions the silence covers are recorded as suppressed and page nobody, like a
        configured silence. Idempotent on the customer and ``until``.
        """
        now = at or self.clock()
        if until.tzinfo is None:
            raise InputError("until: expected a time with a UTC offset", field="until")
        if until <= now:
            raise InputError("until: a snooze must end in the future", field="until")
        if until - now > MAX_SNOOZE:
            raise InputError("until: a snooze may last at most 30 days", field="until")
        customer = str(customer_id)
        actor = _actor(by)
        active = self.store.active_episode(customer)
        key = f"snooze:{customer}:{until.isoformat()}"
        with self.store.transaction():
            self.store.add_silence(
                SilenceRecord(
                    key=key,
                    customer_id=customer,
                    start=now,
                    end=until,
                    by=actor,
                    reason=f"snoozed by {actor}",
                )
            )
            record = self._once(
                InteractionRecord(
                    key=key,
                    episode_id=active.episode_id if active else None,
                    customer_id=customer,
                    kind="snooze",
                    by=actor,
                    at=now,
                    data={"until": until.isoformat()},
                )
            )
        self.refresh_silences()
        return record

    def resolve_episode(
        self, episode_id: str, *, by: str, at: datetime | None = None
    ) -> InteractionRecord:
        """Close the episode now; its ``resolved`` plan runs (the thread is told).

        Idempotent: resolving a resolved episode records nothing new and returns the first
        resolution (or an ``already`` record when the lifecycle closed it).
        """
        episode = self._episode(episode_id)
        actor = _actor(by)
        now = at or self.clock()
        key = f"{episode.episode_id}:resolve"
        existing = [r for r in self.store.interactions(episode_id=episode.episode_id)]
        for record in existing:
            if record.key == key:
                return record
        transitions: list[Transition] = []
        with self._batch():
            self._sync(episode.customer_id)
            current = self.monitor.episode(episode.customer_id).episode
            if (
                episode.status == "active"
                and current is not None
                and (current.episode_id == episode.episode_id)
            ):
                transitions = self.monitor.close_now(
                    episode.customer_id, now, account=self.account(episode.customer_id)
                )
                self._dirty.add(episode.customer_id)
                from .pipeline import Counts

                counts = Counts()
                for transition in transitions:
                    self._record(transition, counts)
            record = self._once(
                InteractionRecord(
                    key=key,
                    episode_id=episode.episode_id,
                    customer_id=episode.customer_id,
                    kind="resolve",
                    by=actor,
                    at=now,
                    outcome="done" if transitions else "already",
                )
            )
        if transitions and self.execute_inline:
            self.executor.run_pending()
        return record

    def record_war_room(
        self,
        episode_id: str,
        *,
        channel: str,
        name: str,
        by: str,
        url: str | None = None,
        at: datetime | None = None,
    ) -> InteractionRecord:
        """Record the episode's war room; a second call returns the first room."""
        episode = self._episode(episode_id)
        data: dict[str, Any] = {"channel": str(channel), "name": str(name)}
        if url:
            data["url"] = str(url)
        return self._once(
            InteractionRecord(
                key=f"{episode.episode_id}:war_room",
                episode_id=episode.episode_id,
                customer_id=episode.customer_id,
                kind="war_room",
                by=_actor(by),
                at=at or self.clock(),
                data=data,
            )
        )

    def record_act(self, record: InteractionRecord) -> tuple[InteractionRecord, bool]:
        """Record any other act (a click, a refused click) once by its key.

        Returns the stored record and whether this call wrote it (False: a redelivery).
        """
        new = self._record_interaction(record)
        return self._by_key(record.key), new

    def _record_interaction(self, record: InteractionRecord) -> bool:
        """Record an act once, with its outbound event (an acknowledgement) beside it."""
        with self.store.transaction():
            new = self.store.record_interaction(record)
            if new and record.kind == "acknowledge" and record.outcome == "done":
                emit(
                    self.store,
                    "escalation.acknowledged",
                    {
                        "episode_id": record.episode_id,
                        "customer_id": record.customer_id,
                        "by": record.by,
                        "at": record.at.isoformat(),
                    },
                    key=record.key,
                    at=record.at,
                )
            if new and record.kind == "war_room" and record.episode_id:
                # A war room a person opened (Slack button, CLI) is a record like the plan's.
                room = str(record.data.get("name") or record.data.get("channel") or "")
                self.store.add_record(
                    WarRoomEntry(
                        id=record_id_for("wr", record.key),
                        action_key=record.key,
                        episode_id=record.episode_id,
                        customer_id=record.customer_id,
                        war_room=room,
                        summary=f"opened by {record.by}",
                        created_at=record.at,
                    )
                )
            return new

    # -- what happened -------------------------------------------------------------------
    def episode_history(self, episode_id: str) -> list[dict[str, Any]]:
        """Everything that happened to an episode, oldest first.

        Transitions (``what``: opened, escalated, resolved), people's acts (acknowledge,
        snooze, resolve, war_room, refused...) and executed actions, each with ``at``.
        """
        episode = self._episode(episode_id)
        out: list[tuple[datetime, int, dict[str, Any]]] = []
        for t in self.store.transitions(episode_id=episode.episode_id):
            item = {
                "type": "transition",
                "what": t.kind,
                "at": t.at.isoformat(),
                "severity": t.severity,
                "suppressed": t.suppressed,
            }
            out.append((t.at, 0, item))
        for r in self.store.interactions(episode_id=episode.episode_id):
            out.append((r.at, 1, {"type": "act", "what": r.kind, **_act_json(r)}))
        for a in self.store.actions(episode_id=episode.episode_id):
            if a.status is ActionStatus.DONE or a.status is ActionStatus.FAILED:
                item = {
                    "type": "action",
                    "what": a.kind,
                    "at": a.updated_at.isoformat(),
                    "step": a.step_id,
                    "status": a.status.value,
                    "summary": a.summary,
                    "error": a.error,
                }
                out.append((a.updated_at, 2, item))
        out.sort(key=lambda x: (x[0], x[1]))
        return [item for _at, _rank, item in out]

    def episode_view(self, episode: EpisodeRecord) -> dict[str, Any]:
        """An episode's record with its acknowledgement, war room and snooze (for listings)."""
        ack = self.acknowledgement(episode.episode_id)
        room = self.war_room(episode.episode_id)
        silences = [
            s.to_json()
            for s in self.store.recorded_silences(active_at=self.clock())
            if s.customer_id == episode.customer_id
        ]
        return {
            **episode.to_json(),
            "acknowledged_by": ack.by if ack else None,
            "acknowledged_at": ack.at.isoformat() if ack else None,
            "war_room": dict(room.data) if room else None,
            "snoozed_until": silences[-1]["end"] if silences else None,
        }

    # -- silences and the chain ---------------------------------------------------------------
    def refresh_silences(self) -> None:
        """Give the lifecycle the configured silences plus the recorded ones."""
        recorded = tuple(
            Silence(
                scope="customer",
                target=s.customer_id,
                start=s.start,
                end=s.end,
                reason=s.reason,
            )
            for s in self.store.recorded_silences()
        )
        self.monitor.silences = tuple(self.config.silences) + recorded

    def _snoozed_until(self, customer_id: str, at: datetime) -> datetime | None:
        ends = [
            s.end
            for s in self.store.recorded_silences()
            if s.customer_id == customer_id and s.start <= at
        ]
        return max(ends) if ends else None

    def run_chain(self, at: datetime) -> list[str]:
        """Plan the escalation chain's steps due at ``at``; returns their plan ids.

        Each step is recorded once (by its plan id and action key), so running this every
        tick is safe; the executor delivers the steps like any other action.
        """
        policy = self.chain_policy
        if not policy.enabled:
            return []
        planned: list[str] = []
        desk = getattr(self, "incident_desk", None)
        for episode in self.store.episodes(active_only=True):
            if desk is not None and desk.handles(episode.episode_id):
                continue  # a product incident's member: the incident thread speaks for it
            steps = due_steps(
                policy,
                severity=_severity(episode.severity),
                opened_at=episode.opened_at,
                now=at,
                acknowledged=self.acknowledgement(episode.episode_id) is not None,
                resolved=episode.status != "active",
                paged=episode.suppressed is None,
                snoozed_until=self._snoozed_until(episode.customer_id, at),
            )
            if not steps:
                continue
            account = self.account(episode.customer_id)
            for step in steps:
                plan_id = chain_plan_id(episode.episode_id, step)
                if self.store.plan(plan_id) is not None:
                    continue
                plan = plan_chain_step(
                    step,
                    episode_id=episode.episode_id,
                    customer_id=episode.customer_id,
                    severity=_severity(episode.severity),
                    opened_at=episode.opened_at,
                    at=at,
                    account=account,
                )
                if self.store.record_plan(plan, plan_id=plan_id, at=at):
                    planned.append(plan_id)
                    log.info("%s escalation chain: %s", episode.episode_id, step)
        return planned


def _severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        return Severity.HIGH


def _act_json(record: InteractionRecord) -> dict[str, Any]:
    data = record.to_json()
    data.pop("kind", None)
    return data


_UNITS = {"m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, *, field: str = "for") -> timedelta:
    """``30m``, ``4h``, ``1d`` (a whole number and a unit) as a timedelta, or an InputError."""
    raw = str(text).strip().lower()
    number, unit = raw[:-1], raw[-1:]
    if unit not in _UNITS or not number.isdigit() or not 0 < int(number) <= 100_000:
        raise InputError(
            f"expected a duration such as 30m, 4h or 1d, got {str(text)[:40]!r}", field=field
        )
    return timedelta(seconds=int(number) * _UNITS[unit])
