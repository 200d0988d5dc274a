"""``ticketspike check-config FILE``: validate a config and say what was understood.

Loading is the validation: every section is parsed up front, so a bad value
exits 2 with ``file:line: key: what was expected``. On success the command
prints the detection and lifecycle parameters, silences, the workflow's steps,
the routing rules and the plugin sections, so an operator sees what
ticketspike will do rather than what they hoped they wrote.

Secrets never print. Plugin sections name environment variables (``*_env``
keys); the output shows the variable's name and whether it is set, never its
value. A key that looks like a secret written into the file is shown as
hidden, with a warning to move it into the environment.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

import attrs

from ..config import Config, load_config
from ..configfile import Section
from ..errors import ConfigError, MissingSecretError, PluginError
from ..http.settings import server_settings_from_config
from ..plugins import ROLE_HOOKS, PluginConfigError, Plugins
from ..roles import PluginConfig
from .common import EXIT_OK, add_format_arg, print_json

__all__ = ["check_plugins", "register", "understood"]

_SECRET_KEY = re.compile(r"(secret|token|password|passwd|api_?key|auth|credential|private)", re.I)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "check-config",
        help="validate a config file and print what it understood",
        description="Validate FILE (every section, with file:line errors) and print the "
        "detection parameters, workflow steps, routing rules, silences and plugin "
        "sections it defines. Secrets are never printed.",
    )
    parser.add_argument("file", metavar="FILE", help="ticketspike.yaml to check")
    add_format_arg(parser)
    parser.set_defaults(handler=_check_config)


def _check_config(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    # The HTTP face's section is parsed by the face (it may not be installed to run here,
    # but its settings module needs nothing beyond the core).
    server_settings_from_config(config.section("server"))
    report = understood(config, env=os.environ)
    report["warnings"].extend(check_plugins(config))
    if args.format == "json":
        print_json(report)
    else:
        print(_text(report))
    return EXIT_OK


def check_plugins(config: Config, *, plugins: Plugins | None = None) -> list[str]:
    """Let every installed plugin parse its section, so its mistakes surface here too.

    A section a plugin refuses raises (``file:line: key``, exit 2). Problems of
    the environment rather than the file (an unset token variable) and sections
    no installed plugin reads become warnings: the file may be right for
    another machine.
    """
    plugins = plugins if plugins is not None else Plugins.from_env()
    warnings: list[str] = []
    probe = _RecordingConfig(config.plugins)
    for hook in ROLE_HOOKS:
        try:
            for registered in plugins.collect(hook, cast(PluginConfig, probe)):
                warnings.extend(_registered_warnings(registered.obj, config))
        except (MissingSecretError, PluginConfigError) as exc:
            if not isinstance(exc, MissingSecretError) and not isinstance(
                exc.__cause__, MissingSecretError
            ):
                raise
            warnings.append(f"{exc} (needed where this config runs)")
        except ConfigError:
            raise
        except PluginError as exc:
            warnings.append(str(exc))
    for name in sorted(set(config.plugins.sections) - probe.read):
        warnings.append(
            f"plugins.{name}: no installed plugin reads this section "
            f"(installed: {', '.join(sorted(i.name for i in plugins.infos()))})"
        )
    return warnings


def _registered_warnings(obj: object, config: Config) -> list[str]:
    """What a registered object says about this config (``config_warnings(teams)``), if any.

    The teams are every team the routing can name, so a notifier can say which of them
    it cannot route and where their notifications go instead.
    """
    hint = getattr(obj, "config_warnings", None)
    if not callable(hint):
        return []
    teams = [t for _category, names in config.routing.teams for t in names]
    teams += [t for rule in config.routing.rules for t in rule.teams]
    return [str(w) for w in hint(tuple(dict.fromkeys(teams)))]


class _RecordingConfig:
    """A :class:`PluginConfig` that remembers which sections plugins asked for."""

    def __init__(self, real: PluginConfig) -> None:
        self._real = real
        self.read: set[str] = set()

    def section(self, name: str) -> Section | None:
        self.read.add(name)
        return self._real.section(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if attrs.has(type(value)):
        return _plain(attrs.asdict(value, recurse=False))
    return value


def understood(config: Config, *, env: Mapping[str, str]) -> dict[str, Any]:
    """What ``config`` means, as plain JSON-ready values with no secret in them."""
    warnings: list[str] = []
    plugins = {
        name: _plugin_view(section.raw(), env, f"plugins.{name}", warnings)
        for name, section in sorted(config.plugins.sections.items())
    }
    return {
        "path": config.path,
        "valid": True,
        "sections": sorted(config.root),
        "detection": _plain(config.detection),
        "lifecycle": _plain(config.lifecycle),
        "silences": [_plain(s) for s in config.silences],
        "workflow": config.workflow.describe(),
        "routing": config.routing.describe(),
        "plugins": plugins,
        "warnings": warnings,
    }


def _plugin_view(value: Any, env: Mapping[str, str], path: str, warnings: list[str]) -> Any:
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = str(key)
        where = f"{path}.{name}"
        if name.endswith("_env") and isinstance(item, str):
            out[name] = {"variable": item, "set": bool(env.get(item))}
        elif _SECRET_KEY.search(name) and not isinstance(item, (Mapping, bool)):
            out[name] = "<hidden>"
            warnings.append(
                f"{where} looks like a secret written into the file; name an "
                f"environment variable instead ({name}_env: VARIABLE)"
            )
        else:
            out[name] = _plugin_view(item, env, where, warnings)
    return out


def _text(report: Mapping[str, Any]) -> str:
    lines = [f"{report['path']}: OK"]
    det = report["detection"]
    lines.append("")
    lines.append("Detection:")
    for key, value in det.items():
        if key != "industry":
            lines.append(f"  {key}: {value}")
    industry = det.get("industry") or {}
    if industry:
        lines.append(
            "  industry baselines: "
            + ", ".join(f"{seg} {_rate(vals)}" for seg, vals in industry.items())
        )
    lines.append("Lifecycle: " + ", ".join(f"{k} {v}" for k, v in report["lifecycle"].items()))
    silences = report["silences"]
    lines.append(f"Silences: {len(silences) or 'none'}")
    for s in silences:
        target = s.get("target") or "all customers"
        lines.append(
            f"  {s.get('kind')} {s.get('scope')} {target} until {s.get('end')}"
            + (f": {s['reason']}" if s.get("reason") else "")
        )
    wf = report["workflow"]
    lines.append("")
    severities = ", ".join(wf["trigger"]["severities"])
    lines.append(
        f"Workflow {wf['name']} v{wf['version']} (on {wf['trigger']['signal_type']}, "
        f"severity {severities}):"
    )
    for i, step in enumerate(wf["steps"], 1):
        cond = f" if {step['condition']}" if "condition" in step else ""
        lines.append(f"  {i}. {step['id']}: {step['action']}{cond}{_step_detail(step)}")
    routing = report["routing"]
    lines.append("")
    lines.append(
        f"Routing (mixed spikes: every category >= {routing['mixed_share']:.0%} of "
        f"tickets, else the largest; rules: {routing['match']} match):"
    )
    for category, teams in routing["teams"].items():
        lines.append(f"  {category} -> {', '.join(teams) or 'nobody'}")
    for team, channel in routing["team_channels"].items():
        lines.append(f"  team {team} posts in {channel}")
    for rule in routing["rules"]:
        when = "; ".join(f"{k}={v}" for k, v in rule["when"].items()) or "always"
        send = ", ".join(t for ts in rule["send_to"].values() for t in ts)
        lines.append(f"  rule {rule['name']}: when {when} -> {send} (defaults {rule['defaults']})")
    lines.append("")
    plugins = report["plugins"]
    lines.append(f"Plugins: {', '.join(plugins) or 'none configured (built-ins serve)'}")
    for name, section in plugins.items():
        for key, value in (section or {}).items():
            if isinstance(value, Mapping) and "variable" in value:
                state = "set" if value["set"] else "NOT set"
                lines.append(f"  {name}.{key}: ${value['variable']} ({state})")
            else:
                lines.append(f"  {name}.{key}: {value}")
    for warning in report["warnings"]:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def _step_detail(step: Mapping[str, Any]) -> str:
    config = step.get("config", {})
    for key in ("recipient", "channel", "title", "teams", "delta", "within_hours"):
        value = config.get(key)
        if value not in (None, [], "") and not isinstance(value, bool):
            return f" ({key}: {value})"
    return ""


def _rate(values: dict[str, Any]) -> str:
    """An industry baseline as configured: per seat when it scales with seats."""
    if values.get("per_seat") is not None:
        return f"{values['per_seat']}/seat/day (at least {values.get('minimum')}/day)"
    return f"{values.get('per_account')}/day"
