"""Safe YAML with line numbers, and typed access that fails with file:line:key.

Every config section (``detection``, ``workflow``, ``routing``, ``silences``,
``plugins``...) is parsed from a :class:`Section`. A section remembers the
file and the line of each key, so a bad value becomes one line such as
``ticketspike.yaml:12: detection.threshold: expected a number >= 1, got 'x'``.

YAML is read with PyYAML's ``SafeLoader`` (no object construction); only the
mapping and sequence constructors are wrapped to record lines. Parsing text is
pure; reading files is left to the caller (:func:`load_file`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import ConfigError

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_CONFIG_NODES",
    "Section",
    "SequenceView",
    "load_file",
    "load_text",
]

#: A config file larger than this is refused before parsing (configs are a few KB).
MAX_CONFIG_BYTES = 4 * 1024 * 1024
#: At most this many values once YAML aliases are expanded: an alias bomb (a few lines
#: that expand to gigabytes) is refused while loading, before anything is built.
MAX_CONFIG_NODES = 200_000

T = TypeVar("T")


class _LocDict(dict[Any, Any]):
    line: int = 0
    key_lines: dict[Any, int]


class _LocList(list[Any]):
    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LocDict:
    loader.flatten_mapping(node)
    out = _LocDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise ConfigError(
                "mapping keys must be plain values", where=f"{loader.name}:{line}"
            ) from None
        if key in out:
            raise ConfigError(f"duplicate key {key!r}", where=f"{loader.name}:{line}")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _LocList:
    out = _LocList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)
_Loader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
    _construct_sequence,
)


def load_text(text: str, *, name: str = "<config>") -> Any:
    """Parse YAML (or JSON, a subset) text; mappings come back as :class:`Section`.

    Raises :class:`ConfigError` naming ``name`` and the line on broken YAML.
    """
    _check_characters(text, name)
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {_one_line(exc)}", where=name) from None
    loader.name = name
    try:
        node = loader.get_single_node()
        data = None
        if node is not None:
            _check_expansion(node, name)
            data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem}", where=f"{name}{line}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {_one_line(exc)}", where=name) from None
    finally:
        loader.dispose()
    return wrap(data, name=name, path="")


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _check_characters(text: str, name: str) -> None:
    """Refuse control characters YAML cannot hold with the line they stand on.

    PyYAML would raise a multi-line error with a character offset instead.
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config is larger than {MAX_CONFIG_BYTES} characters; refusing to parse it",
            where=name,
        )
    bad = _CONTROL.search(text)
    if bad is not None:
        lineno = text.count("\n", 0, bad.start()) + 1
        raise ConfigError(
            f"unexpected control character U+{ord(bad.group()):04X} (a config file is plain text)",
            where=f"{name}:{lineno}",
        )


def _check_expansion(root: yaml.Node, name: str) -> None:
    """Count the values the document expands to (aliases counted at every use).

    Sizes are memoised per node, so a bomb costs a walk of its few distinct nodes.
    """
    sizes: dict[int, int] = {}
    pending: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while pending:
        node, done = pending.pop()
        key = id(node)
        if key in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            on_path.discard(key)
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            if total > MAX_CONFIG_NODES:
                raise ConfigError(
                    f"config expands to more than {MAX_CONFIG_NODES} values (YAML aliases); "
                    "refusing to load it",
                    where=f"{name}:{node.start_mark.line + 1}",
                )
            sizes[key] = total
            continue
        if key in on_path:
            # A recursive alias: PyYAML builds a self-referencing value; count it once.
            continue
        on_path.add(key)
        pending.append((node, True))
        pending.extend((c, False) for c in children if id(c) not in sizes)


def load_file(path: str | Path) -> Any:
    """Read and parse a YAML or JSON file (see :func:`load_text`)."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"config is larger than {MAX_CONFIG_BYTES} bytes; refusing to parse it",
                where=str(p),
            )
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", where=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read file: {exc.__class__.__name__}", where=str(p)) from None
    return load_text(text, name=str(p))


def wrap(data: Any, *, name: str, path: str, line: int = 0) -> Any:
    """Wrap parsed mappings as :class:`Section`; other values pass through."""
    if isinstance(data, dict):
        return Section(data, name=name, path=path, line=line)
    if isinstance(data, list):
        return _SeqView(data, name=name, path=path, line=getattr(data, "line", line))
    return data


class Section(Mapping[str, Any]):
    """A mapping from a config file that knows where each key stands.

    Values are returned raw by ``section[key]``; the typed getters validate and
    raise :class:`ConfigError` with file, line and dotted key.
    """

    __slots__ = ("_data", "name", "path", "line")

    def __init__(
        self,
        data: Mapping[Any, Any] | None = None,
        *,
        name: str = "<config>",
        path: str = "",
        line: int = 0,
    ) -> None:
        self._data: Mapping[Any, Any] = data if data is not None else {}
        self.name = name
        self.path = path
        self.line = getattr(self._data, "line", 0) or line

    # -- Mapping protocol -------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        return self._wrap_child(key, value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Section({self.name}:{self.line} {self.path or '<root>'})"

    # -- locations ---------------------------------------------------------
    def line_of(self, key: str) -> int:
        lines = getattr(self._data, "key_lines", None)
        if lines and key in lines:
            return int(lines[key])
        return self.line

    def key_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else str(key)

    def where(self, key: str | None = None) -> str:
        line = self.line_of(key) if key is not None else self.line
        return f"{self.name}:{line}" if line else self.name

    def error(self, key: str | None, message: str) -> ConfigError:
        """A :class:`ConfigError` pointing at ``key`` (or at the section itself)."""
        return ConfigError(
            message,
            where=self.where(key),
            field=self.key_path(key) if key is not None else self.path,
        )

    def _wrap_child(self, key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return Section(value, name=self.name, path=self.key_path(key), line=self.line_of(key))
        if isinstance(value, list):
            return _SeqView(value, name=self.name, path=self.key_path(key), line=self.line_of(key))
        return value

    # -- validation ---------------------------------------------------------
    def check_keys(self, allowed: set[str] | frozenset[str]) -> None:
        """Refuse keys not in ``allowed``, suggesting the nearest spelling."""
        for key in self._data:
            if key not in allowed:
                near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                options = ", ".join(sorted(allowed))
                raise self.error(str(key), f"unknown key{hint}; expected one of: {options}")

    def get_section(self, key: str, *, required: bool = False) -> Section | None:
        if key not in self._data or self._data[key] is None:
            if required:
                raise self.error(None, f"missing required key {key!r}")
            return None
        value = self[key]
        if not isinstance(value, Section):
            raise self.error(key, f"expected a mapping, got {_kind(self._data[key])}")
        return value

    def get_list(self, key: str, *, required: bool = False) -> list[Any]:
        """A list; mappings inside it come back as :class:`Section`."""
        if key not in self._data or self._data[key] is None:
            if required:
                raise self.error(None, f"missing required key {key!r}")
            return []
        value = self[key]
        if not isinstance(value, _SeqView):
            raise self.error(key, f"expected a list, got {_kind(self._data[key])}")
        return list(value)

    def get_str(
        self,
        key: str,
        default: str | None = None,
        *,
        required: bool = False,
        choices: tuple[str, ...] | None = None,
    ) -> str | None:
        if key not in self._data or self._data[key] is None:
            if required:
                raise self.error(None, f"missing required key {key!r}")
            return default
        value = self._data[key]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        text = str(value)
        if choices is not None and text not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}, got {text!r}")
        return text

    def get_float(
        self,
        key: str,
        default: float | None = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        required: bool = False,
    ) -> float | None:
        if key not in self._data or self._data[key] is None:
            if required:
                raise self.error(None, f"missing required key {key!r}")
            return default
        value = self._data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {_kind(value)} {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise self.error(key, f"expected a finite number, got {number!r}")
        if minimum is not None and number < minimum:
            raise self.error(key, f"expected a number >= {minimum:g}, got {number:g}")
        if maximum is not None and number > maximum:
            raise self.error(key, f"expected a number <= {maximum:g}, got {number:g}")
        return number

    def get_int(
        self,
        key: str,
        default: int | None = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        required: bool = False,
    ) -> int | None:
        if key not in self._data or self._data[key] is None:
            if required:
                raise self.error(None, f"missing required key {key!r}")
            return default
        value = self._data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected a whole number, got {_kind(value)} {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"expected a whole number >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"expected a whole number <= {maximum}, got {value}")
        return value

    def get_bool(
        self, key: str, default: bool | None = None, *, required: bool = False
    ) -> bool | None:
        if key not in self._data or self._data[key] is None:
            if required:
                raise self.error(None, f"missing required key {key!r}")
            return default
        value = self._data[key]
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)} {value!r}")
        return value

    def raw(self) -> dict[str, Any]:
        """Plain nested dicts and lists (for printing what was understood)."""
        return _plain(self._data)  # type: ignore[no-any-return]


class _SeqView(list[Any]):
    """A list from a config file whose mapping items are :class:`Section` with lines."""

    def __init__(self, data: list[Any], *, name: str, path: str, line: int) -> None:
        lines = getattr(data, "item_lines", [])
        self.name = name
        self.path = path
        self.lines = [lines[i] if i < len(lines) else line for i in range(len(data))]
        super().__init__(
            Section(item, name=name, path=f"{path}[{i}]", line=self.lines[i])
            if isinstance(item, dict)
            else item
            for i, item in enumerate(data)
        )

    def error(self, index: int, message: str) -> ConfigError:
        return ConfigError(
            message, where=f"{self.name}:{self.lines[index]}", field=f"{self.path}[{index}]"
        )


SequenceView = _SeqView


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__
