"""Hostile config files: NaN and infinity, control characters, alias bombs.

Each is refused with one line naming the file, the line and (for values) the key, and
every command exits 2 on it, never with a traceback or a value that skews detection.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketspike import ConfigError
from ticketspike.builtin.jsonl_source import source_from_config
from ticketspike.config import load_config
from ticketspike.configfile import MAX_CONFIG_NODES, load_text

FLOAT_KEYS = [
    ("detection", "threshold"),
    ("detection", "critical_above"),
    ("detection", "prior_days"),
    ("detection", "alpha"),
    ("lifecycle", "resolve_below"),
]
NOT_FINITE = [".nan", ".NaN", ".inf", "-.inf", "+.inf"]


@pytest.mark.parametrize(("section", "key"), FLOAT_KEYS)
@pytest.mark.parametrize("value", NOT_FINITE)
def test_not_finite_numbers_are_refused_with_file_line_and_key(section, key, value):
    text = f"# comment\n{section}:\n  {key}: {value}\n"
    with pytest.raises(ConfigError) as caught:
        load_config(text=text)
    message = str(caught.value)
    assert "\n" not in message
    assert ":3:" in message
    assert f"{section}.{key}" in message
    assert "finite" in message


def test_not_finite_industry_baselines_and_tolerance_are_refused():
    for text, key in [
        ("industry_baselines:\n  retail: .nan\n", "retail"),
        ("industry_baselines:\n  retail:\n    per_account: .inf\n", "per_account"),
    ]:
        with pytest.raises(ConfigError, match=f"{key}: expected a finite number"):
            load_config(text=text, env={})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(".nan", "expected a finite number"), ("31536000", "expected a number <= 86400")],
)
def test_the_webhook_tolerance_is_finite_and_at_most_a_day(value, expected):
    config = load_config(text=f"plugins:\n  ticket:\n    tolerance_seconds: {value}\n", env={})
    with pytest.raises(ConfigError, match=f":3: plugins.ticket.tolerance_seconds: {expected}"):
        source_from_config(config.plugins)


def test_a_nul_byte_is_one_line_naming_its_line():
    with pytest.raises(ConfigError) as caught:
        load_text("detection:\n  threshold: 2\x00\n", name="ts.yaml")
    assert str(caught.value).startswith("ts.yaml:2: ")
    assert "U+0000" in str(caught.value)


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, levels):
        refs = ",".join([f"*a{n - 1}"] * 9)
        lines.append(f"a{n}: &a{n} [{refs}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_while_loading():
    with pytest.raises(ConfigError, match="expands to more than") as caught:
        load_text(_bomb(), name="bomb.yaml")
    assert str(caught.value).startswith("bomb.yaml:")


def test_aliases_within_the_cap_still_work():
    loaded = load_text("base: &b {x: 1}\nother: *b\n")
    assert loaded["other"]["x"] == 1
    assert MAX_CONFIG_NODES > 1000


@pytest.mark.parametrize(
    "content",
    [
        "detection:\n  threshold: .nan\n",
        "detection:\n  threshold: 2\x00\n",
        _bomb(),
    ],
    ids=["nan", "nul", "alias-bomb"],
)
@pytest.mark.parametrize("command", ["check-config", "scan", "replay", "run"])
def test_every_command_exits_2_with_one_line(tmp_path: Path, content, command):
    config = tmp_path / "ts.yaml"
    config.write_bytes(content.encode())
    tickets = tmp_path / "t.jsonl"
    tickets.write_text("")
    if command == "check-config":
        argv = [command, str(config)]
    elif command == "run":
        argv = [command, str(tickets), "--config", str(config), "--store", str(tmp_path / "s.db")]
    else:
        argv = [command, str(tickets), "--config", str(config)]
    done = subprocess.run(
        [sys.executable, "-m", "ticketspike", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "ts.yaml:" in done.stderr


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_fuzz_any_text_loads_or_fails_with_one_config_error(text):
    try:
        load_config(text=text, env={})
    except ConfigError as exc:
        assert "\n" not in str(exc)


_scalar = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from([".nan", ".inf", "-.inf", "1e400", "true", "~", "x"]),
)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(FLOAT_KEYS), _scalar)
def test_fuzz_float_keys_accept_only_finite_numbers(place, value):
    section, key = place
    try:
        config = load_config(text=f"{section}:\n  {key}: {value}\n", env={})
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    got = getattr(getattr(config, section), key)
    assert got == got and got not in (float("inf"), float("-inf"))
