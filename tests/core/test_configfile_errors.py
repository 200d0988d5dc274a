"""Config files fail with one line naming file, line and key; YAML is loaded safely."""

from __future__ import annotations

import pytest

from ticketspike import ConfigError
from ticketspike.configfile import Section, load_text


def section(text: str) -> Section:
    loaded = load_text(text, name="ts.yaml")
    assert isinstance(loaded, Section)
    return loaded


def test_typed_getters_accept_good_values() -> None:
    s = section("detection:\n  threshold: 3\n  mode: spec\n  enabled: true\n  window_hours: 24\n")
    d = s.get_section("detection")
    assert d is not None
    assert d.get_float("threshold") == 3.0
    assert d.get_str("mode", choices=("spec", "gated")) == "spec"
    assert d.get_bool("enabled") is True
    assert d.get_int("window_hours", minimum=1) == 24


@pytest.mark.parametrize(
    ("text", "call", "expected"),
    [
        (
            "a:\n  b: x\n",
            lambda s: s.get_section("a").get_float("b"),
            "ts.yaml:2: a.b: expected a number, got a string 'x'",
        ),
        (
            "a:\n  b: 0\n",
            lambda s: s.get_section("a").get_float("b", minimum=1),
            "ts.yaml:2: a.b: expected a number >= 1, got 0",
        ),
        (
            "a:\n\n  b: yes please\n",
            lambda s: s.get_section("a").get_bool("b"),
            "ts.yaml:3: a.b: expected true or false, got a string 'yes please'",
        ),
        (
            "a:\n  b: [1]\n",
            lambda s: s.get_section("a").get_str("b"),
            "ts.yaml:2: a.b: expected a string, got a list",
        ),
        ("a: 3\n", lambda s: s.get_section("a"), "ts.yaml:1: a: expected a mapping, got a number"),
        (
            "a:\n  mdoe: spec\n",
            lambda s: s.get_section("a").check_keys({"mode", "threshold"}),
            "ts.yaml:2: a.mdoe: unknown key (did you mean 'mode'?)",
        ),
        (
            "a:\n  - {x: 1}\n  - {y: 2}\n",
            lambda s: s.get_list("a")[1].get_int("z", required=True),
            "ts.yaml:3: a[1]: missing required key 'z'",
        ),
    ],
)
def test_errors_name_file_line_and_key(text: str, call: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        call(section(text))  # type: ignore[operator]
    assert str(info.value).startswith(expected)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [1,\n b: 2", "ts.yaml:2: invalid YAML"),
        ("a: 1\na: 2\n", "ts.yaml:2: duplicate key 'a'"),
        ("a: !!python/object/apply:os.system ['echo pwned']\n", "ts.yaml:1: invalid YAML"),
        ("a: *nope\n", "ts.yaml:1: invalid YAML"),
    ],
)
def test_broken_or_unsafe_yaml_is_refused(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(text, name="ts.yaml")
    assert str(info.value).startswith(expected)


def test_raw_gives_plain_values_for_printing() -> None:
    s = section("a:\n  b: [1, {c: 2}]\n")
    assert s.raw() == {"a": {"b": [1, {"c": 2}]}}
