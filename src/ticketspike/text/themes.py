"""Common themes of a spike: what customers write about unusually often right now.

A theme is a short phrase made of words from the tickets ("API errors",
"login issues", "invoice amount") with its ticket count, a few example ids
and, when the words make it clear, the product area it touches. The default
analyzer is statistical and needs no network:

1. each ticket's subject and body become a set of one- to three-word phrases
   (keyed by their sorted light stems, so "password reset" and "reset
   passwords" are one phrase);
2. each phrase's share of window tickets is contrasted with its share of
   baseline tickets by the log-odds ratio with an informative Dirichlet
   prior (Monroe, Colaresi and Quinn 2008), as a z-score. What is always
   frequent scores near zero; what is new scores high;
3. a phrase is upgraded to a longer one that covers at least half of its
   tickets ("invoice" becomes "invoice amount"); a lone word whose tickets
   mostly say something is wrong with it takes the name of that trouble
   ("API" becomes "API errors", "login" becomes "login issues"); phrases
   that cover nearly the same tickets are merged, so one issue yields one
   theme.

Everything here is pure; asking a plugin analyzer first, within a time budget, is
:func:`ticketspike.plugin_runners.analyze_with_fallback`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from ..signals import Theme
from .tokens import GENERIC_WORDS, STOP_WORDS, clean, display_phrase, segments, stem
from .trouble import ERRORS, ISSUES, KINDS, TroubleKind, is_trouble, kind_named, trouble_in

if TYPE_CHECKING:
    from ..configfile import Section
    from ..model import Ticket

__all__ = [
    "DEFAULT_AREAS",
    "StatisticalThemeAnalyzer",
    "ThemeSettings",
    "find_themes",
    "sanitize_theme",
    "theme_settings_from_config",
]

# Product areas and the words that name them. Matched on light stems, so
# "invoices" finds Billing. Multi-word entries must all appear.
DEFAULT_AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Authentication",
        (
            "login",
            "logout",
            "sso",
            "saml",
            "password",
            "2fa",
            "mfa",
            "authentication",
            "authenticate",
            "auth",
            "okta",
            "lockout",
            "locked out",
            "oauth",
            "credential",
        ),
    ),
    (
        "Billing",
        (
            "invoice",
            "billing",
            "bill",
            "charge",
            "payment",
            "refund",
            "subscription",
            "receipt",
            "credit card",
            "price",
            "vat",
            "tax",
            "renewal",
            "overcharge",
            "discount",
            "coupon",
        ),
    ),
    ("API", ("api", "endpoint", "webhook", "sdk", "rate limit", "api key", "graphql")),
    ("Data import/export", ("export", "import", "csv", "spreadsheet", "xlsx")),
    ("Reporting", ("report", "dashboard", "chart", "analytics", "metric", "graph")),
    ("Notifications", ("notification", "reminder", "digest", "unsubscribe")),
    (
        "Integrations",
        (
            "integration",
            "salesforce",
            "hubspot",
            "zapier",
            "slack",
            "jira",
            "zendesk",
            "teams",
        ),
    ),
    ("Performance", ("slow", "latency", "timeout", "lag", "performance", "spinner", "freeze")),
    ("Mobile app", ("mobile", "ios", "android", "iphone", "ipad", "tablet")),
    ("File uploads", ("upload", "attachment", "file size")),
    ("Search", ("search",)),
    ("Permissions", ("permission", "role", "admin right", "access control", "rbac")),
    ("Sync", ("sync", "synchronization", "synchronisation")),
)


# Words customers use for one thing in a support request, keyed as one so a
# theme is not split across wordings: "charged twice" and "double charge",
# "refund" and "reimbursement", "human agent" and "real person". The first word
# of a group is its key; a theme still shows the words customers wrote.
_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("twice", "double", "duplicate", "duplicated"),
    ("refund", "refunds", "reimbursement", "reimbursements", "reimburse", "reimbursed"),
    ("agent", "human", "person", "representative", "operator"),
    ("delivery", "deliver", "delivered", "shipping", "shipment", "ship", "shipped"),
    ("arrive", "arrived", "arrival"),
    ("lost", "lose", "stolen", "stole", "steal", "theft"),
    ("cancel", "cancelled", "canceled", "cancellation"),
    ("invoice", "bill", "bills"),
    ("password", "passcode", "passwords", "passcodes"),
    ("signup", "register", "registration", "registering", "registered"),
    ("activate", "activation", "activated"),
    ("order", "purchase", "purchased", "purchases"),
)
SYNONYMS: dict[str, str] = {stem(w): stem(group[0]) for group in _SYNONYMS for w in group}
# A misspelt word is merged into the word it is one edit away from when that
# word is this much more common in the window (and at least _TYPO_MIN tickets).
_TYPO_RATIO = 3
_TYPO_MIN = 3
_TYPO_LENGTH = 5


def _one_edit(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by one insertion, deletion, substitution or swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def _deletes(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def typo_canon(counts: Mapping[str, int]) -> dict[str, str]:
    """Rare misspellings mapped onto the common stem one edit away ("pasword" -> "password").

    ``counts`` is how many tickets use each stem. Only words of letters of
    at least five characters, with the same first letter (typos rarely hit
    it), are merged, and only into a word used by three times as many
    tickets: "order" and "older" both common stay apart.
    """
    by_delete: dict[str, list[str]] = {}
    for word in counts:
        if len(word) >= _TYPO_LENGTH - 1 and word.isalpha():
            for key in _deletes(word):
                by_delete.setdefault(key, []).append(word)
    out: dict[str, str] = {}
    for word, n in counts.items():
        if len(word) < _TYPO_LENGTH or not word.isalpha():
            continue
        best: str | None = None
        for key in _deletes(word):
            for other in by_delete.get(key, ()):
                if (
                    other[0] == word[0]
                    and counts[other] >= max(_TYPO_MIN, _TYPO_RATIO * n)
                    and _one_edit(word, other)
                    and (best is None or (counts[other], other) > (counts[best], best))
                ):
                    best = other
        if best is not None:
            out[word] = best
    return out


@attrs.frozen
class ThemeSettings:
    """How themes are found; every option has a working default.

    :param limit: at most this many themes.
    :param min_tickets: a theme must appear in at least this many window tickets.
    :param min_score: the smallest log-odds z-score a theme needs when there
        is a baseline to contrast with (1.96 is the usual 95 % two-sided line;
        lower keeps more, weaker themes).
    :param prior_strength: pseudo-tickets of the Dirichlet prior; larger makes
        rare phrases need more evidence.
    :param examples: example ticket ids per theme.
    :param areas: product areas and their words (see :data:`DEFAULT_AREAS`).
    :param stop_words: extra words never used in a theme (an organization's
        own name, say).
    """

    limit: int = 5
    min_tickets: int = 2
    min_score: float = 1.96
    prior_strength: float = 10.0
    examples: int = 3
    areas: tuple[tuple[str, tuple[str, ...]], ...] = attrs.field(default=DEFAULT_AREAS, repr=False)
    stop_words: frozenset[str] = frozenset()


DEFAULT_THEME_SETTINGS = ThemeSettings()

# Background share of tickets a random phrase appears in, used so that a
# customer with no baseline history still gets frequency-ranked themes.
_BACKGROUND_RATE = 0.01
_BACKGROUND_WEIGHT = 20.0
# A lone word grows into a longer phrase, or takes the name of its tickets'
# trouble ("API" -> "API errors"), when that covers this share of its tickets:
# a bare noun says less than any phrase half its tickets support.
_UPGRADE_COVERAGE = 0.5
# Two themes whose ticket sets overlap this much are one theme.
_MERGE_OVERLAP = 0.8
_MERGE_JACCARD = 0.5
_MAX_WORDS = 3

Key = tuple[str, ...]


@attrs.frozen
class _Phrases:
    """The phrases of one ticket: key -> surface words as written (subject first).

    ``trouble`` maps a content stem to the trouble kinds (keys) said about it:
    those in its own sentence, and, for a word of the subject, anywhere in
    the subject (a subject is one summary: "API: 500s since noon").
    """

    by_key: Mapping[Key, tuple[str, ...]]
    stems: frozenset[str]
    in_subject: frozenset[Key]
    trouble: Mapping[str, frozenset[str]] = attrs.field(factory=dict)


def _phrases(
    ticket: Ticket,
    stop_words: frozenset[str],
    *,
    trouble: bool = False,
    canon: Mapping[str, str] = SYNONYMS,
) -> _Phrases:
    out: dict[Key, tuple[str, ...]] = {}
    stems: set[str] = set()
    in_subject: set[Key] = set()
    said: dict[str, frozenset[str]] = {}
    for text, is_subject in ((ticket.subject, True), (ticket.body, False)):
        field_stems: set[str] = set()
        field_kinds: frozenset[str] = frozenset()
        for words in segments(text):
            content = [w not in STOP_WORDS and w not in stop_words for w in words]
            word_stems = [stem(w) for w in words]
            word_stems = [canon.get(w, w) for w in word_stems]
            kept = [s for s, keep in zip(word_stems, content, strict=True) if keep]
            stems.update(kept)
            if trouble:
                kinds = trouble_in(words, word_stems)
                if is_subject:
                    field_stems.update(kept)
                    field_kinds |= kinds
                elif kinds:
                    for s in kept:
                        said[s] = said.get(s, frozenset()) | kinds
            for start in range(len(words)):
                if not content[start]:
                    continue
                for end in range(start, min(start + _MAX_WORDS, len(words))):
                    if not content[end]:
                        continue
                    key = tuple(
                        sorted({word_stems[i] for i in range(start, end + 1) if content[i]})
                    )
                    if end > start and len(key) < 2:
                        continue  # "error error" or "login to login"
                    keys = [key]
                    if end - start == 2 and content[start + 1]:
                        # "webhook deliveries failing" also says "webhook failing".
                        keys.append(tuple(sorted({word_stems[start], word_stems[end]})))
                    for k in keys:
                        out.setdefault(k, tuple(words[start : end + 1]))
                        if is_subject:
                            in_subject.add(k)
                # "activating my new card" also says "activate card": two content
                # words with only small or generic words between them.
                end = start + _MAX_WORDS
                if end < len(words) and content[end]:
                    between = range(start + 1, end)
                    if all(not content[i] or words[i] in GENERIC_WORDS for i in between):
                        k = tuple(sorted({word_stems[start], word_stems[end]}))
                        if len(k) == 2:
                            out.setdefault(k, tuple(words[start : end + 1]))
                            if is_subject:
                                in_subject.add(k)
        if field_kinds:
            for s in field_stems:
                said[s] = said.get(s, frozenset()) | field_kinds
    return _Phrases(
        by_key=out, stems=frozenset(stems), in_subject=frozenset(in_subject), trouble=said
    )


def _canonical(word_stem: str, canon: Mapping[str, str]) -> str:
    found = canon.get(word_stem, word_stem)
    return SYNONYMS.get(found, found)


def _canon_for(window: Sequence[Ticket], stop_words: frozenset[str]) -> dict[str, str]:
    """Synonyms plus the window's own misspellings, as one stem -> key map."""
    df: Counter[str] = Counter()
    for ticket in window:
        seen: set[str] = set()
        for text in (ticket.subject, ticket.body):
            for words in segments(text):
                seen.update(
                    SYNONYMS.get(stem(w), stem(w))
                    for w in words
                    if w not in STOP_WORDS and w not in stop_words
                )
        df.update(seen)
    typos = typo_canon(df)
    return {**SYNONYMS, **{k: SYNONYMS.get(v, v) for k, v in typos.items()}}


_GENERIC_STEMS = frozenset(stem(w) for w in GENERIC_WORDS) | GENERIC_WORDS


def _informative(key: Key) -> bool:
    return any(s not in _GENERIC_STEMS for s in key)


def _log_odds_z(y_w: int, n_w: int, y_b: int, n_b: int, strength: float) -> tuple[float, float]:
    """Log-odds ratio of a phrase's ticket share, window vs baseline, and its z-score.

    The prior share mixes the pooled share with a small background share, so
    an empty baseline still ranks phrases by how common they are now.
    """
    pooled = (y_w + y_b + _BACKGROUND_WEIGHT * _BACKGROUND_RATE) / (n_w + n_b + _BACKGROUND_WEIGHT)
    a = strength * pooled
    b = strength * (1.0 - pooled)
    delta = math.log((y_w + a) / (n_w - y_w + b)) - math.log((y_b + a) / (n_b - y_b + b))
    var = 1 / (y_w + a) + 1 / (n_w - y_w + b) + 1 / (y_b + a) + 1 / (n_b - y_b + b)
    return delta, delta / math.sqrt(var)


def _unique(tickets: Sequence[Ticket]) -> list[Ticket]:
    seen: set[tuple[str, str]] = set()
    out = []
    for t in tickets:
        if t.internal or t.key in seen:
            continue
        seen.add(t.key)
        out.append(t)
    return out


def _area_stems(settings: ThemeSettings) -> list[tuple[str, list[frozenset[str]]]]:
    return [
        (
            name,
            [frozenset(_canonical(stem(w), SYNONYMS) for w in kw.lower().split()) for kw in words],
        )
        for name, words in settings.areas
    ]


def _area_of(
    key: Key, members: Sequence[_Phrases], areas: list[tuple[str, list[frozenset[str]]]]
) -> str | None:
    stems = set(key)
    for name, entries in areas:
        if any(entry <= stems for entry in entries):
            return name
    # Not in the phrase itself: name the area most of the theme's tickets mention.
    best: tuple[int, str] | None = None
    for name, entries in areas:
        hits = sum(1 for p in members if any(entry <= p.stems for entry in entries))
        if hits * 2 > len(members) and (best is None or hits > best[0]):
            best = (hits, name)
    return best[1] if best else None


def find_themes(
    window: Sequence[Ticket],
    baseline: Sequence[Ticket],
    *,
    limit: int | None = None,
    settings: ThemeSettings | None = None,
) -> list[Theme]:
    """The themes unusually frequent in ``window`` compared with ``baseline``.

    ``window`` is the spike period's tickets, ``baseline`` the tickets of the
    period before it (the customer's own, or the segment's for a new
    customer). Internal tickets and repeated ids are ignored. Themes come
    best first; at most ``limit`` (default ``settings.limit``, 5).
    """
    cfg = settings or DEFAULT_THEME_SETTINGS
    top = cfg.limit if limit is None else limit
    win = _unique(window)
    base = _unique(baseline)
    if top <= 0 or not win:
        return []
    extra_stops = frozenset(w.lower() for w in cfg.stop_words)
    canon = _canon_for(win, extra_stops)
    win_phrases = [_phrases(t, extra_stops, trouble=True, canon=canon) for t in win]
    base_df: Counter[Key] = Counter()
    for t in base:
        base_df.update(_phrases(t, extra_stops, canon=canon).by_key.keys())

    members: dict[Key, list[int]] = {}
    surfaces: dict[Key, Counter[tuple[str, ...]]] = {}
    in_subjects: Counter[Key] = Counter()
    for index, phrases in enumerate(win_phrases):
        for key, surface in phrases.by_key.items():
            members.setdefault(key, []).append(index)
            surfaces.setdefault(key, Counter())[surface] += 1
        in_subjects.update(phrases.in_subject)

    n_w, n_b = len(win), len(base)
    need = max(1, min(cfg.min_tickets, n_w))
    scored: dict[Key, float] = {}
    for key, idx in members.items():
        if len(idx) < need or not _informative(key):
            continue
        delta, z = _log_odds_z(len(idx), n_w, base_df.get(key, 0), n_b, cfg.prior_strength)
        if delta <= 0 or (n_b and z < cfg.min_score):
            continue
        scored[key] = z

    # Upgrade a phrase to a longer one covering most of its tickets ("invoice"
    # -> "invoice amount"); among equals, the one with more telling words,
    # then the stronger contrast. A lone word instead takes the name of its
    # tickets' trouble ("API" -> "API errors") when more tickets report that
    # trouble than use the longer phrase, or as many but not the same ones.
    wording: dict[Key, _Wording] = {}
    for key in scored:
        best = key
        while len(best) < _MAX_WORDS:
            count = len(members[best])
            coverage = _UPGRADE_COVERAGE if len(best) == 1 else _MERGE_OVERLAP
            longer = [
                k
                for k in scored
                if len(k) == len(best) + 1
                and set(best) < set(k)
                and len(members[k]) >= coverage * count
            ]
            upgrade = (
                max(
                    longer,
                    key=lambda k: (
                        len(members[k]),
                        sum(s not in _GENERIC_STEMS for s in k),
                        scored[k],
                        k,
                    ),
                )
                if longer
                else None
            )
            trouble = None
            if len(best) == 1:
                trouble = _trouble_of(best, members[best], win_phrases, need)
            if trouble is not None and (
                upgrade is None or _names_more(trouble[1], members[upgrade])
            ):
                kind = trouble[0]
                wording[key] = _Wording(tuple(sorted({best[0], kind.key})), best[0], kind)
                break
            if upgrade is None:
                wording[key] = _Wording(best)
                break
            best = upgrade
        else:
            wording[key] = _Wording(best)

    # Subjects are the customers' own summaries; bodies carry pasted logs,
    # form boilerplate and signatures. Of two phrases with the same contrast,
    # the one customers put in their subjects names the issue.
    def rank(k: Key) -> float:
        return scored[k] * (1.0 + in_subjects[k] / len(members[k])) / 2.0

    ranked = sorted(scored, key=lambda k: (-rank(k), -len(k), k))
    chosen: list[tuple[Key, set[int]]] = []
    shown: set[Key] = set()
    areas = _area_stems(cfg)
    themes: list[Theme] = []
    for key in ranked:
        if len(themes) >= top:
            break
        words = wording[key]
        show = words.key
        tickets = set(members[key])
        if show in shown or any(_near(tickets, other) for _k, other in chosen):
            continue
        shown.add(show)
        chosen.append((key, tickets))
        ordered = sorted(tickets)
        # Examples first from the tickets that say what the phrase says.
        ordered.sort(key=lambda i: not words.said_by(win_phrases[i]))
        themes.append(
            Theme(
                phrase=words.text(surfaces),
                count=len(ordered),
                ticket_ids=tuple(win[i].ticket_id for i in ordered[: max(0, cfg.examples)]),
                area=_area_of(show, [win_phrases[i] for i in ordered], areas),
                score=round(scored[key], 4),
            )
        )
    return themes


@attrs.frozen
class _Wording:
    """How a theme reads: a phrase customers wrote, or a lone word and its trouble.

    :param key: the phrase's key (for a trouble wording, the key the words
        "<head> <kind>" would have), used to merge themes and find the area.
    :param head: the lone word's stem, for a trouble wording.
    :param kind: the trouble the head's tickets mostly report.
    """

    key: Key
    head: str | None = None
    kind: TroubleKind | None = None

    def said_by(self, phrases: _Phrases) -> bool:
        if self.head is None or self.kind is None:
            return self.key in phrases.by_key
        kinds = phrases.trouble.get(self.head, frozenset())
        return bool(kinds) if self.kind is ISSUES else self.kind.key in kinds

    def text(self, surfaces: Mapping[Key, Counter[tuple[str, ...]]]) -> str:
        if self.head is not None and self.kind is not None:
            return display_phrase((_head_word(self.head, surfaces), self.kind.label))
        # The shortest wording customers used, then the most common: "API errors"
        # reads better than "errors from the API".
        surface = min(surfaces[self.key].items(), key=lambda kv: (len(kv[0]), -kv[1], kv[0]))[0]
        if len(surface) == 2 and not is_trouble(stem(surface[0])):
            # "webhooks timeout" and "API error" read as "webhook timeouts", "API errors".
            kind = kind_named(stem(surface[1]))
            if kind is not None:
                return display_phrase((_head_word(stem(surface[0]), surfaces), kind.label))
        return display_phrase(surface)


def _head_word(head: str, surfaces: Mapping[Key, Counter[tuple[str, ...]]]) -> str:
    """The word customers use most for ``head``, singular when they also wrote it so.

    "webhooks" becomes "webhook" only if a ticket said "webhook": a plural
    that is also a name ("analytics", "Teams") is never cut.
    """
    written = surfaces.get((head,))
    if not written:
        return head
    word = min(written.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0][0]
    if (
        word != head
        and word.endswith("s")
        and (head,) in written
        and head in (word[:-1], word[:-2], word[:-3] + "y")
    ):
        return head
    return word


def _names_more(reporting: frozenset[int], phrase_tickets: Sequence[int]) -> bool:
    """A trouble name reads better than a longer phrase of the same word.

    True when more tickets report the trouble than use the phrase, or as
    many but not the same ones (3 "invoice failing", 3 "invoice question":
    the failures are the news). When the phrase's tickets are exactly those
    reporting the trouble ("Jira sync broken", "Jira sync stopped"), the
    customers' own phrase says more.
    """
    if len(reporting) != len(phrase_tickets):
        return len(reporting) > len(phrase_tickets)
    return not reporting.issuperset(phrase_tickets)


def _trouble_of(
    key: Key, tickets: Sequence[int], phrases: Sequence[_Phrases], need: int
) -> tuple[TroubleKind, frozenset[int]] | None:
    """The trouble a lone word's tickets report, and which tickets report it.

    A specific kind ("errors") when at least half of the tickets say it,
    else "issues" when at least half say something is wrong; ``None`` when
    fewer do, or the word is itself a trouble word. A status code is its
    own trouble: every "502" ticket reports a 502 error.
    """
    head = key[0]
    if head.isdigit():
        return ERRORS, frozenset(tickets)  # tokenising keeps only 4xx/5xx numbers
    if is_trouble(head):
        return None
    by_kind: dict[str, set[int]] = {}
    troubled: set[int] = set()
    for i in tickets:
        kinds = phrases[i].trouble.get(head)
        if kinds:
            troubled.add(i)
            for kind in kinds:
                by_kind.setdefault(kind, set()).add(i)
    floor = max(need, _UPGRADE_COVERAGE * len(tickets))
    if len(troubled) < floor:
        return None
    # Ties go to the more telling kind: KINDS is in that order.
    best = max(KINDS, key=lambda k: (len(by_kind.get(k.key, ())), -KINDS.index(k)))
    if len(by_kind.get(best.key, ())) >= floor:
        return best, frozenset(by_kind[best.key])
    return ISSUES, frozenset(troubled)


def _near(a: set[int], b: set[int]) -> bool:
    inter = len(a & b)
    if not inter:
        return False
    return inter / min(len(a), len(b)) >= _MERGE_OVERLAP or inter / len(a | b) >= _MERGE_JACCARD


@attrs.frozen
class StatisticalThemeAnalyzer:
    """The built-in :class:`~ticketspike.roles.ThemeAnalyzer`: :func:`find_themes`."""

    settings: ThemeSettings = DEFAULT_THEME_SETTINGS
    name: str = "statistical"

    def analyze(
        self, window: Sequence[Ticket], baseline: Sequence[Ticket], *, limit: int = 5
    ) -> list[Theme]:
        return find_themes(window, baseline, limit=limit, settings=self.settings)


_MAX_PHRASE = 60


def sanitize_theme(theme: object) -> Theme | None:
    """A plugin's theme made safe to show, or ``None`` if it is not a usable theme.

    A model's output is as hostile as the ticket text it read: the phrase is
    rebuilt from plain words (no markup, mentions, links or braces) and cut to
    a readable length; the area likewise.
    """
    if not isinstance(theme, Theme):
        return None
    words = [w for seg in segments(theme.phrase) for w in seg]
    phrase = display_phrase(words)[:_MAX_PHRASE].strip()
    if not phrase:
        return None
    area = None
    if theme.area:
        area = " ".join(clean(theme.area).split())[:_MAX_PHRASE].strip() or None
        if area is not None and any(c in area for c in "<>{}@#`*_~|[]"):
            area = " ".join(w for seg in segments(area) for w in seg).capitalize() or None
    count = theme.count if isinstance(theme.count, int) and theme.count >= 0 else 0
    ids = tuple(str(i) for i in theme.ticket_ids[:10]) if theme.ticket_ids else ()
    return Theme(phrase=phrase, count=count, ticket_ids=ids, area=area, score=theme.score)


def theme_settings_from_config(section: Section | None) -> ThemeSettings:
    """Parse the ``themes:`` config section (errors name file, line and key).

    Keys: ``limit``, ``min_tickets``, ``min_score``, ``prior_strength``,
    ``examples``, ``stop_words`` (list), ``areas`` (area name -> list of
    words; adds areas or replaces a default area's words).
    """
    if section is None:
        return DEFAULT_THEME_SETTINGS
    section.check_keys(
        {"limit", "min_tickets", "min_score", "prior_strength", "examples", "stop_words", "areas"}
    )
    d = DEFAULT_THEME_SETTINGS
    areas = dict(d.areas)
    area_section = section.get_section("areas")
    if area_section is not None:
        for name in area_section:
            words = _word_list(area_section, name)
            if not words:
                raise area_section.error(name, "expected a non-empty list of words")
            areas[str(name)] = words
    return ThemeSettings(
        limit=_int(section, "limit", d.limit, 1),
        min_tickets=_int(section, "min_tickets", d.min_tickets, 1),
        min_score=float(section.get_float("min_score", d.min_score, minimum=0.0) or 0.0),
        prior_strength=float(
            section.get_float("prior_strength", d.prior_strength, minimum=0.01) or 0.01
        ),
        examples=_int(section, "examples", d.examples, 0),
        areas=tuple(areas.items()),
        stop_words=frozenset(w.lower() for w in _word_list(section, "stop_words")),
    )


def _int(section: Section, key: str, default: int, minimum: int) -> int:
    value = section.get_int(key, default, minimum=minimum)
    return default if value is None else int(value)


def _word_list(section: Section, key: str) -> tuple[str, ...]:
    items = section.get_list(key)
    out = []
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, (str, int)) or not str(item).strip():
            raise section.error(key, f"item {i + 1}: expected a word or phrase, got {item!r}")
        words = " ".join(w for seg in segments(str(item)) for w in seg)
        if not words:
            raise section.error(key, f"item {i + 1}: {item!r} has no letters or digits")
        out.append(words)
    return tuple(out)
