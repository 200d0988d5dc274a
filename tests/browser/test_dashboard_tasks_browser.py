"""In headless Chromium: a CSM closes the escalation's review task from its page."""

from __future__ import annotations

import re
from typing import Any


def test_close_the_task_from_the_escalation_page(page: Any, live: Any, kit: Any) -> None:
    kit.log_in(page, live)
    (task,) = live.engine.tasks(episode_id=live.episode_id)
    page.goto(f"{live.url}/escalations/{live.episode_id}")
    panel = page.locator('[data-panel="tasks"]')
    assert task.title in panel.inner_text()
    panel.get_by_role("button", name=f"Close task: {task.title}").click()
    page.wait_for_url(re.compile(r".*\?done=close_task$"))
    assert page.get_by_role("status").inner_text() == "Task closed."
    assert "closed by Mike Johnson" in page.locator('[data-panel="tasks"]').inner_text()
    assert page.get_by_role("button", name=re.compile("^Close task")).count() == 0
    closed = live.engine.task(task.id)
    assert closed.status.value == "done" and closed.closed_by == "Mike Johnson"
