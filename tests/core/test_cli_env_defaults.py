"""``TICKETSPIKE_CONFIG``, ``TICKETSPIKE_STORE`` and ``TICKETSPIKE_ACCOUNTS`` set what the flags
set, so a container is pointed at its files by environment; a flag still wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ticketspike import data
from ticketspike.cli import main


def test_the_environment_names_store_config_and_accounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = data.copy_to(tmp_path / "demo")
    store = tmp_path / "store.db"
    monkeypatch.setenv("TICKETSPIKE_STORE", str(store))
    monkeypatch.setenv("TICKETSPIKE_CONFIG", str(files[data.DEMO_CONFIG]))
    monkeypatch.setenv("TICKETSPIKE_ACCOUNTS", str(files[data.DEMO_ACCOUNTS]))
    monkeypatch.setenv("TICKETSPIKE_LOAD_PLUGINS", "")
    assert main(["run", str(files[data.DEMO_TICKETS]), "--format", "json"]) == 0
    capsys.readouterr()
    assert store.is_file()
    assert main(["tickets", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 335
    assert main(["outbox", "--format", "json"]) == 0
    outbox = capsys.readouterr().out
    assert "Mike Johnson" in outbox  # the CSM from $TICKETSPIKE_ACCOUNTS

    other = tmp_path / "other.db"
    assert main(["run", str(files[data.DEMO_TICKETS]), "--store", str(other)]) == 0
    capsys.readouterr()
    assert other.is_file()


def test_without_the_variable_the_store_is_still_required(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKETSPIKE_STORE", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["tickets"])
    assert exited.value.code == 2
    assert "--store" in capsys.readouterr().err
