"""Escalation record commands: ``tasks``, ``health``, ``history``, ``webhooks``.

``tasks`` lists the review tasks plans made (``tasks done ID`` / ``cancel`` / ``reopen``
change one, recorded with who and when, and reported as a ``task.updated`` event);
``health`` shows a customer's health score as base plus ledger; ``history`` lists kept
escalations, active and resolved, with what they left behind; ``webhooks`` shows each
outbound endpoint (enabled or disabled, and why), ``webhooks deliver`` delivers what is due
and ``webhooks enable ID`` turns a disabled endpoint back on. Text output passes through
:func:`~ticketspike.builtin.text.one_line`, so hostile ids cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from ..builtin.text import one_line
from ..engine import Engine
from ..errors import InputError
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    add_config_args,
    add_format_arg,
    config_from_args,
    print_json,
)

__all__ = ["register"]

_TASK_VERBS = {"list": None, "done": "done", "cancel": "cancelled", "reopen": "open"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tasks = subparsers.add_parser(
        "tasks",
        help="list review tasks; `tasks done ID` closes one",
        description="List the review tasks plans made, or change one: done, cancel, reopen.",
    )
    tasks.add_argument("verb", nargs="?", default="list", choices=sorted(_TASK_VERBS))
    tasks.add_argument("task", nargs="?", metavar="ID", help="the task to change")
    tasks.add_argument("--status", choices=("open", "done", "cancelled"), help="only these")
    tasks.add_argument("--customer", metavar="ID", help="only this customer's tasks")
    tasks.add_argument("--by", metavar="NAME", default=None, help="who acts (default: login)")
    _common(tasks)
    tasks.set_defaults(handler=_tasks)

    health = subparsers.add_parser(
        "health", help="a customer's health score: base, adjustments, current"
    )
    health.add_argument("--customer", metavar="ID", required=True)
    _common(health)
    health.set_defaults(handler=_health)

    history = subparsers.add_parser(
        "history", help="kept escalations (active and resolved) with their records"
    )
    history.add_argument("--status", choices=("active", "resolved"), help="only these")
    history.add_argument("--customer", metavar="ID", help="only this customer's")
    history.add_argument(
        "--forget-old",
        action="store_true",
        help="first drop resolved escalations older than records.history_retention_days",
    )
    _common(history)
    history.set_defaults(handler=_history)

    hooks = subparsers.add_parser(
        "webhooks",
        help="outbound webhook endpoints; `webhooks deliver`, `webhooks enable ID`",
        description="Show the outbound webhook endpoints of the config, deliver what is due "
        "(deliver), or turn a disabled endpoint back on and resend its deliveries (enable ID).",
    )
    hooks.add_argument("verb", nargs="?", default="list", choices=("list", "deliver", "enable"))
    hooks.add_argument("endpoint", nargs="?", metavar="ID", help="the endpoint to enable")
    hooks.add_argument(
        "--log", action="store_true", help="list every delivery attempt (the delivery log)"
    )
    _common(hooks)
    hooks.set_defaults(handler=_webhooks)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", metavar="FILE", required=True, help="SQLite store file")
    add_config_args(parser)
    add_format_arg(parser)


def _engine(args: argparse.Namespace) -> Engine:
    if not Path(args.store).is_file():
        raise InputError(
            f"no store at {args.store} (a store is created by `ticketspike run`)",
            where="--store",
        )
    return Engine.from_config(config_from_args(args), store=args.store, accounts=args.accounts)


def _tasks(args: argparse.Namespace) -> int:
    status = _TASK_VERBS[args.verb]
    with _engine(args) as engine:
        if args.verb != "list":
            if not args.task:
                raise InputError(f"`tasks {args.verb}` needs the task's ID", where="ID")
            task = engine.update_task(args.task, status=status, by=args.by or getpass.getuser())
            if args.format == "json":
                print_json(task.to_json())
            else:
                print(f"{task.id}: {task.status.value} (by {one_line(task.closed_by or '-')})")
            return EXIT_OK
        found = engine.tasks(status=args.status, customer_id=args.customer)
        if args.format == "json":
            print_json([t.to_json() for t in found])
            return EXIT_OK
        if not found:
            print("No tasks.")
        for t in found:
            print(
                f"{t.id}  {t.status.value:<9} {one_line(t.priority):<6} due "
                f"{t.due_at.isoformat()}  {one_line(t.customer_id)}  {one_line(t.title)}"
                f"  (for {one_line(t.assignee)})"
            )
    return EXIT_OK


def _score(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}"


def _health(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        view = engine.health(args.customer)
    if args.format == "json":
        print_json(view.to_json())
        return EXIT_OK
    print(
        f"{one_line(view.customer_id)}: health score {_score(view.current)} "
        f"(base {_score(view.base)})"
    )
    for a in view.adjustments:
        print(f"  {a.at.isoformat()}  {a.delta:+g}  {one_line(a.reason)}  [{a.episode_id or '-'}]")
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        forgotten = engine.forget_history() if args.forget_old else 0
        found = engine.escalation_history(status=args.status, customer_id=args.customer)
    if args.format == "json":
        print_json(found)
        return EXIT_OK
    if args.forget_old:
        print(f"Dropped {forgotten} resolved escalation(s) past the retention.")
    if not found:
        print("No escalations.")
    for e in found:
        ack = f"acknowledged by {one_line(e['acknowledged_by'])}" if e["acknowledged_by"] else ""
        print(
            f"{one_line(e['episode_id'])}  {e['status']:<8} {e['severity']:<8} "
            f"{one_line(e['customer_id'])}  opened {e['opened_at']}  {ack}".rstrip()
        )
        for t in e["tasks"]:
            print(f"    task      {t['status']:<9} {one_line(t['title'])}")
        for a in e["health_adjustments"]:
            print(f"    health    {a['delta']:+g}  {one_line(a['reason'])}")
        for w in e["war_room_entries"]:
            print(f"    war room  {w['status']:<9} {one_line(w['war_room'])}")
        for s in e["syncs"]:
            print(f"    sync      {s['status']:<9} before {s['due_at']}")
    return EXIT_OK


def _webhooks(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        hooks = engine.webhooks
        if not hooks.enabled:
            raise InputError("the config has no webhooks: endpoints", where="--config")
        result: Any = None
        if args.verb == "enable":
            if not args.endpoint:
                raise InputError("`webhooks enable` needs the endpoint's ID", where="ID")
            hooks.enable(args.endpoint)
            result = hooks.run_once()
        elif args.verb == "deliver":
            result = hooks.run_once()
        status = hooks.status()
        attempts = [a.to_json() for a in engine.store.delivery_attempts()] if args.log else None
    if args.format == "json":
        out: dict[str, Any] = {"endpoints": status}
        if result is not None:
            out["run"] = result
        if attempts is not None:
            out["attempts"] = attempts
        print_json(out)
    else:
        if result is not None:
            print(f"delivered {result['delivered']}, failed {result['failed']}")
        for e in status:
            state = "enabled" if e["enabled"] else f"DISABLED ({one_line(e['disabled_reason'])})"
            counts = ", ".join(f"{k} {v}" for k, v in e["deliveries"].items())
            print(f"{e['id']}  {state}  {one_line(e['url'])}  {counts}")
        for a in attempts or ():
            print(
                f"  {a['at']}  {a['endpoint_id']}  {a['event_id']}  #{a['number']}  "
                f"{a['outcome']}  {a['status_code'] or '-'}  {one_line(a['error'] or '')}"
            )
    if any(not e["enabled"] for e in status):
        return EXIT_FAILURE
    return EXIT_OK
