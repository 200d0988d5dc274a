"""The plugin manager: a typed facade over pluggy that the host controls.

The host decides whether installed plugins load at all (``load_entrypoints``),
which may (``allow``) and which may not (``block``). Built-in plugins
(:mod:`ticketspike.builtin`) are registered exactly like third-party ones, so
the embedded default is just a plugin set. A misspelt hook fails at load,
naming the plugin; a registered object that does not fit its role fails
naming the plugin too. ``trace`` prints every hook call and what it
registered (like ``DATASETTE_TRACE_PLUGINS``).

Hooks are called through ``pm.hook``, so pluggy's semantics hold as pluggy documents
them: implementations run last registered first (built-ins, registered before any
plugin, run last), ``tryfirst`` and ``trylast`` move one to the front or the back, and a
``wrapper=True`` (or old-style ``hookwrapper=True``) implementation runs around all the
others and sees their outcome. What each implementation registers is attributed to its
plugin while it runs, so errors and traces still name the plugin.

The four action-handler hooks of 0.1 (``register_notifiers``, ``register_email_drafters``,
``register_task_sinks``, ``register_health_score_sinks``) are deprecated aliases of
``register_action_handlers``: an implementation of one still serves, at its own place in
the call order, and pluggy warns (``DeprecationWarning``) when it is registered.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Collection, Generator, Iterable, Mapping
from contextvars import ContextVar
from typing import IO, Any, cast

import attrs
import pluggy

from . import hookspecs
from .errors import InputError, PluginConfigError, PluginError
from .hookspecs import hookimpl
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

__all__ = ["DEPRECATED_HOOKS", "PluginConfigError", "PluginInfo", "Plugins", "ROLE_HOOKS"]

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
    "register_action_handlers": ("action handler", ActionHandler),
    "register_theme_analyzers": ("theme analyzer", ThemeAnalyzer),
    "register_classifiers": ("classifier", Classifier),
    "register_http_endpoints": ("HTTP endpoint", HttpEndpoint),
    "register_mail_transports": ("mail transport", MailTransport),
}

#: The 0.1 action-handler hooks, now aliases of ``register_action_handlers`` (role label).
DEPRECATED_HOOKS: dict[str, str] = {
    "register_notifiers": "notifier",
    "register_email_drafters": "email drafter",
    "register_task_sinks": "task sink",
    "register_health_score_sinks": "health-score sink",
}


@attrs.define
class _Running:
    """The plugin whose hook implementation is running, and what it registered so far."""

    plugin: str
    got: list[Any] = attrs.field(factory=list)


_running: ContextVar[_Running | None] = ContextVar("ticketspike_plugin_running", default=None)


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
        # Alias plugins serving a deprecated hook's implementation: alias name -> plugin name.
        self._alias_of: dict[str, str] = {}
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
        for alias in [a for a, owner in self._alias_of.items() if owner == name]:
            self.pm.unregister(name=alias)
            del self._alias_of[alias]
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
        self._attribute(plugin, name)
        for hook_name in DEPRECATED_HOOKS:
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin is plugin:
                    alias = f"{name}.{hook_name}"
                    self.pm.register(_Alias(impl), name=alias)
                    self._alias_of[alias] = name
                    self._attribute(self.pm.get_plugin(alias), name)

    def _attribute(self, plugin: object, name: str) -> None:
        """Make each of ``plugin``'s ``register_*`` implementations say who is running.

        While one runs, ``register`` knows the plugin to name in errors and traces, and an
        exception it raises becomes a :class:`PluginError` (a refused config section a
        :class:`PluginConfigError`) naming it, which is what a wrapper around it sees.
        """
        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.name not in ROLE_HOOKS:
                continue  # deprecated hooks are never called; their alias is
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    # pluggy calls ``impl.function`` for each call; replacing it once, after
                    # pluggy has checked it, is how the call stays pluggy's own.
                    impl.function = _attributed(  # type: ignore[misc]
                        impl, name, caller.name, self._trace
                    )

    def _check_pending(self) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            plugin_name = self.pm.get_name(exc.plugin) or describe(exc.plugin)
            raise PluginError(str(exc), plugin=plugin_name) from exc

    # -- querying -------------------------------------------------------------
    def collect(self, hook_name: str, config: PluginConfig) -> list[Registered]:
        """Call one ``register_*`` hook through ``pm.hook``; return what was registered.

        In pluggy's call order: later plugins before earlier ones, built-ins last,
        ``tryfirst``/``trylast`` and wrappers honoured; the first match is the most specific.
        A deprecated hook's name collects ``register_action_handlers``, which serves it.
        """
        if hook_name in DEPRECATED_HOOKS:
            hook_name = "register_action_handlers"
        role, protocol = ROLE_HOOKS[hook_name]
        out: list[Registered] = []

        def register(obj: Any) -> None:
            running = _running.get()
            plugin = running.plugin if running is not None else "<unknown>"
            if not isinstance(obj, protocol):
                raise PluginError(
                    f"{hook_name}: {describe(obj)!r} is not {_article(role)} {role} "
                    f"(see ticketspike.roles.{protocol.__name__})",
                    plugin=plugin,
                )
            if running is not None:
                running.got.append(obj)
            out.append(Registered(plugin, plugin in self._builtin_names, obj))

        getattr(self.pm.hook, hook_name)(register=register, config=config)
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
        """The handler serving each action kind: the first registered for it wins.

        A handler's ``kinds`` name action types (:class:`~ticketspike.DirectMessage`...) or,
        as in 0.1, their kind strings; both map to the kind string here.
        """
        chosen: dict[str, ActionHandler] = {}
        for reg in self.collect("register_action_handlers", config):
            for kind in sorted(kind_names(reg.obj.kinds)):
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
            if name in self._alias_of:
                continue
            roles = sorted(
                {
                    ROLE_HOOKS[c.name][0] if c.name in ROLE_HOOKS else DEPRECATED_HOOKS[c.name]
                    for c in (self.pm.get_hookcallers(plugin) or [])
                    if c.name in ROLE_HOOKS or c.name in DEPRECATED_HOOKS
                }
            )
            dist, version = self._dist.get(name, (None, None))
            if name in self._builtin_names:
                dist, version = "ticketspike", _core_version()
            out.append(PluginInfo(name, dist, version, tuple(roles), name in self._builtin_names))
        return out


def kind_names(kinds: Iterable[object]) -> frozenset[str]:
    """The kind strings of a handler's ``kinds``: action types or (as in 0.1) kind strings."""
    names = set()
    for kind in kinds:
        if isinstance(kind, str):
            names.add(kind)
        elif isinstance(kind, type) and isinstance(getattr(kind, "kind", None), str):
            names.add(str(kind.kind))  # type: ignore[attr-defined]
        else:
            raise TypeError(f"{kind!r} is neither an action type nor a kind string")
    return frozenset(names)


class _Alias:
    """Serves a deprecated hook's implementation as a ``register_action_handlers`` one.

    Registered right after its plugin, with the implementation's own ``tryfirst``,
    ``trylast`` and wrapper markers, so it runs where the plugin's own would.
    """

    def __init__(self, impl: pluggy.HookImpl) -> None:
        function, argnames = impl.function, impl.argnames
        self.register_action_handlers: Callable[..., Any]
        mark = hookimpl(
            tryfirst=impl.tryfirst,
            trylast=impl.trylast,
            wrapper=impl.wrapper,
            hookwrapper=impl.hookwrapper,
        )
        if impl.wrapper or impl.hookwrapper:

            def call_wrapper(register: Any, config: Any) -> Generator[Any, Any, Any]:
                given = {"register": register, "config": config}
                steps = cast(Generator[Any, Any, Any], function(*(given[a] for a in argnames)))
                return (yield from steps)

            self.register_action_handlers = mark(call_wrapper)
        else:

            def call(register: Any, config: Any) -> Any:
                given = {"register": register, "config": config}
                return function(*(given[a] for a in argnames))

            self.register_action_handlers = mark(call)


def _attributed(
    impl: pluggy.HookImpl, plugin: str, hook_name: str, trace: IO[str] | None
) -> Callable[..., Any]:
    """``impl``'s function, run as ``plugin``: see :meth:`Plugins._attribute`."""
    function = impl.function

    def failed(exc: Exception) -> PluginError:
        if isinstance(exc, PluginError):
            return exc
        if isinstance(exc, InputError):
            # A bad config section: keep its file:line:key message (and exit status 2)
            # while still naming the plugin.
            return PluginConfigError(exc, plugin=plugin)
        return PluginError(f"{hook_name} raised {type(exc).__name__}: {exc}", plugin=plugin)

    def done(running: _Running) -> None:
        if trace is not None:
            names = ", ".join(describe(o) for o in running.got) or "nothing"
            print(f"[ticketspike] {hook_name} <- {plugin}: {names}", file=trace)

    if impl.wrapper or impl.hookwrapper:

        def run_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            running = _Running(plugin)
            token = _running.set(running)
            try:
                result = yield from cast(Generator[Any, Any, Any], function(*args, **kwargs))
            except Exception as exc:
                error = failed(exc)
                if error is exc:
                    raise
                raise error from exc
            finally:
                _running.reset(token)
            done(running)
            return result

        return run_wrapper

    def run(*args: Any, **kwargs: Any) -> Any:
        running = _Running(plugin)
        token = _running.set(running)
        try:
            result = function(*args, **kwargs)
        except Exception as exc:
            error = failed(exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            _running.reset(token)
        done(running)
        return result

    return run


def _names(text: str) -> set[str]:
    return {n.strip() for n in text.split(",") if n.strip()}


def _core_version() -> str | None:
    try:
        return importlib.metadata.version("ticketspike")
    except importlib.metadata.PackageNotFoundError:
        return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiouAEIOU" else "a"
