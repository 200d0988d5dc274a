"""The one configuration file (``ticketspike.yaml``), loaded and validated up front.

Every section is parsed when the file loads, so ``ticketspike check-config``
and a host's start-up both fail fast with ``file:line: key: what was
expected``. Each section is parsed by the module that owns it (the detector
owns ``detection``, the planner owns ``workflow``...); this module only
assembles them. Secrets are never read from the file: plugin sections name
environment variables, and :class:`~ticketspike.roles.PluginConfig` carries
the environment the host hands in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .configfile import Section, load_file, load_text
from .detect.policy import DetectionPolicy, policy_from_config
from .incidents import IncidentPolicy, incident_policy_from_config
from .lifecycle import (
    LifecyclePolicy,
    Silence,
    lifecycle_policy_from_config,
    silences_from_config,
)
from .limits import TICKETS_KEYS, IngestLimits, limits_from_config
from .mail.settings import email_settings_from_config
from .planner.routing import RoutingRules, routing_from_config
from .planner.workflow import Workflow, workflow_from_config
from .roles import PluginConfig
from .text.classify import classification_settings_from_config
from .text.themes import theme_settings_from_config

__all__ = ["Config", "load_config"]

TOP_LEVEL_KEYS = frozenset(
    {
        "detection",
        "industry_baselines",
        "lifecycle",
        "routing",
        "workflow",
        "silences",
        "store",
        "plugins",
        "tickets",
        "accounts",
        "server",
        "classification",
        "themes",
        "escalation_chain",
        "email",
        "records",
        "webhooks",
        "quiet_sources",
        "incidents",
    }
)


@attrs.frozen
class Config:
    """A validated configuration. Build with :func:`load_config` or :meth:`default`."""

    detection: DetectionPolicy
    lifecycle: LifecyclePolicy
    silences: tuple[Silence, ...]
    workflow: Workflow
    routing: RoutingRules
    plugins: PluginConfig
    root: Section = attrs.field(factory=Section, repr=False)
    path: str | None = None

    @classmethod
    def default(cls, *, env: Mapping[str, str] | None = None) -> Config:
        """The embedded default: the default spike rule and workflow, built-in plugins only."""
        return _assemble(Section(name="<defaults>"), path=None, env=env)

    def section(self, name: str) -> Section | None:
        """A top-level section that a face or plugin parses itself (``server``...)."""
        return self.root.get_section(name)

    @property
    def store_path(self) -> str | None:
        store = self.root.get_section("store")
        if store is None:
            return None
        store.check_keys({"path", "synchronous", "url", "schema"})
        path = store.get_str("path")
        if path is None or self.path is None:
            return path
        return str(Path(self.path).parent / path) if not Path(path).is_absolute() else path

    @property
    def store_synchronous(self) -> str:
        """``full`` (default: durable across power loss) or ``normal`` (faster)."""
        store = self.root.get_section("store")
        if store is None:
            return "full"
        return store.get_str("synchronous", "full", choices=("full", "normal")) or "full"

    @property
    def store_url(self) -> str | None:
        """``store.url``: a ``postgresql://`` URL (see :mod:`ticketspike.store.postgres`)."""
        store = self.root.get_section("store")
        if store is None:
            return None
        url = store.get_str("url")
        if url is not None and not url.startswith(("postgresql://", "postgres://")):
            raise store.error("url", "expected a postgresql://user@host:port/db URL")
        if url is not None and store.get_str("path") is not None:
            raise store.error("url", "give store.url or store.path, not both")
        return url

    @property
    def store_schema(self) -> str | None:
        """``store.schema``: the PostgreSQL schema (default ``ticketspike``)."""
        store = self.root.get_section("store")
        return None if store is None else store.get_str("schema")

    @property
    def store_location(self) -> str | None:
        """Where the store is: ``$TICKETSPIKE_STORE``, else ``store.url``, else ``store.path``."""
        from_env = self.plugins.env.get("TICKETSPIKE_STORE")
        return from_env or self.store_url or self.store_path

    @property
    def accounts_path(self) -> str | None:
        path = self.root.get_str("accounts")
        if path is None or self.path is None or Path(path).is_absolute():
            return path
        return str(Path(self.path).parent / path)

    @property
    def strict_categories(self) -> bool:
        tickets = self.root.get_section("tickets")
        if tickets is None:
            return False
        tickets.check_keys(TICKETS_KEYS)
        return bool(tickets.get_bool("strict_categories", False))

    @property
    def limits(self) -> IngestLimits:
        """The ``tickets:`` section's clock skew, text caps and analysis budget."""
        return limits_from_config(self.root.get_section("tickets"))

    @property
    def incidents(self) -> IncidentPolicy:
        """The ``incidents:`` section: when many customers spiking together make one incident."""
        return incident_policy_from_config(self.root.get_section("incidents"))


def load_config(
    path: str | Path | None = None,
    *,
    text: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Load and validate a config file (or ``text``); ``None`` gives the defaults.

    ``env`` is the environment plugins read secrets from (default: ``os.environ``).
    Raises :class:`~ticketspike.errors.ConfigError` naming file, line and key.
    """
    if text is not None:
        root = load_text(text, name=str(path) if path else "<config>")
    elif path is not None:
        root = load_file(path)
    else:
        return Config.default(env=env)
    if root is None:
        root = Section(name=str(path or "<config>"))
    if not isinstance(root, Section):
        raise Section(name=str(path or "<config>")).error(
            None, "expected a mapping of sections at the top level"
        )
    return _assemble(root, path=str(path) if path is not None else None, env=env)


def _assemble(root: Section, *, path: str | None, env: Mapping[str, str] | None) -> Config:
    root.check_keys(TOP_LEVEL_KEYS)
    # Parsed here only to fail fast; the built-in analysis plugin reads them again.
    classification_settings_from_config(root.get_section("classification"))
    theme_settings_from_config(root.get_section("themes"))
    email_settings_from_config(root.get_section("email"))
    incident_policy_from_config(root.get_section("incidents"))
    plugin_sections: dict[str, Section] = {}
    plugins = root.get_section("plugins")
    if plugins is not None:
        for name in plugins:
            section = plugins.get_section(name)
            plugin_sections[name] = (
                section
                if section is not None
                else Section(name=root.name, path=f"plugins.{name}", line=plugins.line_of(name))
            )
    config = Config(
        detection=policy_from_config(
            root.get_section("detection"), root.get_section("industry_baselines")
        ),
        lifecycle=lifecycle_policy_from_config(root.get_section("lifecycle")),
        silences=silences_from_config(root.get_list("silences"), root),
        workflow=workflow_from_config(root.get_section("workflow")),
        routing=routing_from_config(root.get_section("routing")),
        plugins=PluginConfig(
            sections=plugin_sections,
            env=dict(os.environ if env is None else env),
            config_name=root.name,
            root=root,
        ),
        root=root,
        path=path,
    )
    # The small sections are read on use; touching them here makes a mistake in any of
    # them fail at load time, with its line, like the big ones.
    _ = (
        config.store_path,
        config.store_synchronous,
        config.store_url,
        config.store_schema,
        config.strict_categories,
        config.accounts_path,
        config.limits,
    )
    _check_escalation_chain(root)
    _check_quiet_sources(root)
    _check_records(root, config.plugins.env)
    return config


def _check_records(root: Section, env: Mapping[str, str]) -> None:
    """Fail at load time on a bad ``records:`` or ``webhooks:`` section (with its line)."""
    from .outbound import webhook_settings_from_config
    from .records import record_settings_from_config

    record_settings_from_config(root.get_section("records"))
    webhook_settings_from_config(root.get_section("webhooks"), env)


def _check_escalation_chain(root: Section) -> None:
    """A mistake in ``escalation_chain`` fails at load time, with its line."""
    from .planner.chain import chain_policy_from_section

    section = root.get_section("escalation_chain")
    if section is None:
        return
    try:
        chain_policy_from_section(section)
    except ValueError as exc:
        raise section.error(None, str(exc)) from None


def _check_quiet_sources(root: Section) -> None:
    """A mistake in ``quiet_sources`` fails at load time, with its line."""
    from .source_health import source_policy_from_section

    section = root.get_section("quiet_sources")
    if section is None:
        return
    try:
        source_policy_from_section(section)
    except ValueError as exc:
        raise section.error(None, str(exc)) from None


def describe(config: Config) -> dict[str, Any]:
    """What was understood, for ``ticketspike check-config`` (no secrets)."""
    return {
        "path": config.path,
        "sections": sorted(config.root),
        "plugins": sorted(config.plugins.sections),
    }
