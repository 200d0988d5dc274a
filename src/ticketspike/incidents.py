"""Product incidents: when many customers spike together, one incident instead of many.

An outage or a bad release makes tickets spike at many customers in the same hour and on
the same theme. Each customer still opens its own episode (the lifecycle does not change);
the :class:`Correlator` watches those episodes and groups the ones that open within
``window_hours`` of each other and share a *key* (their dominant category, or a theme
phrase) into an :class:`Incident` once enough customers are in it:

* at least ``min_customers`` distinct customers, and
* more than ``min_share`` of the customers active (with tickets) in the window, and
* a binomial tail below ``alpha``: that many customers opening at once is unlikely at the
  learned rate at which a customer opens an episode in such a window. A busy Monday, when
  every customer is a little up, produces few episodes, spread over keys: no incident.

While an incident is open, new episodes sharing its key *join* it (inhibition: they are
handled in the incident's thread, not escalated on their own). It resolves when all its
member episodes have resolved; later episodes follow their own lifecycle again.

Pure: times come from the transitions and tickets fed in; state is a small value the
caller keeps (:meth:`Correlator.to_json`). :func:`correlate` is the batch form whose
result does not depend on the order the episodes are given in.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import attrs

from .configfile import Section
from .signals import Transition, TransitionKind

__all__ = [
    "Incident",
    "IncidentPolicy",
    "IncidentTransition",
    "Correlator",
    "binomial_tail",
    "correlate",
    "episode_keys",
    "incident_id_for",
    "incident_policy_from_config",
]

_UTC = timezone.utc
_HOUR = 3600.0

IncidentKind = Literal["incident_opened", "incident_joined", "incident_resolved"]


# The sentence the customer acknowledgement e-mail of an incident member gains (a template;
# variables in KNOWN_ISSUE_VARIABLES).
KNOWN_ISSUE = (
    "This is a known issue ({{ incident_label }}) affecting several customers; our product "
    "team is working on it and we will update you as soon as it is fixed."
)
KNOWN_ISSUE_VARIABLES: Mapping[str, Any] = {
    "incident_id": "inc_1",
    "incident_label": "login issues",
    "incident_customers": 40,
    "incident_themes": "login issues, cannot sign in",
    "customer_name": "TechCorp Inc",
}


@attrs.frozen(kw_only=True)
class IncidentPolicy:
    """When episodes of several customers make one incident (config section ``incidents``).

    ``prior_rate`` is the rate (episodes opened per active customer per hour) assumed
    before any history is seen, worth ``prior_hours`` customer-hours of evidence.
    ``health_delta`` is the health adjustment of an incident-linked spike: smaller than an
    ordinary spike's, since the customer did nothing unusual. ``hold_minutes`` is how long an
    episode that may still join an incident waits before it is escalated on its own (0: until
    the end of the engine call that recorded it).
    """

    enabled: bool = True
    window_hours: float = 2.0
    min_customers: int = 3
    min_share: float = 0.02
    alpha: float = 0.01
    prior_rate: float = 0.001
    prior_hours: float = 1000.0
    dominant_share: float = 0.5
    health_delta: float = -5.0
    known_issue: str = KNOWN_ISSUE
    hold_minutes: float = 0.0

    def __attrs_post_init__(self) -> None:
        if self.window_hours <= 0:
            raise ValueError("window_hours must be > 0")
        if self.min_customers < 2:
            raise ValueError("min_customers must be >= 2")
        if not 0 <= self.min_share < 1 or not 0 < self.alpha < 1:
            raise ValueError("min_share must be in [0, 1) and alpha in (0, 1)")
        if not 0 < self.prior_rate < 1 or self.prior_hours <= 0:
            raise ValueError("prior_rate must be in (0, 1) and prior_hours > 0")


_POLICY_KEYS = frozenset(
    {
        "enabled",
        "window_hours",
        "min_customers",
        "min_share",
        "alpha",
        "prior_rate",
        "health_delta",
        "known_issue",
        "hold_minutes",
    }
)


def incident_policy_from_config(section: Section | None) -> IncidentPolicy:
    """Build an :class:`IncidentPolicy` from the ``incidents`` section (``None``: defaults)."""
    d = IncidentPolicy()
    if section is None:
        return d
    section.check_keys(_POLICY_KEYS)
    enabled = section.get_bool("enabled", d.enabled)
    window = section.get_float("window_hours", d.window_hours, minimum=0.1)
    count = section.get_int("min_customers", d.min_customers, minimum=2, maximum=100_000)
    share = section.get_float("min_share", d.min_share, minimum=0.0)
    alpha = section.get_float("alpha", d.alpha, minimum=1e-12)
    prior = section.get_float("prior_rate", d.prior_rate, minimum=1e-9)
    delta = section.get_float("health_delta", d.health_delta)
    hold = section.get_float("hold_minutes", d.hold_minutes, minimum=0.0)
    assert hold is not None
    if hold > 24 * 60:
        raise section.error("hold_minutes", "expected at most 1440 (a day)")
    known = d.known_issue
    if "known_issue" in section and section["known_issue"] is not None:
        from .planner.templates import compile_text

        known = compile_text(
            section["known_issue"],
            section=section,
            key="known_issue",
            variables=KNOWN_ISSUE_VARIABLES,
        ).source
    assert enabled is not None and window is not None and count is not None
    assert share is not None and alpha is not None and prior is not None and delta is not None
    if share >= 1:
        raise section.error("min_share", "expected a share below 1, such as 0.02")
    if alpha >= 1:
        raise section.error("alpha", "expected a probability below 1, such as 0.01")
    if prior >= 1:
        raise section.error("prior_rate", "expected a rate below 1, such as 0.001")
    return IncidentPolicy(
        enabled=enabled,
        window_hours=window,
        min_customers=count,
        min_share=share,
        alpha=alpha,
        prior_rate=prior,
        health_delta=delta,
        known_issue=known,
        hold_minutes=hold,
    )


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): how surprising k of n customers spiking is."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    # Sum the upper tail directly (terms shrink fast once i passes n*p).
    for i in range(k, n + 1):
        term = math.exp(
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * log_p
            + (n - i) * log_q
        )
        total += term
        if i > n * p and term < total * 1e-12:
            break
    return min(1.0, total)


def episode_keys(transition: Transition, *, dominant_share: float = 0.5) -> tuple[str, ...]:
    """What an episode can be grouped by: its dominant category and its theme phrases."""
    a = transition.assessment
    keys: list[str] = []
    total = sum(n for _c, n in a.category_breakdown)
    if total:
        category, count = max(a.category_breakdown, key=lambda item: (item[1], item[0].value))
        if count / total >= dominant_share:
            keys.append(f"category:{category.value}")
    for phrase in a.themes:
        keys.append(f"theme:{phrase.strip().lower()}")
    return tuple(dict.fromkeys(keys))


def incident_id_for(key: str, first_spike: datetime) -> str:
    """A stable incident id: the same key first spiking at the same instant, the same id."""
    stamp = first_spike.astimezone(_UTC).isoformat()
    digest = hashlib.sha256(f"{key}\x1f{stamp}".encode()).hexdigest()
    return f"inc_{digest[:20]}"


@attrs.frozen
class _Member:
    episode_id: str
    customer_id: str
    opened_at: datetime
    keys: tuple[str, ...]
    ticket_count: int
    themes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "episode_id": self.episode_id,
            "customer_id": self.customer_id,
            "opened_at": self.opened_at.isoformat(),
            "keys": list(self.keys),
            "ticket_count": self.ticket_count,
            "themes": list(self.themes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _Member:
        return cls(
            episode_id=str(data["episode_id"]),
            customer_id=str(data["customer_id"]),
            opened_at=_stamp(data["opened_at"]),
            keys=tuple(str(k) for k in data["keys"]),
            ticket_count=int(data["ticket_count"]),
            themes=tuple(str(t) for t in data.get("themes", ())),
        )


@attrs.frozen
class Incident:
    """One product incident: the customers spiking together on one key.

    ``ticket_counts`` is each member's window count when it joined (or escalated);
    ``open_episodes`` the member episodes not yet resolved.
    """

    incident_id: str
    key: str
    status: str  # "open" or "resolved"
    first_spike: datetime
    latest_spike: datetime
    members: tuple[_Member, ...]
    open_episodes: tuple[str, ...]
    resolved_at: datetime | None = None
    p_value: float | None = None
    active_customers: int = 0

    @property
    def customer_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.customer_id for m in self.members))

    @property
    def episode_ids(self) -> tuple[str, ...]:
        return tuple(m.episode_id for m in self.members)

    @property
    def themes(self) -> tuple[str, ...]:
        found = [self.key.partition(":")[2]] if self.key.startswith("theme:") else []
        for member in self.members:
            found.extend(member.themes)
        return tuple(dict.fromkeys(found))[:5]

    @property
    def ticket_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for m in self.members:
            counts[m.customer_id] = max(counts.get(m.customer_id, 0), m.ticket_count)
        return counts

    @property
    def ticket_count(self) -> int:
        return sum(self.ticket_counts.values())

    @property
    def label(self) -> str:
        """What the customers spike on, for people: ``technical`` or ``login issues``."""
        return self.key.partition(":")[2]

    def to_json(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "key": self.key,
            "status": self.status,
            "customer_ids": list(self.customer_ids),
            "episode_ids": list(self.episode_ids),
            "themes": list(self.themes),
            "first_spike": self.first_spike.isoformat(),
            "latest_spike": self.latest_spike.isoformat(),
            "resolved_at": None if self.resolved_at is None else self.resolved_at.isoformat(),
            "ticket_counts": self.ticket_counts,
            "ticket_count": self.ticket_count,
            "open_episodes": list(self.open_episodes),
            "p_value": self.p_value,
            "active_customers": self.active_customers,
        }

    def state_json(self) -> dict[str, Any]:
        out = self.to_json()
        out["members"] = [m.to_json() for m in self.members]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Incident:
        """Inverse of :meth:`state_json`; raises ``KeyError``/``ValueError`` on anything else."""
        resolved = data.get("resolved_at")
        p_value = data.get("p_value")
        return cls(
            incident_id=str(data["incident_id"]),
            key=str(data["key"]),
            status=str(data["status"]),
            first_spike=_stamp(data["first_spike"]),
            latest_spike=_stamp(data["latest_spike"]),
            members=tuple(_Member.from_json(m) for m in data["members"]),
            open_episodes=tuple(str(e) for e in data["open_episodes"]),
            resolved_at=None if resolved is None else _stamp(resolved),
            p_value=None if p_value is None else float(p_value),
            active_customers=int(data.get("active_customers", 0)),
        )


@attrs.frozen
class IncidentTransition:
    """An incident opened, was joined by more customers, or resolved.

    ``customer_ids``/``episode_ids`` are the customers and episodes this transition is
    about: all members so far on ``incident_opened``, the newcomer on ``incident_joined``,
    all members on ``incident_resolved``.
    """

    kind: IncidentKind
    at: datetime
    incident: Incident
    customer_ids: tuple[str, ...]
    episode_ids: tuple[str, ...]

    @property
    def incident_id(self) -> str:
        return self.incident.incident_id

    def to_json(self) -> dict[str, Any]:
        """The ``replay --format json`` line of an incident transition."""
        inc = self.incident
        return {
            "transition": self.kind,
            "at": self.at.isoformat(),
            "incident_id": inc.incident_id,
            "customer_ids": list(self.customer_ids),
            "episode_ids": list(self.episode_ids),
            "key": inc.key,
            "themes": list(inc.themes),
            "customers": len(inc.customer_ids),
            "first_spike": inc.first_spike.isoformat(),
            "latest_spike": inc.latest_spike.isoformat(),
            "ticket_count": inc.ticket_count,
            "p_value": inc.p_value,
        }


class Correlator:
    """Groups episode transitions into incidents; feed it in time order.

    :meth:`saw` counts a customer as active in an hour (every ticket, or at least one per
    customer and hour); :meth:`observe` takes each episode transition and returns the
    incident transitions it causes. The learned rate of episodes per active customer-hour
    comes from the same feed.
    """

    def __init__(self, policy: IncidentPolicy | None = None, *, lateness_hours: int = 0) -> None:
        self.policy = policy or IncidentPolicy()
        # Tickets may be fed up to this far ahead of the transitions (a replay's lateness
        # bound), so hours are kept that much longer before they count as history.
        self.lateness_hours = lateness_hours
        self._activity: dict[int, set[str]] = {}
        self._hour, self._bucket = -1, set[str]()  # the last hour seen, and its customers
        self._customer_hours = 0.0
        self._openings = 0.0
        # Openings of the hours still in ``_activity``: history only once their hour closes,
        # so a burst is never judged against a rate it inflated itself.
        self._recent_openings: dict[int, int] = {}
        self._candidates: list[_Member] = []
        self._incidents: dict[str, Incident] = {}
        self._by_episode: dict[str, str] = {}

    # -- activity and the base rate -------------------------------------------------
    def saw(self, customer_id: str, at: datetime) -> None:
        """Customer ``customer_id`` had a ticket at ``at``."""
        self.saw_epoch(customer_id, at.timestamp())

    def saw_epoch(self, customer_id: str, when: float) -> None:
        """:meth:`saw` with the time in epoch seconds (a replay's hot path)."""
        hour = int(when // _HOUR)
        if hour == self._hour:
            self._bucket.add(customer_id)
            return
        bucket = self._activity.get(hour)
        if bucket is None:
            bucket = self._activity[hour] = set()
            self._close_hours(hour)
        bucket.add(customer_id)
        self._hour, self._bucket = hour, bucket

    def _close_hours(self, now_hour: int) -> None:
        keep = math.ceil(self.policy.window_hours) + 2 + self.lateness_hours
        for hour in sorted(self._activity):
            if hour <= now_hour - keep:
                self._customer_hours += len(self._activity.pop(hour))
        for hour in sorted(self._recent_openings):
            if hour <= now_hour - keep:
                self._openings += self._recent_openings.pop(hour)

    def base_rate(self) -> float:
        """Episodes opened per active customer-hour, learned, shrunk towards the prior."""
        p = self.policy
        return (self._openings + p.prior_rate * p.prior_hours) / (
            self._customer_hours + p.prior_hours
        )

    def active_customers(self, at: datetime) -> int:
        """Distinct customers with tickets in the window ending at ``at``."""
        hour = int(at.timestamp() // _HOUR)
        first = hour - math.ceil(self.policy.window_hours)
        seen: set[str] = set()
        for h, bucket in self._activity.items():
            if first <= h <= hour:
                seen |= bucket
        return len(seen)

    # -- episodes ---------------------------------------------------------------------
    def incident_of(self, episode_id: str) -> Incident | None:
        """The incident an episode belongs to, open or resolved."""
        found = self._by_episode.get(episode_id)
        return None if found is None else self._incidents.get(found)

    def incidents(self) -> list[Incident]:
        return sorted(self._incidents.values(), key=lambda i: (i.first_spike, i.incident_id))

    def observe(self, transition: Transition) -> list[IncidentTransition]:
        """Feed one episode transition; returns the incident transitions it caused."""
        if not self.policy.enabled:
            return []
        if transition.kind is TransitionKind.OPENED:
            hour = int(transition.at.timestamp() // _HOUR)
            self._recent_openings[hour] = self._recent_openings.get(hour, 0) + 1
            if transition.suppressed:
                return []
            return self._opened(transition)
        incident = self.incident_of(transition.episode_id)
        if incident is None or incident.status != "open":
            return []
        if transition.kind is TransitionKind.ESCALATED:
            members = tuple(
                attrs.evolve(
                    m, ticket_count=max(m.ticket_count, transition.assessment.ticket_count)
                )
                if m.episode_id == transition.episode_id
                else m
                for m in incident.members
            )
            self._incidents[incident.incident_id] = attrs.evolve(incident, members=members)
            return []
        still = tuple(e for e in incident.open_episodes if e != transition.episode_id)
        incident = attrs.evolve(incident, open_episodes=still)
        if still:
            self._incidents[incident.incident_id] = incident
            return []
        incident = attrs.evolve(incident, status="resolved", resolved_at=transition.at)
        self._incidents[incident.incident_id] = incident
        gone = {m.episode_id for m in incident.members}
        self._candidates = [c for c in self._candidates if c.episode_id not in gone]
        return [
            IncidentTransition(
                "incident_resolved",
                transition.at,
                incident,
                incident.customer_ids,
                incident.episode_ids,
            )
        ]

    def _opened(self, transition: Transition) -> list[IncidentTransition]:
        at = transition.at
        keys = episode_keys(transition, dominant_share=self.policy.dominant_share)
        if not keys:
            return []
        member = _Member(
            episode_id=transition.episode_id,
            customer_id=transition.customer_id,
            opened_at=transition.opened_at,
            keys=keys,
            ticket_count=transition.assessment.ticket_count,
            themes=tuple(transition.assessment.themes),
        )
        # Inhibition: an open incident on one of its keys takes it in.
        for incident in self.incidents():
            if incident.status == "open" and incident.key in keys:
                joined = attrs.evolve(
                    incident,
                    members=(*incident.members, member),
                    open_episodes=(*incident.open_episodes, member.episode_id),
                    latest_spike=max(incident.latest_spike, member.opened_at),
                )
                self._incidents[joined.incident_id] = joined
                self._by_episode[member.episode_id] = joined.incident_id
                return [
                    IncidentTransition(
                        "incident_joined",
                        at,
                        joined,
                        (member.customer_id,),
                        (member.episode_id,),
                    )
                ]
        horizon = at - timedelta(hours=self.policy.window_hours)
        self._candidates = [c for c in self._candidates if c.opened_at >= horizon]
        self._candidates.append(member)
        for key in keys:
            group = [c for c in self._candidates if key in c.keys]
            opened = self._judge(key, group, at)
            if opened is not None:
                return [opened]
        return []

    def _judge(self, key: str, group: list[_Member], at: datetime) -> IncidentTransition | None:
        policy = self.policy
        customers = {m.customer_id for m in group}
        k = len(customers)
        if k < policy.min_customers:
            return None
        active = max(self.active_customers(at), k)
        if k <= policy.min_share * active:
            return None
        per_window = 1.0 - (1.0 - self.base_rate()) ** policy.window_hours
        p_value = binomial_tail(k, active, per_window)
        if p_value >= policy.alpha:
            return None
        members = tuple(sorted(group, key=lambda m: (m.opened_at, m.customer_id, m.episode_id)))
        first = members[0].opened_at
        incident = Incident(
            incident_id=incident_id_for(key, first),
            key=key,
            status="open",
            first_spike=first,
            latest_spike=members[-1].opened_at,
            members=members,
            open_episodes=tuple(m.episode_id for m in members),
            p_value=p_value,
            active_customers=active,
        )
        self._incidents[incident.incident_id] = incident
        for m in members:
            self._by_episode[m.episode_id] = incident.incident_id
        taken = {m.episode_id for m in members}
        self._candidates = [c for c in self._candidates if c.episode_id not in taken]
        return IncidentTransition(
            "incident_opened", at, incident, incident.customer_ids, incident.episode_ids
        )

    # -- state --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The correlator's state as JSON (resolved incidents older than a day are dropped)."""
        return {
            "activity": {str(h): sorted(b) for h, b in self._activity.items()},
            "customer_hours": self._customer_hours,
            "openings": self._openings,
            "recent_openings": {str(h): n for h, n in self._recent_openings.items()},
            "candidates": [c.to_json() for c in self._candidates],
            "incidents": [i.state_json() for i in self._kept()],
        }

    def _kept(self) -> list[Incident]:
        latest = max((i.latest_spike for i in self._incidents.values()), default=None)
        out = []
        for incident in self.incidents():
            if (
                incident.status == "open"
                or latest is None
                or incident.resolved_at is None
                or incident.resolved_at >= latest - timedelta(days=1)
            ):
                out.append(incident)
        return out

    @classmethod
    def from_json(
        cls, data: Any, policy: IncidentPolicy | None = None, *, lateness_hours: int = 0
    ) -> Correlator:
        """Inverse of :meth:`to_json`; raises ``ValueError`` on anything else."""
        if not isinstance(data, dict):
            raise ValueError("incident state must be a JSON object")
        out = cls(policy, lateness_hours=lateness_hours)
        try:
            out._activity = {int(h): set(map(str, b)) for h, b in data["activity"].items()}
            out._hour = -1
            out._customer_hours = float(data["customer_hours"])
            out._openings = float(data["openings"])
            out._recent_openings = {int(h): int(n) for h, n in data["recent_openings"].items()}
            out._candidates = [_Member.from_json(c) for c in data["candidates"]]
            for raw in data["incidents"]:
                incident = Incident.from_json(raw)
                out._incidents[incident.incident_id] = incident
                for episode in incident.episode_ids:
                    out._by_episode[episode] = incident.incident_id
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"incident state is malformed ({exc})") from None
        return out


def correlate(
    transitions: Iterable[Transition],
    *,
    policy: IncidentPolicy | None = None,
    activity: Sequence[tuple[str, datetime]] = (),
) -> list[Incident]:
    """The incidents in a set of episode transitions (and ticket activity), in any order.

    Everything is put in time order first (ties broken by customer and episode id), so the
    result depends only on what is given, not on the order it is given in.
    """
    correlator = Correlator(policy)
    kind_rank = {TransitionKind.OPENED: 0, TransitionKind.ESCALATED: 1, TransitionKind.RESOLVED: 2}
    feed: list[tuple[datetime, int, str, str, Any]] = [
        (at, 0, cid, "", None) for cid, at in activity
    ]
    for t in transitions:
        feed.append((t.at, 1 + kind_rank[t.kind], t.customer_id, t.episode_id, t))
    feed.sort(key=lambda item: item[:4])
    for at, _rank, cid, _episode, transition in feed:
        if transition is None:
            correlator.saw(cid, at)
        else:
            correlator.observe(transition)
    return correlator.incidents()


def _stamp(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"naive time {value!r} in incident state")
    return parsed
