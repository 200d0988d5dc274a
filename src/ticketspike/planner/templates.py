"""Sandboxed templates and conditions for workflow steps, checked when the config loads.

Workflow authors write Jinja2 one-liners (``"URGENT: Support spike for
{{customer.name}} - {{ticket_count}} tickets"``) and conditions
(``"{{severity}} == 'critical'"``). They run in Jinja2's
``ImmutableSandboxedEnvironment`` with ``StrictUndefined``, no globals and an
allow-list of filters and tests, and every template is walked before use: a
name or attribute that is not in the documented context, a call, or anything
starting with an underscore is refused at load time with file, line and key.
So a typo fails when the config loads, not at 3am when a spike fires, and
``{{ ''.__class__.__mro__ }}`` never reaches the sandbox at all.

Ticket-derived text (subjects, themes, customer names) is only ever a value in
the context, never template source: Jinja does not re-evaluate what it
substitutes, so a subject ``{{ 7*7 }}`` comes out as those seven characters.

Pure: no I/O, no clock. Rendering never raises anything but
:class:`TemplateRenderError`, which the planner turns into a note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..configfile import Section
from ..errors import TicketspikeError
from ..model import Account, Category, Person, Priority
from ..signals import Assessment, Severity

__all__ = [
    "EMAIL_VARIABLES",
    "STEP_VARIABLES",
    "Condition",
    "TemplateRenderError",
    "TextTemplate",
    "compile_condition",
    "compile_text",
    "spike_context",
]


class TemplateRenderError(TicketspikeError):
    """A template that passed the load-time checks failed on real data (a missing value)."""


# Filters and tests that only transform values. Anything that takes an
# attribute name as a string (map, attr, selectattr, groupby, sort) or formats
# with Python's str.format is left out: they are the usual sandbox-escape tools.
_FILTERS = (
    "abs",
    "capitalize",
    "center",
    "count",
    "d",
    "default",
    "first",
    "float",
    "int",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "max",
    "min",
    "replace",
    "reverse",
    "round",
    "string",
    "sum",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "wordcount",
)
_TESTS = (
    "defined",
    "divisibleby",
    "eq",
    "equalto",
    "even",
    "false",
    "ge",
    "gt",
    "in",
    "le",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "sequence",
    "string",
    "true",
    "undefined",
)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    # No globals: range, cycler, joiner, namespace, lipsum are not in the
    # documented context, and cycler.__init__.__globals__ is the classic escape.
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in _FILTERS}
    env.tests = {name: env.tests[name] for name in _TESTS}
    return env


_ENV = _environment()

# Sample values that double as the schema of the template context: the
# load-time walk checks every name and attribute against this tree, and the
# sample render catches type errors. A dict is a mapping, a one-item list is a
# list of that item. Keep in step with :func:`spike_context`.
_PERSON = {"name": "Mike Johnson", "email": "mike@example.com", "slack_id": "U0MIKE"}
_BREAKDOWN = {c.value: 1 for c in Category}
_SHARES = {c.value: 0.2 for c in Category}
STEP_VARIABLES: Mapping[str, Any] = {
    "severity": "critical",
    "previous_severity": "high",
    "transition": "opened",
    "episode_id": "ep-1",
    "customer_id": "cust-1",
    "ticket_count": 15,
    "expected_count": 2.3,
    "baseline_daily_avg": 2.3,
    "spike_multiplier": 6.5,
    "percentage_increase": 552.2,
    "period_hours": 24.0,
    "p1_count": 3,
    "ticket_breakdown": _BREAKDOWN,
    "category_share": _SHARES,
    "severity_breakdown": {p.value: 1 for p in Priority},
    "themes": ["API errors"],
    "top_category": "technical",
    "categories": ["technical"],
    "teams": ["support_lead"],
    "customer": {
        "id": "cust-1",
        "name": "TechCorp Inc",
        "arr": 500000.0,
        "health_score": 52.0,
        "previous_health_score": 78.0,
        "segment": "enterprise",
        "organization": "org-1",
        "seats": 250,
        "war_room": "wr-1",
        "csm": {**_PERSON, "manager_id": "U0BOSS", "manager": dict(_PERSON)},
        "champion": {"name": "Dana Lee", "email": "dana@example.com"},
    },
}
EMAIL_VARIABLES: Mapping[str, Any] = {
    **STEP_VARIABLES,
    "champion_name": "Dana Lee",
    "csm_name": "Mike Johnson",
    "sla_hours": 4,
    "technical_issues": True,
    "billing_issues": True,
    "training_issues": True,
    "feature_requests": True,
}


@attrs.frozen
class TextTemplate:
    """A checked template; :meth:`render` fills it with values (never with template source)."""

    source: str
    _compiled: jinja2.Template = attrs.field(eq=False, repr=False, alias="compiled")

    def render(self, context: Mapping[str, Any]) -> str:
        try:
            return self._compiled.render(dict(context))
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            raise TemplateRenderError(f"template {self.source!r} failed: {_reason(exc)}") from None


@attrs.frozen
class Condition:
    """A checked boolean expression, such as ``"{{severity}} == 'critical'"``."""

    source: str
    expression: str
    _compiled: Any = attrs.field(eq=False, repr=False, alias="compiled")

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        try:
            return bool(self._compiled(**context))
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            raise TemplateRenderError(f"condition {self.source!r} failed: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


def compile_text(
    source: object,
    *,
    section: Section,
    key: str,
    variables: Mapping[str, Any] = STEP_VARIABLES,
) -> TextTemplate:
    """Compile and check ``source`` (the value of ``section[key]``) as a text template."""
    if isinstance(source, bool) or not isinstance(source, (str, int, float)):
        raise section.error(key, "expected a string template")
    text = str(source)
    try:
        tree = _ENV.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise section.error(key, f"invalid template: {_reason(exc)}") from None
    _check(tree, variables, section=section, key=key)
    try:
        compiled = _ENV.from_string(tree)
    except jinja2.TemplateError as exc:
        raise section.error(key, f"invalid template: {_reason(exc)}") from None
    template = TextTemplate(source=text, compiled=compiled)
    try:
        template.render(variables)
    except TemplateRenderError as exc:
        raise section.error(key, str(exc)) from None
    return template


_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)


def compile_condition(
    source: object,
    *,
    section: Section,
    key: str,
    variables: Mapping[str, Any] = STEP_VARIABLES,
) -> Condition:
    """Compile and check a condition; ``{{x}}`` placeholders stand for the value of ``x``.

    Workflow files write conditions as ``"{{severity}} == 'critical'"``: text
    substitution followed by evaluation would let a value rewrite the
    expression, so each placeholder becomes a parenthesised sub-expression
    instead and the whole is compiled once as an expression.
    """
    if isinstance(source, bool):
        return _constant_condition(source)
    if not isinstance(source, str) or not source.strip():
        raise section.error(key, "expected a condition such as \"{{severity}} == 'critical'\"")
    expression = _PLACEHOLDER.sub(lambda m: f"({m.group(1)})", source).strip()
    if "{%" in expression or "{{" in expression or "}}" in expression:
        raise section.error(key, "invalid condition: unbalanced {{ }} or a {% %} block")
    try:
        tree = _ENV.parse("{{ (" + expression + ") }}")
    except jinja2.TemplateSyntaxError as exc:
        raise section.error(key, f"invalid condition: {_reason(exc)}") from None
    if not (
        len(tree.body) == 1
        and isinstance(tree.body[0], nodes.Output)
        and len(tree.body[0].nodes) == 1
    ):
        raise section.error(key, "invalid condition: expected one expression")
    _check(tree, variables, section=section, key=key)
    try:
        compiled = _ENV.compile_expression(expression, undefined_to_none=False)
    except jinja2.TemplateError as exc:
        raise section.error(key, f"invalid condition: {_reason(exc)}") from None
    condition = Condition(source=source, expression=expression, compiled=compiled)
    try:
        condition.evaluate(variables)
    except TemplateRenderError as exc:
        raise section.error(key, str(exc)) from None
    return condition


def _constant_condition(value: bool) -> Condition:
    return Condition(source=str(value).lower(), expression=str(value), compiled=lambda **_: value)


# -- the load-time walk ------------------------------------------------------

_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Const,
    nodes.Name,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Filter,
    nodes.Test,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
    nodes.Add,
    nodes.Sub,
    nodes.Mul,
    nodes.Div,
    nodes.FloorDiv,
    nodes.Mod,
    nodes.Concat,
    nodes.CondExpr,
    nodes.If,
    nodes.For,
    nodes.List,
    nodes.Tuple,
    nodes.Keyword,
)
_UNKNOWN = object()


class _Refused(Exception):
    pass


def _check(
    tree: nodes.Template, variables: Mapping[str, Any], *, section: Section, key: str
) -> None:
    try:
        _walk(tree, dict(variables))
    except _Refused as exc:
        raise section.error(key, str(exc)) from None


def _walk(node: nodes.Node, scope: dict[str, Any]) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        raise _Refused(f"{_describe(node)} is not allowed in templates")
    if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
        _resolve(node, scope)
        return
    if isinstance(node, nodes.For):
        if node.recursive or node.test is not None or not isinstance(node.target, nodes.Name):
            raise _Refused("only simple loops ({% for x in list %}) are allowed")
        items = _resolve(node.iter, scope)
        _walk(node.iter, scope)
        inner = dict(scope)
        inner[node.target.name] = items[0] if isinstance(items, list) and items else _UNKNOWN
        inner["loop"] = _UNKNOWN
        for child in (*node.body, *node.else_):
            _walk(child, inner)
        return
    for child in node.iter_child_nodes():
        _walk(child, scope)


def _resolve(node: nodes.Node, scope: Mapping[str, Any]) -> Any:
    """The sample value an expression path stands for, or a refusal naming the bad part."""
    if isinstance(node, nodes.Name):
        if node.name.startswith("_"):
            raise _Refused(f"{node.name!r} refers to Python internals")
        if node.name not in scope:
            raise _Refused(f"unknown variable {node.name!r}; known: {', '.join(sorted(scope))}")
        return scope[node.name]
    if isinstance(node, nodes.Getattr):
        if node.attr.startswith("_"):
            raise _Refused(f"{node.attr!r} refers to Python internals")
        return _member(_resolve(node.node, scope), node.attr, node)
    if isinstance(node, nodes.Getitem):
        if isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith("_"):
            raise _Refused(f"{node.arg.value!r} refers to Python internals")
        if isinstance(node.arg, nodes.Const):
            return _member(_resolve(node.node, scope), node.arg.value, node)
        _walk(node.arg, dict(scope))
        base = _resolve(node.node, scope)
        return base[0] if isinstance(base, list) and base else _UNKNOWN
    # Attributes of literals, filter results and the like are never part of
    # the documented context; this is what ''.__class__ looks like.
    if isinstance(node, (nodes.Const, nodes.Filter, nodes.List, nodes.Tuple)):
        raise _Refused("attributes may only be read from context variables")
    _walk(node, dict(scope))
    return _UNKNOWN


def _member(base: Any, name: object, node: nodes.Node) -> Any:
    if isinstance(name, str) and name.startswith("_"):
        raise _Refused(f"{name!r} refers to Python internals")
    if base is _UNKNOWN:
        return _UNKNOWN
    if isinstance(base, Mapping):
        if name not in base:
            known = ", ".join(sorted(str(k) for k in base))
            raise _Refused(f"unknown field {name!r} in {_path(node)}; known: {known}")
        return base[name]
    if isinstance(base, list) and isinstance(name, int):
        return base[0] if base else _UNKNOWN
    raise _Refused(f"{_path(node)} has no fields")


def _path(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, (nodes.Getattr, nodes.Getitem)):
        return _path(node.node)
    return "expression"


def _describe(node: nodes.Node) -> str:
    if isinstance(node, nodes.Call):
        return "calling functions"
    if isinstance(node, (nodes.Assign, nodes.AssignBlock)):
        return "{% set %}"
    if isinstance(node, (nodes.Macro, nodes.CallBlock)):
        return "macros"
    if isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        return "including other templates"
    return f"{node.__class__.__name__.lower()}"


# -- the runtime context -----------------------------------------------------


def _person(person: Person | None) -> dict[str, Any] | None:
    if person is None:
        return None
    return {"name": person.name, "email": person.email, "slack_id": person.slack_id}


def spike_context(
    assessment: Assessment,
    account: Account | None,
    *,
    severity: Severity,
    previous_severity: Severity | None = None,
    transition: str,
    episode_id: str,
    categories: Sequence[str] = (),
    teams: Sequence[str] = (),
) -> dict[str, Any]:
    """The values templates and conditions see (documented in docs/workflow.md).

    Missing account pieces are ``none`` (use ``default`` or ``is none``);
    ticket-derived strings are passed as they are, as data.
    """
    counts = {c.value: 0 for c in Category}
    for category, n in assessment.category_breakdown:
        counts[category.value] += n
    total = sum(counts.values())
    shares = {k: (v / total if total else 0.0) for k, v in counts.items()}
    by_priority = {p.value: 0 for p in Priority}
    for priority, n in assessment.severity_breakdown:
        by_priority[priority.value] += n
    top = max(Category, key=lambda c: (counts[c.value], -_CATEGORY_ORDER[c])).value
    mult = assessment.spike_multiplier
    acct = account if account is not None else Account(id=assessment.customer_id)
    csm = _person(acct.csm)
    if csm is not None:
        manager = acct.csm.manager if acct.csm is not None else None
        csm["manager"] = _person(manager)
        csm["manager_id"] = (
            None if manager is None else (manager.slack_id or manager.email or manager.name)
        )
    return {
        "severity": severity.value,
        "previous_severity": None if previous_severity is None else previous_severity.value,
        "transition": transition,
        "episode_id": episode_id,
        "customer_id": assessment.customer_id,
        "ticket_count": assessment.ticket_count,
        "expected_count": assessment.expected_count,
        "baseline_daily_avg": assessment.baseline_daily_avg,
        "spike_multiplier": None if mult == float("inf") else mult,
        "percentage_increase": assessment.percentage_increase,
        "period_hours": assessment.period_hours,
        "p1_count": by_priority[Priority.P1.value],
        "ticket_breakdown": counts,
        "category_share": shares,
        "severity_breakdown": by_priority,
        "themes": list(assessment.themes),
        "top_category": top,
        "categories": list(categories),
        "teams": list(teams),
        "customer": {
            "id": acct.id,
            "name": acct.display_name,
            "arr": acct.arr,
            "health_score": acct.health_score,
            "previous_health_score": acct.previous_health_score,
            "segment": acct.segment,
            "organization": acct.organization,
            "seats": acct.seats,
            "war_room": acct.war_room,
            "csm": csm,
            "champion": _person(acct.champion),
        },
    }


_CATEGORY_ORDER = {c: i for i, c in enumerate(Category)}
