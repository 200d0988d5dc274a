"""The plugin manager: a typed facade over pluggy that the host controls.

The host decides whether installed plugins load at all (``load_entrypoints``),
which may (``allow``) and which may not (``block``). Built-in plugins
(:mod:`ticketspike.builtin`) are registered exactly like third-party ones, so
the embedded default is just a plugin set. A misspelt hook fails at load,
naming the plugin; a registered object that does not fit its role fails
naming the plugin too. ``trace`` prints every hook call and what it
registered (like ``DATASETTE_TRACE_PLUGINS``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Collection, Iterable, Mapping
from typing import IO, Any

import attrs
import pluggy

from . import hookspecs
from .errors import ConfigError, InputError, PluginError
from .roles import (
    AccountDirectory,
    ActionHandler,
    Classifier,
    HttpEndpoint,
    MailTransport,
    PluginConfig,
    ThemeAnalyzer,
    TicketSource,
    describe,
)

__all__ = ["PluginConfigError", "PluginInfo", "Plugins", "ROLE_HOOKS"]

# Built-in plugin modules, registered like any other plugin (llm/datasette style).
DEFAULT_PLUGINS: tuple[str, ...] = (
    "ticketspike.builtin.jsonl_source",
    "ticketspike.builtin.accounts_file",
    "ticketspike.builtin.console",
    "ticketspike.builtin.email_drafter",
    "ticketspike.builtin.mail_transport",
    "ticketspike.builtin.outbox",
    "ticketspike.builtin.analysis",
)

# A built-in is named for the config section it reads, so one name serves everywhere
# (`plugins --all`, `plugins.<name>:` in the config, TICKETSPIKE_BLOCK_PLUGINS).
BUILTIN_NAMES: dict[str, str] = {
    "jsonl_source": "ticket",
    "accounts_file": "accounts",
    "mail_transport": "email",
}

# hook name -> (role label, protocol)
ROLE_HOOKS: dict[str, tuple[str, type]] = {
    "register_ticket_sources": ("ticket source", TicketSource),
    "register_account_directories": ("account directory", AccountDirectory),
    "register_notifiers": ("notifier", ActionHandler),
    "register_email_drafters": ("email drafter", ActionHandler),
    "register_task_sinks": ("task sink", ActionHandler),
    "register_health_score_sinks": ("health-score sink", ActionHandler),
    "register_theme_analyzers": ("theme analyzer", ThemeAnalyzer),
    "register_classifiers": ("classifier", Classifier),
    "register_http_endpoints": ("HTTP endpoint", HttpEndpoint),
    "register_mail_transports": ("mail transport", MailTransport),
}


class PluginConfigError(ConfigError, PluginError):
    """A plugin refused its configuration section: both a config error and a plugin error.

    ``str()`` is the section's own ``file:line: key: message``; ``plugin`` names the plugin.
    """

    def __init__(self, error: InputError, *, plugin: str) -> None:
        ConfigError.__init__(self, error.message, where=error.where, field=error.field)
        self.plugin = plugin


@attrs.frozen
class PluginInfo:
    """A loaded plugin: its name, distribution, version and the roles it provides."""

    name: str
    distribution: str | None
    version: str | None
    roles: tuple[str, ...]
    builtin: bool

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class Registered:
    """An object some plugin registered for a role."""

    plugin: str
    builtin: bool
    obj: Any


class Plugins:
    """Load, validate and query plugins.

    :param load_entrypoints: load installed distributions from the
        ``ticketspike`` entry-point group. Tests and strict hosts pass False.
    :param allow: when given, only these entry-point names load.
    :param block: these entry-point names never load.
    :param builtins: register the built-in plugins (embedded default).
    :param plugins: extra plugin objects or modules to register (host-provided).
    :param trace: a stream to print hook calls to, or None.
    :param tolerant: an installed plugin that fails to load (an import error, a misspelt
        hook) is left out and listed in :attr:`broken` instead of raising; for diagnosing
        (``ticketspike plugins``), not for running.
    """

    def __init__(
        self,
        *,
        load_entrypoints: bool = True,
        allow: Collection[str] | None = None,
        block: Collection[str] = (),
        builtins: bool = True,
        plugins: Iterable[object] = (),
        trace: IO[str] | None = None,
        tolerant: bool = False,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.tolerant = tolerant
        self.broken: list[PluginError] = []
        self.pm.add_hookspecs(hookspecs)
        self._trace = trace
        self._builtin_names: set[str] = set()
        self._dist: dict[str, tuple[str, str]] = {}
        for name in block:
            self.pm.set_blocked(name)
        if builtins:
            for module_name in DEFAULT_PLUGINS:
                try:
                    module = importlib.import_module(module_name)
                except ModuleNotFoundError as exc:
                    if exc.name != module_name:
                        raise
                    continue  # a built-in not shipped in this build
                short = module_name.rsplit(".", 1)[-1]
                self._register(module, BUILTIN_NAMES.get(short, short), builtin=True)
        if load_entrypoints:
            self._load_entrypoints(allow=allow, block=set(block))
        for plugin in plugins:
            self.register(plugin)
        self._check_pending()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: Any) -> Plugins:
        """A plugin set the operator controls through the environment (the CLI's default).

        ``TICKETSPIKE_LOAD_PLUGINS`` (comma-separated; set but empty loads none) is the allow
        list, ``TICKETSPIKE_BLOCK_PLUGINS`` the block list, and ``TICKETSPIKE_TRACE_PLUGINS=1``
        prints hook calls to stderr. Keyword arguments override.
        """
        env = os.environ if env is None else env
        if "TICKETSPIKE_LOAD_PLUGINS" in env:
            options.setdefault("allow", _names(env["TICKETSPIKE_LOAD_PLUGINS"]))
        if env.get("TICKETSPIKE_BLOCK_PLUGINS"):
            options.setdefault("block", _names(env["TICKETSPIKE_BLOCK_PLUGINS"]))
        if env.get("TICKETSPIKE_TRACE_PLUGINS"):
            options.setdefault("trace", sys.stderr)
        return cls(**options)

    # -- loading ------------------------------------------------------------
    def _load_entrypoints(self, *, allow: Collection[str] | None, block: set[str]) -> None:
        for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT_NAME):
            if ep.name in block or (allow is not None and ep.name not in allow):
                continue
            if self.pm.get_plugin(ep.name) is not None or self.pm.is_blocked(ep.name):
                continue
            try:
                try:
                    module = ep.load()
                except Exception as exc:  # noqa: BLE001 - any import failure is the plugin's
                    raise PluginError(
                        f"failed to load entry point {ep.value!r}: {type(exc).__name__}: {exc}",
                        plugin=ep.name,
                    ) from exc
                self._register(module, ep.name, builtin=False)
                if self.tolerant:
                    self._check_pending()  # this plugin's hooks, while it is the newest
            except PluginError as exc:
                if not self.tolerant:
                    raise
                if self.pm.has_plugin(ep.name):
                    self.pm.unregister(name=ep.name)
                self.broken.append(exc)
                continue
            if ep.dist is not None:
                self._dist[ep.name] = (ep.dist.name, ep.dist.version)

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a host-provided plugin object or module; returns its name."""
        plugin_name = name or getattr(plugin, "__name__", None) or describe(plugin)
        if name is None:
            # Two unnamed objects of one class are two plugins, not a clash (llm's habit).
            base, n = plugin_name, 1
            while self.pm.has_plugin(plugin_name) or self.pm.is_blocked(plugin_name):
                n += 1
                plugin_name = f"{base}-{n}"
        self._register(plugin, plugin_name, builtin=False)
        self._check_pending()
        return plugin_name

    @property
    def trace(self) -> IO[str] | None:
        """Where hook calls are printed (``None``: nowhere)."""
        return self._trace

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)

    def _register(self, plugin: object, name: str, *, builtin: bool) -> None:
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(str(exc), plugin=name) from exc
        except ValueError as exc:  # already registered / blocked
            # pluggy appends its whole registry to this message; the first line says it all.
            raise PluginError(str(exc).splitlines()[0].split("=")[0], plugin=name) from exc
        if builtin:
            self._builtin_names.add(name)

    def _check_pending(self) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            plugin_name = self.pm.get_name(exc.plugin) or describe(exc.plugin)
            raise PluginError(str(exc), plugin=plugin_name) from exc

    # -- querying -------------------------------------------------------------
    def collect(self, hook_name: str, config: PluginConfig) -> list[Registered]:
        """Call one ``register_*`` hook; return what each plugin registered.

        Plugins come first, in the order they were registered, built-ins
        last, so the first match is the most specific.
        """
        role, protocol = ROLE_HOOKS[hook_name]
        caller = getattr(self.pm.hook, hook_name)
        out: list[Registered] = []
        # Registration order (pluggy lists it so), then built-ins after every plugin.
        impls = list(caller.get_hookimpls())
        impls.sort(key=lambda impl: impl.plugin_name in self._builtin_names)
        for impl in impls:
            plugin = impl.plugin_name
            builtin = plugin in self._builtin_names
            got: list[Any] = []

            def register(obj: Any, _got: list[Any] = got, _plugin: str = plugin) -> None:
                if not isinstance(obj, protocol):
                    raise PluginError(
                        f"{hook_name}: {describe(obj)!r} is not a {role} "
                        f"(see ticketspike.roles.{protocol.__name__})",
                        plugin=_plugin,
                    )
                _got.append(obj)

            kwargs = {"register": register, "config": config}
            try:
                impl.function(**{a: kwargs[a] for a in impl.argnames})
            except PluginError:
                raise
            except InputError as exc:
                # A bad config section: keep its file:line:key message (and exit status 2)
                # while still naming the plugin.
                raise PluginConfigError(exc, plugin=plugin) from exc
            except Exception as exc:
                raise PluginError(
                    f"{hook_name} raised {type(exc).__name__}: {exc}", plugin=plugin
                ) from exc
            if self._trace is not None:
                names = ", ".join(describe(o) for o in got) or "nothing"
                print(f"[ticketspike] {hook_name} <- {plugin}: {names}", file=self._trace)
            out.extend(Registered(plugin, builtin, obj) for obj in got)
        return out

    def ticket_sources(self, config: PluginConfig) -> dict[str, TicketSource]:
        found: dict[str, TicketSource] = {}
        for reg in self.collect("register_ticket_sources", config):
            name = reg.obj.name
            if name in found:
                if reg.builtin:
                    continue
                raise PluginError(f"ticket source name {name!r} is taken", plugin=reg.plugin)
            found[name] = reg.obj
        return found

    def account_directories(self, config: PluginConfig) -> list[AccountDirectory]:
        return [r.obj for r in self.collect("register_account_directories", config)]

    def action_handlers(self, config: PluginConfig) -> dict[str, ActionHandler]:
        """The handler serving each action kind: plugins over built-ins, first wins."""
        chosen: dict[str, ActionHandler] = {}
        regs: list[Registered] = []
        for hook in (
            "register_notifiers",
            "register_email_drafters",
            "register_task_sinks",
            "register_health_score_sinks",
        ):
            regs.extend(self.collect(hook, config))
        regs.sort(key=lambda r: r.builtin)
        for reg in regs:
            for kind in sorted(reg.obj.kinds):
                chosen.setdefault(kind, reg.obj)
        return chosen

    def theme_analyzers(self, config: PluginConfig) -> list[ThemeAnalyzer]:
        return [r.obj for r in self.collect("register_theme_analyzers", config)]

    def classifiers(self, config: PluginConfig) -> list[Classifier]:
        return [r.obj for r in self.collect("register_classifiers", config)]

    def http_endpoints(self, config: PluginConfig) -> list[HttpEndpoint]:
        """Endpoints adapters add to the HTTP app; two with one path are an error."""
        found: dict[str, HttpEndpoint] = {}
        for reg in self.collect("register_http_endpoints", config):
            path = reg.obj.path
            if path in found:
                raise PluginError(f"HTTP endpoint path {path!r} is taken", plugin=reg.plugin)
            found[path] = reg.obj
        return list(found.values())

    def mail_transports(self, config: PluginConfig) -> list[MailTransport]:
        """Registered mail transports, plugins first; the first one serves."""
        return [r.obj for r in self.collect("register_mail_transports", config)]

    def infos(self) -> list[PluginInfo]:
        """Every registered plugin with its distribution, version and roles."""
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda np: np[0]):
            if plugin is None:
                continue
            roles = sorted(
                {
                    ROLE_HOOKS[c.name][0]
                    for c in (self.pm.get_hookcallers(plugin) or [])
                    if c.name in ROLE_HOOKS
                }
            )
            dist, version = self._dist.get(name, (None, None))
            if name in self._builtin_names:
                dist, version = "ticketspike", _core_version()
            out.append(PluginInfo(name, dist, version, tuple(roles), name in self._builtin_names))
        return out


def _names(text: str) -> set[str]:
    return {n.strip() for n in text.split(",") if n.strip()}


def _core_version() -> str | None:
    try:
        return importlib.metadata.version("ticketspike")
    except importlib.metadata.PackageNotFoundError:
        return None
