"""``ticketspike drafts list|show|approve|reject|resolve``: people deciding on e-mail drafts.

Every acknowledgement e-mail waits here for a person: ``approve`` sends it (exactly once,
with the subject and body as edited), ``reject`` makes sure it never goes, ``resolve`` settles
a draft whose send was cut off when nothing could tell whether it left. The decider is
``--by`` (default: the login name). Exit status: 0 once the draft is sent (or rejected), 2
when its state forbids the request, 1 when the mail server failed (the approval stays
recorded; approving again retries).

Text output passes every ticket-derived string through
:func:`~ticketspike.builtin.text.one_line`, so hostile ticket text cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from ..builtin.text import one_line, printable
from ..engine import Engine
from ..errors import InputError
from ..store.drafts import DraftRecord, DraftStatus
from .common import (
    EXIT_OK,
    add_config_args,
    add_format_arg,
    add_store_arg,
    config_from_args,
    print_json,
)
from .store_arg import require_store

__all__ = ["register"]


def register(subparsers: Any) -> None:
    drafts = subparsers.add_parser(
        "drafts",
        help="list, show, approve or reject the acknowledgement e-mail drafts",
        description="The acknowledgement e-mails waiting for a person: approve sends one "
        "exactly once, reject makes sure it never goes.",
    )
    sub = drafts.add_subparsers(dest="drafts_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="list drafts and their status")
    _common(listing)
    listing.add_argument(
        "--status",
        choices=[s.value for s in DraftStatus],
        help="only drafts in this status",
    )
    listing.add_argument("--episode", metavar="ID", help="only this episode's drafts")
    listing.set_defaults(handler=_list)

    show = sub.add_parser("show", help="show one draft with its full text")
    show.add_argument("id", metavar="ID", help="draft id (or its action key)")
    _common(show)
    show.set_defaults(handler=_show)

    approve = sub.add_parser("approve", help="approve a draft and send it (once)")
    approve.add_argument("id", metavar="ID", help="draft id (or its action key)")
    _common(approve)
    _by(approve)
    approve.add_argument("--subject", metavar="TEXT", help="send with this subject instead")
    approve.add_argument(
        "--body-file",
        metavar="FILE",
        help="send this file's text as the body instead ('-' reads standard input)",
    )
    approve.add_argument(
        "--confirm-resolved",
        action="store_true",
        help="send even though the spike the draft answers has resolved",
    )
    approve.set_defaults(handler=_approve)

    reject = sub.add_parser("reject", help="reject a draft: it is never sent")
    reject.add_argument("id", metavar="ID", help="draft id (or its action key)")
    _common(reject)
    _by(reject)
    reject.add_argument("--reason", metavar="TEXT", help="why (kept with the decision)")
    reject.set_defaults(handler=_reject)

    resolve = sub.add_parser(
        "resolve", help="settle a draft in 'unknown' after looking in the Sent folder"
    )
    resolve.add_argument("id", metavar="ID", help="draft id (or its action key)")
    _common(resolve)
    _by(resolve)
    answer = resolve.add_mutually_exclusive_group(required=True)
    answer.add_argument("--sent", dest="sent", action="store_true", help="it was sent")
    answer.add_argument(
        "--not-sent", dest="sent", action="store_false", help="it was not sent (approve to send)"
    )
    resolve.set_defaults(handler=_resolve)


def _common(parser: argparse.ArgumentParser) -> None:
    add_store_arg(parser)
    add_config_args(parser)
    add_format_arg(parser)


def _by(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--by", metavar="NAME", help="who decides (default: your login name)", default=None
    )


def _engine(args: argparse.Namespace) -> Engine:
    require_store(args.store)
    config = config_from_args(args)
    return Engine.from_config(config, store=args.store, accounts=args.accounts, execute=False)


def _who(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name on this system
        raise InputError("say who decides with --by NAME", field="--by") from None


def _line(d: DraftRecord) -> str:
    return (
        f"{d.id}  {d.status.value:<17}  {one_line(d.to, limit=60):<40}  "
        f"{one_line(d.subject, limit=80)}"
    )


def _detail(d: DraftRecord) -> str:
    rows = [
        ("Draft", d.id),
        ("Status", d.status.value),
        ("Episode", d.episode_id),
        ("Customer", d.customer_id),
        ("From", d.from_addr or "(no sender yet)"),
        ("Reply-To", d.reply_to),
        ("To", d.to),
        ("Subject", d.subject),
        ("Message-ID", d.message_id),
        ("Mailbox", f"{d.mailbox} / {d.folder}" if d.mailbox else None),
        ("File", d.file),
        ("Decided", f"{d.decided_by} at {d.decided_at.isoformat()}" if d.decided_at else None),
        ("Sent", d.sent_at.isoformat() if d.sent_at else None),
        ("Reason", d.reason),
        ("Error", d.error),
    ]
    head = "\n".join(f"{k + ':':<12}{one_line(str(v), limit=300)}" for k, v in rows if v)
    return f"{head}\n\n{printable(d.body)}"


def _print(args: argparse.Namespace, draft: DraftRecord, verb: str) -> int:
    if args.format == "json":
        print_json(draft.to_json())
    else:
        print(f"{verb}: {_line(draft)}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        status = DraftStatus(args.status) if args.status else None
        found = engine.drafts(status=status, episode_id=args.episode)
    if args.format == "json":
        print_json([d.to_json() for d in found])
        return EXIT_OK
    for d in found:
        print(_line(d))
    waiting = sum(1 for d in found if d.status is DraftStatus.AWAITING_APPROVAL)
    unknown = sum(1 for d in found if d.status is DraftStatus.UNKNOWN)
    print(f"{len(found)} draft{'s' if len(found) != 1 else ''}, {waiting} awaiting approval.")
    if unknown:
        print(
            f"{unknown} unknown: a send was cut off; check the Sent folder, then "
            "`ticketspike drafts resolve ID --sent` or `--not-sent`."
        )
    return EXIT_OK


def _find(engine: Engine, draft_id: str) -> DraftRecord:
    found = engine.draft(draft_id)
    if found is None:
        raise InputError(f"no e-mail draft {one_line(draft_id, limit=80)!r}", where="ID")
    return found


def _show(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        draft = _find(engine, args.id)
    if args.format == "json":
        print_json(draft.to_json())
    else:
        print(_detail(draft))
    return EXIT_OK


def _approve(args: argparse.Namespace) -> int:
    body = None
    if args.body_file:
        try:
            body = (
                sys.stdin.read()
                if args.body_file == "-"
                else Path(args.body_file).read_text(encoding="utf-8")
            )
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the body: {exc}", where=args.body_file) from None
    who = _who(args)
    with _engine(args) as engine:
        draft = engine.approve_draft(
            args.id,
            by=who,
            subject=args.subject,
            body=body,
            confirm_resolved=args.confirm_resolved,
        )
    return _print(args, draft, "Sent")


def _reject(args: argparse.Namespace) -> int:
    who = _who(args)
    with _engine(args) as engine:
        draft = engine.reject_draft(args.id, by=who, reason=args.reason)
    return _print(args, draft, "Rejected")


def _resolve(args: argparse.Namespace) -> int:
    who = _who(args)
    with _engine(args) as engine:
        draft = engine.resolve_draft(args.id, by=who, sent=args.sent)
    return _print(args, draft, "Resolved")
