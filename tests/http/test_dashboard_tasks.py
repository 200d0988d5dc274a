"""The escalation page lists the escalation's tasks, each open one with a Close button that
needs the session's CSRF token, closes the task once, names who closed it, and reports it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ticketspike.http import create_app
from ticketspike.testing import demo_engine

TOKEN = "dash-token-tasks"


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


@pytest.fixture
def demo(tmp_path: Path, kit: Any) -> Iterator[Any]:
    engine = demo_engine(tmp_path / "demo")
    client = kit.Client(create_app(engine, env={"TICKETSPIKE_API_TOKEN": TOKEN}))
    yield engine, client
    processor = client.app.state.processor
    if processor is not None:
        processor.stop()
    client.app.state.writer.stop()
    client.close()
    engine.close()


def _login(client: Any) -> None:
    form = client.get("/dashboard/login")
    answer = client.post(
        "/dashboard/login",
        data={"token": TOKEN, "csrf_token": _csrf(form.text), "name": "Ann"},
    )
    assert answer.status_code == 303


def test_the_escalation_page_closes_a_task_with_its_button(demo: Any) -> None:
    engine, client = demo
    (task,) = engine.tasks()
    _login(client)
    page = client.get(f"/dashboard/escalations/{task.episode_id}").text
    panel = page[page.index('data-panel="tasks"') :]
    panel = panel[: panel.index("</section>")]
    assert html.escape(task.title) in panel and "Close task" in panel
    assert f'name="target" value="{task.id}"' in panel
    action = f"/dashboard/escalations/{task.episode_id}/close_task"
    assert f'action="{action}"' in panel

    for token in ("", "forged"):
        refused = client.post(action, data={"csrf_token": token, "target": task.id})
        assert refused.status_code == 403
    assert engine.task(task.id).status.value == "open"
    wrong = client.post(action, data={"csrf_token": _csrf(page), "target": "task_other"})
    assert wrong.status_code == 404

    answer = client.post(
        action, data={"csrf_token": _csrf(page), "target": task.id, "back": "escalation"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/dashboard/escalations/{task.episode_id}?done=close_task"
    closed = engine.task(task.id)
    assert (closed.status.value, closed.closed_by) == ("done", "Ann")
    after = client.get(answer.headers["location"]).text
    assert "Task closed." in after
    panel = after[after.index('data-panel="tasks"') :]
    panel = panel[: panel.index("</section>")]
    assert "Close task" not in panel and "closed by Ann" in panel
    updates = [e for e in engine.store.outbound_events() if e.type == "task.updated"]
    assert [e.data["changed_by"] for e in updates] == ["Ann"]
