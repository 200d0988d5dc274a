"""Spike episodes: one episode per spike, not one alert per ticket.

The lifecycle turns a stream of :class:`~ticketspike.signals.Assessment`
values into episode :class:`~ticketspike.signals.Transition` values:
``opened`` when a spike starts, ``escalated`` once when it goes from high to
critical, ``resolved`` when the rate has stayed low for a while. Hysteresis
(resolve only well below the alert threshold) and a cooldown keep a flapping
customer from paging again and again. Silences and known-outage windows
suppress a transition's paging but never hide it: the transition is still
returned, carrying the reason.

Pure: time is a parameter, state is a small value the caller keeps (and may
persist as JSON); nothing here reads the clock or does I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import attrs

from .configfile import Section, SequenceView
from .errors import ConfigError, InvalidTicket
from .model import parse_time
from .signals import Assessment, Severity, Transition, TransitionKind

__all__ = [
    "Episode",
    "EpisodeState",
    "LifecyclePolicy",
    "Silence",
    "SilenceKind",
    "SilenceScope",
    "advance_episode",
    "episode_id_for",
    "lifecycle_policy_from_config",
    "mark_quiet",
    "close_episode",
    "matching_silence",
    "silences_from_config",
]

_UTC = timezone.utc

SilenceScope = Literal["customer", "segment", "global"]
SilenceKind = Literal["silence", "outage"]


@attrs.frozen(kw_only=True)
class LifecyclePolicy:
    """When an episode opens, escalates and resolves.

    An episode resolves once the multiplier has stayed below
    ``resolve_below`` for ``resolve_after_hours`` in a row: resolving at the
    alert threshold itself would flap on every ticket near the edge. After a
    resolution, a new spike within ``cooldown_hours`` that is no more severe
    than the last one is recorded but suppressed, so it does not page again.
    """

    resolve_below: float = 1.5
    resolve_after_hours: int = 6
    cooldown_hours: int = 24
    escalate: bool = True

    def __attrs_post_init__(self) -> None:
        if self.resolve_below <= 0:
            raise ValueError("resolve_below must be > 0")
        if self.resolve_after_hours < 0 or self.cooldown_hours < 0:
            raise ValueError("resolve_after_hours and cooldown_hours must be >= 0")


@attrs.frozen(kw_only=True)
class Silence:
    """A window in which transitions are recorded but do not page (docs/configuration.md, silences).

    ``scope`` says what it covers: one customer, one segment or everything
    (``target`` is the customer id or segment name, ``None`` for global).
    ``kind="outage"`` marks a known incident: spikes it explains are expected
    and need no escalation. ``start`` ``None`` means "from any time"; ``end``
    is the expiry, always required so nothing stays muted forever.
    """

    scope: SilenceScope
    target: str | None
    end: datetime
    start: datetime | None = None
    reason: str = ""
    kind: SilenceKind = "silence"

    def __attrs_post_init__(self) -> None:
        if self.scope not in ("customer", "segment", "global"):
            raise ValueError(f"scope must be customer, segment or global, got {self.scope!r}")
        if (self.scope == "global") != (self.target is None):
            raise ValueError("a global silence has no target; others need one")
        if self.kind not in ("silence", "outage"):
            raise ValueError(f"kind must be silence or outage, got {self.kind!r}")
        if self.start is not None and self.start >= self.end:
            raise ValueError("a silence must start before it ends")

    def active(self, at: datetime) -> bool:
        return (self.start is None or self.start <= at) and at < self.end

    def covers(self, customer_id: str, segment: str | None, at: datetime) -> bool:
        """Whether this silence mutes ``customer_id`` (in ``segment``) at ``at``."""
        if not self.active(at):
            return False
        if self.scope == "global":
            return True
        if self.scope == "customer":
            return customer_id == self.target
        return segment is not None and segment == self.target

    def describe(self) -> str:
        """The suppression reason recorded on a transition."""
        what = "all customers" if self.scope == "global" else f"{self.scope} {self.target}"
        text = f"{self.kind} for {what} until {self.end.isoformat()}"
        return f"{text}: {self.reason}" if self.reason else text


def matching_silence(
    silences: Sequence[Silence], customer_id: str, segment: str | None, at: datetime
) -> Silence | None:
    """The first silence that covers the customer at ``at``; outages win over silences."""
    found: Silence | None = None
    for silence in silences:
        if silence.covers(customer_id, segment, at):
            if silence.kind == "outage":
                return silence
            found = found or silence
    return found


def episode_id_for(customer_id: str, opened_at: datetime) -> str:
    """A stable episode id: the same customer opening at the same instant gets the same id.

    Hashed, so a hostile customer id cannot shape the idempotency keys built
    from it, and replaying the same tickets yields the same ids.
    """
    stamp = opened_at.astimezone(_UTC).isoformat()
    digest = hashlib.sha256(f"{customer_id}\x1f{stamp}".encode()).hexdigest()
    return f"ep_{digest[:20]}"


@attrs.frozen
class Episode:
    """An open spike episode.

    ``severity`` is the highest severity reached; ``quiet_since`` is when the
    rate first fell below the resolve line (``None`` while it is above);
    ``paged`` is whether any of its transitions was allowed to page.
    """

    episode_id: str
    opened_at: datetime
    severity: Severity
    escalated: bool = False
    quiet_since: datetime | None = None
    paged: bool = True


@attrs.frozen
class EpisodeState:
    """One customer's lifecycle: the open episode, and the last one for the cooldown."""

    episode: Episode | None = None
    last_resolved_at: datetime | None = None
    last_severity: Severity = Severity.NONE

    def to_json(self) -> dict[str, Any]:
        ep = self.episode
        return {
            "episode": None
            if ep is None
            else {
                "id": ep.episode_id,
                "opened_at": ep.opened_at.isoformat(),
                "severity": ep.severity.value,
                "escalated": ep.escalated,
                "quiet_since": None if ep.quiet_since is None else ep.quiet_since.isoformat(),
                "paged": ep.paged,
            },
            "last_resolved_at": None
            if self.last_resolved_at is None
            else self.last_resolved_at.isoformat(),
            "last_severity": self.last_severity.value,
        }

    @classmethod
    def from_json(cls, data: Any) -> EpisodeState:
        """Inverse of :meth:`to_json`; raises ``ValueError`` on anything else."""
        if not isinstance(data, dict):
            raise ValueError("episode state must be a JSON object")
        raw = data.get("episode")
        episode = None
        if raw is not None:
            quiet = raw.get("quiet_since")
            episode = Episode(
                episode_id=str(raw["id"]),
                opened_at=_stamp(raw["opened_at"]),
                severity=Severity(raw["severity"]),
                escalated=bool(raw["escalated"]),
                quiet_since=None if quiet is None else _stamp(quiet),
                paged=bool(raw.get("paged", True)),
            )
        last = data.get("last_resolved_at")
        return cls(
            episode=episode,
            last_resolved_at=None if last is None else _stamp(last),
            last_severity=Severity(data.get("last_severity", "none")),
        )


def _stamp(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"naive time {value!r} in episode state")
    return parsed


def mark_quiet(episode: Episode, at: datetime, quiet: bool) -> Episode:
    """The episode with its quiet clock started (at ``at``) or stopped.

    What :func:`advance_episode` does when the rate crosses the resolve line
    and nothing else happens; exposed so a caller can skip building a full
    assessment for it.
    """
    if quiet:
        return episode if episode.quiet_since is not None else attrs.evolve(episode, quiet_since=at)
    return episode if episode.quiet_since is None else attrs.evolve(episode, quiet_since=None)


def advance_episode(
    state: EpisodeState,
    assessment: Assessment,
    *,
    policy: LifecyclePolicy,
    silences: Sequence[Silence] = (),
    segment: str | None = None,
) -> tuple[EpisodeState, tuple[Transition, ...]]:
    """Feed one assessment (at ``assessment.at``) to a customer's lifecycle.

    Returns the new state and the transitions it caused (zero or one, or an
    escalation). Suppressed transitions are returned like the others, with
    ``suppressed`` set to the reason.
    """
    at = assessment.at
    episode = state.episode
    if episode is None:
        if not assessment.is_spike:
            return state, ()
        opened_at = at
        reason = _suppression(assessment, silences, segment, at)
        if (
            reason is None
            and state.last_resolved_at is not None
            and _in_cooldown(state, at, policy)
            and assessment.severity.rank <= state.last_severity.rank
        ):
            reason = (
                f"cooldown: a {state.last_severity.value} spike resolved at "
                f"{state.last_resolved_at.isoformat()}"
            )
        new = Episode(
            episode_id=episode_id_for(assessment.customer_id, opened_at),
            opened_at=opened_at,
            severity=assessment.severity,
            paged=reason is None,
        )
        return (
            attrs.evolve(state, episode=new),
            (_transition(TransitionKind.OPENED, new, assessment, reason),),
        )

    transitions: list[Transition] = []
    if (
        policy.escalate
        and not episode.escalated
        and assessment.is_spike
        and assessment.severity is Severity.CRITICAL
        and episode.severity is not Severity.CRITICAL
    ):
        reason = _suppression(assessment, silences, segment, at)
        if (
            reason is None
            and _in_cooldown(state, episode.opened_at, policy)
            and (state.last_severity is Severity.CRITICAL)
        ):
            reason = "cooldown: the last spike was already critical"
        episode = attrs.evolve(
            episode,
            severity=Severity.CRITICAL,
            escalated=True,
            paged=episode.paged or reason is None,
        )
        transitions.append(_transition(TransitionKind.ESCALATED, episode, assessment, reason))

    if assessment.spike_multiplier < policy.resolve_below:
        quiet_since = episode.quiet_since or at
        if at - quiet_since >= timedelta(hours=policy.resolve_after_hours):
            reason = _suppression(assessment, silences, segment, at)
            if reason is None and not episode.paged:
                reason = "the episode never paged (it opened while suppressed)"
            transitions.append(_transition(TransitionKind.RESOLVED, episode, assessment, reason))
            return (
                EpisodeState(episode=None, last_resolved_at=at, last_severity=episode.severity),
                tuple(transitions),
            )
        episode = mark_quiet(episode, quiet_since, True)
    else:
        episode = mark_quiet(episode, at, False)
    if episode is state.episode:
        return state, tuple(transitions)
    return attrs.evolve(state, episode=episode), tuple(transitions)


def close_episode(
    state: EpisodeState, assessment: Assessment, *, reason: str | None = None
) -> tuple[EpisodeState, Transition | None]:
    """Resolve the open episode now, because a person said so (not because the rate fell).

    Returns the state with no open episode (the cooldown starts at ``assessment.at``) and the
    ``resolved`` transition, or the state unchanged and ``None`` when no episode is open.
    ``reason`` marks the transition suppressed (nobody is told), as when the episode never
    paged.
    """
    episode = state.episode
    if episode is None:
        return state, None
    if reason is None and not episode.paged:
        reason = "the episode never paged (it opened while suppressed)"
    transition = _transition(TransitionKind.RESOLVED, episode, assessment, reason)
    closed = EpisodeState(
        episode=None, last_resolved_at=assessment.at, last_severity=episode.severity
    )
    return closed, transition


def _in_cooldown(state: EpisodeState, at: datetime, policy: LifecyclePolicy) -> bool:
    if state.last_resolved_at is None:
        return False
    return at < state.last_resolved_at + timedelta(hours=policy.cooldown_hours)


def _suppression(
    assessment: Assessment, silences: Sequence[Silence], segment: str | None, at: datetime
) -> str | None:
    found = matching_silence(silences, assessment.customer_id, segment, at)
    return None if found is None else found.describe()


def _transition(
    kind: TransitionKind, episode: Episode, assessment: Assessment, reason: str | None
) -> Transition:
    severity = episode.severity if kind is not TransitionKind.OPENED else assessment.severity
    return Transition(
        kind=kind,
        at=assessment.at,
        customer_id=assessment.customer_id,
        episode_id=episode.episode_id,
        severity=severity,
        assessment=assessment,
        opened_at=episode.opened_at,
        suppressed=reason,
    )


_LIFECYCLE_KEYS = frozenset({"resolve_below", "resolve_after_hours", "cooldown_hours", "escalate"})
_SILENCE_KEYS = frozenset({"customer", "segment", "global", "start", "end", "reason", "kind"})


def lifecycle_policy_from_config(section: Section | None) -> LifecyclePolicy:
    """Build a :class:`LifecyclePolicy` from the ``lifecycle`` section (``None``: defaults)."""
    defaults = LifecyclePolicy()
    if section is None:
        return defaults
    section.check_keys(_LIFECYCLE_KEYS)
    resolve_below = section.get_float("resolve_below", defaults.resolve_below, minimum=0.01)
    after = section.get_int(
        "resolve_after_hours", defaults.resolve_after_hours, minimum=0, maximum=24 * 30
    )
    cooldown = section.get_int(
        "cooldown_hours", defaults.cooldown_hours, minimum=0, maximum=24 * 365
    )
    escalate = section.get_bool("escalate", defaults.escalate)
    assert resolve_below is not None and after is not None and cooldown is not None
    assert escalate is not None
    return LifecyclePolicy(
        resolve_below=resolve_below,
        resolve_after_hours=after,
        cooldown_hours=cooldown,
        escalate=escalate,
    )


def silences_from_config(items: list[Any], root: Section) -> tuple[Silence, ...]:
    """Parse the ``silences`` list; each item names exactly one scope and an ``end``.

    ``{customer: ID | segment: NAME | global: true, start?, end, reason?, kind?}``
    with ``kind`` ``silence`` (default) or ``outage``. Times are ISO-8601 with
    an offset.
    """
    if not items:
        return ()
    seq = root["silences"] if "silences" in root else None
    out: list[Silence] = []
    for index, item in enumerate(items):
        if not isinstance(item, Section):
            if isinstance(seq, SequenceView):
                raise seq.error(index, "expected a mapping with customer, segment or global")
            raise root.error("silences", f"item {index}: expected a mapping")
        out.append(_silence(item))
    return tuple(out)


def _silence(item: Section) -> Silence:
    item.check_keys(_SILENCE_KEYS)
    customer = item.get_str("customer")
    segment = item.get_str("segment")
    everything = item.get_bool("global", False)
    chosen = [
        k for k, v in (("customer", customer), ("segment", segment), ("global", everything)) if v
    ]
    if len(chosen) != 1:
        raise item.error(None, "give exactly one of customer, segment or global: true")
    end = _time(item, "end", required=True)
    assert end is not None
    start = _time(item, "start", required=False)
    if start is not None and start >= end:
        raise item.error("end", "expected an end after start")
    kind = item.get_str("kind", "silence", choices=("silence", "outage"))
    scope: SilenceScope = chosen[0]  # type: ignore[assignment]
    target = customer if scope == "customer" else segment if scope == "segment" else None
    return Silence(
        scope=scope,
        target=target,
        start=start,
        end=end,
        reason=item.get_str("reason", "") or "",
        kind=kind,  # type: ignore[arg-type]
    )


def _time(item: Section, key: str, *, required: bool) -> datetime | None:
    if key not in item or item[key] is None:
        if required:
            raise item.error(None, f"missing required key {key!r} (an ISO-8601 time)")
        return None
    value = item[key]
    if isinstance(value, datetime):
        # YAML turns unquoted timestamps into datetimes itself; naive ones are ambiguous.
        if value.tzinfo is None or value.utcoffset() is None:
            raise item.error(key, "expected a time with a UTC offset, such as 2026-03-01T00:00:00Z")
        return value
    try:
        return parse_time(value, field=key)
    except InvalidTicket as exc:
        raise ConfigError(exc.message, where=item.where(key), field=item.key_path(key)) from None
