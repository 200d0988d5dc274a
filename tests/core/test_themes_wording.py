"""Themes hold on the way real customers write: many wordings, typos and ids."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ticketspike import Ticket
from ticketspike.text.themes import find_themes, typo_canon
from ticketspike.text.tokens import segments

AT = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)

BACKGROUND = [
    "How do I export a report to CSV?",
    "Question about our invoice amount",
    "Add a new user to our workspace",
    "Dashboard loads slowly in the morning",
    "Notification emails go to spam",
    "Where can I change my notification settings?",
]


def ticket(tid: str, subject: str, body: str = "", *, days_ago: float = 0) -> Ticket:
    return Ticket(
        ticket_id=tid,
        customer_id="acme",
        created_at=AT - timedelta(days=days_ago),
        subject=subject,
        body=body,
        category_given=False,
    )


def baseline(n: int = 60) -> list[Ticket]:
    return [ticket(f"B{i}", BACKGROUND[i % len(BACKGROUND)], days_ago=1 + i % 29) for i in range(n)]


def test_charged_twice_and_double_charge_are_one_theme() -> None:
    window = [
        ticket("W1", "I was charged twice for my order"),
        ticket("W2", "Double charge on my card"),
        ticket("W3", "Why was I charged twice?"),
        ticket("W4", "Duplicate charge this morning"),
        ticket("W5", "charged twice again"),
        ticket("W6", "How do I export a report to CSV?"),
    ]
    themes = find_themes(window, baseline(), limit=3)
    assert themes, "a spike of double charges must yield a theme"
    top = themes[0]
    assert top.phrase == "charged twice"
    assert top.count == 5
    assert top.area == "Billing"


def test_a_misspelt_word_counts_with_the_word_it_means() -> None:
    window = [
        ticket("W1", "Password reset does not work"),
        ticket("W2", "pasword reset link broken"),
        ticket("W3", "password reset fails"),
        ticket("W4", "Cannot do a passwrod reset"),
        ticket("W5", "password reset email missing"),
    ]
    themes = find_themes(window, baseline(), limit=3)
    assert themes[0].phrase == "password reset"
    assert themes[0].count == 5


def test_typo_canon_merges_only_rare_near_misses_of_common_words() -> None:
    canon = typo_canon(
        {
            "password": 9,
            "pasword": 1,
            "order": 6,
            "older": 5,
            "cancell": 1,
            "cancel": 4,
            "prices": 1,
            "pizza": 12,
        }
    )
    assert canon["pasword"] == "password"
    assert canon["cancell"] == "cancel"
    assert "older" not in canon  # both common: two words, not a typo
    assert "order" not in canon
    assert "prices" not in canon  # nothing near it is common


def test_order_numbers_and_ids_never_become_a_theme() -> None:
    window = [
        ticket("W1", "Where is order ORD-100234?", "Order number 100234, placed 2026-03-01"),
        ticket("W2", "Order ORD-100234 not shipped", "Ref A1B2C3D4, invoice INV2024-0042"),
        ticket("W3", "Status of ORD-100234", "Tracking id 9F86D081884C7D65"),
        ticket("W4", "ORD-100234 still pending", "Ref A1B2C3D4"),
        ticket("W5", "order ORD-100234 missing", "INV2024-0042"),
    ]
    themes = find_themes(window, baseline(), limit=5)
    shown = " ".join(t.phrase for t in themes).lower()
    assert themes, "five tickets about one order are a theme"
    for part in ("100234", "a1b2c3d4", "inv2024", "9f86d081884c7d65", "2026"):
        assert part not in shown


@settings(max_examples=60, deadline=None)
@given(
    st.from_regex(r"[A-Z]{2,4}-?[0-9]{5,8}|[0-9a-f]{12,32}|[A-Z0-9]{3}[0-9]{3,6}", fullmatch=True)
)
def test_id_like_tokens_are_not_words(token: str) -> None:
    assert [w for seg in segments(f"ticket {token} please") for w in seg] in (
        ["ticket", "please"],
        ["ticket", token.lower().split("-")[0], "please"],
    )


def test_customer_service_is_a_theme_although_both_words_say_little_alone() -> None:
    window = [
        ticket(f"W{i}", text)
        for i, text in enumerate(
            [
                "How can I contact customer service?",
                "customer service phone number",
                "I need to reach customer support",
                "Contact customer service please",
                "When is customer care open?",
            ]
        )
    ]
    themes = find_themes(window, baseline(), limit=3)
    assert any("customer service" in t.phrase for t in themes)


def test_a_verb_alone_is_never_a_theme() -> None:
    window = [
        ticket("W1", "I want to change it"),
        ticket("W2", "please change this"),
        ticket("W3", "check it and change it"),
        ticket("W4", "change needed"),
    ]
    assert [t.phrase for t in find_themes(window, baseline(), limit=5)] == []
