"""One way to parse untrusted JSON: bounded depth, no lone surrogates, one error type.

Every HTTP endpoint, webhook source and ticket file goes through :func:`loads`, with or without
orjson (``ticketspike[fast]``), so the two parsers cannot disagree on what is acceptable:

* **Depth.** A document nested deeper than :data:`MAX_DEPTH` is refused. The standard library
  would otherwise raise ``RecursionError`` on 100,000 nested ``[`` (a 500 in a web app) and
  orjson stops at its own, different, limit.
* **Lone surrogates.** ``"\\ud800"`` is valid JSON syntax but not a character: the standard
  library returns a string that cannot be encoded again (it fails later, far from the input,
  when stored or printed), orjson refuses it. Both are refused here, with the same message.

Errors are :class:`JsonError`, a ``ValueError``, carrying a one-line message that says where the
document breaks and never quotes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_DEPTH", "JsonError", "loads"]

MAX_DEPTH = 64  # arrays and objects inside one another; tickets need about 4

_SURROGATE = re.compile("[\ud800-\udfff]")
_LONE = "JSON string holds a lone surrogate (\\ud800-\\udfff), which is not a character"
_PARSE_ERRORS: tuple[type[Exception], ...]
_parse: Callable[[str | bytes], Any]

try:  # pragma: no cover - exercised where the extra is installed
    import orjson

    _parse = orjson.loads
    _PARSE_ERRORS = (orjson.JSONDecodeError,)
except ImportError:  # pragma: no cover
    _parse = json.loads
    _PARSE_ERRORS = ()


class JsonError(ValueError):
    """Malformed or unacceptable JSON; the message is one line and never quotes the input."""


def loads(data: str | bytes | bytearray | memoryview, *, max_depth: int = MAX_DEPTH) -> Any:
    """The value of the JSON document ``data``, or :class:`JsonError` saying what is wrong."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    try:
        value = _parse(data)
    except RecursionError:
        raise JsonError(f"JSON nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise JsonError("not UTF-8 encoded JSON") from None
    except (json.JSONDecodeError, ValueError) as exc:  # orjson's error is a ValueError too
        raise JsonError(_message(exc, max_depth)) from None
    _check(value, max_depth)
    return value


def _message(exc: Exception, max_depth: int) -> str:
    text = (str(exc).splitlines() or ["malformed JSON"])[0].lower()
    if "utf-8" in text:
        return "not UTF-8 encoded JSON"
    if "recursion" in text or "depth" in text:
        return f"JSON nested deeper than {max_depth} levels"
    if "surrogate" in text:
        return _LONE
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"[:200]
    return text[:200]


def _check(value: Any, max_depth: int) -> None:
    """Walk the value without recursion: depth bound and lone surrogates."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise JsonError(_LONE)
        elif isinstance(item, dict):
            if depth >= max_depth:
                raise JsonError(f"JSON nested deeper than {max_depth} levels")
            for key, inner in item.items():
                stack.append((key, depth + 1))
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            if depth >= max_depth:
                raise JsonError(f"JSON nested deeper than {max_depth} levels")
            stack.extend((inner, depth + 1) for inner in item)
