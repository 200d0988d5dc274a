"""Ticket categories when the source gives none (docs/classification.md).

Routing depends on the category, so a wrong guess is worse than an
honest ``other``. The order of evidence is:

1. the source's own category (``category_given``): never second-guessed;
2. tags that name a category (``billing``, ``bug``, ``how_to``,
   ``feature_request``... plus an organization's own in config);
3. a multinomial naive Bayes text classifier over subject and body, trained
   at import from the bundled :mod:`~ticketspike.text.vocabulary` and the
   organization's extra keywords. Its answer carries the posterior
   probability as confidence; below the threshold the answer is ``other``.

Pure and deterministic: the model is a frozen value built from settings, no
clock, no I/O, no module state beyond the default model built once at import.
Asking a plugin classifier first, within a time budget, is
:func:`ticketspike.plugin_runners.classify_with_fallback`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..model import Category, Ticket
from ..signals import Classification
from .tokens import STOP_WORDS, clean, segments, stem
from .vocabulary import SEED_PHRASES, TAG_WORDS

if TYPE_CHECKING:
    from ..configfile import Section

__all__ = [
    "ClassificationSettings",
    "NaiveBayesClassifier",
    "apply_classification",
    "categorize",
    "classification_settings_from_config",
    "classify",
    "features",
    "train",
]

_CATEGORIES: tuple[Category, ...] = tuple(Category)

# Wording that signals a category better than any single word does. Each
# match adds a pseudo-word the model weighs like any other, learnt from the
# seed phrases that contain the same wording.
_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "_howto",
        re.compile(
            r"\bhow (?:do|can|should|would) (?:i|we|you|one)\b|\bhow to\b|\bwhere (?:can|do) (?:i|we)\b"  # noqa: E501
            r"|\bis (?:it|there a way) possible\b|\bis there a way\b|\bwalk (?:me|us) through\b"
            r"|\bnot sure how\b|\bwondering how\b|\bcan (?:i|we)\b|\bright way to\b"
            r"|\bwhat does .{1,40} mean\b|\bexplain\b|\bshow (?:me|us)\b|\bguide\b|\btutorial\b"
        ),
    ),
    (
        "_wish",
        re.compile(
            r"\bwould (?:be|love|like)\b|\bit'?d be\b|\bwe'?d (?:like|love)\b"
            r"|\bplease (?:add|allow|build|consider|support|make)\b"
            r"|\bcan you (?:add|build|make|implement)\b|\bany plans?\b"
            r"|\broadmap\b|\bfeature request\b|\bnice to have\b|\bwish\b|\bsuggest(?:ion)?\b"
            r"|\bability to\b|\bmake it possible\b|\bcould you (?:add|implement|build)\b"
            r"|\benhancement\b|\bin the future\b|\bwill you (?:add|support|release)\b"
        ),
    ),
    (
        "_broken",
        re.compile(
            r"\b(?:does|do|did|is|are|was|were|will|has|have|can)\s*(?:not|n't)\s+"
            r"(?:work|load|open|save|sync|send|show|display|appear|respond|connect|run|render)\w*"
            r"|\bnot working\b|\bstopped working\b|\bbroken\b|\bno longer\b|\bwent down\b"
        ),
    ),
    (
        # A title that opens with what to build: "Add ...", "Allow ...", "Support for ...".
        "_build",
        re.compile(
            r"^\W*(?:\w+:\s*)?(?:add|adds|adding|allow|support|supporting|implement|provide|expose"
            r"|enable|introduce|improve|extend|offer|consider|request|proposal|feature"
            r"|option|ability|increase|customi[sz]e|configurable|let (?:me|us|users?))\b"
        ),
    ),
    (
        # What is missing rather than broken: "there is no way to", "does not support".
        "_lack",
        re.compile(
            r"\b(?:there is|there's|there are) no\b|\bno (?:way|option|setting|ability|support)\b"
            r"|\b(?:does|do|did) not support\b|\bnot (?:yet )?supported\b|\bmissing (?:an? )?"
            r"(?:option|feature|setting|support)\b|\blacks?\b|\bi wish\b|\bwish (?:it|you|there)\b"
            r"|\bshould (?:add|have|be able|allow|support|include|offer)\b|\bif only\b"
            r"|\bwould be (?:nice|great|awesome|good|better|perfect|helpful|useful)\b"
        ),
    ),
    (
        # A question: a question mark, or a sentence opening like one.
        "_ask",
        re.compile(
            r"\?|(?:^|[.!]\s+)(?:how|what|why|where|when|which|who|is there|are there|can|could"
            r"|does|do|should|is it|any (?:way|idea|advice|example))\b"
        ),
    ),
    (
        # A rating, not a report: "love it", "great app", "five stars".
        "_praise",
        re.compile(
            r"\b(?:love|loved|loving|great|awesome|amazing|excellent|fantastic|wonderful|best"
            r"|perfect|recommend|5 stars?|five stars?|favou?rite|addictive|enjoy)\b"
        ),
    ),
    ("_httperr", re.compile(r"\b[45]\d\d\b|\berror code\b|\bstack ?trace\b|\bexception\b")),
    (
        "_money",
        re.compile(r"[$€£]\s?\d|\d\s?(?:usd|eur|gbp|dollars|euros)\b|\bcharged?\b|\brefund", re.I),
    ),
    (
        "_thanks",
        re.compile(
            r"^\W*(?:thanks?|thank you|cheers|great|perfect|ok|okay)\b[^?]{0,40}$"
            r"|\bout of (?:the )?office\b|\bauto(?:matic)?[- ]?reply\b"
        ),
    ),
)

_SUBJECT_WEIGHT = 2
_SHRINK = 1.0


# "not" is a stop word, so "has not arrived" would read like "arrived": the
# negated word is also kept as its own feature ("not arrive", "not work").
_NEGATORS = frozenset({"not", "no", "never", "cannot", "unable", "without"})
_NEGATION_SPAN = 3


def _negated(words: Sequence[str]) -> list[str]:
    """Stems of the first content word after each negation in one segment."""
    out = []
    for i, word in enumerate(words):
        if word not in _NEGATORS:
            continue
        for after in words[i + 1 : i + 1 + _NEGATION_SPAN]:
            if after in _NEGATORS:
                break
            if after not in STOP_WORDS:
                out.append(stem(after))
                break
    return out


def features(subject: str, body: str = "") -> Counter[str]:
    """The words the classifier sees: content-word stems, adjacent stem pairs, cues.

    The subject counts twice: it is the customer's own summary.
    """
    out: Counter[str] = Counter()
    for text, weight in ((subject, _SUBJECT_WEIGHT), (body, 1)):
        if not text:
            continue
        for words in segments(text):
            content = [stem(w) for w in words if w not in STOP_WORDS]
            for i, s in enumerate(content):
                out[s] += weight
                if i + 1 < len(content):
                    out[f"{s} {content[i + 1]}"] += weight
            for negated in _negated(words):
                out[f"not {negated}"] += weight
        lowered = " ".join(clean(text).lower().split())
        for name, pattern in _CUES:
            if pattern.search(lowered):
                out[name] += weight
    return out


@attrs.frozen
class NaiveBayesClassifier:
    """A trained multinomial naive Bayes model; call :meth:`classify`.

    Build with :func:`train`. ``log_prob[category][feature]`` is the smoothed
    log-probability; features absent from training are ignored (they carry
    no evidence either way). Feature counts are capped per document so a
    long e-mail thread cannot swamp the probabilities.
    """

    log_prob: Mapping[Category, Mapping[str, float]] = attrs.field(repr=False)
    unseen: Mapping[Category, float] = attrs.field(repr=False)
    vocabulary: frozenset[str] = attrs.field(repr=False)
    threshold: float = 0.5
    tag_rules: tuple[tuple[Category, frozenset[str]], ...] = ()
    temperature: float = 1.0
    name: str = "naive-bayes"

    def posterior(self, feats: Mapping[str, int]) -> dict[Category, float]:
        """Probability of each category given the features (uniform prior)."""
        known = {f: min(n, 2) for f, n in feats.items() if f in self.vocabulary}
        if not known:
            return {}
        scores = {
            c: sum(n * self.log_prob[c].get(f, self.unseen[c]) for f, n in known.items())
            / self.temperature
            for c in _CATEGORIES
        }
        top = max(scores.values())
        exp = {c: math.exp(s - top) for c, s in scores.items()}
        total = sum(exp.values())
        # Two or three words are thin evidence: pull the answer towards "no idea"
        # (uniform) by one pseudo-word, so "Account - see attached" is not billing.
        n = sum(known.values())
        even = 1.0 / len(_CATEGORIES)
        return {c: (n * v / total + _SHRINK * even) / (n + _SHRINK) for c, v in exp.items()}

    def tag_category(self, tags: Iterable[str]) -> tuple[Category, str] | None:
        """The category the first matching tag names, and that tag."""
        normal = []
        for tag in tags:
            key = "_".join(tag.strip().lower().replace("-", " ").split())
            if key:
                normal.append(key)
        for category, words in self.tag_rules:
            for key in normal:
                if key in words or any(part in words for part in key.split("_")):
                    return category, key
        return None

    def classify(self, ticket: Ticket) -> Classification:
        """The ticket's category with a confidence in [0, 1] and a short reason.

        A category the source gave is kept (confidence 1). Otherwise a tag
        rule, then the text model; a model answer below ``threshold`` is
        ``other`` with confidence ``1 - p(best)``.
        """
        if ticket.category_given:
            return Classification(ticket.category, 1.0, "given by the source")
        by_tag = self.tag_category(ticket.tags)
        if by_tag is not None:
            return Classification(by_tag[0], 0.95, f"tag {by_tag[1]!r}")
        return self.classify_text(ticket.subject, ticket.body)

    def classify_text(self, subject: str, body: str = "") -> Classification:
        """The text model's answer for a subject and body (see :meth:`classify`)."""
        post = self.posterior(features(subject, body))
        if not post:
            return Classification(Category.OTHER, 0.0, "no words the model knows")
        best = max(_CATEGORIES, key=lambda c: (post[c], -_CATEGORIES.index(c)))
        p = post[best]
        if best is Category.OTHER:
            return Classification(Category.OTHER, round(p, 4), f"text: other p={p:.2f}")
        if p < self.threshold:
            return Classification(
                Category.OTHER,
                round(1.0 - p, 4),
                f"text: unsure ({best.value} p={p:.2f} < {self.threshold:g})",
            )
        return Classification(best, round(p, 4), f"text: {best.value} p={p:.2f}")


@attrs.frozen
class ClassificationSettings:
    """How tickets are categorized; every option has a working default.

    :param threshold: the smallest posterior probability a text answer needs;
        below it the answer is ``other``. Lower values (0.35-0.45) score a
        point higher on the real text of ``bench/eval_classifier.py`` but let
        a lone vague word ("Account - see attached") route as billing.
    :param keywords: an organization's extra words or phrases per category
        (product names, internal jargon), learnt on top of the bundled ones.
    :param keyword_weight: how many seed phrases one extra keyword is worth.
    :param tags: extra tag names per category, checked before the built-in ones.
    :param smoothing: additive (Lidstone) smoothing of word counts. Small,
        because each seed phrase is short: a word seen once in a category's
        phrases is real evidence. 0.1 scored best on the tuning half of the
        real text (0.3 before) and keeps the own set's figure.
    :param temperature: divides the log-likelihoods (above 1 softens the
        posteriors, which naive Bayes states too surely because it treats words
        as independent). 1 scored best on both evaluation sets of
        ``bench/eval_classifier.py``: with the wider vocabulary, softening
        mostly turned right answers into ``other``.
    """

    threshold: float = 0.5
    keywords: tuple[tuple[Category, tuple[str, ...]], ...] = ()
    keyword_weight: int = 5
    tags: tuple[tuple[Category, tuple[str, ...]], ...] = ()
    smoothing: float = 0.1
    temperature: float = 1.0


def train(settings: ClassificationSettings | None = None) -> NaiveBayesClassifier:
    """Build the classifier from the bundled vocabulary plus ``settings``."""
    cfg = settings or ClassificationSettings()
    counts: dict[Category, Counter[str]] = {c: Counter() for c in _CATEGORIES}
    for category, phrases in SEED_PHRASES.items():
        for phrase in phrases:
            counts[category].update(features(phrase).keys())
    for category, words in cfg.keywords:
        for phrase in words:
            for feat in features(phrase).keys():
                counts[category][feat] += cfg.keyword_weight
    vocabulary = frozenset(f for c in counts.values() for f in c)
    size = len(vocabulary)
    log_prob: dict[Category, dict[str, float]] = {}
    unseen: dict[Category, float] = {}
    for category, counter in counts.items():
        total = sum(counter.values()) + cfg.smoothing * size
        log_prob[category] = {f: math.log((n + cfg.smoothing) / total) for f, n in counter.items()}
        unseen[category] = math.log(cfg.smoothing / total)
    extra_tags = tuple(
        (c, frozenset("_".join(t.lower().replace("-", " ").split()) for t in tags))
        for c, tags in cfg.tags
    )
    builtin_tags = tuple((c, frozenset(words)) for c, words in TAG_WORDS)
    return NaiveBayesClassifier(
        log_prob=log_prob,
        unseen=unseen,
        vocabulary=vocabulary,
        threshold=cfg.threshold,
        tag_rules=extra_tags + builtin_tags,
        temperature=cfg.temperature,
    )


DEFAULT_CLASSIFIER = train()


def classify(ticket: Ticket, *, classifier: Any = None) -> Classification:
    """The category of ``ticket`` with a confidence (default: the built-in model).

    ``classifier`` is any :class:`~ticketspike.roles.Classifier`; if it
    abstains (returns ``None``) the built-in model answers.
    """
    if classifier is not None and not ticket.category_given:
        answer = classifier.classify(ticket)
        if isinstance(answer, Classification):
            return answer
    return DEFAULT_CLASSIFIER.classify(ticket)


def apply_classification(
    ticket: Ticket, answer: Classification | None, *, threshold: float = 0.0
) -> Ticket:
    """``ticket`` with the answer's category, when that is safe and useful.

    Only a ticket whose source gave no category is changed, only to a
    category other than ``other``, and only at ``threshold`` or more.
    ``category_given`` stays False so a later, better classifier may refine it.
    """
    if (
        ticket.category_given
        or answer is None
        or answer.category is Category.OTHER
        or answer.confidence < threshold
        or answer.category is ticket.category
    ):
        return ticket
    return attrs.evolve(ticket, category=answer.category)


def categorize(ticket: Ticket, *, classifier: Any = None) -> Ticket:
    """``ticket`` with its category filled in when the source gave none.

    Returns the ticket unchanged when its category was given or when the
    classifier is not confident (its answer is ``other``).
    """
    if ticket.category_given:
        return ticket
    return apply_classification(ticket, classify(ticket, classifier=classifier))


def safe_reason(answer: Classification) -> str:
    # A model's explanation may echo the ticket; keep only a short plain label.
    words = [w for seg in segments(answer.reason) for w in seg][:8]
    return " ".join(words)


def classification_settings_from_config(section: Section | None) -> ClassificationSettings:
    """Parse the ``classification:`` config section (errors name file, line and key).

    Keys: ``threshold`` (0..1), ``keywords`` and ``tags`` (category -> list of
    words), ``keyword_weight``.
    """
    default = ClassificationSettings()
    if section is None:
        return default
    section.check_keys({"threshold", "keywords", "tags", "keyword_weight"})
    threshold = section.get_float("threshold", default.threshold, minimum=0.0, maximum=1.0)
    weight = section.get_int("keyword_weight", default.keyword_weight, minimum=1, maximum=100)
    return ClassificationSettings(
        threshold=default.threshold if threshold is None else threshold,
        keywords=_per_category(section, "keywords"),
        keyword_weight=default.keyword_weight if weight is None else weight,
        tags=_per_category(section, "tags"),
    )


def _per_category(section: Section, key: str) -> tuple[tuple[Category, tuple[str, ...]], ...]:
    sub = section.get_section(key)
    if sub is None:
        return ()
    out = []
    for name in sub:
        category = Category.parse(name)
        if category is None:
            raise sub.error(
                str(name),
                "unknown category (expected technical, billing, training, "
                "feature_request or other)",
            )
        items = sub.get_list(name)
        words = []
        for i, item in enumerate(items):
            if isinstance(item, bool) or not isinstance(item, (str, int)) or not str(item).strip():
                raise sub.error(str(name), f"item {i + 1}: expected a word or phrase, got {item!r}")
            words.append(str(item).strip())
        if not words:
            raise sub.error(str(name), "expected a non-empty list of words or phrases")
        out.append((category, tuple(words)))
    return tuple(out)
