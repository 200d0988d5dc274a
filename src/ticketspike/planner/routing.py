"""Who hears about a spike besides the CSM: category routing and per-organization rules.

Default routing goes by the spike's category mix (docs/workflow.md):
technical goes to the Support Lead and Product, billing to Finance and the
CSM, training to the CSM and Enablement, feature requests to Product and
uncategorised tickets to the Support Lead (who triages them).

A spike is rarely one category. The rule for mixed spikes: every category
holding at least ``mixed_share`` of the spike's tickets (30% by default) is
routed; when none reaches it, the largest category is (ties go to the
category listed first above). So 10 technical, 2 billing and 3 training
tickets route technical only (67%, 13%, 20%); 6 technical and 5 billing route
both.

Custom rules match on organization, segment, customer, severity,
category share, P1 count, ticket count, themes and ARR, and send to teams,
people or channels. With ``match: first`` (the default) the first matching
rule wins; with ``match: all`` every matching rule applies, in order. A
matching rule replaces the default category routing unless it says
``defaults: keep``. Every decision carries a one-line explanation per rule
and category, which the plan shows as its dry run.

Pure: values in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from ..configfile import Section, SequenceView
from ..model import Account, Category, Priority
from ..signals import Assessment, Severity

__all__ = [
    "DEFAULT_MIXED_SHARE",
    "DEFAULT_TEAMS",
    "RoutingDecision",
    "RoutingRule",
    "RoutingRules",
    "RuleMatch",
    "category_shares",
    "leading_categories",
    "routing_from_config",
]

DEFAULT_TEAMS: Mapping[Category, tuple[str, ...]] = {
    Category.TECHNICAL: ("support_lead", "product"),
    Category.BILLING: ("finance", "csm"),
    Category.TRAINING: ("csm", "enablement"),
    Category.FEATURE_REQUEST: ("product",),
    Category.OTHER: ("support_lead",),
}
DEFAULT_MIXED_SHARE = 0.30
MATCH_MODES = ("first", "all")
_TEAM_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ORDER = {c: i for i, c in enumerate(Category)}


def category_shares(assessment: Assessment) -> dict[Category, float]:
    """Each category's share of the spike's tickets (0..1); empty when there are none."""
    counts: dict[Category, int] = {}
    for category, n in assessment.category_breakdown:
        counts[category] = counts.get(category, 0) + n
    total = sum(counts.values())
    if total <= 0:
        return {}
    return {c: n / total for c, n in counts.items() if n > 0}


def leading_categories(
    assessment: Assessment, *, mixed_share: float = DEFAULT_MIXED_SHARE
) -> tuple[Category, ...]:
    """The categories a spike is routed by (the mixed-spike rule in the module docs)."""
    shares = category_shares(assessment)
    if not shares:
        return ()
    ranked = sorted(shares, key=lambda c: (-shares[c], _ORDER[c]))
    # A tiny epsilon so 3 of 10 counts as 30% despite float division.
    chosen = [c for c in ranked if shares[c] + 1e-9 >= mixed_share]
    return tuple(chosen) if chosen else (ranked[0],)


@attrs.frozen
class RuleMatch:
    """What a custom rule requires; every given condition must hold (empty matches all)."""

    organizations: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    severities: tuple[Severity, ...] = ()
    min_share: tuple[tuple[Category, float], ...] = ()
    min_p1: int | None = None
    min_tickets: int | None = None
    themes: tuple[str, ...] = ()
    min_arr: float | None = None
    max_arr: float | None = None

    def check(
        self, assessment: Assessment, account: Account | None, severity: Severity
    ) -> tuple[bool, tuple[str, ...]]:
        """Whether it matches, with the reasons it does (or the first reason it does not)."""
        acct = account if account is not None else Account(id=assessment.customer_id)
        reasons: list[str] = []
        for ok, yes, no in self._checks(assessment, acct, severity):
            if not ok:
                return False, (no,)
            reasons.append(yes)
        return True, tuple(reasons) or ("no conditions",)

    def _checks(
        self, assessment: Assessment, acct: Account, severity: Severity
    ) -> Iterator[tuple[bool, str, str]]:
        # A generator so later conditions are not even computed once one fails.
        org, seg, arr = acct.organization, acct.segment, acct.arr
        if self.organizations:
            yield (
                org in self.organizations,
                f"organization {org}",
                f"organization {org or 'unknown'} is not {_any(self.organizations)}",
            )
        if self.segments:
            yield (
                seg in self.segments,
                f"segment {seg}",
                f"segment {seg or 'unknown'} is not {_any(self.segments)}",
            )
        if self.customers:
            yield (
                acct.id in self.customers,
                f"customer {acct.id}",
                f"customer {acct.id} is not {_any(self.customers)}",
            )
        if self.severities:
            yield (
                severity in self.severities,
                f"severity {severity.value}",
                f"severity {severity.value} is not {_any([s.value for s in self.severities])}",
            )
        if self.min_share:
            shares = category_shares(assessment)
            for category, minimum in self.min_share:
                share = shares.get(category, 0.0)
                yield (
                    share + 1e-9 >= minimum,
                    f"{category.value} share {_pct(share)} >= {_pct(minimum)}",
                    f"{category.value} share {_pct(share)} < {_pct(minimum)}",
                )
        if self.min_p1 is not None:
            p1 = assessment.count_of_priority(Priority.P1)
            yield (p1 >= self.min_p1, f"{p1} P1 >= {self.min_p1}", f"{p1} P1 < {self.min_p1}")
        if self.min_tickets is not None:
            n = assessment.ticket_count
            yield (
                n >= self.min_tickets,
                f"{n} tickets >= {self.min_tickets}",
                f"{n} tickets < {self.min_tickets}",
            )
        if self.themes:
            hit = _theme_hit(self.themes, assessment.themes)
            yield (hit is not None, f"theme {hit!r}", f"no theme contains {_any(self.themes)}")
        if self.min_arr is not None:
            yield (
                arr is not None and arr >= self.min_arr,
                f"ARR {_money(arr)} >= {_money(self.min_arr)}",
                f"ARR {_money(arr)} is not >= {_money(self.min_arr)}",
            )
        if self.max_arr is not None:
            yield (
                arr is not None and arr <= self.max_arr,
                f"ARR {_money(arr)} <= {_money(self.max_arr)}",
                f"ARR {_money(arr)} is not <= {_money(self.max_arr)}",
            )


def _theme_hit(wanted: tuple[str, ...], themes: tuple[str, ...]) -> str | None:
    for theme in themes:
        low = theme.lower()
        for word in wanted:
            if word.lower() in low:
                return word
    return None


def _any(values: Any) -> str:
    items = [str(v) for v in values]
    return items[0] if len(items) == 1 else "any of " + ", ".join(items)


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.0f}"


@attrs.frozen
class RoutingRule:
    """A custom rule: when ``when`` matches, send to teams, people and channels."""

    name: str
    when: RuleMatch = RuleMatch()
    teams: tuple[str, ...] = ()
    people: tuple[str, ...] = ()  # Slack user ids or e-mail addresses
    channels: tuple[str, ...] = ()
    keep_defaults: bool = False
    line: int = 0


@attrs.frozen
class RoutingDecision:
    """Where a spike goes and why (the dry run).

    ``teams`` keep their order of first mention; ``team_channels`` maps a team
    to the channel configured for it; ``explanation`` has one line per rule
    considered and per routed category.
    """

    categories: tuple[Category, ...] = ()
    teams: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    team_channels: tuple[tuple[str, str], ...] = ()
    matched_rules: tuple[str, ...] = ()
    used_defaults: bool = True
    explanation: tuple[str, ...] = ()
    reasons: tuple[tuple[str, str], ...] = ()  # (team, person or channel) -> why

    def channel_for(self, team: str) -> str | None:
        return dict(self.team_channels).get(team)

    def reason_for(self, target: str) -> str:
        return dict(self.reasons).get(target, "routing")

    def to_json(self) -> dict[str, Any]:
        return {
            "categories": [c.value for c in self.categories],
            "teams": list(self.teams),
            "people": list(self.people),
            "channels": list(self.channels),
            "team_channels": dict(self.team_channels),
            "matched_rules": list(self.matched_rules),
            "used_defaults": self.used_defaults,
            "explanation": list(self.explanation),
            "reasons": dict(self.reasons),
        }


def _default_teams() -> tuple[tuple[Category, tuple[str, ...]], ...]:
    return tuple(DEFAULT_TEAMS.items())


@attrs.frozen
class RoutingRules:
    """Category routing plus custom rules. Build with :func:`routing_from_config`."""

    teams: tuple[tuple[Category, tuple[str, ...]], ...] = attrs.field(factory=_default_teams)
    mixed_share: float = DEFAULT_MIXED_SHARE
    team_channels: tuple[tuple[str, str], ...] = ()
    rules: tuple[RoutingRule, ...] = ()
    match: str = "first"

    def teams_for(self, category: Category) -> tuple[str, ...]:
        return dict(self.teams).get(category, ())

    def route(
        self,
        assessment: Assessment,
        account: Account | None,
        *,
        severity: Severity | None = None,
    ) -> RoutingDecision:
        """Decide where the spike goes; pure, and explains itself."""
        sev = assessment.severity if severity is None else severity
        explanation: list[str] = []
        teams: list[str] = []
        people: list[str] = []
        channels: list[str] = []
        matched: list[str] = []
        why: dict[str, str] = {}
        keep_defaults = True
        for rule in self.rules:
            ok, reasons = rule.when.check(assessment, account, sev)
            if not ok:
                explanation.append(f"rule {rule.name!r} did not match: {reasons[-1]}")
                continue
            matched.append(rule.name)
            keep_defaults = keep_defaults and rule.keep_defaults
            targets = [*rule.teams, *rule.people, *rule.channels]
            explanation.append(
                f"rule {rule.name!r} matched ({'; '.join(reasons)}) -> "
                f"{', '.join(targets) or 'nobody'}"
                + ("" if rule.keep_defaults else "; category routing replaced")
            )
            for target in targets:
                why.setdefault(target, f"rule {rule.name!r}")
            _extend(teams, rule.teams)
            _extend(people, rule.people)
            _extend(channels, rule.channels)
            if self.match == "first":
                break
        categories = leading_categories(assessment, mixed_share=self.mixed_share)
        if keep_defaults:
            shares = category_shares(assessment)
            if not categories:
                explanation.append("no categorised tickets: no category routing")
            for category in categories:
                routed = self.teams_for(category)
                share = (
                    f"{_pct(shares[category])} >= {_pct(self.mixed_share)}"
                    if shares[category] + 1e-9 >= self.mixed_share
                    else f"{_pct(shares[category])}, the largest category"
                )
                explanation.append(
                    f"category {category.value} {share} -> {', '.join(routed) or 'nobody'}"
                )
                for team in routed:
                    why.setdefault(team, f"{category.value} tickets {share}")
                _extend(teams, routed)
        channel_of = dict(self.team_channels)
        return RoutingDecision(
            categories=categories,
            teams=tuple(teams),
            people=tuple(people),
            channels=tuple(channels),
            team_channels=tuple((t, channel_of[t]) for t in teams if t in channel_of),
            matched_rules=tuple(matched),
            used_defaults=keep_defaults,
            explanation=tuple(explanation),
            reasons=tuple(why.items()),
        )

    def describe(self) -> dict[str, Any]:
        """What was understood, for ``check-config``."""
        return {
            "match": self.match,
            "mixed_share": self.mixed_share,
            "teams": {c.value: list(t) for c, t in self.teams},
            "team_channels": dict(self.team_channels),
            "rules": [_describe_rule(rule) for rule in self.rules],
        }


def _describe_rule(rule: RoutingRule) -> dict[str, Any]:
    when = rule.when
    cond: dict[str, Any] = {}
    for key, value in (
        ("organization", list(when.organizations)),
        ("segment", list(when.segments)),
        ("customer", list(when.customers)),
        ("severity", [s.value for s in when.severities]),
        ("categories", {c.value: share for c, share in when.min_share}),
        ("min_p1", when.min_p1),
        ("min_tickets", when.min_tickets),
        ("themes", list(when.themes)),
        ("min_arr", when.min_arr),
        ("max_arr", when.max_arr),
    ):
        if value not in (None, [], {}):
            cond[key] = value
    return {
        "name": rule.name,
        "when": cond,
        "send_to": {
            "teams": list(rule.teams),
            "people": list(rule.people),
            "channels": list(rule.channels),
        },
        "defaults": "keep" if rule.keep_defaults else "replace",
    }


def _extend(out: list[str], items: tuple[str, ...]) -> None:
    for item in items:
        if item not in out:
            out.append(item)


# -- parsing -----------------------------------------------------------------

_ROUTING_KEYS = frozenset({"mixed_share", "match", "teams", "channels", "rules"})
_RULE_KEYS = frozenset({"name", "when", "send_to", "defaults", "description"})
_WHEN_KEYS = frozenset(
    {
        "organization",
        "segment",
        "customer",
        "severity",
        "categories",
        "min_p1",
        "min_tickets",
        "themes",
        "min_arr",
        "max_arr",
    }
)


def routing_from_config(section: Section | None) -> RoutingRules:
    """The ``routing`` section as :class:`RoutingRules`; ``None`` gives the category defaults.

    Raises :class:`~ticketspike.errors.ConfigError` naming file, line and key.
    """
    if section is None:
        return RoutingRules()
    section.check_keys(_ROUTING_KEYS)
    share = section.get_float("mixed_share", DEFAULT_MIXED_SHARE, minimum=0.0, maximum=1.0)
    match = section.get_str("match", "first", choices=MATCH_MODES) or "first"
    teams = dict(DEFAULT_TEAMS)
    team_section = section.get_section("teams")
    if team_section is not None:
        for key in team_section:
            category = Category.parse(key)
            if category is None:
                raise team_section.error(
                    key,
                    "unknown category; expected technical, billing, training, "
                    "feature_request or other",
                )
            teams[category] = _ids(team_section, key, kind="team")
    team_channels: list[tuple[str, str]] = []
    channel_section = section.get_section("channels")
    if channel_section is not None:
        for key in channel_section:
            channel = channel_section.get_str(key, required=True) or ""
            _check_channel(channel_section, key, channel)
            team_channels.append((str(key), channel))
    rules: list[RoutingRule] = []
    seq = section["rules"] if section.get_list("rules") else None
    for index, item in enumerate(section.get_list("rules")):
        if not isinstance(item, Section):
            assert isinstance(seq, SequenceView)
            raise seq.error(index, "expected a rule mapping with name, when and send_to")
        rule = _parse_rule(item, index)
        if any(r.name == rule.name for r in rules):
            raise item.error("name", f"duplicate rule name {rule.name!r}")
        rules.append(rule)
    return RoutingRules(
        teams=tuple((c, teams[c]) for c in Category if c in teams),
        mixed_share=DEFAULT_MIXED_SHARE if share is None else share,
        team_channels=tuple(team_channels),
        rules=tuple(rules),
        match=match,
    )


def _parse_rule(item: Section, index: int) -> RoutingRule:
    item.check_keys(_RULE_KEYS)
    name = item.get_str("name", f"rule-{index + 1}") or f"rule-{index + 1}"
    item.get_str("description")
    defaults = item.get_str("defaults", "replace", choices=("replace", "keep"))
    when = item.get_section("when")
    send = item.get_section("send_to", required=True)
    assert send is not None
    send.check_keys({"teams", "people", "channels"})
    teams = _ids(send, "teams", kind="team") if "teams" in send else ()
    people = _strings(send, "people") if "people" in send else ()
    for person in people:
        if not (_SLACK_ID.match(person) or _EMAIL.match(person)):
            raise send.error(
                "people", f"expected Slack user ids (U...) or e-mail addresses, got {person!r}"
            )
    channels = _strings(send, "channels") if "channels" in send else ()
    for channel in channels:
        _check_channel(send, "channels", channel)
    if not (teams or people or channels):
        raise send.error(None, "expected at least one of teams, people or channels")
    return RoutingRule(
        name=name,
        when=_parse_when(when) if when is not None else RuleMatch(),
        teams=teams,
        people=people,
        channels=channels,
        keep_defaults=defaults == "keep",
        line=item.line,
    )


def _parse_when(when: Section) -> RuleMatch:
    when.check_keys(_WHEN_KEYS)
    severities: list[Severity] = []
    for value in _strings(when, "severity") if "severity" in when else ():
        if value not in ("high", "critical"):
            raise when.error("severity", f"expected high or critical, got {value!r}")
        severities.append(Severity(value))
    shares: list[tuple[Category, float]] = []
    cats = when.get_section("categories")
    if cats is not None:
        for key in cats:
            category = Category.parse(key)
            if category is None:
                raise cats.error(
                    key,
                    "unknown category; expected technical, billing, "
                    "training, feature_request or other",
                )
            share = cats.get_float(key, required=True, minimum=0.0, maximum=1.0)
            assert share is not None
            shares.append((category, share))
    return RuleMatch(
        organizations=_strings(when, "organization") if "organization" in when else (),
        segments=_strings(when, "segment") if "segment" in when else (),
        customers=_strings(when, "customer") if "customer" in when else (),
        severities=tuple(severities),
        min_share=tuple(shares),
        min_p1=when.get_int("min_p1", minimum=0),
        min_tickets=when.get_int("min_tickets", minimum=0),
        themes=_strings(when, "themes") if "themes" in when else (),
        min_arr=when.get_float("min_arr", minimum=0.0),
        max_arr=when.get_float("max_arr", minimum=0.0),
    )


def _strings(section: Section, key: str) -> tuple[str, ...]:
    """A string or a list of strings (``organization: acme`` or ``[acme, globex]``)."""
    raw = section[key]
    values = list(raw) if isinstance(raw, list) else [raw]
    out: list[str] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            raise section.error(key, f"expected a string or a list of strings, got {value!r}")
        out.append(str(value).strip())
    if not out:
        raise section.error(key, "expected at least one value")
    return tuple(out)


def _ids(section: Section, key: str, *, kind: str) -> tuple[str, ...]:
    values = _strings(section, key)
    for value in values:
        if not _TEAM_ID.match(value):
            raise section.error(
                key, f"expected {kind} ids (letters, digits, '_', '-'), got {value!r}"
            )
    return values


def _check_channel(section: Section, key: str, channel: str) -> None:
    if not re.fullmatch(r"#?[a-z0-9_\-]{1,80}|[CG][A-Z0-9]{2,}", channel):
        raise section.error(
            key,
            f"expected a channel name such as #cs-escalations or an id "
            f"such as C0123, got {channel!r}",
        )
