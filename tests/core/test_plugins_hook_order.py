"""Hooks are called as pluggy documents: call order, tryfirst, trylast, wrappers, aliases.

https://pluggy.readthedocs.io/en/stable/#call-time-order: implementations run last
registered first; ``tryfirst``/``trylast`` move one to the front/back; a ``wrapper=True``
implementation runs around the others and sees their outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime, timezone
from typing import Any

import pytest

from ticketspike import hookimpl
from ticketspike.errors import PermanentDeliveryError, PluginConfigError, PluginError
from ticketspike.executor import Executor
from ticketspike.planner.plan import Action, DirectMessage
from ticketspike.roles import ActionContext, ActionHandler, ActionResult, PluginConfig
from ticketspike.store import MemoryStore
from ticketspike.testing import (
    FailingNotifier,
    FixedClock,
    RecordingNotifier,
    RecordingSleep,
    StaticPlugin,
    clean_plugins,
    sample_account,
    sample_plan,
    sample_transition,
)

Register = Callable[[ActionHandler], None]


def notifier(name: str) -> RecordingNotifier:
    return RecordingNotifier(name=name, kinds=frozenset({"direct_message"}))


class Plain:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    @hookimpl
    def register_action_handlers(self, register: Register) -> None:
        self.log.append(self.name)
        register(notifier(self.name))


class First(Plain):
    @hookimpl(tryfirst=True)
    def register_action_handlers(self, register: Register) -> None:
        self.log.append(self.name)
        register(notifier(self.name))


class Last(Plain):
    @hookimpl(trylast=True)
    def register_action_handlers(self, register: Register) -> None:
        self.log.append(self.name)
        register(notifier(self.name))


def serving(*plugins: object) -> str:
    return clean_plugins(*plugins).action_handlers(PluginConfig())["direct_message"].name


def test_the_last_registered_plugin_is_called_first_and_built_ins_last() -> None:
    log: list[str] = []
    plugins = clean_plugins(Plain("a", log), Plain("b", log))
    assert plugins.action_handlers(PluginConfig())["direct_message"].name == "b"
    assert log == ["b", "a"]
    assert serving(Plain("only", [])) == "only"  # a plugin beats the built-in console


def test_tryfirst_runs_before_plain_implementations_registered_after_it() -> None:
    log: list[str] = []
    plugins = clean_plugins(First("eager", log), Plain("later", log))
    assert plugins.action_handlers(PluginConfig())["direct_message"].name == "eager"
    assert log == ["eager", "later"]


def test_trylast_runs_after_everything_so_it_is_a_fallback_behind_built_ins() -> None:
    log: list[str] = []
    assert serving(Plain("plain", log), Last("fallback", log)) == "plain"
    assert log == ["plain", "fallback"]
    assert serving(Last("fallback", [])) == "console"  # the built-in runs before it
    only = clean_plugins(Last("fallback", []), builtins=False).action_handlers(PluginConfig())
    assert only["direct_message"].name == "fallback"


class Wrapper:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    @hookimpl(wrapper=True)
    def register_action_handlers(self, register: Register) -> Generator[None, Any, Any]:
        self.log.append("wrapper before")
        register(notifier("wrapper-before"))
        result = yield
        self.log.append("wrapper after")
        register(RecordingNotifier(name="wrapper-after", kinds=frozenset({"custom_kind"})))
        return result


def test_a_wrapper_runs_around_all_other_implementations() -> None:
    log: list[str] = []
    # Registered first, still outermost: wrappers wrap whatever the order.
    plugins = clean_plugins(Wrapper(log), First("eager", log), Plain("plain", log))
    handlers = plugins.action_handlers(PluginConfig())
    assert log == ["wrapper before", "eager", "plain", "wrapper after"]
    # What the wrapper registers before its yield comes before everyone else's.
    assert handlers["direct_message"].name == "wrapper-before"
    assert handlers["custom_kind"].name == "wrapper-after"
    assert handlers["channel_post"].name == "console"


class Exploding:
    @hookimpl
    def register_action_handlers(self, register: Register) -> None:
        raise RuntimeError("cannot reach the CRM")


class Forgiving:
    """A wrapper that turns a failing plugin into a warning-free fallback."""

    def __init__(self) -> None:
        self.seen: list[BaseException] = []

    @hookimpl(wrapper=True)
    def register_action_handlers(self, register: Register) -> Generator[None, Any, Any]:
        try:
            return (yield)
        except PluginError as exc:
            self.seen.append(exc)
            register(notifier("fallback"))
            return []


def test_a_wrapper_sees_an_inner_failure_naming_the_plugin_and_may_handle_it() -> None:
    with pytest.raises(PluginError, match="register_action_handlers raised RuntimeError") as e:
        clean_plugins(Exploding()).action_handlers(PluginConfig())
    assert e.value.plugin == "Exploding"
    forgiving = Forgiving()
    handlers = clean_plugins(forgiving, Exploding()).action_handlers(PluginConfig())
    assert handlers["direct_message"].name == "fallback"
    (seen,) = forgiving.seen
    assert isinstance(seen, PluginError) and seen.plugin == "Exploding"


def test_an_old_style_hookwrapper_runs_around_too() -> None:
    log: list[str] = []

    class OldStyle:
        @hookimpl(hookwrapper=True)
        def register_action_handlers(self) -> Generator[None, Any, None]:
            log.append("before")
            outcome = yield
            outcome.get_result()
            log.append("after")

    clean_plugins(OldStyle(), Plain("plain", log)).action_handlers(PluginConfig())
    assert log == ["before", "plain", "after"]


def test_a_refused_config_section_is_a_plugin_config_error_in_the_tree() -> None:
    from ticketspike.config import load_config
    from ticketspike.errors import ConfigError, TicketspikeError

    class Picky:
        @hookimpl
        def register_action_handlers(self, config: PluginConfig) -> None:
            section = config.section("picky")
            assert section is not None
            section.check_keys({"known"})

    config = load_config(text="plugins:\n  picky:\n    unknown: 1\n", env={})
    with pytest.raises(PluginConfigError) as caught:
        clean_plugins(Picky()).action_handlers(config.plugins)
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, TicketspikeError)
    assert caught.value.plugin == "Picky" and "plugins.picky" in str(caught.value)


# -- the deprecated aliases ------------------------------------------------------------------
class OldNotifier:
    """A 0.1 plugin: ``register_notifiers``, here with ``tryfirst``."""

    @hookimpl(tryfirst=True)
    def register_notifiers(self, register: Register) -> None:
        register(notifier("old-eager"))


def test_a_deprecated_hook_warns_at_registration_and_keeps_its_markers() -> None:
    with pytest.warns(DeprecationWarning, match="register_notifiers hook is deprecated"):
        plugins = clean_plugins(OldNotifier(), Plain("new", []))
    assert plugins.action_handlers(PluginConfig())["direct_message"].name == "old-eager"
    info = next(i for i in plugins.infos() if i.name == "OldNotifier")
    assert info.roles == ("notifier",)
    assert not [i for i in plugins.infos() if "register_notifiers" in i.name]  # no alias shown
    # Code that collects the old hook by name gets what the new one collects.
    old = [r.obj.name for r in plugins.collect("register_notifiers", PluginConfig())]
    assert old == [r.obj.name for r in plugins.collect("register_action_handlers", PluginConfig())]
    plugins.unregister("OldNotifier")
    assert plugins.action_handlers(PluginConfig())["direct_message"].name == "new"


def test_a_deprecated_hook_and_a_built_in_order_as_before() -> None:
    class OldTaskSink:
        @hookimpl
        def register_task_sinks(self, register: Register) -> None:
            register(RecordingNotifier(name="tracker", kinds=frozenset({"create_task"})))

    with pytest.warns(DeprecationWarning, match="register_task_sinks hook is deprecated"):
        plugins = clean_plugins(OldTaskSink())
    handlers = plugins.action_handlers(PluginConfig())
    assert handlers["create_task"].name == "tracker"  # beats the built-in outbox
    assert handlers["schedule_sync"].name == "outbox"


# -- typed kinds ---------------------------------------------------------------------------------
class TypedDm:
    """Serves ``DirectMessage`` by type: ``execute`` narrows and mypy checks the fields."""

    name = "typed"
    kinds: frozenset[type[Action]] = frozenset({DirectMessage})

    def __init__(self) -> None:
        self.recipients: list[str] = []

    def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        assert isinstance(action, DirectMessage)
        self.recipients.append(action.recipient.role)
        return ActionResult(summary=action.message.summary)


def test_kinds_may_be_action_types() -> None:
    typed = TypedDm()
    handlers = clean_plugins(StaticPlugin(action_handlers=[typed])).action_handlers(PluginConfig())
    assert handlers["direct_message"] is typed
    assert handlers["channel_post"].name == "console"


def test_a_kind_that_is_neither_type_nor_string_is_refused() -> None:
    bad = RecordingNotifier(name="bad", kinds=frozenset({42}))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="neither an action type nor a kind string"):
        clean_plugins(StaticPlugin(action_handlers=[bad])).action_handlers(PluginConfig())


# -- DeliveryError carries its action ----------------------------------------------------------
def test_a_delivery_error_leaving_a_handler_names_its_action() -> None:
    store = MemoryStore()
    transition = sample_transition()
    plan = sample_plan(transition, sample_account())
    store.record_transition(transition, plan, at=transition.at)
    handlers = clean_plugins(StaticPlugin(action_handlers=[FailingNotifier()])).action_handlers(
        PluginConfig()
    )
    executor = Executor(
        store,
        handlers,
        accounts=lambda _c: sample_account(),
        clock=FixedClock(datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)),
        sleep=RecordingSleep(),
    )
    action = plan.actions[0]
    record = store.claim_action(
        action.key, owner=executor.owner, lease_until=executor.wall() + 60, at=transition.at
    )
    assert record is not None
    with pytest.raises(PermanentDeliveryError) as caught:
        # The single attempt the executor makes per try; its error is what retries see.
        executor._attempt_once(record, action, plan, None, handlers[action.kind], "failing")
    assert caught.value.action == action
    assert PermanentDeliveryError("x", action=action).action is action
