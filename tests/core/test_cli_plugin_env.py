"""Every command loads plugins the same way (``Plugins.from_env``): an installed account
directory gives ``scan --plan`` the CSM ``run`` would use, and classify/themes honour
``TICKETSPIKE_LOAD_PLUGINS`` and ``TICKETSPIKE_TRACE_PLUGINS``."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ticketspike import data
from ticketspike.cli import main

DIRECTORY = """
from ticketspike import Account, Person, hookimpl

class Crm:
    name = "crm"
    def get_account(self, customer_id):
        if customer_id != "techcorp":
            return None
        return Account(id="techcorp", name="TechCorp (from the CRM)",
                       csm=Person(name="Crm Csm", slack_id="U0CRM"), segment="enterprise",
                       seats=400)

@hookimpl
def register_account_directories(register):
    register(Crm())
"""


@pytest.fixture
def crm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "crm_mod.py").write_text(DIRECTORY)
    info = site / "crm-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crm\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ticketspike]\ncrm = crm_mod\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.setenv("TICKETSPIKE_LOAD_PLUGINS", "crm")
    yield
    sys.modules.pop("crm_mod", None)


def demo(tmp_path: Path) -> Path:
    return data.copy_to(tmp_path / "demo")[data.DEMO_TICKETS]


def test_scan_plan_asks_installed_account_directories(
    crm: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(demo(tmp_path)), "--plan", "--format", "json"]) == 0
    signals = json.loads(capsys.readouterr().out)
    techcorp = next(s for s in signals if s["customer_id"] == "techcorp")
    text = json.dumps(techcorp["plan"])
    assert "Crm Csm" in text and "U0CRM" in text


def test_without_the_plugin_scan_plan_knows_no_csm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETSPIKE_LOAD_PLUGINS", "")
    assert main(["scan", str(demo(tmp_path)), "--plan", "--format", "json"]) == 0
    assert "Crm Csm" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["classify"], ["themes", "--customer", "techcorp"], ["scan"], ["replay"]],
)
def test_every_file_command_traces_its_plugins(
    argv: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TICKETSPIKE_LOAD_PLUGINS", "")
    monkeypatch.setenv("TICKETSPIKE_TRACE_PLUGINS", "1")
    assert main([argv[0], str(demo(tmp_path)), *argv[1:]]) == 0
    err = capsys.readouterr().err
    assert "[ticketspike] register_" in err
    assert "<- openai" not in err and "<- slack" not in err  # the allow list held
