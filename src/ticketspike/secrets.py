"""Secrets that never show: tokens and signing keys read from the environment.

A :class:`Secret` hides its value from ``repr``, ``str``, logs and tracebacks;
code must call :meth:`Secret.reveal` at the one place the value is used
(an HTTP header, an HMAC key). Config files name environment variables,
never values, so a committed config cannot leak a token.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["Secret", "secret_from_env", "secrets_from_env"]


class Secret:
    """A string that refuses to be printed."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, *, source: str = "") -> None:
        self._value = value
        self.source = source  # the variable's name: safe to show

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        where = f" from ${self.source}" if self.source else ""
        return f"<Secret{where}: ***>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets are not pickled")


def secret_from_env(env: Mapping[str, str], name: str) -> Secret | None:
    """The secret in variable ``name``, or ``None`` when unset or blank."""
    value = env.get(name, "").strip()
    return Secret(value, source=name) if value else None


def secrets_from_env(env: Mapping[str, str], name: str) -> tuple[Secret, ...]:
    """Several secrets separated by spaces (rotation: old and new both valid)."""
    return tuple(Secret(v, source=name) for v in env.get(name, "").split() if v)
