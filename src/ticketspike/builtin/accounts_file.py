"""Built-in account directory: the accounts file (YAML or JSON; docs/configuration.md).

The file is named by ``plugins.accounts.path``, else by the top-level ``accounts:`` key, or on
the command line with ``--accounts FILE``; a relative path is relative to the config file. It is
read once, when plugins are collected, so a broken file fails at start-up with file, line and
key rather than in the middle of an alert. With no file named, nothing is registered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import cast

import attrs

from ..accounts import load_accounts
from ..configfile import Section
from ..hookspecs import hookimpl
from ..model import Account
from ..roles import AccountDirectory, PluginConfig

__all__ = ["AccountsFile", "accounts_path", "register_account_directories"]


@attrs.frozen
class AccountsFile:
    """An :class:`~ticketspike.roles.AccountDirectory` over accounts read from a file."""

    accounts: Mapping[str, Account] = attrs.field(factory=dict)
    path: str | None = None
    name: str = "accounts"

    @classmethod
    def load(cls, path: str | Path) -> AccountsFile:
        return cls(accounts=load_accounts(path), path=str(path))

    def get_account(self, customer_id: str) -> Account | None:
        return self.accounts.get(customer_id)


def _relative(name: str, path: str) -> str:
    p = Path(path)
    if p.is_absolute() or name.startswith("<"):
        return path
    return str(Path(name).parent / p)


def accounts_path(config: PluginConfig) -> str | None:
    """The accounts file this configuration names, if any."""
    section = config.section("accounts")
    if section is not None:
        section.check_keys({"path"})
        path = section.get_str("path")
        if path:
            return _relative(section.name, path)
    root = getattr(config, "root", None)
    if isinstance(root, Section):
        path = root.get_str("accounts")
        if path:
            return _relative(root.name, path)
    return None


@hookimpl
def register_account_directories(
    register: Callable[[AccountDirectory], None], config: PluginConfig
) -> None:
    path = accounts_path(config)
    if path is not None:
        # Frozen values satisfy the protocol at run time; mypy wants ``name`` settable.
        register(cast(AccountDirectory, AccountsFile.load(path)))
