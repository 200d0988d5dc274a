"""The plugin distribution in docs/plugins.md works as printed: its code and its test run here."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ticketspike.testing import (
    FlakyNotifier,
    StaticPlugin,
    memory_engine,
    sample_plan,
    sample_transition,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    blocks = python_blocks()
    plugin = next(b for b in blocks if "def register_action_handlers" in b)
    root = tmp_path / "src" / "ticketspike_webhook_notifier"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "plugin.py").write_text(plugin)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    importlib.invalidate_caches()
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("ticketspike_webhook_notifier")]:
        sys.modules.pop(name)


def test_the_documented_plugin_and_its_test_pass(package: Path) -> None:
    test_code = next(b for b in python_blocks() if "def test_the_alert_is_posted_once" in b)
    namespace: dict[str, object] = {}
    exec(compile(test_code, str(DOC), "exec"), namespace)
    namespace["test_the_alert_is_posted_once"]()  # type: ignore[operator]


def test_the_documented_plugin_refuses_a_missing_url_variable(package: Path) -> None:
    from ticketspike.config import load_config
    from ticketspike.errors import ConfigError
    from ticketspike.testing import clean_plugins

    plugin = importlib.import_module("ticketspike_webhook_notifier.plugin")
    config = load_config(text="plugins:\n  webhook_notifier:\n    url_env: TEAMS_URL\n", env={})
    with pytest.raises(ConfigError, match="TEAMS_URL is not set"):
        clean_plugins(plugin).action_handlers(config.plugins)
    ok = load_config(
        text="plugins:\n  webhook_notifier:\n    url_env: TEAMS_URL\n",
        env={"TEAMS_URL": "http://127.0.0.1:9/hook"},
    )
    handlers = clean_plugins(plugin).action_handlers(ok.plugins)
    assert handlers["direct_message"].name == "webhook_notifier"
    assert "127.0.0.1" not in repr(handlers["direct_message"].url)  # type: ignore[attr-defined]


def test_the_documented_retry_waits_are_what_the_executor_does() -> None:
    notifier = FlakyNotifier(failures=3, retry_after=2)
    engine = memory_engine(StaticPlugin(notifiers=[notifier]))
    transition = sample_transition()
    engine.store.record_transition(transition, sample_plan(transition), at=transition.at)
    engine.run_pending()
    assert engine.executor.sleep.waits == [2, 2, 4]  # type: ignore[attr-defined]


def test_the_documented_fixtures_work_in_a_fresh_pytest_run(tmp_path: Path) -> None:
    import subprocess

    snippet = next(b for b in python_blocks() if "def test_my_rule_alerts_the_csm" in b)
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["ticketspike.testing"]\n')
    (tmp_path / "test_snippet.py").write_text(snippet)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
