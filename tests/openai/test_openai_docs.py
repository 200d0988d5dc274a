"""docs/adapters/openai.md works as printed: its YAML loads and its code runs."""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import re
from pathlib import Path

import pytest

try:
    importlib.metadata.distribution("ticketspike-openai")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-openai is not installed", allow_module_level=True)

from support import fake_openai
from ticketspike import Plugins
from ticketspike.config import load_config
from ticketspike_openai import OpenAIClassifier, OpenAIThemeAnalyzer

DOC = (Path(__file__).resolve().parents[2] / "docs" / "adapters" / "openai.md").read_text()


def test_every_yaml_example_is_accepted_by_the_plugin() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)
    assert len(blocks) == 3
    env = {"OPENAI_API_KEY": "sk-x", "AZURE_OPENAI_API_KEY": "azure-x"}
    for block in blocks:
        config = load_config("ticketspike.yaml", text=block, env=env)
        plugins = Plugins(load_entrypoints=True, allow={"openai"})
        assert isinstance(plugins.classifiers(config.plugins)[0], OpenAIClassifier)
        assert isinstance(plugins.theme_analyzers(config.plugins)[0], OpenAIThemeAnalyzer)


def test_the_code_example_runs_against_a_server_and_without_one() -> None:
    (code,) = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    printed = io.StringIO()
    server = fake_openai.FakeOpenAI(key=None).start()
    try:
        with contextlib.redirect_stdout(printed):
            exec(code.replace("http://127.0.0.1:11434/v1", server.base_url), {})
    finally:
        server.stop()
    assert printed.getvalue() == "billing ['double charge']\n"
    assert len(server.requests) == 2
    # With nothing listening, the built-ins answer, as the page says.
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code.replace("http://127.0.0.1:11434/v1", "http://127.0.0.1:9/v1"), {})
    assert printed.getvalue() == "billing ['charged twice']\n"
