"""The engine asks the model for categories and themes, and keeps working when it fails."""

from __future__ import annotations

import importlib.metadata
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

try:
    importlib.metadata.distribution("ticketspike-openai")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-openai is not installed", allow_module_level=True)

from support import fake_openai
from ticketspike import Category, Engine, Plugins, Ticket, TicketEvent

AT = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)
SUBJECTS = [
    "Charged twice for my order",
    "double charge on my card",
    "I was charged twice this morning",
    "charged twice again?",
]


def engine(tmp_path: Path, model: Any) -> Engine:
    config = tmp_path / "ticketspike.yaml"
    config.write_text(
        f"plugins:\n  openai:\n    base_url: {model.base_url}\n    model: {fake_openai.MODEL}\n"
    )
    return Engine.from_config(
        config,
        env={"OPENAI_API_KEY": fake_openai.KEY},
        plugins=Plugins(load_entrypoints=True, allow={"openai"}),
    )


def events() -> list[TicketEvent]:
    out = []
    for i, subject in enumerate(SUBJECTS):
        created = AT - timedelta(hours=i + 1)
        ticket = Ticket(
            ticket_id=f"T{i}",
            customer_id="acme",
            created_at=created,
            subject=subject,
            category_given=False,
        )
        out.append(TicketEvent(ticket, occurred_at=created))
    return out


def test_the_engine_takes_categories_and_themes_from_the_model(tmp_path: Path, model: Any) -> None:
    with engine(tmp_path, model) as eng:
        eng.ingest_many(events(), now=AT)
        stored = [r.ticket for r in eng.store.tickets(customer_id="acme")]
        assessment = eng.check("acme", at=AT)
    assert {t.category for t in stored} == {Category.BILLING}
    assert assessment.themes == ("double charge",)
    kinds = [r.body["response_format"]["json_schema"]["name"] for r in model.requests]
    assert kinds.count("ticket_category") == len(SUBJECTS) and "ticket_themes" in kinds


def test_the_engine_answers_with_the_built_ins_when_the_model_is_down(
    tmp_path: Path, model: Any
) -> None:
    model.script(*[fake_openai.Scripted("status", status=503)] * 20)
    with engine(tmp_path, model) as eng:
        eng.ingest_many(events(), now=AT)
        stored = [r.ticket for r in eng.store.tickets(customer_id="acme")]
        assessment = eng.check("acme", at=AT)
    assert {t.category for t in stored} == {Category.BILLING}  # the naive Bayes answer
    assert assessment.themes == ("charged twice",)  # the statistical answer
