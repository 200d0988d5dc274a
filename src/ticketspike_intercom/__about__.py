"""The version of ticketspike-intercom: always ticketspike's own.

Written by ``scripts/set_version.py`` from ``src/ticketspike/__about__.py`` (the one place the
version is decided) and checked by ``tests/core/test_version.py``; hatch reads it from here so
this folder's sdist builds on its own.
"""

__version__ = "0.1.0"
