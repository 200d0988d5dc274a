"""The version of ticketspike: the one place it is written.

Hatch reads it for the core's metadata (``[tool.hatch.version]`` in pyproject.toml); each
adapter's ``__about__.py`` holds a copy that ``scripts/set_version.py`` writes and a test keeps
equal (an adapter's sdist must build from its own folder, so it cannot point here).
"""

__version__ = "0.1.0"
