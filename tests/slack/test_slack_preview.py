"""The HTML preview of a message: faithful enough to review, and inert."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

try:
    importlib.metadata.distribution("ticketspike-slack")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-slack is not installed", allow_module_level=True)

from support import slack_kit as kit
from ticketspike_slack import fallback_text, render_blocks
from ticketspike_slack.preview import main, message_html


def page_for(message: object) -> str:
    blocks = [b.to_dict() for b in render_blocks(message)]  # type: ignore[arg-type]
    return message_html(blocks, text=fallback_text(message))  # type: ignore[arg-type]


def test_the_alert_page_shows_its_facts() -> None:
    page = page_for(kit.alert(ticket_links=(("TKT-001", "https://support.example.com/t/1"),)))
    assert "<b>15 tickets</b> in last 24 hours" in page
    assert "Technical: 10 (67%)" in page and "52 (was 78)" in page
    assert '<a href="https://support.example.com/t/1">TKT-001</a>' in page
    assert page.count('class="button') == 4


def test_hostile_text_stays_text_in_the_page() -> None:
    page = page_for(
        kit.alert(
            themes=("<script>alert(1)</script>", "<!channel> help"),
            customer_name='"><img src=x onerror=alert(1)>',
        )
    )
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;!channel&gt; help" in page


def test_the_command_writes_a_page_and_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = kit.alert()
    source = tmp_path / "message.json"
    source.write_text(
        json.dumps(
            {
                "text": fallback_text(message),
                "blocks": [b.to_dict() for b in render_blocks(message)],
            }
        )
    )
    out = tmp_path / "message.html"
    assert main([str(source), "-o", str(out)]) == 0
    assert "SUPPORT SPIKE ALERT: TechCorp Inc" in out.read_text()
    source.write_text('{"blocks": 3}')
    assert main([str(source)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{source}: expected a list of blocks or an object with 'blocks'"
    )
