"""The plugin contract: loading, host control, errors that name the plugin, and every hook.

Every hook in ``ticketspike.hookspecs`` has a ``test_hook_<name>`` here, and every hook's exact
signature appears in ``docs/plugins.md`` (both checked by the meta-tests at the end).
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ticketspike import hookimpl, hookspecs
from ticketspike.errors import PluginError
from ticketspike.model import Account, Category, Ticket
from ticketspike.planner.plan import Action
from ticketspike.plugins import Plugins
from ticketspike.roles import (
    ActionContext,
    ActionResult,
    Classification,
    PluginConfig,
    Theme,
)
from ticketspike.testing import (
    FakeSource,
    FixedClock,
    RecordingNotifier,
    StaticPlugin,
    clean_plugins,
    memory_engine,
    sample_account,
    ticket_event,
)

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(name for name in hookspecs.__all__ if name.startswith("register_"))
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SPIKE_DAY = START + timedelta(days=40)


def spike_events(subject: str = "API errors on orders") -> list:  # type: ignore[type-arg]
    events = [
        ticket_event(
            f"H{d}-{k}",
            "techcorp",
            START + timedelta(days=d, hours=9 + 4 * k),
            category="training",
            subject="How do I export reports",
        )
        for d in range(40)
        for k in range(2)
    ]
    events += [
        ticket_event(f"S{i}", "techcorp", SPIKE_DAY + timedelta(minutes=50 * i), subject=subject)
        for i in range(15)
    ]
    return events


# -- errors at load time --------------------------------------------------------------------
class Misspelt:
    @hookimpl
    def register_notifier(self, register: Callable[[Any], None]) -> None:  # missing "s"
        """A typo that must not be ignored."""


class WrongArgument:
    @hookimpl
    def register_action_handlers(self, register: Callable[[Any], None], channel: str) -> None:
        """Asks for an argument the hook does not have."""


def test_a_misspelt_hook_fails_at_load_naming_the_plugin_and_the_hook() -> None:
    with pytest.raises(PluginError) as caught:
        clean_plugins(Misspelt())
    message = str(caught.value)
    assert caught.value.plugin == "Misspelt"
    assert "unknown hook 'register_notifier'" in message and "plugin 'Misspelt'" in message


def test_an_argument_the_hook_lacks_fails_at_registration() -> None:
    with pytest.raises(PluginError) as caught:
        clean_plugins(WrongArgument())
    assert caught.value.plugin == "WrongArgument"
    assert "channel" in str(caught.value)


def test_an_object_that_does_not_fit_its_role_is_refused_naming_the_plugin() -> None:
    class NotANotifier:
        name = "half"  # no kinds, no execute

    plugins = clean_plugins(StaticPlugin(notifiers=[NotANotifier()]))  # type: ignore[list-item]
    with pytest.raises(PluginError) as caught:
        plugins.action_handlers(PluginConfig())
    assert caught.value.plugin == "StaticPlugin"
    assert "'half' is not an action handler" in str(caught.value)


def test_a_hook_that_raises_is_reported_with_the_plugin_name() -> None:
    class Exploding:
        @hookimpl
        def register_ticket_sources(self, register: Callable[[Any], None]) -> None:
            raise RuntimeError("config missing")

    plugins = clean_plugins(Exploding())
    with pytest.raises(PluginError, match="register_ticket_sources raised RuntimeError"):
        plugins.ticket_sources(PluginConfig())


# -- the host decides what loads --------------------------------------------------------------
def _install(site: Path, name: str, body: str) -> None:
    (site / f"{name}_mod.py").write_text(body)
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[ticketspike]\n{name} = {name}_mod\n")


GOOD = """
from ticketspike import ActionResult, hookimpl

class Notifier:
    name = "{name}"
    kinds = frozenset({{"direct_message"}})
    def execute(self, action, ctx):
        return ActionResult(summary="{name}")

@hookimpl
def register_action_handlers(register):
    register(Notifier())
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    for mod in [m for m in sys.modules if m.endswith("_mod")]:
        sys.modules.pop(mod, None)


def _loaded(plugins: Plugins) -> set[str]:
    return {i.name for i in plugins.infos() if not i.builtin}


def test_allow_and_block_lists_decide_which_entry_points_load(site: Path) -> None:
    _install(site, "alpha", GOOD.format(name="alpha"))
    _install(site, "beta", GOOD.format(name="beta"))
    assert {"alpha", "beta"} <= _loaded(Plugins())
    assert _loaded(Plugins(allow={"alpha"})) == {"alpha"}
    assert "alpha" not in _loaded(Plugins(block={"alpha"}))
    assert _loaded(Plugins(load_entrypoints=False)) == set()
    info = next(i for i in Plugins(allow={"beta"}).infos() if i.name == "beta")
    assert (info.distribution, info.version, info.roles) == ("beta", "0.1", ("action handler",))


def test_the_operator_controls_loading_through_the_environment(site: Path) -> None:
    _install(site, "alpha", GOOD.format(name="alpha"))
    _install(site, "beta", GOOD.format(name="beta"))
    assert _loaded(Plugins.from_env({"TICKETSPIKE_LOAD_PLUGINS": "beta"})) == {"beta"}
    assert _loaded(Plugins.from_env({"TICKETSPIKE_LOAD_PLUGINS": ""})) == set()
    blocked = _loaded(Plugins.from_env({"TICKETSPIKE_BLOCK_PLUGINS": "alpha, beta"}))
    assert not {"alpha", "beta"} & blocked


def test_an_installed_plugin_with_a_misspelt_hook_fails_naming_it(site: Path) -> None:
    _install(
        site,
        "typo",
        "from ticketspike import hookimpl\n\n@hookimpl\n"
        "def register_notifier(register):\n    pass\n",
    )
    with pytest.raises(PluginError) as caught:
        Plugins(allow={"typo"})
    assert caught.value.plugin == "typo" and "register_notifier" in str(caught.value)


def test_an_entry_point_that_cannot_be_imported_is_named(site: Path) -> None:
    _install(site, "broken", "import a_module_that_does_not_exist\n")
    with pytest.raises(PluginError) as caught:
        Plugins(allow={"broken"})
    assert caught.value.plugin == "broken"
    assert "failed to load entry point 'broken_mod': ModuleNotFoundError" in str(caught.value)


def test_the_plugins_command_lists_broken_plugins_with_their_error(
    site: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ticketspike.cli import main

    _install(site, "alpha", GOOD.format(name="alpha"))
    _install(
        site,
        "typo",
        "from ticketspike import hookimpl\n\n@hookimpl\n"
        "def register_notifier(register):\n    pass\n",
    )
    _install(site, "broken", "import a_module_that_does_not_exist\n")
    monkeypatch.setenv("TICKETSPIKE_LOAD_PLUGINS", "alpha,typo,broken")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "alpha: alpha 0.1 - action handler" in out
    assert any(line.startswith("typo: BROKEN - ") and "register_notifier" in line for line in out)
    assert any(
        line.startswith("broken: BROKEN - ") and "ModuleNotFoundError" in line for line in out
    )
    assert main(["plugins", "--format", "json"]) == 0
    listed = {item["name"]: item for item in json.loads(capsys.readouterr().out)}
    assert listed["typo"]["broken"] is True and "register_notifier" in listed["typo"]["error"]
    # Running anything else with the broken plugin still fails, naming it.
    with pytest.raises(PluginError, match="broken|typo"):
        Plugins.from_env()


def test_plugins_trace_shows_what_each_plugin_registers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ticketspike.cli import main

    monkeypatch.setenv("TICKETSPIKE_LOAD_PLUGINS", "")
    assert main(["plugins", "--all", "--trace"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "[ticketspike] register_ticket_sources <- ticket: ticket" in err
    assert "[ticketspike] register_action_handlers <- console: console" in err
    monkeypatch.setenv("TICKETSPIKE_TRACE_PLUGINS", "1")
    assert main(["plugins", "--all"]) == 0
    assert (
        "[ticketspike] register_action_handlers <- outbox: outbox, outbox"
        in capsys.readouterr().err
    )


def test_built_ins_are_plugins_too_and_can_be_blocked() -> None:
    infos = {i.name: i for i in clean_plugins().infos()}
    assert {
        "console",
        "outbox",
        "email_drafter",
        "ticket",
        "accounts",
        "email",
        "analysis",
    } <= set(infos)
    assert infos["console"].builtin and infos["console"].distribution == "ticketspike"
    handlers = clean_plugins(block=["console"]).action_handlers(PluginConfig())
    assert "direct_message" not in handlers and "create_task" in handlers


def test_a_plugin_beats_a_built_in_for_the_same_kind() -> None:
    mine = RecordingNotifier(kinds=frozenset({"direct_message"}))
    handlers = clean_plugins(StaticPlugin(notifiers=[mine])).action_handlers(PluginConfig())
    assert handlers["direct_message"] is mine
    assert handlers["channel_post"].name == "console"


def test_two_unnamed_plugins_of_one_class_both_register() -> None:
    a, b = RecordingNotifier(name="a"), RecordingNotifier(name="b", kinds=frozenset({"x"}))
    plugins = clean_plugins(StaticPlugin(notifiers=[a]), StaticPlugin(notifiers=[b]))
    assert {"StaticPlugin", "StaticPlugin-2"} <= _loaded(plugins)


def test_tracing_prints_every_hook_call_and_what_it_registered() -> None:
    stream = io.StringIO()
    plugins = Plugins(
        load_entrypoints=False,
        trace=stream,
        plugins=[StaticPlugin(notifiers=[RecordingNotifier()])],
    )
    plugins.action_handlers(PluginConfig())
    lines = stream.getvalue().splitlines()
    assert "[ticketspike] register_action_handlers <- StaticPlugin: recording" in lines
    assert "[ticketspike] register_action_handlers <- console: console" in lines
    # pluggy's order: the plugin (registered last) is called before the built-in.
    assert lines.index("[ticketspike] register_action_handlers <- StaticPlugin: recording") < (
        lines.index("[ticketspike] register_action_handlers <- console: console")
    )


def test_source_names_must_be_unique_among_plugins() -> None:
    plugins = clean_plugins(
        StaticPlugin(sources=[FakeSource(name="dup")]),
        StaticPlugin(sources=[FakeSource(name="dup")]),
    )
    with pytest.raises(PluginError, match="ticket source name 'dup' is taken"):
        plugins.ticket_sources(PluginConfig())
    shadow = FakeSource(name="ticket")
    sources = clean_plugins(StaticPlugin(sources=[shadow])).ticket_sources(PluginConfig())
    assert sources["ticket"] is shadow  # a plugin may replace a built-in source


# -- one test per hook ---------------------------------------------------------------------------
def test_hook_register_ticket_sources() -> None:
    source = FakeSource(name="helpdesk")
    engine = memory_engine(StaticPlugin(sources=[source]))
    assert engine.sources["helpdesk"] is source
    body = json.dumps(ticket_event("T1").ticket.to_json()).encode()
    result = engine.ingest_webhook("helpdesk", body, {}, now=START)
    assert result.stored == 1
    stored = engine.store.get_ticket("helpdesk", "T1")
    assert stored is not None


def test_hook_register_account_directories() -> None:
    class Crm:
        name = "crm"

        def get_account(self, customer_id: str) -> Account | None:
            return Account(id=customer_id, name="From CRM") if customer_id == "c1" else None

    engine = memory_engine(StaticPlugin(directories=[Crm()]), accounts=[sample_account("c2")])
    first = engine.account("c1")
    second = engine.account("c2")
    assert first is not None and first.name == "From CRM"
    assert second is not None and second.name == "TechCorp Inc"  # the next directory answers
    assert engine.account("c3") is None


def test_hook_register_action_handlers() -> None:
    notifier = RecordingNotifier()
    engine = memory_engine(
        StaticPlugin(action_handlers=[notifier]),
        accounts=[sample_account()],
        clock=FixedClock(SPIKE_DAY + timedelta(hours=14)),
    )
    engine.ingest_many(spike_events())
    kinds = {d.action.kind for d in notifier.delivered}
    assert {"direct_message", "channel_post", "notify_team"} <= kinds


class _Deprecated:
    """A 0.1 plugin: one deprecated hook, implemented as 0.1 plugins did."""

    def __init__(self, hook: str, handler: Any) -> None:
        def register_handlers(register: Callable[[Any], None], config: PluginConfig) -> None:
            register(handler)

        setattr(self, hook, hookimpl(register_handlers))


def _deprecated(hook: str, handler: Any) -> _Deprecated:
    """A 0.1 plugin on ``hook``; registering it must warn (checked by every caller)."""
    return _Deprecated(hook, handler)


def _run_deprecated(hook: str, handler: Any) -> Any:
    with pytest.warns(DeprecationWarning, match=f"the {hook} hook is deprecated"):
        engine = memory_engine(
            _deprecated(hook, handler),
            accounts=[sample_account()],
            clock=FixedClock(SPIKE_DAY + timedelta(hours=14)),
        )
    engine.ingest_many(spike_events())
    return engine


def test_hook_register_notifiers() -> None:
    """Deprecated alias of register_action_handlers: warns at registration, still serves."""
    notifier = RecordingNotifier()
    _run_deprecated("register_notifiers", notifier)
    kinds = {d.action.kind for d in notifier.delivered}
    assert {"direct_message", "channel_post", "notify_team"} <= kinds


class _Sink:
    def __init__(self, name: str, kinds: set[str]) -> None:
        self.name, self.kinds, self.seen = name, frozenset(kinds), []  # type: ignore[var-annotated]

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        self.seen.append(action)
        return ActionResult(ref={"id": f"{self.name}-{len(self.seen)}"}, summary=self.name)


def _run_with(**roles: Sequence[Any]) -> Any:
    engine = memory_engine(
        StaticPlugin(**roles),
        accounts=[sample_account()],
        clock=FixedClock(SPIKE_DAY + timedelta(hours=14)),
    )
    engine.ingest_many(spike_events())
    return engine


def test_hook_register_email_drafters() -> None:
    drafter = _Sink("gmail-drafts", {"draft_email"})
    engine = _run_deprecated("register_email_drafters", drafter)
    assert [a.kind for a in drafter.seen] == ["draft_email"]
    assert drafter.seen[0].requires_approval is True
    handled = {e.kind: e.handler for e in engine.store.outbox()}
    assert handled["draft_email"] == "gmail-drafts"


def test_hook_register_task_sinks() -> None:
    sink = _Sink("tracker", {"create_task"})
    engine = _run_deprecated("register_task_sinks", sink)
    assert [a.kind for a in sink.seen] == ["create_task"]
    assert {e.kind: e.handler for e in engine.store.outbox()}["create_task"] == "tracker"


def test_hook_register_health_score_sinks() -> None:
    sink = _Sink("crm-health", {"adjust_health_score"})
    _run_deprecated("register_health_score_sinks", sink)
    assert [(a.kind, a.delta) for a in sink.seen] == [("adjust_health_score", -15)]


def test_hook_register_theme_analyzers() -> None:
    class Llm:
        name = "llm"

        def analyze(
            self, window: Sequence[Ticket], baseline: Sequence[Ticket], *, limit: int = 5
        ) -> list[Theme]:
            return [Theme(phrase="order sync outage", count=len(window))]

    notifier = RecordingNotifier()
    _run_with(theme_analyzers=[Llm()], notifiers=[notifier])
    first = notifier.delivered[0].action
    assert first.message.themes == ("order sync outage",)  # type: ignore[union-attr]


def test_hook_register_classifiers() -> None:
    class Keyword:
        name = "keyword"

        def classify(self, ticket: Ticket) -> Classification | None:
            return Classification(Category.FEATURE_REQUEST, 0.99, "keyword")

    engine = memory_engine(StaticPlugin(classifiers=[Keyword()]))
    engine.ingest(ticket_event("T1", "acme", START, category="other", subject="Hello"))
    stored = engine.store.get_ticket("api", "T1")
    assert stored is not None and stored.ticket.category is Category.FEATURE_REQUEST


# -- meta-tests ------------------------------------------------------------------------------------
def test_every_hook_has_a_test_named_after_it() -> None:
    here = set(globals())
    missing = [h for h in HOOKS if f"test_hook_{h}" not in here]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


def _signature(name: str) -> str:
    func = getattr(hookspecs, name)
    params = inspect.signature(func).parameters
    annotations = func.__annotations__
    args = ", ".join(f"{p}: {annotations[p]}" for p in params)
    return f"{name}({args}) -> {annotations['return']}"


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text()
    missing = [_signature(h) for h in HOOKS if _signature(h) not in docs]
    assert not missing, f"docs/plugins.md lacks: {missing}"


def test_plugin_config_is_what_the_hooks_receive() -> None:
    seen: list[PluginConfig] = []

    class Spy:
        @hookimpl
        def register_action_handlers(
            self, register: Callable[[Any], None], config: PluginConfig
        ) -> None:
            seen.append(config)

    config = PluginConfig(env={"X": "1"})
    clean_plugins(Spy()).action_handlers(config)
    assert seen == [config]


def test_hook_register_mail_transports() -> None:
    from ticketspike.testing import RecordingMailTransport

    transport = RecordingMailTransport()
    engine = _run_with(mail_transports=[transport])
    assert engine.mail is transport
    assert len(transport.drafts) == 1  # the acknowledgement, saved through the transport
    handled = {e.kind: e.handler for e in engine.store.outbox()}
    assert handled["draft_email"] == "mailbox_drafter"
    (draft,) = engine.drafts()
    assert draft.message_id == str(next(iter(transport.drafts.values()))["Message-ID"])
    # A plugin's own drafter still wins over the transport-backed built-in one.
    drafter = _Sink("own-drafts", {"draft_email"})
    engine = _run_with(mail_transports=[RecordingMailTransport()], email_drafters=[drafter])
    assert [a.kind for a in drafter.seen] == ["draft_email"]


def test_hook_register_http_endpoints() -> None:
    from ticketspike.http import create_app
    from ticketspike.roles import HttpReply

    class Echo:
        name = "echo"
        path = "/api/webhooks/echo/calls"

        def __init__(self) -> None:
            self.engine: object = None
            self.stopped = False

        def start(self, engine: object) -> None:
            self.engine = engine

        def handle(self, body: bytes, headers: Mapping[str, str]) -> HttpReply:
            return HttpReply(status=202, body=body[::-1], content_type="text/plain")

        def stop(self) -> None:
            self.stopped = True

    echo = Echo()

    class Plugin:
        @hookimpl
        def register_http_endpoints(self, register: Callable[[object], None]) -> None:
            register(echo)

    engine = memory_engine(Plugin())
    app = create_app(engine, env={})
    assert echo.engine is engine
    assert app.state.endpoints == {"echo": echo}
    assert [r.path for r in app.routes][0] == "/api/webhooks/echo/calls"  # type: ignore[attr-defined]

    class Twice:
        @hookimpl
        def register_http_endpoints(self, register: Callable[[object], None]) -> None:
            register(echo)
            register(echo)

    with pytest.raises(PluginError, match="is taken"):
        memory_engine(Twice()).plugins.http_endpoints(engine.plugin_config)

    class NotAnEndpoint:
        @hookimpl
        def register_http_endpoints(self, register: Callable[[object], None]) -> None:
            register(object())

    with pytest.raises(PluginError, match="not a HTTP endpoint"):
        memory_engine(NotAnEndpoint()).plugins.http_endpoints(engine.plugin_config)
