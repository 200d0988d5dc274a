"""check-config lets installed plugins parse their own sections."""

from __future__ import annotations

from typing import Any

import pytest

from ticketspike import ConfigError, Plugins, hookimpl, load_config
from ticketspike.cli.config_cmds import check_plugins


class StrictPlugin:
    """A notifier plugin that insists on an integer ``retries`` in its section."""

    @hookimpl
    def register_action_handlers(self, register: Any, config: Any) -> None:
        section = config.section("strict")
        if section is None:
            return
        section.check_keys({"retries"})
        section.get_int("retries", 1, minimum=0)


def plugin_set() -> Plugins:
    return Plugins(load_entrypoints=False, plugins=[StrictPlugin()])


def test_a_section_the_plugin_refuses_fails_with_file_line_and_key(tmp_path: Any) -> None:
    path = tmp_path / "ts.yaml"
    path.write_text("plugins:\n  strict:\n    retries: many\n")
    expected = r"ts\.yaml:3: plugins\.strict\.retries: expected a whole"
    with pytest.raises(ConfigError, match=expected):
        check_plugins(load_config(path, env={}), plugins=plugin_set())


def test_sections_no_plugin_reads_are_warned_about(tmp_path: Any) -> None:
    path = tmp_path / "ts.yaml"
    path.write_text("plugins:\n  strict:\n    retries: 2\n  slakc: {}\n")
    warnings = check_plugins(load_config(path, env={}), plugins=plugin_set())
    assert len(warnings) == 1
    assert warnings[0].startswith("plugins.slakc: no installed plugin reads this section")


class NeedsToken:
    @hookimpl
    def register_action_handlers(self, register: Any, config: Any) -> None:
        section = config.section("needy")
        if section is not None:
            config.require_secret(section, "token_env", "NEEDY_TOKEN", what="the API token")


def test_an_unset_secret_variable_is_a_warning_not_a_failure(tmp_path: Any) -> None:
    path = tmp_path / "ts.yaml"
    path.write_text("plugins:\n  needy:\n    token_env: MY_NEEDY_TOKEN\n")
    plugins = Plugins(load_entrypoints=False, plugins=[NeedsToken()])
    warnings = check_plugins(load_config(path, env={}), plugins=plugins)
    assert len(warnings) == 1
    assert (
        "ts.yaml:3: plugins.needy.token_env: environment variable MY_NEEDY_TOKEN is not set"
        in (warnings[0])
    )
    assert check_plugins(load_config(path, env={"MY_NEEDY_TOKEN": "t"}), plugins=plugins) == []
