"""The core distribution stays permissive and light: no adapter dependency leaks in."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

import ticketspike

ROOT = Path(__file__).resolve().parents[2]
VENDOR_SDKS = {"slack-sdk", "slack_sdk", "zenpy", "python-intercom"}


def _core_requirements() -> list[Requirement]:
    return [Requirement(r) for r in importlib.metadata.requires("ticketspike") or []]


def test_core_requires_no_vendor_sdk_even_in_extras() -> None:
    names = {r.name.lower() for r in _core_requirements()}
    assert names.isdisjoint(VENDOR_SDKS)


def test_core_required_dependencies_are_few() -> None:
    required = {r.name.lower() for r in _core_requirements() if r.marker is None}
    assert required == {"attrs", "pluggy", "pyyaml", "jinja2", "tenacity"}


def test_the_core_imports_no_vendor_sdk() -> None:
    """Importing the core, its engine, CLI and server never pulls in a vendor SDK, even
    where adapters are installed; in the core-only environment none is even installed."""
    code = (
        "import sys, ticketspike, ticketspike.engine, ticketspike.cli, ticketspike.monitor\n"
        "import ticketspike.http.app\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'slack_sdk', 'zenpy', 'intercom'}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETSPIKE_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
    if os.environ.get("TICKETSPIKE_CORE_ONLY") == "1":  # set by tox -e core
        assert importlib.util.find_spec("slack_sdk") is None
        assert importlib.util.find_spec("zenpy") is None
        assert importlib.util.find_spec("intercom") is None
        infos = ticketspike.Plugins().infos()
        assert [i.name for i in infos if not i.builtin] == []


def test_version_matches_metadata() -> None:
    assert ticketspike.__version__ == importlib.metadata.version("ticketspike")


def test_all_is_exactly_the_public_namespace_and_sorted() -> None:
    public = {n for n in dir(ticketspike) if not n.startswith("_")}
    # Submodules imported as a side effect are not API; everything else must be listed.
    modules = {n for n in public if type(getattr(ticketspike, n)).__name__ == "module"}
    assert set(ticketspike.__all__) - {"__version__"} == public - modules
    assert list(ticketspike.__all__) == sorted(ticketspike.__all__)


def test_every_distribution_ships_py_typed() -> None:
    folders = (
        "ticketspike",
        "ticketspike_slack",
        "ticketspike_zendesk",
        "ticketspike_intercom",
        "ticketspike_openai",
    )
    for folder in folders:
        assert (ROOT / "src" / folder / "py.typed").is_file(), folder


def test_console_script_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ticketspike", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"ticketspike {ticketspike.__version__}"


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = re.findall(r"```\n(.*?)\n```", readme, flags=re.S)
    test_cmd = next(b for b in blocks if "pytest" in b)
    assert "--group dev -r requirements-dev.txt" in test_cmd
    assert "--group dev -r requirements-dev.txt" in ci
    assert "NO_PROXY=127.0.0.1,localhost" in test_cmd and "NO_PROXY=127.0.0.1,localhost" in ci
    assert "python -m pytest" in test_cmd and "python -m pytest" in ci


def test_core_source_never_imports_a_vendor_sdk() -> None:
    """The core must import and work with none of the adapters' dependencies present."""
    import ast

    banned = {
        "slack_sdk",
        "zenpy",
        "intercom",
        "ticketspike_slack",
        "ticketspike_zendesk",
        "ticketspike_intercom",
    }
    offenders = []
    for path in (ROOT / "src" / "ticketspike").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in banned]
    assert offenders == []
