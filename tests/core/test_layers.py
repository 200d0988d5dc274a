"""The pure layers stay pure: detection and text analysis import no threads, I/O or upper layers.

``ticketspike.detect`` and ``ticketspike.text`` are functions of their input (see
CONTRIBUTING.md, "Layers"); running plugin code in threads lives in
``ticketspike.plugin_runners``, next to the plugin manager.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "ticketspike"
PURE = ("detect", "text")
FORBIDDEN_STDLIB = {"threading", "concurrent", "socket", "subprocess", "asyncio", "sqlite3"}
UPPER = {"engine", "plugins", "plugin_runners", "executor", "store", "http", "cli", "builtin"}


def _imports(path: Path) -> set[str]:
    """Modules imported by ``path``, relative ones resolved against ``ticketspike``."""
    found: set[str] = set()
    package = path.relative_to(SRC.parent).with_suffix("").parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.add(node.module)
    return found


@pytest.mark.parametrize("layer", PURE)
def test_a_pure_layer_imports_no_threads_io_or_upper_layer(layer: str) -> None:
    bad: list[str] = []
    for path in sorted((SRC / layer).glob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            inner = name.split(".")[1] if name.startswith("ticketspike.") else ""
            if top in FORBIDDEN_STDLIB or inner in UPPER:
                bad.append(f"{path.relative_to(SRC)} imports {name}")
    assert not bad, bad
