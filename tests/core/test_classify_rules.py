"""Categories when the source gives none: tags first, then text, and `other` when unsure."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketspike import Category, Classification, ConfigError, Plugins, Ticket, hookimpl
from ticketspike.config import load_config
from ticketspike.model import ticket_event_from_json
from ticketspike.plugin_runners import FallbackClassifier, classify_with_fallback
from ticketspike.text.classify import (
    ClassificationSettings,
    apply_classification,
    categorize,
    classify,
    train,
)

AT = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)


def ticket(
    subject: str,
    body: str = "",
    *,
    tags: tuple[str, ...] = (),
    category: Category = Category.OTHER,
    given: bool = False,
) -> Ticket:
    return Ticket(
        ticket_id="T1",
        customer_id="acme",
        created_at=AT,
        subject=subject,
        body=body,
        tags=tags,
        category=category,
        category_given=given,
    )


# Written for this test, in words the bundled vocabulary does not contain verbatim.
CLEAR_CASES = [
    ("Getting HTTP 500 whenever we open the orders page", Category.TECHNICAL),
    ("The mobile app crashes right after the splash screen", Category.TECHNICAL),
    ("Webhook calls to our endpoint stopped arriving yesterday", Category.TECHNICAL),
    ("You billed our card two times for the same month", Category.BILLING),
    ("Please send a corrected invoice with our VAT number", Category.BILLING),
    ("We want our money back for the unused licences (refund)", Category.BILLING),
    ("How do I set up a recurring report for my managers?", Category.TRAINING),
    ("Where can I find the setting for working hours?", Category.TRAINING),
    ("It would be great if the board had a timeline view", Category.FEATURE_REQUEST),
    ("Please add an option to archive projects in bulk", Category.FEATURE_REQUEST),
    ("I am out of the office until Monday, automatic reply", Category.OTHER),
    ("Could you fill in our vendor security questionnaire?", Category.OTHER),
]


@pytest.mark.parametrize(("subject", "expected"), CLEAR_CASES)
def test_clear_tickets_get_the_category_a_person_would_give(
    subject: str, expected: Category
) -> None:
    answer = classify(ticket(subject))
    assert answer.category is expected, answer
    if expected is not Category.OTHER:
        assert answer.confidence >= 0.5


def test_the_sources_own_category_is_never_second_guessed() -> None:
    given_ticket = ticket("Invoice amount wrong", category=Category.TECHNICAL, given=True)
    assert classify(given_ticket) == Classification(Category.TECHNICAL, 1.0, "given by the source")
    assert categorize(given_ticket) is given_ticket


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (("billing_question",), Category.BILLING),
        (("Bug",), Category.TECHNICAL),
        (("how-to",), Category.TRAINING),
        (("feature request",), Category.FEATURE_REQUEST),
        (("vip", "refund", "bug"), Category.BILLING),  # billing outranks technical
    ],
)
def test_tags_decide_before_the_text(tags: tuple[str, ...], expected: Category) -> None:
    answer = classify(ticket("It would be great to have dark mode", tags=tags))
    assert answer.category is expected
    assert answer.reason.startswith("tag ")


def test_categorize_fills_in_the_category_and_keeps_it_refinable() -> None:
    raw = ticket_event_from_json(
        {
            "ticketId": "T9",
            "customerId": "acme",
            "createdAt": "2026-03-01T09:00:00Z",
            "subject": "Charged twice for March",
            "category": "whatever",
        }
    ).ticket
    assert raw.category is Category.OTHER and raw.category_given is False
    done = categorize(raw)
    assert done.category is Category.BILLING
    assert done.category_given is False
    assert attrs.evolve(done, category=Category.OTHER) == raw


def test_an_unsure_answer_is_other_never_a_wild_guess() -> None:
    vague = ticket("Account", "see attached")
    answer = classify(vague)
    assert answer.category is Category.OTHER
    assert categorize(vague) is vague
    nothing = classify(ticket("Hallo zusammen", "Grüße"))
    assert nothing == Classification(Category.OTHER, 0.0, "no words the model knows")
    strict = train(ClassificationSettings(threshold=0.99))
    answer = strict.classify(ticket("error in report builder when I try to build a dashboard"))
    assert answer.category is Category.OTHER and answer.reason.startswith("text: unsure")


def test_apply_classification_only_raises_confidence_above_the_threshold() -> None:
    t = ticket("x")
    assert apply_classification(t, Classification(Category.BILLING, 0.6), threshold=0.7) is t
    assert (
        apply_classification(t, Classification(Category.BILLING, 0.8), threshold=0.7).category
        is Category.BILLING
    )
    assert apply_classification(t, None) is t
    assert apply_classification(t, Classification(Category.OTHER, 0.99)) is t


def test_an_organizations_keywords_teach_its_own_jargon() -> None:
    jargon = ticket("Frobnicator wonky")
    assert classify(jargon).category is Category.OTHER
    config = load_config(text="classification:\n  keywords:\n    technical: [frobnicator]\n")
    own = Plugins(load_entrypoints=False).classifiers(config.plugins)[0]
    assert own.classify(jargon).category is Category.TECHNICAL


def test_an_organizations_tags_come_before_the_built_in_ones() -> None:
    config = load_config(
        text="classification:\n  tags:\n    training: [bug-bash-session]\n  threshold: 0.8\n"
    )
    own = Plugins(load_entrypoints=False).classifiers(config.plugins)[0]
    assert own.threshold == 0.8
    assert own.classify(ticket("x", tags=("Bug Bash Session",))).category is Category.TRAINING


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "classification:\n  threshold: 2\n",
            "t.yaml:2: classification.threshold: expected a number <= 1",
        ),
        (
            "classification:\n  keywords:\n    finance: [po]\n",
            "t.yaml:3: classification.keywords.finance: unknown category",
        ),
        (
            "classification:\n  keywords:\n    billing: []\n",
            "t.yaml:3: classification.keywords.billing: expected a non-empty list",
        ),
        (
            "classification:\n  tags:\n    billing: [ok, [nested]]\n",
            "t.yaml:3: classification.tags.billing: item 2: expected a word or phrase",
        ),
        (
            "classification:\n  treshold: 0.5\n",
            "t.yaml:2: classification.treshold: unknown key (did you mean 'threshold'?)",
        ),
    ],
)
def test_bad_classification_settings_fail_with_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config("t.yaml", text=text)
    assert str(err.value).startswith(message)


class Plugin:
    """A classifier plugin whose behaviour each test picks."""

    name = "remote-model"

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.release = threading.Event()

    def classify(self, ticket: Ticket) -> Classification | None:
        if self.behaviour == "raise":
            raise ValueError(f"cannot parse {ticket.subject}")
        if self.behaviour == "stall":
            self.release.wait(10)
        if self.behaviour == "abstain":
            return None
        if self.behaviour == "junk":
            return Classification(Category.BILLING, 7.0)
        return Classification(Category.TRAINING, 0.9, "model says <!channel> {{x}} how-to")


@pytest.mark.parametrize("behaviour", ["raise", "stall", "abstain", "junk"])
def test_a_failing_plugin_classifier_falls_back_to_the_built_in(
    behaviour: str, caplog: pytest.LogCaptureFixture
) -> None:
    plugin = Plugin(behaviour)
    secret = ticket("Refund the double charge for Jane Roe", "card 4111 1111")
    builtin = classify(secret)
    try:
        with caplog.at_level(logging.WARNING, logger="ticketspike"):
            answer = classify_with_fallback([plugin], secret, budget_seconds=0.2)
    finally:
        plugin.release.set()
    assert answer == builtin and answer.category is Category.BILLING
    assert "Jane" not in caplog.text and "4111" not in caplog.text
    if behaviour != "abstain":
        assert "classifier 'remote-model'" in caplog.text


def test_a_working_plugin_classifier_answers_with_a_cleaned_reason() -> None:
    answer = classify_with_fallback([Plugin("ok")], ticket("anything"), budget_seconds=1)
    assert answer.category is Category.TRAINING
    assert answer.reason == "model says how to"
    done = categorize(ticket("anything"), classifier=FallbackClassifier((Plugin("ok"),)))
    assert done.category is Category.TRAINING


def test_a_registered_plugin_classifier_runs_before_the_built_in() -> None:
    class Module:
        @staticmethod
        @hookimpl
        def register_classifiers(register: object) -> None:
            register(Plugin("ok"))  # type: ignore[operator]

    config = load_config(text="classification:\n  threshold: 0.6\n")
    classifiers = Plugins(load_entrypoints=False, plugins=[Module]).classifiers(config.plugins)
    assert [c.name for c in classifiers] == ["remote-model", "naive-bayes"]
    answer = classify_with_fallback(classifiers, ticket("Charged twice"), budget_seconds=1)
    assert answer.category is Category.TRAINING
    classifiers[0].behaviour = "raise"
    assert classify_with_fallback(classifiers, ticket("Charged twice")).category is (
        Category.BILLING
    )


text_strategy = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)


@settings(max_examples=150, deadline=None)
@given(text_strategy, text_strategy, st.lists(st.text(max_size=20), max_size=3))
def test_any_text_gets_a_category_with_a_confidence_between_0_and_1(
    subject: str, body: str, tags: list[str]
) -> None:
    t = ticket(subject, body, tags=tuple(tags))
    answer = classify(t)
    assert answer.category in Category
    assert 0.0 <= answer.confidence <= 1.0
    assert classify(t) == answer  # deterministic
    done = categorize(t)
    assert done.category_given is False
    assert done.category in (Category.OTHER, answer.category)
