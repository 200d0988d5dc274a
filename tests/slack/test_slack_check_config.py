"""``check-config`` on a minimal Slack section: where unrouted teams go, and how to fix it."""

from __future__ import annotations

import importlib.metadata

import pytest

try:
    importlib.metadata.distribution("ticketspike-slack")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - core-only runs
    pytest.skip("ticketspike-slack is not installed", allow_module_level=True)

from ticketspike import Plugins
from ticketspike.cli.config_cmds import check_plugins
from ticketspike.config import load_config


def test_minimal_slack_section_warns_about_each_unrouted_team(tmp_path) -> None:
    path = tmp_path / "ticketspike.yaml"
    path.write_text("plugins:\n  slack:\n    team_channels: {product: '#product'}\n")
    config = load_config(path, env={"SLACK_BOT_TOKEN": "xoxb-test"})
    warnings = check_plugins(config, plugins=Plugins(load_entrypoints=True, allow={"slack"}))
    (warning,) = [w for w in warnings if "team_channels" in w]
    # The default routing names these teams; product has a channel.
    assert warning.startswith(
        "plugins.slack.team_channels has no channel for support_lead, finance, csm, enablement:"
    )
    assert "coordination channel #cs-escalations" in warning
    assert "plugins.slack.team_channels: {support_lead: '#channel'}" in warning


def test_fully_routed_teams_give_no_warning(tmp_path) -> None:
    path = tmp_path / "ticketspike.yaml"
    teams = ", ".join(
        f"{t}: '#{t}'" for t in ("support_lead", "product", "finance", "csm", "enablement")
    )
    path.write_text(f"plugins:\n  slack:\n    team_channels: {{{teams}}}\n")
    config = load_config(path, env={"SLACK_BOT_TOKEN": "xoxb-test"})
    warnings = check_plugins(config, plugins=Plugins(load_entrypoints=True, allow={"slack"}))
    assert not [w for w in warnings if "team_channels" in w]
