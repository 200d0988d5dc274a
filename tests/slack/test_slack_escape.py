"""mrkdwn escaping and clipping: hostile text must come out inert and within limits."""

from __future__ import annotations

import importlib.metadata
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

try:
    importlib.metadata.distribution("ticketspike-slack")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-slack is not installed", allow_module_level=True)

from ticketspike_slack.escape import clip, clip_mrkdwn, mrkdwn, safe_url


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<!channel> help", "&lt;!channel&gt; help"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<https://evil|click>", "&lt;https://evil|click&gt;"),
        ("AT&T <b>", "AT&amp;T &lt;b&gt;"),
        ("&lt; already", "&amp;lt; already"),
        ("*bold* _it_ ~s~ `c`", "*bold* _it_ ~s~ `c`"),
    ],
)
def test_mrkdwn_escapes_exactly_the_three_control_characters(raw: str, expected: str) -> None:
    assert mrkdwn(raw) == expected


@given(st.text())
def test_escaped_text_has_no_control_brackets_and_round_trips(raw: str) -> None:
    escaped = mrkdwn(raw)
    assert "<" not in escaped and ">" not in escaped
    assert unescape(escaped) == raw


# An ampersand in escaped text always starts one of the three entities.
_BARE_AMP = re.compile(r"&(?!amp;|lt;|gt;)")


@given(st.text(alphabet=st.sampled_from("ab<>&| ")), st.integers(min_value=1, max_value=60))
def test_clip_mrkdwn_fits_and_never_splits_an_entity(raw: str, limit: int) -> None:
    out = clip_mrkdwn(raw, limit)
    assert len(out) <= limit
    assert not _BARE_AMP.search(out)
    kept = out[:-1] if out.endswith("…") and not raw.endswith("…") else out
    assert raw.startswith(unescape(kept))
    if len(mrkdwn(raw)) <= limit:
        assert out == mrkdwn(raw)


@given(st.text(), st.integers(min_value=1, max_value=50))
def test_clip_keeps_short_text_and_marks_a_cut(raw: str, limit: int) -> None:
    out = clip(raw, limit)
    assert len(out) <= limit
    if len(raw) <= limit:
        assert out == raw
    else:
        assert out.endswith("…") and raw.startswith(out[:-1])


def test_safe_url_keeps_web_links_and_neutralises_link_syntax() -> None:
    assert safe_url("https://support.example.com/t/1?a=1&b=2") == (
        "https://support.example.com/t/1?a=1&amp;b=2"
    )
    assert safe_url("https://x.example/a|<!channel>") == "https://x.example/a%7C%3C!channel%3E"
    for bad in (
        "javascript:alert(1)",
        "ftp://x.example/",
        "https://x.example/a b",
        "/relative",
        "",
        None,
        "https://",
    ):
        assert safe_url(bad) is None
