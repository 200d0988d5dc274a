"""The public surface of ``ticketspike``: what ``__all__`` promises imports quietly, and every
name moved out of it still resolves, to the very same object, with a warning naming its new
home, for one release. docs/embedding.md lists both, and must agree with the code."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import ticketspike

ROOT = Path(__file__).resolve().parents[2]
DEPRECATED = sorted(ticketspike._DEPRECATED.items())


@pytest.mark.parametrize(("name", "module"), DEPRECATED)
def test_a_moved_name_warns_with_its_new_path_and_is_the_same_object(
    name: str, module: str
) -> None:
    expected = getattr(importlib.import_module(module), name)
    message = re.escape(f"from {module} import {name}")
    with pytest.warns(DeprecationWarning, match=message):
        value = getattr(ticketspike, name)
    assert value is expected
    # It keeps warning: the alias is never cached as a quiet module attribute.
    with pytest.warns(DeprecationWarning, match=message):
        getattr(ticketspike, name)


def test_a_moved_name_warns_at_the_callers_import_statement() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        from ticketspike import TicketRow  # noqa: F401
    assert caught[0].filename == __file__


def test_moved_names_are_neither_public_nor_listed() -> None:
    moved = set(ticketspike._DEPRECATED)
    assert moved.isdisjoint(ticketspike.__all__)
    assert moved.isdisjoint(dir(ticketspike))


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'TicketRows'"):
        ticketspike.TicketRows  # noqa: B018


def test_every_public_name_imports_without_a_warning_in_a_fresh_interpreter() -> None:
    """A fresh process, so the lazy names load for the first time, under ``-W error``."""
    code = (
        "import ticketspike\n"
        "from ticketspike import *\n"
        "missing = [n for n in ticketspike.__all__ if getattr(ticketspike, n, None) is None]\n"
        "assert not missing, missing\n"
        "print(len(ticketspike.__all__))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(ticketspike.__all__)


def test_every_public_name_imports_without_a_warning_here_too() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ticketspike.__all__:
            getattr(ticketspike, name)


def _public_api_section() -> tuple[str, str]:
    page = (ROOT / "docs" / "embedding.md").read_text(encoding="utf-8")
    section = page.split("## The public API", 1)[1].split("\n## ", 1)[0]
    listed, moved = section.split("These names used to be", 1)
    return listed, moved


def test_embedding_md_lists_exactly_the_public_names() -> None:
    listed, _ = _public_api_section()
    rows = [line for line in listed.splitlines() if line.startswith("| ") and "---" not in line]
    names = {n for row in rows[1:] for n in re.findall(r"`(\w+)`", row.split("|")[2])}
    assert names == set(ticketspike.__all__)


def test_embedding_md_gives_every_moved_name_its_module() -> None:
    _, moved = _public_api_section()
    where = {}
    for line in moved.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 2 and cells[1].startswith("`ticketspike"):
            for name in re.findall(r"`(\w+)`", cells[0]):
                where[name] = cells[1].strip("`")
    assert where == ticketspike._DEPRECATED
