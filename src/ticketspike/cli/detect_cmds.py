"""``ticketspike scan`` and ``ticketspike replay``: the detector, from a ticket file.

``scan`` assesses every customer at one instant and prints the risk signals
(docs/cli.md); ``--plan`` adds the escalation plan each signal would start.
``replay`` streams the file in time order through detector and lifecycle, as
production would, ticks included, and prints every episode transition with
its time: the backtest tool.

Output is written only once the whole file has been read, so a bad line
stops with one error (file:line, field, what was expected) and nothing
half-written. Ticket text is never printed; only ids, counts, categories and
theme phrases rebuilt from plain words.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .._fileorder import OrderReport, OutOfOrder, guarded_rows, sorted_rows
from ..accounts import load_accounts
from ..engine import with_accounts_file
from ..errors import InvalidTicket
from ..incidents import Correlator, IncidentTransition
from ..lifecycle import episode_id_for
from ..model import (
    Account,
    EventKind,
    Ticket,
    TicketEvent,
    TicketRow,
    check_customer_id,
    parse_time,
)
from ..monitor import SpikeMonitor, replay_rows
from ..plugins import Plugins
from ..signals import Assessment, Transition, TransitionKind
from ..ticketfile import iter_ticket_events, iter_ticket_rows
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    Progress,
    add_config_args,
    add_format_arg,
    config_from_args,
    count,
)

if TYPE_CHECKING:
    from ..config import Config

UTC = timezone.utc

__all__ = ["register"]

# Files out of time order up to this size are sorted in memory (about 3x the file in RAM).
_SORT_LIMIT_MB = 512
# A ticket this far ahead of the rest of the stream, never caught up with, is quarantined.
_FUTURE_GAP = 30 * 86400.0
# More late or quarantined tickets than this share of the file fail the command.
_LOSS_SHARE = 0.01


def register(subparsers: Any) -> None:
    scan = subparsers.add_parser(
        "scan",
        help="assess every customer at one instant and print the risk signals",
        description="Assess every customer's trailing window at one instant (default: the "
        "newest ticket's time) and print a risk signal for each spike.",
    )
    scan.add_argument("tickets", metavar="TICKETS.jsonl", help="ticket JSON Lines file")
    scan.add_argument("--at", metavar="ISO", help="instant to assess (ISO-8601 with offset)")
    add_config_args(scan)
    add_format_arg(scan)
    scan.add_argument(
        "--plan", action="store_true", help="add the escalation plan each signal would start"
    )
    _add_order_args(scan)
    scan.set_defaults(handler=_scan)

    replay = subparsers.add_parser(
        "replay",
        help="stream the file through detector and lifecycle and print every transition",
        description="Replay the tickets in time order, with hourly and day-boundary ticks, "
        "and print every episode transition (opened, escalated, resolved) with its time.",
    )
    replay.add_argument("tickets", metavar="TICKETS.jsonl", help="ticket JSON Lines file")
    add_config_args(replay)
    add_format_arg(replay)
    _add_order_args(replay)
    replay.set_defaults(handler=_replay)


def _add_order_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--assume-sorted",
        action="store_true",
        help="do not check the file's time order (tickets out of order by more than "
        "detection.lateness_hours are dropped and counted)",
    )
    parser.add_argument(
        "--sort-memory-mb",
        type=int,
        default=_SORT_LIMIT_MB,
        metavar="MB",
        help="largest file sorted in memory when it is not in time order "
        f"(default {_SORT_LIMIT_MB}); a larger one is refused",
    )
    parser.add_argument(
        "--full-history",
        action="store_true",
        help="take the file as each customer's whole history: a customer first seen "
        "in it is new and judged against the industry rate from its first ticket "
        "(default: history before the file's first ticket is unknown and warms up)",
    )


# -- shared ------------------------------------------------------------------------------
def _accounts(args: argparse.Namespace, config: Config) -> dict[str, Account]:
    """The accounts file's accounts, plus what installed account directories (a CRM plugin)
    say about the file's other customers: the same context ``run`` plans with.

    Plugins load as for every command (:meth:`Plugins.from_env`). A directory cannot be
    listed, only asked, so when one is installed the file is read once more for its
    customer ids.
    """
    path = args.accounts or config.accounts_path
    accounts = load_accounts(path) if path else {}
    plugin_config = with_accounts_file(config.plugins, args.accounts)
    registered = Plugins.from_env().collect("register_account_directories", plugin_config)
    directories = [r.obj for r in registered if not r.builtin]
    if not directories:
        return accounts
    for customer in _customer_ids(args.tickets):
        if customer in accounts:
            continue
        for directory in directories:
            found = directory.get_account(customer)
            if found is not None:
                accounts[customer] = found
                break
    return accounts


def _customer_ids(path: str) -> list[str]:
    seen: dict[str, None] = {}
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                customer = json.loads(line).get("customerId")
            except (ValueError, AttributeError):
                continue  # the detection pass reports bad lines with their line number
            try:
                seen.setdefault(check_customer_id(customer), None)
            except InvalidTicket:
                continue
    return list(seen)


def _categorizer() -> Callable[[Ticket], Ticket] | None:
    """The text classifier for tickets whose source named no category, if it is installed."""
    try:
        from ..text.classify import categorize
    except ImportError:  # pragma: no cover - the module ships with the core
        return None
    return categorize


def _events(
    path: str, config: Config, progress: Progress, *, until: datetime | None = None
) -> Iterator[TicketEvent]:
    """The file's events, categorized where the source gave no category."""
    categorize = _categorizer()

    def on_line(_number: int, read: int) -> None:
        progress.update(read)

    for event in iter_ticket_events(
        path,
        strict_categories=config.strict_categories,
        on_line=on_line if progress.enabled else None,
    ):
        if until is not None and (event.ticket.created_at > until or event.at > until):
            continue
        ticket = event.ticket
        if categorize is not None and not ticket.category_given and not ticket.internal:
            categorized = categorize(ticket)
            if categorized is not ticket:
                event = TicketEvent(
                    ticket=categorized,
                    kind=event.kind,
                    occurred_at=event.occurred_at,
                    event_id=event.event_id,
                )
        yield event


def _rows(
    path: str, config: Config, progress: Progress, *, until: datetime | None = None
) -> Iterator[TicketRow]:
    """:func:`_events` as detector rows: what ``replay`` and ``scan`` count."""

    def on_line(_number: int, read: int) -> None:
        progress.update(read)

    rows = iter_ticket_rows(
        path,
        strict_categories=config.strict_categories,
        on_line=on_line if progress.enabled else None,
        categorize=_categorizer(),
    )
    if until is None:
        return rows
    limit = until.timestamp()
    return (r for r in rows if r.created <= limit and r.when <= limit)


def _progress(label: str, path: str) -> Progress:
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    return Progress(label, total=size or None, unit="bytes")


@contextlib.contextmanager
def _long_lived_heap() -> Iterator[None]:
    """Collect garbage less often while streaming a file.

    The monitor's state lives for the whole run and is never garbage; with
    the default thresholds the collector keeps rescanning it (about a tenth
    of replay time). Restored afterwards, as the command may run in-process.
    """
    saved = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(saved[0], 50_000), saved[1], max(saved[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()


def _monitor(
    config: Config, accounts: Mapping[str, Account], watching_since: datetime | None = None
) -> SpikeMonitor:
    return SpikeMonitor(
        config.detection,
        config.lifecycle,
        config.silences,
        accounts,
        watching_since=watching_since,
    )


def _stream_file(
    args: argparse.Namespace,
    config: Config,
    accounts: Mapping[str, Account],
    label: str,
    on_transition: Callable[[Transition], None],
    restart: Callable[[], None],
    *,
    until: datetime | None = None,
    tap: Callable[[TicketRow], None] | None = None,
) -> tuple[SpikeMonitor, OrderReport]:
    """Replay the file through a fresh monitor, in time order whatever the file's order.

    Streams the file as it is while it stays in order within the lateness
    bound; at the first row that is not, ``restart()`` is called and the
    file is read again, sorted in memory (up to ``--sort-memory-mb``). The
    monitor watches from the first ticket (see ``--full-history``).
    """
    lateness = config.detection.lateness_hours * 3600.0
    for attempt in ("stream", "sort"):
        report = OrderReport()
        progress = _progress(label, args.tickets)
        rows: Iterator[TicketRow] = _rows(args.tickets, config, progress, until=until)
        if attempt == "sort":
            size = _size(args.tickets)
            if size > args.sort_memory_mb * (1 << 20):
                progress.close()
                raise InvalidTicket(
                    f"not in time order (tickets more than {config.detection.lateness_hours} h "
                    f"before earlier ones) and {size / (1 << 20):.0f} MiB is more than "
                    f"--sort-memory-mb {args.sort_memory_mb} allows sorting in memory; sort "
                    "the file by time first, raise --sort-memory-mb, or pass --assume-sorted "
                    "to drop (and count) what is out of order",
                    where=args.tickets,
                )
            rows = iter(sorted_rows(rows, report))
        guarded = guarded_rows(
            rows,
            report,
            lateness=lateness,
            gap=_FUTURE_GAP,
            check_order=attempt == "stream" and not args.assume_sorted,
        )
        first = next(guarded, None)
        since = None
        if first is not None and not args.full_history:
            since = datetime.fromtimestamp(first.when, tz=UTC)
        monitor = _monitor(config, accounts, since)
        feed = guarded if first is None else itertools.chain((first,), guarded)
        if tap is not None:
            feed = _tapped(feed, tap)
        try:
            with _long_lived_heap():
                for transition in replay_rows(feed, monitor):
                    on_transition(transition)
        except OutOfOrder:
            progress.close()
            restart()
            continue
        progress.close()
        return monitor, report
    raise AssertionError("unreachable: the sorted attempt never raises OutOfOrder")


def _tapped(rows: Iterator[TicketRow], tap: Callable[[TicketRow], None]) -> Iterator[TicketRow]:
    for row in rows:
        tap(row)
        yield row


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _report_input(monitor: SpikeMonitor, report: OrderReport) -> bool:
    """Say on stderr what ordering, warm-up and lateness did; ``False`` when too much was lost."""
    policy = monitor.policy
    err = sys.stderr
    if report.sorted_in_memory:
        print(
            f"ticketspike: the file was not in time order; sorted {report.rows} line(s) "
            "in memory first",
            file=err,
        )
    if monitor.watching_since is not None:
        print(
            f"ticketspike: watching from the file's first ticket "
            f"({monitor.watching_since.isoformat()}): customers first seen in its first "
            f"{policy.baseline_days} days, with no first_seen in the accounts, have an unknown "
            f"history and warm up for {policy.min_history_days} days (--full-history to take "
            "the file as complete)",
            file=err,
        )
    late = monitor.detector.late_dropped
    if late:
        print(
            f"ticketspike: warning: {late} ticket(s) arrived more than "
            f"{policy.lateness_hours} h out of order and were not counted "
            "(see detection.lateness_hours)",
            file=err,
        )
    held = report.quarantined
    if held:
        shown = ", ".join(
            f"{json.dumps(r.ticket_id)} at {datetime.fromtimestamp(r.when, tz=UTC).isoformat()}"
            for r in held[:3]
        )
        more = f" and {len(held) - 3} more" if len(held) > 3 else ""
        print(
            f"ticketspike: warning: quarantined {len(held)} ticket(s) dated more than "
            f"{_FUTURE_GAP / 86400:g} days beyond the rest of the file, not counted: "
            f"{shown}{more}",
            file=err,
        )
    lost = late + len(held)
    if report.rows and lost > _LOSS_SHARE * report.rows:
        print(
            f"ticketspike: error: {lost} of {report.rows} ticket line(s) were not counted "
            f"(more than {_LOSS_SHARE:.0%}); the figures above are incomplete",
            file=err,
        )
        return False
    return True


def _num(value: float) -> str:
    return "inf" if value == float("inf") else f"{value:.1f}"


# -- scan ----------------------------------------------------------------------------
def _scan(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    accounts = _accounts(args, config)
    at = parse_time(args.at, where="--at", field="") if args.at else None
    # Scan wants the counters; episodes are replay's business.
    monitor, report = _stream_file(
        args, config, accounts, "scan", lambda _t: None, lambda: None, until=at
    )
    complete = _report_input(monitor, report)
    status = EXIT_OK if complete else EXIT_FAILURE
    when = at or monitor.now
    signals: list[Assessment] = []
    customers = monitor.customers()
    if when is not None:
        for cid in customers:
            assessment = monitor.assess(cid, when)
            if assessment.is_spike:
                signals.append(assessment)
    signals = _with_themes(args.tickets, config, signals, when)
    plans: dict[str, dict[str, Any]] = {}
    if args.plan:
        plans = _plans(config, accounts, signals)
    if args.format == "json":
        out = []
        for a in signals:
            signal = a.to_risk_signal()
            if args.plan:
                signal["plan"] = plans[a.customer_id]
            out.append(signal)
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return status
    lines = []
    stamp = f" at {when.isoformat()}" if when is not None else ""
    if not customers:
        lines.append(f"no tickets in {args.tickets}: nothing to assess")
    elif not signals:
        lines.append(f"no spikes among {count(len(customers), 'customer')}{stamp}")
    else:
        lines.append(
            f"{count(len(signals), 'spike')} among {count(len(customers), 'customer')}{stamp}"
        )
    for a in signals:
        lines.append(
            f"{a.customer_id}  {a.severity.value}  {a.ticket_count} tickets in "
            f"{a.period_hours:g} h, baseline {a.baseline_daily_avg:.2f}/day "
            f"({a.baseline_source.value}), {_num(a.spike_multiplier)}x"
        )
        lines.append(f"  {a.explanation}")
        if a.category_breakdown:
            lines.append(
                "  categories: " + ", ".join(f"{c.value} {n}" for c, n in a.category_breakdown)
            )
        if a.themes:
            lines.append("  themes: " + "; ".join(a.themes))
        if args.plan:
            plan = plans[a.customer_id]
            lines.append(f"  plan: {len(plan['actions'])} action(s)")
            for action in plan["actions"]:
                lines.append(f"    - {action['kind']} ({action['step_id']})")
            for note in plan["notes"]:
                lines.append(f"    note: {note}")
    sys.stdout.write("\n".join(lines) + "\n")
    return status


def _with_themes(
    path: str, config: Config, signals: list[Assessment], when: datetime | None
) -> list[Assessment]:
    """Add the common themes of each spike, read from the file in a second pass.

    Only the spiking customers' tickets are kept, so memory stays small.
    """
    if not signals or when is None:
        return signals
    try:
        from ..text.themes import find_themes
    except ImportError:  # pragma: no cover - the module ships with the core
        return signals
    import attrs

    wanted = {a.customer_id: a for a in signals}
    window_ids = {a.customer_id: set(a.ticket_ids) for a in signals}
    baseline_from = when - timedelta(days=config.detection.baseline_days + 2)
    window: dict[str, dict[tuple[str, str], Ticket]] = {c: {} for c in wanted}
    baseline: dict[str, dict[tuple[str, str], Ticket]] = {c: {} for c in wanted}
    progress = _progress("themes", path)
    for event in _events(path, config, progress, until=when):
        ticket = event.ticket
        cid = ticket.customer_id
        if cid not in wanted or ticket.internal or event.kind is EventKind.RESOLVED:
            continue
        if ticket.ticket_id in window_ids[cid] and ticket.created_at >= wanted[cid].period_start:
            window[cid][ticket.key] = ticket
        elif baseline_from <= ticket.created_at < wanted[cid].period_start:
            baseline[cid][ticket.key] = ticket
    progress.close()
    out = []
    for a in signals:
        themes = find_themes(
            list(window[a.customer_id].values()), list(baseline[a.customer_id].values()), limit=5
        )
        out.append(attrs.evolve(a, themes=tuple(t.phrase for t in themes)))
    return out


def _plans(
    config: Config, accounts: Mapping[str, Account], signals: list[Assessment]
) -> dict[str, dict[str, Any]]:
    from ..planner.planner import Planner

    planner = Planner(workflow=config.workflow, routing=config.routing)
    plans = {}
    for a in signals:
        transition = Transition(
            kind=TransitionKind.OPENED,
            at=a.at,
            customer_id=a.customer_id,
            episode_id=episode_id_for(a.customer_id, a.at),
            severity=a.severity,
            assessment=a,
            opened_at=a.at,
        )
        plans[a.customer_id] = planner.plan(transition, accounts.get(a.customer_id)).to_json()
    return plans


# -- replay --------------------------------------------------------------------------
def _replay(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    accounts = _accounts(args, config)
    as_json = args.format == "json"
    counts = {kind: 0 for kind in TransitionKind}
    incidents = {"incident_opened": 0, "incident_joined": 0, "incident_resolved": 0}
    policy = config.incidents
    lateness = config.detection.lateness_hours
    correlator = [Correlator(policy, lateness_hours=lateness)]
    # Held until the whole file has been read (a bad line prints nothing), in a
    # spooled file so that a long replay's output does not sit in memory.
    with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="utf-8") as held:

        def write(transition: Transition) -> None:
            counts[transition.kind] += 1
            held.write(json.dumps(transition.to_json()) if as_json else _line(transition))
            held.write("\n")
            for change in correlator[0].observe(transition):
                incidents[change.kind] += 1
                held.write(json.dumps(change.to_json()) if as_json else _incident_line(change))
                held.write("\n")

        def restart() -> None:
            held.seek(0)
            held.truncate()
            for kind in counts:
                counts[kind] = 0
            for name in incidents:
                incidents[name] = 0
            correlator[0] = Correlator(policy, lateness_hours=lateness)

        def tap(row: TicketRow) -> None:
            if row.kind == 0 and not row.internal:
                correlator[0].saw_epoch(row.customer_id, row.when)

        monitor, report = _stream_file(
            args, config, accounts, "replay", write, restart, tap=tap if policy.enabled else None
        )
        complete = _report_input(monitor, report)
        held.seek(0)
        shutil.copyfileobj(held, sys.stdout)
    if not as_json:
        summary = ", ".join(f"{n} {kind.value}" for kind, n in counts.items())
        if any(incidents.values()):
            summary += "; " + ", ".join(f"{n} {name}" for name, n in incidents.items())
        sys.stdout.write(f"{count(len(monitor.customers()), 'customer')}: {summary}\n")
    return EXIT_OK if complete else EXIT_FAILURE


def _incident_line(change: IncidentTransition) -> str:
    inc = change.incident
    return (
        f"{change.at.isoformat()}  {change.kind}  {inc.incident_id}  {inc.label}  "
        f"{len(inc.customer_ids)} customers, {inc.ticket_count} tickets: "
        f"{', '.join(change.customer_ids)}"
    )


def _line(t: Transition) -> str:
    a = t.assessment
    text = (
        f"{t.at.isoformat()}  {t.kind.value:<9}  {t.customer_id}  {t.severity.value:<8}  "
        f"{a.ticket_count} tickets in {a.period_hours:g} h vs {a.expected_count:.2f} "
        f"expected ({_num(a.spike_multiplier)}x)  {t.episode_id}"
    )
    if t.suppressed:
        text += f"  [suppressed: {t.suppressed}]"
    return text
