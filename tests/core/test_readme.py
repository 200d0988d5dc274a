"""The README's commands and ``.ci/run`` say the same thing, and the version lives in one place.

CI runs ``.ci/run``; a reader runs the README's test command. Each step of the README's command
(make the venv, upgrade pip, install the dev group with every distribution, run pytest) must be
what ``.ci/run`` does, so a green CI means the documented command works.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    return re.findall(r"^```\n(.*?)\n```", README, flags=re.M | re.S)


def steps(command: str) -> list[list[str]]:
    """The command's steps, each as words, with environment assignments dropped."""
    out = []
    for part in command.split("&&"):
        words = [w for w in shlex.split(part) if not re.match(r"^[A-Z_]+=", w)]
        out.append(words)
    return out


def ci_lines() -> list[list[str]]:
    lines = [line.strip() for line in CI.splitlines()]
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


def test_every_step_of_the_readme_test_command_is_a_step_of_ci() -> None:
    test_command = next(c for c in readme_commands() if "pytest" in c)
    ci = ci_lines()
    for step in steps(test_command):
        if step[-1] == "-q" and "pytest" in step:
            # CI adds only -p no:cacheprovider (a fresh clone has no cache to keep).
            assert [*step, "-p", "no:cacheprovider"] in ci, step
        else:
            assert step in ci, f"README step {' '.join(step)!r} is not in .ci/run"


def test_ci_cites_this_file_and_the_demo_command_installs_what_it_runs() -> None:
    assert "tests/core/test_readme.py" in CI
    demo = next(c for c in readme_commands() if "demo" in c)
    assert steps(demo) == [
        ["python3", "-m", "venv", ".venv"],
        [".venv/bin/pip", "install", "-q", "."],
        [".venv/bin/ticketspike", "demo"],
    ]


def test_the_core_version_is_written_once_and_the_adapters_follow_it() -> None:
    """The version is ``src/ticketspike/__about__.py`` (hatch reads it; ``--version`` and
    ``ticketspike.__version__`` read the installed metadata). The adapters' ``__about__.py``
    are copies that ``scripts/set_version.py`` writes (tests/core/test_version.py checks them
    and builds each sdist); no other file writes a ``__version__``."""
    literal = re.compile(r"^__version__\s*=", re.M)
    writers = {p for p in (ROOT / "src").rglob("*.py") if literal.search(p.read_text())}
    assert writers == {p for p in (ROOT / "src").glob("ticketspike*/__about__.py")}
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
