"""docs/email.md: its configuration examples load, and its Python snippet runs as printed."""

from __future__ import annotations

import re
from pathlib import Path

from support.mail_servers import NOW, tickets
from ticketspike.config import load_config
from ticketspike.mail.settings import email_settings_from_config
from ticketspike.model import ticket_event_from_json
from ticketspike.testing import (
    FixedClock,
    RecordingMailTransport,
    StaticPlugin,
    memory_engine,
    sample_account,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "email.md").read_text()


def test_every_yaml_example_loads_with_its_servers() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)
    assert len(blocks) == 4
    for block in blocks:
        config = load_config(text=block, env={})
        settings = email_settings_from_config(config.section("email"))
        assert settings.smtp is not None and settings.imap is not None
    gmail = email_settings_from_config(load_config(text=blocks[1], env={}).section("email"))
    assert gmail.imap is not None and gmail.imap.sent_folder == "[Gmail]/Sent Mail"


def test_the_python_snippet_runs() -> None:
    (snippet,) = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    transport = RecordingMailTransport()
    engine = memory_engine(
        StaticPlugin(mail_transports=[transport]),
        accounts=[sample_account()],
        clock=FixedClock(NOW),
    )
    engine.ingest_many(ticket_event_from_json(t) for t in tickets())
    exec(snippet, {"engine": engine})  # noqa: S102 - the documented snippet, as printed
    assert len(transport.sent) == 1
