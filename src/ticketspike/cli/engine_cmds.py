"""The engine's commands: ``demo``, ``run``, ``outbox``, ``tickets``, ``retry``, ``backfill``.

``run`` is the full flow over a ticket file with the configured plugins, against an SQLite
store; running it again over the same file does nothing twice. ``outbox`` and ``tickets`` read
what a store holds; ``retry`` puts actions that failed for good back in line; ``backfill`` loads
history from a source plugin, resumably. ``demo`` runs the whole flow on the bundled sample
with the built-in plugins only, so it needs no setup and no network.

Text output passes every ticket- or plugin-derived string through
:func:`~ticketspike.builtin.text.one_line`, so hostile ticket text cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs

from .. import data, metrics, reorder
from ..builtin.console import ConsoleNotifier
from ..builtin.text import one_line
from ..config import load_config
from ..configfile import Section
from ..engine import Engine, IngestResult
from ..errors import InputError, Stopped
from ..executor import ExecutionReport
from ..hookspecs import hookimpl
from ..http.settings import server_settings_from_config
from ..model import TicketEvent, event_order, event_time, parse_time
from ..planner.message import render_text
from ..planner.plan import (
    Action,
    AddToWarRoom,
    AdjustHealthScore,
    ChannelPost,
    CreateTask,
    DirectMessage,
    DraftEmail,
    EscalationPlan,
    NotifyTeam,
    Recipient,
    ScheduleSync,
    ThreadReply,
    UpdateMessage,
)
from ..plugins import Plugins
from ..roles import ActionHandler
from ..store.base import ActionRecord, ActionStatus, Store
from ..ticketfile import iter_ticket_events
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    Progress,
    add_config_args,
    add_format_arg,
    add_store_arg,
    config_from_args,
    count,
    print_json,
)
from .metrics_file import add_metrics_file_arg, check_metrics_file, write_metrics_file
from .shutdown import GracefulStop
from .store_arg import existing_store

__all__ = ["register", "time_ordered"]


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the whole flow on a bundled sample (no setup, no network)",
        description="Detect a spike in a bundled six-week sample, plan its escalation and "
        "carry it out with the built-in console notifier and outbox, in an SQLite store.",
    )
    demo.add_argument(
        "--dir",
        metavar="DIR",
        help="where to put the sample and the store (default: a new temporary directory)",
    )
    add_format_arg(demo)
    demo.set_defaults(handler=_demo)

    run = subparsers.add_parser(
        "run",
        help="the full flow over a ticket file: store, detect, plan, execute",
        description="Feed a JSON Lines ticket file through the engine with the configured "
        "plugins. Idempotent: running it again over the same file and store does nothing twice.",
    )
    run.add_argument("tickets", metavar="TICKETS.jsonl", help="ticket JSON Lines file")
    _store_arg(run)
    add_config_args(run)
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="detect and plan, but execute nothing (actions stay pending)",
    )
    warm = run.add_mutually_exclusive_group()
    warm.add_argument(
        "--warm-up-until",
        metavar="ISO",
        help="history before this instant only warms up the detector: its transitions are "
        "recorded suppressed and no action is planned or executed for them",
    )
    warm.add_argument(
        "--history-only",
        action="store_true",
        help="the whole file is history (--warm-up-until the end of time)",
    )
    run.add_argument(
        "--grace",
        metavar="SECONDS",
        type=float,
        default=None,
        help="on SIGTERM or Ctrl-C, how long the running action may take to finish before it "
        "is handed back to pending (default: server.shutdown_grace_seconds, 30)",
    )
    add_metrics_file_arg(run)
    add_format_arg(run)
    run.set_defaults(handler=_run)

    outbox = subparsers.add_parser(
        "outbox",
        help="list the actions a store has executed",
        description="List the executed actions recorded in a store (the outbox).",
    )
    _store_arg(outbox)
    outbox.add_argument("--customer", metavar="ID", help="only this customer's actions")
    outbox.add_argument(
        "--all",
        action="store_true",
        help="list every action record with its status (pending, failed...)",
    )
    add_format_arg(outbox)
    outbox.set_defaults(handler=_outbox)

    tickets = subparsers.add_parser(
        "tickets",
        help="list the tickets a store holds",
        description="List stored tickets, oldest first.",
    )
    _store_arg(tickets)
    tickets.add_argument("--customer", metavar="ID", help="only this customer's tickets")
    add_format_arg(tickets)
    tickets.set_defaults(handler=_tickets)

    retry = subparsers.add_parser(
        "retry",
        help="re-run the actions that failed for good",
        description="Put every failed action back in line and run it with the configured "
        "plugins; actions already done are never repeated.",
    )
    _store_arg(retry)
    add_config_args(retry)
    add_format_arg(retry)
    retry.set_defaults(handler=_retry)

    backfill = subparsers.add_parser(
        "backfill",
        help="load ticket history from a source plugin into a store",
        description="Page through a source plugin's history since --since and store it, "
        "resuming after the last stored page when interrupted. History warms up the "
        "detector; only spikes still under way alert.",
    )
    backfill.add_argument("source", metavar="SOURCE", help="ticket source name (e.g. zendesk)")
    backfill.add_argument(
        "--since",
        metavar="ISO",
        required=True,
        help="load tickets from this instant (ISO-8601 with offset)",
    )
    _store_arg(backfill)
    add_config_args(backfill)
    add_metrics_file_arg(backfill)
    add_format_arg(backfill)
    backfill.set_defaults(handler=_backfill)


def _store_arg(parser: argparse.ArgumentParser) -> None:
    add_store_arg(parser)


# -- shared ------------------------------------------------------------------------------
def _existing_store(path: str) -> Store:
    return existing_store(path)


def _engine(args: argparse.Namespace, *, json_out: bool, **options: Any) -> Engine:
    config = config_from_args(args)
    plugin_config = config.plugins
    if json_out and plugin_config.section("console") is None:
        # Keep stdout for the JSON document: console messages go to stderr instead.
        console = Section({"stream": "stderr"}, name="--format json", path="plugins.console")
        plugin_config = attrs.evolve(
            plugin_config, sections={**plugin_config.sections, "console": console}
        )
        config = attrs.evolve(config, plugins=plugin_config)
    return Engine.from_config(config, store=args.store, accounts=args.accounts, **options)


def _when(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def time_ordered(events: Iterable[TicketEvent], *, lateness_hours: float) -> Iterator[TicketEvent]:
    """Events in time order, for a file that is only roughly sorted.

    The replay's reorder buffer (:func:`~ticketspike.reorder.time_ordered`) with the
    detection lateness bound, so a file merged from several exports is detected as
    production (and ``replay``) would see it; memory follows the bound, not the file.
    """
    return reorder.time_ordered(
        events, when=event_time, key=event_order, lateness_seconds=lateness_hours * 3600.0
    )


def _check_file(path: Path, *, strict: bool) -> int:
    """Validate the whole file first, so a bad line stops the run before anything is stored."""
    size = path.stat().st_size if path.is_file() else None
    progress = Progress(f"checking {path.name}", total=size, unit="bytes")
    count = 0
    for _ in iter_ticket_events(
        path, strict_categories=strict, on_line=lambda _n, read: progress.update(read)
    ):
        count += 1
    progress.close(size)
    return count


def _report_text(report: ExecutionReport | None) -> str:
    if report is None:
        return "Actions: not executed (dry run); they stay pending."
    text = (
        f"Actions: {len(report.done)} done, {len(report.failed)} failed, "
        f"{len(report.waiting)} waiting"
    )
    if report.parked and report.resume_at is not None:
        at = datetime.fromtimestamp(report.resume_at, tz=timezone.utc)
        text += (
            f", {len(report.parked)} parked (a service refused or did not answer; "
            f"the first runs again from {at.strftime('%Y-%m-%d %H:%M:%S')} UTC)"
        )
    return text + "."


# -- run ---------------------------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    json_out = args.format == "json"
    path = Path(args.tickets)
    config = config_from_args(args)
    grace = args.grace
    if grace is None:
        grace = server_settings_from_config(config.section("server")).shutdown_grace_seconds
    elif not 0 <= grace < float("inf"):
        raise InputError(
            f"expected a finite number of seconds >= 0, got {grace:g}", field="--grace"
        )
    warm_up_until = None
    if args.history_only:
        warm_up_until = datetime.max.replace(tzinfo=timezone.utc)
    elif args.warm_up_until:
        warm_up_until = parse_time(args.warm_up_until, where="--warm-up-until", field="")
    metrics_file = check_metrics_file(args.metrics_file)
    # SIGTERM / Ctrl-C: the action in hand finishes (within the grace), the rest stay pending.
    with GracefulStop(grace_seconds=grace) as stop, _writing_metrics(metrics_file):
        total = _check_file(path, strict=config.strict_categories)
        with _engine(args, json_out=json_out, dry_run=args.dry_run) as engine:
            progress = Progress(f"running {path.name}", total=total, unit="tickets")
            events = iter_ticket_events(path, strict_categories=config.strict_categories)
            with stop.watching(engine.executor):
                result = engine.ingest_many(
                    time_ordered(events, lateness_hours=config.detection.lateness_hours),
                    execute=not args.dry_run,
                    on_event=progress.update,
                    warm_up_until=warm_up_until,
                )
            if stop.signum is not None:
                progress.close()
                raise _stopped(stop, engine.store)  # the store is closed on the way out
            progress.close(total)
            metrics.tickets(
                "file",
                received=result.received,
                stored=result.stored,
                updated=result.updated,
                duplicates=result.duplicates,
            )
            failed = engine.store.actions(status=ActionStatus.FAILED)
            # One delivery pass for outbound webhooks; what fails waits for its retry time.
            hooks = (
                engine.webhooks.run_once() if engine.webhooks.enabled and not args.dry_run else None
            )
            if json_out:
                print_json(
                    {
                        **result.to_json(),
                        "store": engine.store.location,
                        "failed_actions": [a.to_json() for a in failed],
                        **({"webhooks": hooks} if hooks is not None else {}),
                    }
                )
            else:
                _print_run(path, result, engine.store, failed)
                if hooks is not None:
                    print(
                        f"Webhooks: {hooks['delivered']} delivered, {hooks['failed']} failed "
                        f"(`ticketspike webhooks --store {engine.store.location} --config FILE`)"
                    )
    if stop.signum is not None:  # before the store was open, or after the report
        raise Stopped(
            f"stopped by {stop.signal_name}; run it again to go on",
            exit_code=128 + stop.signum,
        )
    return EXIT_FAILURE if result.executed is not None and result.executed.failed else EXIT_OK


@contextmanager
def _writing_metrics(target: Path | None) -> Iterator[None]:
    """Write ``--metrics-file`` when the command ends, however it ends."""
    try:
        yield
    finally:
        write_metrics_file(target)


def _stopped(stop: GracefulStop, store: Store) -> Stopped:
    """The one line ``run`` ends with after SIGTERM or SIGINT."""
    pending = len(store.actions(status=ActionStatus.PENDING))
    if stop.cut_short:
        how = "the action in hand did not finish and was handed back"
    elif stop.waited:
        how = "after the action in hand"
    else:
        how = "no action was running"
    return Stopped(
        f"stopped by {stop.signal_name} ({how}); {count(pending, 'action')} pending, none "
        "running; run it again to go on",
        exit_code=128 + (stop.signum or 0),
    )


def _print_run(path: Path, result: IngestResult, store: Store, failed: list[ActionRecord]) -> None:
    print(
        f"Read {result.received:,} ticket events from {path}: {result.stored:,} new, "
        f"{result.updated:,} updated, {result.duplicates:,} already stored."
    )
    if result.transitions:
        print("Transitions recorded:")
        for t in result.transitions:
            note = f" (suppressed: {one_line(t.suppressed)})" if t.suppressed else ""
            print(
                f"  {_when(t.at)}  {t.kind.value:<9}  {one_line(t.customer_id)}  "
                f"{t.severity.value}{note}"
            )
    else:
        print("Transitions recorded: none new.")
    _print_refused(result.refused, result.truncated)
    print(_report_text(result.executed))
    for record in failed:
        print(f"  failed: {record.key} ({record.kind}): {one_line(record.error or '')}")
    print(f"Store: {store.location}  (see `ticketspike outbox --store {store.location}`)")


def _print_refused(refused: Sequence[str], truncated: int, *, shown: int = 20) -> None:
    """Tickets the engine would not admit (see :mod:`ticketspike.limits`), and cut text."""
    if refused:
        print(f"Refused {len(refused):,} ticket event(s) (not stored, not counted):")
        for line in refused[:shown]:
            print(f"  {one_line(line)}")
        if len(refused) > shown:
            print(f"  ... and {len(refused) - shown:,} more")
    if truncated:
        print(f"Cut {truncated:,} ticket(s) whose subject or body was over the size limit.")


# -- outbox / tickets ------------------------------------------------------------------------
def _outbox(args: argparse.Namespace) -> int:
    with closing(_existing_store(args.store)) as store:
        if args.all:
            records = [
                r
                for r in store.actions()
                if args.customer is None or r.customer_id == args.customer
            ]
            if args.format == "json":
                print_json([r.to_json() for r in records])
                return EXIT_OK
            for r in records:
                detail = r.summary if r.status is ActionStatus.DONE else (r.error or "")
                print(
                    f"{r.status.value:<8} {r.kind:<20} {one_line(r.customer_id):<12} "
                    f"{r.key}  {one_line(detail, limit=120)}"
                )
            return EXIT_OK
        entries = store.outbox(customer_id=args.customer)
        if args.format == "json":
            print_json([e.to_json() for e in entries])
            return EXIT_OK
        for e in entries:
            print(
                f"#{e.seq:<4} {_when(e.executed_at)}  {e.kind:<20} {one_line(e.handler):<14} "
                f"{one_line(e.customer_id):<12} {one_line(e.summary, limit=160)}"
            )
        failed = len(store.actions(status=ActionStatus.FAILED))
        pending = len(store.actions(status=ActionStatus.PENDING))
        print(f"{len(entries)} executed action{'s' if len(entries) != 1 else ''}.", end="")
        if failed:
            print(
                f" {failed} failed for good (see `ticketspike outbox --all`, "
                f"re-run with `ticketspike retry --store {args.store}`).",
                end="",
            )
        if pending:
            print(f" {pending} pending.", end="")
        print()
    return EXIT_OK


def _tickets(args: argparse.Namespace) -> int:
    with closing(_existing_store(args.store)) as store:
        records = store.tickets(customer_id=args.customer)
        if args.format == "json":
            print_json([r.to_json() for r in records])
            return EXIT_OK
        for r in records:
            t = r.ticket
            flag = " internal" if t.internal else ""
            print(
                f"{_when(t.created_at)}  {one_line(t.ticket_id):<10} "
                f"{one_line(t.customer_id):<12} {t.category.value:<15} {t.priority.value}  "
                f"{r.status:<8}{flag}  {one_line(t.subject, limit=100)}"
            )
        print(f"{len(records)} ticket{'s' if len(records) != 1 else ''}.")
    return EXIT_OK


# -- retry -----------------------------------------------------------------------------------
def _retry(args: argparse.Namespace) -> int:
    _existing_store(args.store).close()
    with _engine(args, json_out=args.format == "json") as engine:
        before = [r.key for r in engine.store.actions(status=ActionStatus.FAILED)]
        report = engine.retry_failed()
        if args.format == "json":
            print_json({"retried": before, **report.to_json()})
        elif not before and not report.done:
            print("No failed actions.")
        else:
            print(
                f"Retried {len(before)} failed action{'s' if len(before) != 1 else ''}. "
                f"{_report_text(report)}"
            )
            for key in report.failed:
                record = engine.store.action(key)
                error = record.error if record is not None else ""
                print(f"  still failing: {key}: {one_line(error or '')}")
    return EXIT_FAILURE if report.failed else EXIT_OK


# -- backfill ----------------------------------------------------------------------------------
def _backfill(args: argparse.Namespace) -> int:
    since = parse_time(args.since, where="--since", field="")
    metrics_file = check_metrics_file(args.metrics_file)
    with _writing_metrics(metrics_file), _engine(args, json_out=args.format == "json") as engine:
        # A backfill runs for minutes to hours: off a terminal, a line every 30 s for the log.
        progress = Progress(f"backfill {args.source}", unit="tickets", periodic=True)

        def on_page(pages: int, events: int) -> None:
            progress.update(events, unit=f"tickets, {count(pages, 'page')}")

        report = engine.backfill(args.source, since=since, on_page=on_page)
        progress.close(report.events, unit=f"tickets, {count(report.pages, 'page')}")
        if args.format == "json":
            print_json(attrs.asdict(report))
        else:
            state = "complete" if report.done else "stopped early; run again to resume"
            resumed = " (resumed from the stored cursor)" if report.resumed else ""
            print(
                f"Backfilled {report.events:,} ticket events from {args.source}{resumed}: "
                f"{report.stored:,} new, {report.skipped:,} skipped by the source; {state}."
            )
            _print_refused(report.refused, 0)
            if report.unmatched:
                print(
                    f"{report.unmatched:,} kept aside without a customer "
                    f"(see `ticketspike unmatched --store {args.store}`)."
                )
    return EXIT_OK


# -- demo --------------------------------------------------------------------------------------
class _DemoConsole:
    """The demo's console notifier: the built-in one, writing into a buffer to show later."""

    def __init__(self, stream: io.StringIO) -> None:
        self.notifier = ConsoleNotifier(stream=stream)

    @hookimpl
    def register_action_handlers(self, register: Callable[[ActionHandler], None]) -> None:
        register(self.notifier)


def _demo(args: argparse.Namespace) -> int:
    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="ticketspike-demo-"))
    files = data.copy_to(directory)
    store_path = directory / "ticketspike.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        # The demo starts over each time; it only ever removes its own store.
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    config = load_config(files[data.DEMO_CONFIG], env={})
    events = list(iter_ticket_events(files[data.DEMO_TICKETS]))
    now = max(e.at for e in events) + timedelta(minutes=15)
    console = io.StringIO()
    plugins = Plugins(load_entrypoints=False, plugins=[_DemoConsole(console)])
    with Engine.from_config(
        config, store=str(store_path), plugins=plugins, clock=lambda: now
    ) as engine:
        result = engine.ingest_many(
            time_ordered(events, lateness_hours=config.detection.lateness_hours)
        )
        store = engine.store
        plans = [p.plan for p in store.plans()]
        spikes = [p for p in plans if p.actions]
        customer = spikes[-1].customer_id if spikes else None
        assessment = engine.check(customer, at=now) if customer else None
        account = engine.account(customer) if customer else None
        alert = _first_alert(plans)
        outbox = store.outbox()
        statuses = {r.key: r.status.value for r in store.actions()}
        if args.format == "json":
            print_json(
                {
                    "directory": str(directory),
                    "store": str(store_path),
                    "now": now.isoformat(),
                    "tickets": result.received,
                    "transitions": [t.to_json() for t in result.transitions],
                    "risk_signal": assessment.to_risk_signal() if assessment else None,
                    "alert": render_text(alert.message) if alert else None,
                    "plans": [p.to_json() for p in plans],
                    "outbox": [e.to_json() for e in outbox],
                }
            )
            return EXIT_OK
        customers = len({e.ticket.customer_id for e in events})
        first, last = min(e.at for e in events), max(e.at for e in events)
        print("ticketspike demo: the whole flow on a bundled sample, no network")
        print(
            f"  sample  {result.received} ticket events, {customers} customers, "
            f"{_when(first)} to {_when(last)}"
        )
        print(f"  files   {directory}")
        print()
        print("1. Detected spike")
        for t in result.transitions:
            name = engine.account(t.customer_id)
            label = name.display_name if name else t.customer_id
            a = t.assessment
            print(
                f"   {_when(t.at)}  {t.kind.value:<9} {one_line(label)}: {t.severity.value}, "
                f"{a.ticket_count} tickets in {a.period_hours:g} h "
                f"({_multiplier(a.spike_multiplier)} the baseline)"
            )
        if assessment is not None:
            label = account.display_name if account else assessment.customer_id
            print(
                f"   now: {one_line(label)} has {assessment.ticket_count} tickets in the last "
                f"{assessment.period_hours:g} hours against a baseline of "
                f"{assessment.baseline_daily_avg:.1f}/day "
                f"({_multiplier(assessment.spike_multiplier)}, "
                f"{assessment.severity.value}); themes: "
                f"{', '.join(assessment.themes) or 'none'}"
            )
        print()
        print("2. The alert the CSM received (console notifier)")
        if alert is not None:
            for line in render_text(alert.message).splitlines():
                print(f"   {one_line(line, limit=200)}" if line else "")
        print()
        print("3. The plan")
        for plan in plans:
            if plan.actions:
                _print_plan(plan, statuses)
        print()
        print("4. The outbox")
        print(f"   {len(outbox)} executed actions recorded in {store_path}")
        drafts = directory / "drafts"
        if drafts.is_dir():
            print(f"   e-mail drafts awaiting approval: {drafts}")
        print(f"   see them:     ticketspike outbox --store {store_path}")
        print(
            f"   the tickets:  ticketspike tickets --store {store_path} --customer "
            f"{customer or ''}".rstrip()
        )
        print(
            f"   run it again: ticketspike run {files[data.DEMO_TICKETS]} --store {store_path} "
            f"--config {files[data.DEMO_CONFIG]}   (nothing happens twice)"
        )
    return EXIT_OK


def _multiplier(value: float) -> str:
    return "no baseline" if value == float("inf") else f"{value:.1f}x"


def _first_alert(plans: list[EscalationPlan]) -> DirectMessage | None:
    """The opening direct message to the CSM of the last spike: the opening alert."""
    for plan in reversed(plans):
        for action in plan.actions:
            if isinstance(action, DirectMessage) and action.recipient.role == "csm":
                return action
    return None


def _print_plan(plan: EscalationPlan, statuses: dict[str, str]) -> None:
    print(
        f"   {plan.transition.value} ({plan.severity.value}) for "
        f"{one_line(plan.customer_id)} at {_when(plan.at)}:"
    )
    for number, action in enumerate(plan.actions, start=1):
        status = statuses.get(action.key, "?")
        print(
            f"   {number:>3}. {action.kind:<20} {one_line(action.step_id, limit=40):<40} "
            f"{status:<7} {one_line(_target(action), limit=70)}"
        )
    for note in plan.notes:
        print(f"        note: {one_line(note, limit=150)}")


def _who(recipient: Recipient) -> str:
    person = recipient.person
    return f"{person.name} ({recipient.role})" if person and person.name else recipient.role


def _target(action: Action) -> str:
    if isinstance(action, DirectMessage):
        return f"to {_who(action.recipient)}"
    if isinstance(action, ChannelPost):
        return f"in {action.channel}" + (" (thread)" if action.create_thread else "")
    if isinstance(action, ThreadReply):
        return "reply in the coordination thread"
    if isinstance(action, UpdateMessage):
        return "update the first post"
    if isinstance(action, CreateTask):
        return f"{action.title!r}, due {_when(action.due_at)}"
    if isinstance(action, DraftEmail):
        approval = ", needs approval" if action.requires_approval else ""
        return f"to {_who(action.to)}{approval}"
    if isinstance(action, AdjustHealthScore):
        return f"health score {action.delta:+g}"
    if isinstance(action, AddToWarRoom):
        return f"war room {action.war_room}"
    if isinstance(action, ScheduleSync):
        return f"within {action.within_hours:g} h"
    if isinstance(action, NotifyTeam):
        return f"team {action.team}"
    return ""
