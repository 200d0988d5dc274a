"""Themes say what drives a spike, and not what customers always write about."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketspike import ConfigError, Ticket
from ticketspike.config import load_config
from ticketspike.configfile import load_text
from ticketspike.text.themes import (
    ThemeSettings,
    find_themes,
    theme_settings_from_config,
)

AT = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)

# What this customer always writes about, at about three tickets a day.
BACKGROUND = [
    ("Password reset email not received", "I asked for a reset link twice, nothing arrived."),
    ("How do I export a report to CSV?", "Looking for the export option in reports."),
    ("Question about our invoice", "The invoice shows a different amount than expected."),
    ("Add a new user to our workspace", "We hired someone, how do we add them?"),
    ("Dashboard loads slowly in the morning", "It takes a while before widgets appear."),
    ("Notification emails go to spam", "Our mail filter flags your notification emails."),
]


def ticket(
    tid: str,
    subject: str,
    body: str = "",
    *,
    at: datetime = AT,
    internal: bool = False,
    customer: str = "acme",
) -> Ticket:
    return Ticket(
        ticket_id=tid,
        customer_id=customer,
        created_at=at,
        subject=subject,
        body=body,
        internal=internal,
        category_given=False,
    )


def baseline(days: int = 30, per_day: int = 3, seed: int = 1) -> list[Ticket]:
    rng = random.Random(seed)
    out = []
    for day in range(1, days + 1):
        for k in range(per_day):
            subject, body = rng.choice(BACKGROUND)
            out.append(ticket(f"B{day}-{k}", subject, body, at=AT - timedelta(days=day, hours=k)))
    return out


def background_today(n: int = 3, seed: int = 2) -> list[Ticket]:
    rng = random.Random(seed)
    return [ticket(f"N{k}", *rng.choice(BACKGROUND), at=AT - timedelta(hours=k)) for k in range(n)]


SSO_SPIKE = [
    ("SSO login failing for everyone", "Okta SSO rejects us: invalid SAML assertion."),
    ("Cannot log in with SSO", "Since 9am SSO login fails with an error page."),
    ("URGENT: SSO login broken", "Nobody on our team can get past the SSO login screen."),
    ("SAML SSO error", "Login via SSO says the assertion signature is invalid."),
    ("sso login not working", "we get bounced back to the sso login page"),
]


def sso_spike(n: int = 18) -> list[Ticket]:
    return [
        ticket(f"S{k}", *SSO_SPIKE[k % len(SSO_SPIKE)], at=AT - timedelta(minutes=30 * k))
        for k in range(n)
    ]


def phrases(themes: list) -> list[str]:
    return [t.phrase.lower() for t in themes]


def test_a_spike_dominated_by_one_issue_names_it_in_the_first_two_themes() -> None:
    window = sso_spike() + background_today()
    themes = find_themes(window, baseline())
    assert themes, "a clear spike must yield a theme"
    top_two = " | ".join(phrases(themes[:2]))
    assert "sso" in top_two
    assert themes[0].area == "Authentication"
    assert themes[0].count >= 15  # most spike tickets belong to it
    assert set(themes[0].ticket_ids) <= {f"S{k}" for k in range(18)}


def test_background_topics_that_are_always_present_do_not_appear() -> None:
    window = sso_spike() + background_today(4)
    shown = " | ".join(phrases(find_themes(window, baseline(), limit=10)))
    for word in ("password", "export", "invoice", "user", "dashboard", "spam", "notification"):
        assert word not in shown, f"background topic {word!r} leaked into {shown!r}"


def test_a_quiet_day_like_every_other_has_no_theme() -> None:
    assert find_themes(background_today(3, seed=5), baseline()) == []


def test_two_separate_issues_become_two_themes_each_with_its_own_tickets() -> None:
    api = [
        ticket(
            f"A{k}",
            "API returns 500 errors",
            "POST /v2/orders fails with a 500 error.",
            at=AT - timedelta(minutes=20 * k),
        )
        for k in range(10)
    ]
    invoices = [
        ticket(
            f"I{k}",
            "Invoice amount is wrong",
            "The invoice amount doubled.",
            at=AT - timedelta(minutes=25 * k),
        )
        for k in range(8)
    ]
    themes = find_themes(api + invoices + background_today(), baseline(), limit=5)
    assert len(themes) >= 2
    by_phrase = {t.phrase: t for t in themes[:2]}
    api_theme = next(t for p, t in by_phrase.items() if "API" in p or "500" in p)
    invoice_theme = next(t for p, t in by_phrase.items() if "invoice" in p.lower())
    assert all(i.startswith("A") for i in api_theme.ticket_ids)
    assert all(i.startswith("I") for i in invoice_theme.ticket_ids)
    assert api_theme.count == 10 and invoice_theme.count == 8
    assert api_theme.area == "API" and invoice_theme.area == "Billing"


def test_near_duplicate_phrasings_merge_into_one_theme() -> None:
    wordings = [
        "API errors on orders",
        "API error when creating orders",
        "Errors from the API",
        "api erroring since deploy",
        "Getting API errors",
    ]
    window = [ticket(f"W{k}", wordings[k % 5], at=AT - timedelta(minutes=k)) for k in range(15)]
    themes = find_themes(window, baseline())
    api_themes = [t for t in themes if "api" in t.phrase.lower()]
    assert len(api_themes) == 1
    assert api_themes[0].phrase == "API errors"
    assert api_themes[0].count == 15


def test_prefers_a_readable_two_word_phrase_over_a_single_word() -> None:
    window = [
        ticket(f"W{k}", "Invoice amount doubled this month", at=AT - timedelta(minutes=k))
        for k in range(6)
    ]
    themes = find_themes(window, baseline())
    assert themes[0].phrase in {"invoice amount", "invoice amount doubled"}


def test_without_any_baseline_themes_are_ranked_by_how_common_they_are() -> None:
    window = sso_spike(10) + [
        ticket("X1", "Typo on the pricing page"),
        ticket("X2", "Typo on the pricing page"),
    ]
    themes = find_themes(window, [])
    assert "sso" in themes[0].phrase.lower()
    assert themes[0].count >= themes[-1].count


def test_internal_notes_and_repeated_ids_are_not_counted() -> None:
    notes = [
        ticket(f"N{k}", "Escalated to engineering: webhook queue", internal=True) for k in range(10)
    ]
    repeated = [ticket("S1", *SSO_SPIKE[0])] * 5
    themes = find_themes(sso_spike(6) + notes + repeated, baseline())
    assert all("webhook" not in p for p in phrases(themes))
    assert themes[0].count <= 6


def test_examples_and_limit_follow_the_settings() -> None:
    themes = find_themes(sso_spike(), baseline(), settings=ThemeSettings(examples=5, limit=1))
    assert len(themes) == 1
    assert len(themes[0].ticket_ids) == 5
    assert find_themes(sso_spike(), baseline(), limit=0) == []
    assert find_themes([], baseline()) == []


def test_hostile_text_never_reaches_a_phrase() -> None:
    evil = (
        "<!channel> {{ config.secret }} <script>alert(1)</script> @here "
        "https://evil.example/x?y=1 <@U123ABC> ${HOME} {% for %} SSO login broken"
    )
    window = [ticket(f"E{k}", evil, evil, at=AT - timedelta(minutes=k)) for k in range(8)]
    themes = find_themes(window, baseline(), limit=10)
    assert themes
    for theme in themes:
        assert re.fullmatch(r"[A-Za-z0-9 ]+", theme.phrase), theme.phrase
        for bad in ("channel", "script", "alert", "secret", "evil", "here", "home", "u123abc"):
            assert bad not in theme.phrase.lower()


def test_an_organizations_own_name_can_be_kept_out_of_themes() -> None:
    window = [
        ticket(f"W{k}", "Acmecloud sync failing", at=AT - timedelta(minutes=k)) for k in range(8)
    ]
    plain = find_themes(window, baseline())
    assert any("acmecloud" in p for p in phrases(plain))
    quiet = find_themes(
        window, baseline(), settings=ThemeSettings(stop_words=frozenset({"acmecloud"}))
    )
    assert quiet and all("acmecloud" not in p for p in phrases(quiet))
    assert quiet[0].area == "Sync"


def test_areas_are_configurable() -> None:
    section = load_text("areas:\n  Checkout: [cart, checkout page]\n", name="t.yaml")
    cfg = theme_settings_from_config(section)
    window = [
        ticket(f"W{k}", "Cart is empty after adding items", at=AT - timedelta(minutes=k))
        for k in range(6)
    ]
    themes = find_themes(window, baseline(), settings=cfg)
    assert themes[0].area == "Checkout"
    assert dict(cfg.areas)["Billing"]  # defaults kept alongside


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("themes:\n  limit: 0\n", "t.yaml:2: themes.limit: expected a whole number >= 1"),
        ("themes:\n  limt: 3\n", "t.yaml:2: themes.limt: unknown key (did you mean 'limit'?)"),
        ("themes:\n  areas:\n    Billing: []\n", "t.yaml:3: themes.areas.Billing: expected a"),
        ("themes:\n  stop_words: [ok, {a: 1}]\n", "t.yaml:2: themes.stop_words: item 2"),
        ("themes:\n  min_score: high\n", "t.yaml:2: themes.min_score: expected a number"),
    ],
)
def test_bad_theme_settings_fail_with_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config("t.yaml", text=text)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


words = st.sampled_from(
    [
        "sso",
        "login",
        "api",
        "error",
        "invoice",
        "the",
        "<!here>",
        "{{x}}",
        "https://a.b/c",
        "@team",
        "<b>",
        "500",
        "Ünïcode",
        "export",
        "csv",
    ]
)
texts = st.lists(words, min_size=0, max_size=12).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(texts, texts), min_size=0, max_size=25),
    st.lists(st.tuples(texts, texts), min_size=0, max_size=25),
)
def test_any_input_gives_well_formed_themes(win: list, base: list) -> None:
    window = [ticket(f"W{i}", s, b) for i, (s, b) in enumerate(win)]
    past = [ticket(f"B{i}", s, b, at=AT - timedelta(days=2)) for i, (s, b) in enumerate(base)]
    themes = find_themes(window, past, limit=4)
    assert len(themes) <= 4
    ids = {t.ticket_id for t in window}
    seen_phrases = set()
    for theme in themes:
        assert re.fullmatch(r"[\w ]+", theme.phrase)
        assert 1 <= theme.count <= len(window)
        assert set(theme.ticket_ids) <= ids
        assert theme.phrase not in seen_phrases
        seen_phrases.add(theme.phrase)
    assert find_themes(list(window), list(past), limit=4) == themes  # deterministic


def test_varied_complaints_about_one_feature_read_as_a_human_phrase() -> None:
    wordings = [
        "Can't log in",
        "Login issues",
        "login not working",
        "Unable to log in today",
        "Login fails with error",
        "login issues since this morning",
        "Having login issues",
        "cannot login!!",
    ]
    window = [ticket(f"L{k}", wordings[k % 8], at=AT - timedelta(minutes=k)) for k in range(16)]
    themes = find_themes(window + background_today(), baseline())
    assert themes[0].phrase == "login issues"
    assert themes[0].count == 16 and themes[0].area == "Authentication"


def test_a_lone_status_code_reads_as_errors() -> None:
    window = [
        ticket(f"E{k}", "Getting 502 on checkout", at=AT - timedelta(minutes=k)) for k in range(3)
    ] + [ticket(f"F{k}", "502 again", at=AT - timedelta(minutes=k)) for k in range(3)]
    themes = find_themes(window, baseline())
    assert themes[0].phrase == "502 errors"
    assert themes[0].count == 6


def test_boilerplate_pasted_into_every_body_does_not_name_the_theme() -> None:
    subjects = [
        "Webhook deliveries failing",
        "Webhooks time out",
        "webhook retries missing",
        "No webhook events since 9am",
    ]
    body = "Sent from my phone. Our endpoint logs show nothing arriving. Regards, Ops"
    window = [
        ticket(f"W{k}", subjects[k % 4], body, at=AT - timedelta(minutes=k)) for k in range(12)
    ]
    themes = find_themes(window + background_today(), baseline())
    assert "webhook" in themes[0].phrase.lower()
    assert all("endpoint" not in p and "phone" not in p for p in phrases(themes))
