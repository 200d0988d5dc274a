"""Themes read like a person's summary: "API errors", "login issues", not a bare tag."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from importlib.resources import as_file, files

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketspike import Ticket
from ticketspike.cli import main
from ticketspike.text.themes import ThemeSettings, find_themes
from ticketspike.text.tokens import segments, stem, tokens
from ticketspike.text.trouble import trouble_in

AT = datetime(2026, 2, 20, 12, tzinfo=timezone.utc)

# A product team's usual month: questions and small problems, nothing about the API or login.
ROUTINE = [
    "Integration with Jira stopped syncing comments",
    "How to archive old projects",
    "Notification emails arrive twice",
    "Can you walk us through user roles?",
    "Question about our invoice",
    "Export to CSV is slow",
    "Add a new user to our workspace",
    "Dashboard widgets show stale numbers",
    "Can we change the default time zone?",
]


def ticket(tid: str, subject: str, body: str = "", *, hours_ago: float = 0) -> Ticket:
    return Ticket(
        ticket_id=tid,
        customer_id="techcorp",
        subject=subject,
        body=body,
        created_at=AT - timedelta(hours=hours_ago),
        category_given=False,
    )


def routine_month(seed: int = 1) -> list[Ticket]:
    rng = random.Random(seed)
    return [ticket(f"B{i}", rng.choice(ROUTINE), hours_ago=24 + 10 * i) for i in range(70)]


def window(*subjects: str, prefix: str = "W") -> list[Ticket]:
    return [ticket(f"{prefix}{i}", s, hours_ago=i / 4) for i, s in enumerate(subjects)]


EARLY = [  # the first hours of the example incident
    "API returning 500 errors on /v2/orders",
    "Intermittent API errors when syncing orders",
    "Users cannot log in after this morning's update",
    "API errors: 502 Bad Gateway from the orders endpoint",
    "How do we rotate API keys safely?",
    "Login issues with SSO for the finance team",
    "How to archive old projects",
    "Notification emails arrive twice",
    "Integration with Jira stopped syncing comments",
]
LATER = [
    "API timeouts and errors in our nightly import",
    "Invoice amount does not match our contract",
    "Production outage: API errors on every checkout",
    "Login page loops back after entering password",
    "Where is the status page for API incidents?",
    "Login fails for users with MFA enabled",
    "Will we get credits for the API downtime?",
    "More API errors (429 and 500) from the webhooks client",
    "How do I retry failed API calls from the dashboard?",
]


def test_an_api_word_whose_tickets_mostly_report_errors_reads_api_errors() -> None:
    themes = find_themes(window(*EARLY), routine_month())
    assert themes[0].phrase == "API errors"
    # All four API tickets belong to it, the key-rotation question included.
    assert themes[0].count == 4 and themes[0].area == "API"
    assert set(themes[0].ticket_ids) == {"W0", "W1", "W3"}  # the ones that report errors


def test_the_full_incident_reads_api_errors_then_login_issues() -> None:
    themes = find_themes(window(*EARLY, *LATER), routine_month())
    assert [t.phrase for t in themes[:2]] == ["API errors", "login issues"]
    login = themes[1]
    assert login.count == 4 and login.area == "Authentication"
    assert set(login.ticket_ids) <= {"W2", "W5", "W12", "W14"}


def test_the_bundled_demo_reads_like_the_prd_example(capsys: pytest.CaptureFixture[str]) -> None:
    with as_file(files("ticketspike.data") / "demo_tickets.jsonl") as demo:
        assert (
            main(
                [
                    "themes",
                    str(demo),
                    "--customer",
                    "techcorp",
                    "--at",
                    "2026-02-20T03:29:00Z",
                    "--format",
                    "json",
                ]
            )
            == 0
        )
        early = json.loads(capsys.readouterr().out)["themes"]
        assert main(["themes", str(demo), "--customer", "techcorp", "--format", "json"]) == 0
        full = json.loads(capsys.readouterr().out)["themes"]
    assert early[0]["phrase"] == "API errors"
    assert [t["phrase"] for t in full[:2]] == ["API errors", "login issues"]


INVOICE_TROUBLE = [
    "Invoice shows the wrong VAT rate",
    "Invoice PDF is missing line items",
    "Cannot download our invoice",
    "Invoice total incorrect for March",
    "Invoices not generated this month",
    "Invoice sent to the wrong address",
]


def test_invoice_tickets_with_assorted_trouble_read_invoice_issues() -> None:
    themes = find_themes(window(*INVOICE_TROUBLE, "Export to CSV is slow"), routine_month())
    assert themes[0].phrase == "invoice issues"  # singular, though one ticket wrote "invoices"
    assert themes[0].count == 6 and themes[0].area == "Billing"


@pytest.mark.parametrize(
    ("subjects", "phrase"),
    [
        (
            [
                "Sandbox export fails for big projects",
                "Sandbox build failed again",
                "Sandbox provisioning failing since Monday",
                "sandbox restore failure",
            ],
            "sandbox failures",
        ),
        (
            [
                "Reports time out when filtering by year",
                "Report timed out again",
                "Large report times out",
                "Quarterly report timeout",
            ],
            "report timeouts",
        ),
        (
            [
                "Is search down?",
                "Search is down for everyone",
                "Search unavailable",
                "search outage in EU",
            ],
            "search outage",
        ),
        (
            [
                "Sandbox crashes on open",
                "sandbox crashed twice",
                "Sandbox keeps crashing",
                "Sandbox question",
            ],
            "sandbox crashes",
        ),
        (
            ["Getting 503 on checkout", "503 again", "503 on the orders page", "503 since noon"],
            "503 errors",
        ),
    ],
)
def test_a_shared_kind_of_trouble_gives_its_name(subjects: list[str], phrase: str) -> None:
    themes = find_themes(window(*subjects), routine_month())
    assert themes[0].phrase == phrase
    assert themes[0].count == len(subjects)


def test_a_word_with_no_shared_trouble_stays_a_bare_word() -> None:
    subjects = [
        "Sandbox for our QA team",
        "Sandbox refresh schedule",
        "Question about sandbox limits",
        "Sandbox naming conventions",
        "Can we get a second sandbox?",
    ]
    themes = find_themes(window(*subjects), routine_month())
    assert themes[0].phrase == "sandbox" and themes[0].count == 5


def test_trouble_needs_half_of_the_tickets() -> None:
    plain = [
        "Sandbox for our QA team",
        "Sandbox refresh schedule",
        "Question about sandbox limits",
        "Sandbox naming conventions",
        "Can we get a second sandbox?",
    ]
    broken = [
        "Sandbox is broken",
        "Sandbox stuck on loading",
        "Sandbox not loading",
        "Sandbox wrong data",
    ]
    minority = find_themes(window(*plain, *broken[:2]), routine_month())
    assert minority[0].phrase == "sandbox" and minority[0].count == 7
    majority = find_themes(window(*plain[:3], *broken), routine_month())
    assert majority[0].phrase == "sandbox issues" and majority[0].count == 7


def test_trouble_elsewhere_in_a_body_is_not_the_words_trouble() -> None:
    body = "Thanks for the help. Separately: the mobile app crashes sometimes, no rush."
    themes = find_themes(
        [
            ticket(f"W{i}", f"Sandbox {w}", body, hours_ago=i)
            for i, w in enumerate(["limits", "naming", "refresh", "copies"])
        ],
        routine_month(),
    )
    assert themes[0].phrase == "sandbox"


def test_a_phrase_customers_wrote_wins_when_it_covers_the_same_troubled_tickets() -> None:
    subjects = [
        "Jira sync broken",
        "Jira sync stopped working",
        "Jira sync missing labels",
        "Jira sync fails for subtasks",
    ]
    themes = find_themes(window(*subjects), routine_month())
    assert themes[0].phrase == "jira sync"


def test_a_trouble_name_wins_over_a_phrase_about_other_tickets() -> None:
    subjects = [
        "Sandbox question",
        "Sandbox question",
        "Sandbox question",
        "Sandbox failing",
        "Sandbox failed",
        "Sandbox failure",
    ]
    themes = find_themes(window(*subjects), routine_month())
    assert themes[0].phrase == "sandbox failures" and themes[0].count == 6
    assert set(themes[0].ticket_ids) == {"W3", "W4", "W5"}


def test_customers_two_word_trouble_reads_in_the_plural() -> None:
    themes = find_themes(
        window(
            *["API error on save"] * 3, "Webhooks timeout", "Webhook timeout", "Webhooks timeout"
        ),
        routine_month(),
    )
    assert [t.phrase for t in themes[:2]] == ["API errors", "webhook timeouts"]


def test_log_in_sign_in_and_login_are_one_login_theme() -> None:
    subjects = [
        "Can't sign in",
        "Sign-in fails after the update",
        "Unable to log in",
        "Login not working",
        "signin page broken",
        "Cannot log on since update",
        "Signing in loops back to the start",
    ]
    themes = find_themes(window(*subjects), routine_month())
    assert themes[0].phrase == "login issues"
    assert themes[0].count == 7 and themes[0].area == "Authentication"
    assert all("sign" not in t.phrase.lower() for t in themes)


def test_single_sign_on_stays_sso_while_sign_in_becomes_login() -> None:
    assert tokens("Single sign-on broken") == ["sso", "broken"]
    assert tokens("single signon") == ["sso"]
    for spelling in (
        "sign in",
        "sign-in",
        "signin",
        "log in",
        "log-in",
        "logging into",
        "logon",
        "signed on",
    ):
        assert tokens(f"cannot {spelling}") == ["login"], spelling
    assert tokens("sign up form") == ["signup", "form"]
    assert tokens("blogging in the catalog on Monday") == ["blogging", "catalog"]


def test_examples_follow_the_settings_for_trouble_names() -> None:
    themes = find_themes(
        window(*INVOICE_TROUBLE), routine_month(), settings=ThemeSettings(examples=5)
    )
    assert themes[0].phrase == "invoice issues" and len(themes[0].ticket_ids) == 5


HEADS = ["sandbox", "invoice", "webhook", "export"]
TROUBLE = ["errors", "fails", "is broken", "timeout", "crashed", "not loading"]
NEUTRAL = ["question", "settings", "naming", "limits", "docs", "pricing", "colours"]
TROUBLE_LABELS = {"errors", "failures", "issues", "timeouts", "crashes", "outage"}


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(HEADS),
    st.lists(st.sampled_from(TROUBLE), max_size=8),
    st.lists(st.sampled_from(NEUTRAL), max_size=8, unique=True),
)
def test_a_lone_word_is_never_bare_when_half_its_tickets_report_trouble(
    head: str, trouble: list[str], neutral: list[str]
) -> None:
    subjects = [f"{head.capitalize()} {w}" for w in trouble + neutral]
    if len(subjects) < 2:
        return
    ids = [f"W{i}" for i in range(len(subjects))]
    themes = [t for t in find_themes(window(*subjects), []) if set(t.ticket_ids) <= set(ids)]
    mine = [t for t in themes if t.phrase.lower().split()[0] in (head, head + "s")]
    assert mine, themes
    theme = mine[0]
    words = theme.phrase.lower().split()
    if len(trouble) * 2 >= len(subjects) and len(trouble) >= 2:
        assert len(words) >= 2, theme  # never the bare word
    if not trouble:
        assert not TROUBLE_LABELS & set(words), theme
    assert len(set(words)) == len(words), theme  # no "errors errors"


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("the api is down again", {"outage"}),
        ("scroll down to the drop down menu", set()),
        ("export not working", {"issue"}),
        ("not sure how exports work", set()),
        ("no longer receiving invoices", {"issue"}),
        ("getting 500s and 5xx from the api", {"error"}),
        ("sync timed out then failed", {"timeout", "failure"}),
        ("how do i rotate api keys", set()),
    ],
)
def test_trouble_words_are_read_in_context(text: str, kinds: set[str]) -> None:
    found: set[str] = set()
    for words in segments(text):
        found |= trouble_in(words, [stem(w) for w in words])
    assert found == kinds
