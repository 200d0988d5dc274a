"""Trouble words: what in a sentence says something is wrong, and what a summary calls it.

A theme of one bare word ("API", "login") says what customers write about but
not what is wrong with it. Customers describe trouble in many ways ("500
errors", "fails", "cannot log in", "is down", "keeps looping"); grouped into a
few kinds, each with the plural noun a person would write in a summary, they
let a lone word become "API errors" or "login issues" on the tickets' own
evidence instead of a guess.

Pure: works on the word lists :func:`ticketspike.text.tokens.segments` gives.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from .tokens import STOP_WORDS, stem

__all__ = ["ERRORS", "ISSUES", "KINDS", "TroubleKind", "is_trouble", "kind_named", "trouble_in"]


@attrs.frozen
class TroubleKind:
    """One way things go wrong.

    :param key: the light stem that stands for the kind in phrase keys, so a
        theme built from it is the same phrase as one customers wrote.
    :param label: the noun shown after the thing ("errors" in "API errors").
    :param stems: light stems of the words that say it.
    """

    key: str
    label: str
    stems: frozenset[str]


def _stems(words: str) -> frozenset[str]:
    return frozenset(stem(w) for w in words.split())


ERRORS = TroubleKind("error", "errors", _stems("error errors exception exceptions"))
# Specific kinds, most telling first: the order breaks ties.
KINDS: tuple[TroubleKind, ...] = (
    ERRORS,
    TroubleKind("timeout", "timeouts", _stems("timeout timeouts")),
    TroubleKind(
        "outage", "outage", _stems("outage outages downtime unavailable unreachable offline")
    ),
    TroubleKind("failure", "failures", _stems("fail fails failed failing failure failures")),
    TroubleKind("crash", "crashes", _stems("crash crashes crashed crashing")),
)
# Everything else that says "this does not work"; also the name for a mix of kinds.
ISSUES = TroubleKind(
    "issue",
    "issues",
    _stems(
        "issue issues problem problems trouble bug bugs broken broke glitch glitches stuck "
        "loop loops looping hang hangs hanging freeze freezes freezing frozen missing wrong "
        "incorrect invalid slow lag lagging reject rejected rejects decline declined denied "
        "cannot unable"
    ),
)

_BY_STEM: dict[str, str] = {s: kind.key for kind in (*KINDS, ISSUES) for s in kind.stems}
_NAMED: dict[str, TroubleKind] = {kind.key: kind for kind in (*KINDS, ISSUES)}
_NAMED[stem("failing")] = _NAMED["failure"]
# "500s", "5xx": status codes as customers abbreviate them (bare ones are digits).
_STATUS = re.compile(r"[45](?:\d\ds|xx)")
# "down" is trouble in "API is down", not in "drop down" or "slow down".
_NOT_DOWN = frozenset(
    "drop dropdown scroll slow shut break write mark narrow turn step wind cut count pull "
    "upside top up back set let put take took calm track hunt boil sit sat lie lay".split()
)
# Negations followed by these still describe trouble ("not able to", "no longer").
_AFTER_NOT = frozenset({"able", "longer"})


def _negated(words: Sequence[str], i: int) -> bool:
    """``words[i]`` is a negation of something customers expected ("not working")."""
    if i + 1 >= len(words):
        return False
    after = words[i + 1]
    if words[i] == "no":
        return after == "longer"
    return after in _AFTER_NOT or after not in STOP_WORDS


def trouble_in(words: Sequence[str], word_stems: Sequence[str]) -> frozenset[str]:
    """The keys of the trouble kinds one segment's words mention (empty if none).

    ``words`` are the raw lower-case words of one segment, stop words
    included, ``word_stems`` their light stems.
    """
    found: set[str] = set()
    for i, (word, s) in enumerate(zip(words, word_stems, strict=True)):
        key = _BY_STEM.get(s)
        if key is not None:
            found.add(key)
        elif word.isdigit() or _STATUS.fullmatch(word):
            found.add("error")  # tokenising keeps only 4xx/5xx numbers
        elif word == "down":
            if i == 0 or words[i - 1] not in _NOT_DOWN:
                found.add("outage")
        elif word in ("not", "never", "no") and _negated(words, i):
            found.add("issue")
    return frozenset(found)


def is_trouble(word_stem: str) -> bool:
    """``word_stem`` itself says something is wrong ("error", "fail", "broken")."""
    return word_stem in _BY_STEM


def kind_named(word_stem: str) -> TroubleKind | None:
    """The kind a word is the very name of ("errors" for "error", "failures" for "failing").

    Only names, not symptoms: "API broken" stays as written, "API error"
    may read "API errors".
    """
    return _NAMED.get(word_stem)
