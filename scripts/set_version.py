"""Set the version of every distribution from the one place it is decided.

The core's version is ``src/ticketspike/__about__.py``. Each adapter folder is a distribution
whose sdist must build on its own, so hatch reads its version from the adapter's own
``__about__.py``; this script writes those copies and the adapters' requirement on the core
(``ticketspike>=0.2,<0.3`` for 0.2.x), and ``--check`` says whether they agree (a test runs it).

    python scripts/set_version.py 0.2.0    # the release: core, adapters, requirements
    python scripts/set_version.py          # copy the core's version to the adapters
    python scripts/set_version.py --check  # exit 1, naming each file that disagrees
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = re.compile(r'^__version__ = "([^"]*)"$', re.M)
REQUIREMENT = re.compile(r'"ticketspike(?:[<>=!~][^"]*)?"')
RELEASE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:(?:a|b|rc)\d+)?$")


def about(folder: Path) -> Path:
    return folder / "__about__.py"


def adapters(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "src").glob("ticketspike_*/pyproject.toml"))


def read_version(path: Path) -> str:
    match = VERSION.search(path.read_text(encoding="utf-8"))
    if match is None:
        raise SystemExit(f'{path}: no line __version__ = "X.Y.Z"')
    return match.group(1)


def requirement(version: str) -> str:
    """The adapters' requirement on the core: the same minor release series."""
    match = RELEASE.match(version)
    if match is None:
        raise SystemExit(f"version {version!r}: expected X.Y.Z (optionally aN, bN or rcN)")
    major, minor = int(match.group(1)), int(match.group(2))
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"ticketspike>={major}.{minor},<{upper}"


def problems(root: Path) -> list[str]:
    """Every file whose version or requirement disagrees with the core's ``__about__.py``."""
    core = read_version(about(root / "src" / "ticketspike"))
    wanted = f'"{requirement(core)}"'
    found: list[str] = []
    for folder in adapters(root):
        if read_version(about(folder)) != core:
            found.append(f"{about(folder)}: {read_version(about(folder))}, expected {core}")
        pyproject = (folder / "pyproject.toml").read_text(encoding="utf-8")
        needs = REQUIREMENT.findall(pyproject)
        if needs != [wanted]:
            found.append(f"{folder / 'pyproject.toml'}: {', '.join(needs)}, expected {wanted}")
    return found


def write(root: Path, version: str | None) -> str:
    core_about = about(root / "src" / "ticketspike")
    if version is None:
        version = read_version(core_about)
    line = f'__version__ = "{version}"'
    wanted = f'"{requirement(version)}"'
    for path in [core_about, *(about(f) for f in adapters(root))]:
        path.write_text(VERSION.sub(line, path.read_text(encoding="utf-8")), encoding="utf-8")
    for folder in adapters(root):
        pyproject = folder / "pyproject.toml"
        text = REQUIREMENT.sub(wanted, pyproject.read_text(encoding="utf-8"))
        pyproject.write_text(text, encoding="utf-8")
    return version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("version", nargs="?", help="the new version (default: the core's)")
    parser.add_argument("--check", action="store_true", help="only say what disagrees")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        found = problems(args.root)
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    version = write(args.root, args.version)
    print(f"every distribution is at {version} ({requirement(version)} for the adapters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
