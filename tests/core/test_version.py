"""The version is decided in one place and every distribution's metadata follows it.

``src/ticketspike/__about__.py`` is that place; hatch reads it for the core, and each adapter
folder's ``__about__.py`` (hatch's source there, so the folder's sdist builds on its own) is a
copy ``scripts/set_version.py`` writes and checks.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "set_version.py"
ADAPTERS = sorted(p.parent for p in (ROOT / "src").glob("ticketspike_*/pyproject.toml"))


def core_version() -> str:
    text = (ROOT / "src" / "ticketspike" / "__about__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    assert match is not None
    return match.group(1)


def script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60
    )


def test_no_pyproject_writes_a_version_and_the_copies_agree() -> None:
    for pyproject in [ROOT / "pyproject.toml", *(a / "pyproject.toml" for a in ADAPTERS)]:
        data = tomllib.loads(pyproject.read_text())
        assert "version" not in data["project"], pyproject
        assert data["project"]["dynamic"] == ["version"], pyproject
        assert (pyproject.parent / data["tool"]["hatch"]["version"]["path"]).is_file()
    done = script("--check")
    assert done.returncode == 0, done.stderr
    # the installed core (editable) says the same
    assert importlib.metadata.version("ticketspike") == core_version()


def test_the_script_sets_every_distribution_and_check_names_a_stray_copy(
    tmp_path: Path,
) -> None:
    root = tmp_path / "tree"
    for folder in [ROOT / "src" / "ticketspike", *ADAPTERS]:
        target = root / folder.relative_to(ROOT)
        target.mkdir(parents=True)
        for name in ("__about__.py", "pyproject.toml"):
            if (folder / name).exists():
                shutil.copy(folder / name, target / name)
    done = script("2.3.0rc1", "--root", str(root))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "every distribution is at 2.3.0rc1 (ticketspike>=2.3,<3 for the adapters)"
    )
    assert script("--check", "--root", str(root)).returncode == 0
    for adapter in ADAPTERS:
        mine = root / adapter.relative_to(ROOT)
        assert '__version__ = "2.3.0rc1"' in (mine / "__about__.py").read_text()
        assert '"ticketspike>=2.3,<3"' in (mine / "pyproject.toml").read_text()
    stray = root / ADAPTERS[0].relative_to(ROOT) / "__about__.py"
    stray.write_text(stray.read_text().replace("2.3.0rc1", "2.2.9"))
    done = script("--check", "--root", str(root))
    assert done.returncode == 1
    assert done.stderr.strip() == f"{stray}: 2.2.9, expected 2.3.0rc1"
    assert script("0.4", "--root", str(root)).returncode != 0  # not X.Y.Z


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda p: p.name)
def test_each_adapter_sdist_builds_alone_with_the_core_version(
    adapter: Path, tmp_path: Path
) -> None:
    """The folder copied alone builds an sdist, and that sdist alone builds the wheel: both
    carry the core's version and a requirement on the core that admits it."""
    pytest.importorskip("hatchling", reason="hatchling is in the test dependency group")
    from packaging.requirements import Requirement

    alone = tmp_path / adapter.name
    shutil.copytree(adapter, alone, ignore=shutil.ignore_patterns("__pycache__"))
    build = [sys.executable, "-m", "hatchling", "build", "-d", str(tmp_path / "dist")]
    done = subprocess.run([*build, "-t", "sdist"], cwd=alone, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [sdist] = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    [unpacked] = (tmp_path / "unpacked").iterdir()
    done = subprocess.run([*build, "-t", "wheel"], cwd=unpacked, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [wheel] = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
        assert f"{adapter.name}/__about__.py" in archive.namelist()
    assert f"\nVersion: {core_version()}\n" in metadata
    needs = [
        Requirement(line.split(":", 1)[1])
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    on_core = next(r for r in needs if r.name == "ticketspike")
    assert on_core.specifier.contains(core_version())
