"""The classifier reads the ways people really write: reviews, chat openers, issue titles.

Every text here is written for this test and is not one of the seed phrases:
the point is that the model generalises from them.
"""

from __future__ import annotations

import pytest

from ticketspike import Category
from ticketspike.text.classify import DEFAULT_CLASSIFIER, ClassificationSettings, features, train


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I got billed two times for one order", Category.BILLING),
        ("Money was taken twice from my account for a single purchase", Category.BILLING),
        ("It would be great to have an offline mode", Category.FEATURE_REQUEST),
        ("Add support for exporting to markdown", Category.FEATURE_REQUEST),
        ("There is no way to filter by date", Category.FEATURE_REQUEST),
        ("App crashes every time I open the camera since the last update", Category.TECHNICAL),
        ("Segfault when loading a big file", Category.TECHNICAL),
        ("Why does the build fail on windows?", Category.TECHNICAL),
        ("How can I activate the card you sent me?", Category.TRAINING),
        ("Where do I find the setting to change my pin?", Category.TRAINING),
        ("When is my replacement card going to arrive?", Category.OTHER),
        ("My parcel has not arrived yet, can you track it?", Category.OTHER),
        ("I want to talk to a real person", Category.OTHER),
        ("Love it, five stars, best app I have used", Category.OTHER),
        ("Great app, use it every day", Category.OTHER),
    ],
)
def test_real_world_wording_lands_in_the_right_category(text: str, expected: Category) -> None:
    assert DEFAULT_CLASSIFIER.classify_text(text).category is expected


def test_a_negated_word_is_its_own_feature() -> None:
    # "not" is a stop word; without this "has not arrived" would read like "arrived".
    assert "not work" in features("The sync does not work")
    assert "not work" not in features("The sync works")
    assert "not arriv" in features("The card has not arrived yet")


def test_wording_cues_for_questions_requests_missing_things_and_ratings() -> None:
    assert {"_ask", "_howto"} <= set(features("How do I reset it?"))
    assert "_build" in features("Add a dark theme")
    assert "_build" in features("editor: allow custom fonts")
    assert "_lack" in features("there is no option to hide it")
    assert "_praise" in features("Awesome, five stars")
    assert "_build" not in features("The add button does nothing")


def test_unknown_words_abstain_to_other_and_a_high_threshold_abstains_more() -> None:
    answer = DEFAULT_CLASSIFIER.classify_text("frobnicate the quux")
    assert answer.category is Category.OTHER and answer.confidence == 0.0
    text = "the chart totals look strange today"
    answer = DEFAULT_CLASSIFIER.classify_text(text)
    assert answer.category is Category.TECHNICAL and answer.confidence < 0.9
    strict = train(ClassificationSettings(threshold=0.9)).classify_text(text)
    assert strict.category is Category.OTHER and strict.reason.startswith("text: unsure")


def test_an_organizations_keywords_still_win_over_the_wider_vocabulary() -> None:
    text = "Quux sync agent keeps dropping records"
    mine = train(ClassificationSettings(keywords=((Category.BILLING, ("quux sync agent",)),)))
    assert DEFAULT_CLASSIFIER.classify_text(text).category is Category.TECHNICAL
    assert mine.classify_text(text).category is Category.BILLING


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How do I invite a colleague to our workspace?", Category.TRAINING),
        ("how do i change the language", Category.TRAINING),
        ("Is there a way to undo a deleted message", Category.TRAINING),
        ("The export works, but is there a way to schedule it?", Category.TRAINING),
        ("It would be great if reports could be scheduled", Category.FEATURE_REQUEST),
        ("would be great if the calendar synced with outlook", Category.FEATURE_REQUEST),
        ("Can you add a dark mode to the mobile app?", Category.FEATURE_REQUEST),
        ("can you add more filters to search", Category.FEATURE_REQUEST),
        ("The export does not work", Category.TECHNICAL),
    ],
)
def test_questions_and_wishes_are_read_by_their_form(text: str, expected: Category) -> None:
    # What decides is how it is asked: "the export" is a how-to in one line, a fault in another.
    assert DEFAULT_CLASSIFIER.classify_text(text).category is expected
