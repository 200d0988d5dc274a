"""Every section fails at load with its line, the small ones included."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ticketspike import ConfigError, Engine, load_config
from ticketspike.cli import main


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "store:\n  path: x.db\n  synchronus: full\n",
            "store.synchronus: unknown key (did you mean 'synchronous'?)",
        ),
        (
            "store:\n  synchronous: sometimes\n",
            "store.synchronous: expected one of full, normal, got 'sometimes'",
        ),
        (
            "tickets:\n  strict_categories: maybe\n",
            "tickets.strict_categories: expected true or false",
        ),
        ("accounts: [a, b]\n", "accounts: expected a string, got a list"),
    ],
)
def test_small_sections_fail_at_load(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "ts.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert expected in str(info.value)
    assert str(info.value).startswith(f"{path}:")


def test_check_config_validates_the_server_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ts.yaml"
    path.write_text("server:\n  max_body_bytes: -3\n")
    assert main(["check-config", str(path)]) == 2
    assert f"{path}:2: server.max_body_bytes: expected a whole number" in capsys.readouterr().err


@pytest.mark.parametrize(("setting", "pragma"), [("full", 2), ("normal", 1)])
def test_store_synchronous_reaches_sqlite(tmp_path: Path, setting: str, pragma: int) -> None:
    path = tmp_path / "ts.yaml"
    path.write_text(f"store:\n  path: state.db\n  synchronous: {setting}\n")
    engine = Engine.from_config(path, env={})
    try:
        db = engine.store._db  # type: ignore[attr-defined]
        assert db.execute("PRAGMA synchronous").fetchone()[0] == pragma
    finally:
        engine.close()
    assert (tmp_path / "state.db").exists()
    sqlite3.connect(tmp_path / "state.db").close()
