"""The alert as Slack Block Kit, built with ``slack_sdk.models.blocks``.

slack_sdk's block classes check most of Slack's limits when serialised (section
text <= 3000, fields <= 10, header <= 150, button text <= 75...), so a message
that would be refused fails here, not at Slack. But a refused alert is still a
missed alert, so this module never relies on those checks to stop it: every
list is cut to a budget first and ends with "+N more", and every free string
is clipped. A spike of ten thousand tickets renders the same few blocks as a
spike of fifteen.

Every ticket-derived string (themes, ticket ids, customer and CSM names) is
escaped with :func:`~ticketspike_slack.escape.mrkdwn` and placed in ``verbatim``
mrkdwn objects. ``plain_text`` objects (the header, button labels) are never
parsed for mentions, but they are escaped too: Slack decodes exactly these three
entities for display, so escaping costs nothing there and keeps one rule for
every string that leaves this module. Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TypeVar

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InteractiveElement,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextObject,
    SectionBlock,
)

from ticketspike import AlertMessage, Severity
from ticketspike.planner.message import Link, MessageKind

from .escape import clip, clip_mrkdwn, is_web_url, mrkdwn, safe_url
from .settings import button_url

__all__ = [
    "ACK_ACTION",
    "DEFAULT_BUTTONS",
    "MORE_ACTION",
    "SNOOZE_CHOICES",
    "STATUS_BLOCK",
    "MAX_BLOCKS",
    "act_line",
    "fallback_text",
    "render_blocks",
    "sparkline",
    "status_block",
]

# Slack's documented limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_BUTTONS = 10

# Our own budgets, well under the limits: Slack refuses messages whose blocks
# add up to roughly 13k characters even when each block is within its limit.
THEMES_BUDGET = 1200
THEME_CHARS = 120
MAX_THEMES = 10
BREAKDOWN_BUDGET = 1200
MAX_BREAKDOWN_ROWS = 12
PRIORITY_BUDGET = 400
TICKET_LINKS_BUDGET = 1500
MAX_TICKET_LINKS = 10
LINES_BUDGET = 4000
NAME_CHARS = 200
FALLBACK_CHARS = 3000

# The alert's buttons, shown on an alert when the plan names none.
DEFAULT_BUTTONS: tuple[Link, ...] = (
    Link("View Tickets"),
    Link("Draft Response"),
    Link("Start War Room"),
    Link("View Customer"),
)

# The alert's own controls: Acknowledge first, snooze and resolve in an overflow menu.
ACK_ACTION = "acknowledge"
MORE_ACTION = "ticketspike_more"
SNOOZE_CHOICES: tuple[tuple[str, int], ...] = (("1h", 1), ("4h", 4), ("24h", 24))
# The block that says who acted on the alert ("Acknowledged by ... at ...").
STATUS_BLOCK = "ticketspike_status"

_SPARK = "▁▂▃▄▅▆▇█"

T = TypeVar("T")


def render_blocks(
    message: AlertMessage,
    *,
    buttons: Mapping[str, str] | None = None,
    episode_id: str = "",
    quick_actions: bool = True,
    sparkline_days: int = 14,
    status: Sequence[str] = (),
    acknowledged: bool = False,
    closed: bool = False,
) -> list[Block]:
    """The Block Kit blocks for ``message``, always within Slack's limits.

    :param buttons: button slug -> URL template (see
        :class:`~ticketspike_slack.settings.SlackSettings`); overrides the
        message's own link URLs.
    :param episode_id: fills ``{episode_id}`` in URL templates and button values.
    :param quick_actions: show the action buttons at all.
    :param sparkline_days: how many recent daily counts to draw (0: none).
    :param status: status lines (escaped mrkdwn, see :func:`act_line`) shown above the
        buttons, so a message re-rendered from a later plan keeps saying who acted.
    :param acknowledged: the episode is acknowledged: no Acknowledge button.
    :param closed: the episode is over: only the link buttons stay (no acts left to take).
    """
    blocks: list[Block] = [
        HeaderBlock(
            block_id="ticketspike_header",
            text=PlainTextObject(
                text=clip_mrkdwn(f"{message.emoji} {message.title}".strip(), MAX_HEADER),
                emoji=True,
            ),
        )
    ]
    if message.kind is MessageKind.ALERT:
        blocks.extend(_alert_body(message))
    else:
        blocks.extend(_lines_body(message))
    if sparkline_days > 0 and message.daily_counts:
        days = message.daily_counts[-sparkline_days:]
        blocks.append(
            ContextBlock(
                block_id="ticketspike_sparkline",
                elements=[
                    PlainTextObject(
                        text=f"Daily tickets, last {len(days)} days: {sparkline(days)} "
                        f"(peak {max(days)})",
                        emoji=False,
                    )
                ],
            )
        )
    actions = _buttons(message, buttons or {}, episode_id) if quick_actions else []
    if acknowledged or closed:
        actions = [e for e in actions if getattr(e, "action_id", None) != ACK_ACTION]
    if closed:
        actions = [e for e in actions if isinstance(e, ButtonElement) and e.url]
    tail: list[Block] = [status_block(status)] if status else []
    if actions:
        tail.append(ActionsBlock(block_id="ticketspike_actions", elements=actions))
    return [*blocks[: MAX_BLOCKS - len(tail)], *tail]


def act_line(verb: str, by: str, at: datetime) -> str:
    """``"Acknowledged by <name> at HH:MM UTC"``: the name escaped and clipped."""
    when = at.astimezone(timezone.utc).strftime("%H:%M UTC")
    return f"{verb} by {clip_mrkdwn(by, NAME_CHARS)} at {when}"


def status_block(lines: Sequence[str]) -> ContextBlock:
    """The status line(s) of an alert; each line must already be escaped mrkdwn."""
    return ContextBlock(
        block_id=STATUS_BLOCK,
        elements=[MarkdownTextObject(text=clip("\n".join(lines), MAX_SECTION_TEXT), verbatim=True)],
    )


def fallback_text(message: AlertMessage) -> str:
    """The notification text Slack shows where blocks cannot be (escaped, clipped)."""
    return clip_mrkdwn(message.summary, FALLBACK_CHARS)


def sparkline(counts: Sequence[int]) -> str:
    """Counts drawn as block characters, scaled to the largest (``▁▁▂▁█``)."""
    if not counts:
        return ""
    top = max(counts)
    if top <= 0:
        return _SPARK[0] * len(counts)
    steps = len(_SPARK) - 1
    return "".join(_SPARK[round(max(c, 0) / top * steps)] for c in counts)


# -- the alert ------------------------------------------------------------------


def _md(text: str) -> MarkdownTextObject:
    # verbatim: Slack must not auto-link or auto-mention what escaping left.
    return MarkdownTextObject(text=text, verbatim=True)


def _section(block_id: str, text: str) -> SectionBlock:
    return SectionBlock(block_id=block_id, text=_md(text[:MAX_SECTION_TEXT]))


def _fmt_multiplier(value: float | None) -> str:
    return "no baseline" if value is None else f"*{value:.1f}x* normal rate"


def _fmt_money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.0f}"


def _fmt_score(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}"


def _counts(message: AlertMessage) -> SectionBlock:
    text = (
        f"*{message.ticket_count} tickets* in last {message.period_hours:g} hours "
        f"({_fmt_multiplier(message.multiplier)})"
    )
    if message.severity not in (Severity.NONE, Severity.MEDIUM):
        text += f" · severity *{message.severity.value}*"
    return _section("ticketspike_counts", text)


def _alert_body(message: AlertMessage) -> list[Block]:
    out: list[Block] = [_counts(message)]
    if message.breakdown:
        rows = _fit(
            message.breakdown,
            lambda row: f"• {mrkdwn(clip(row.label, 60))}: {row.count} ({row.percent}%)",
            sep="\n",
            budget=BREAKDOWN_BUDGET,
            max_items=MAX_BREAKDOWN_ROWS,
        )
        out.append(_section("ticketspike_breakdown", "*Ticket Breakdown:*\n" + rows))
    counts = [(p, n) for p, n in message.priority_counts if n]
    if counts:
        text = _fit(
            counts,
            lambda pn: f"{pn[1]} {mrkdwn(clip(pn[0], 20))}",
            sep=", ",
            budget=PRIORITY_BUDGET,
            max_items=10,
        )
        out.append(_section("ticketspike_priorities", "*Severity:* " + text))
    if message.themes:
        themes = _fit(
            message.themes,
            lambda t: clip_mrkdwn(t, THEME_CHARS),
            sep=", ",
            budget=THEMES_BUDGET,
            max_items=MAX_THEMES,
        )
        out.append(_section("ticketspike_themes", "*Common Themes:* " + themes))
    health = _fmt_score(message.health_score)
    if message.previous_health_score is not None:
        health += f" (was {_fmt_score(message.previous_health_score)})"
    customer = clip_mrkdwn(message.customer_name or message.customer_id, NAME_CHARS)
    fields = [
        _md(f"*Customer:*\n{customer}"),
        _md(f"*ARR:*\n{_fmt_money(message.arr)}"),
        _md(f"*Health Score:*\n{health}"),
        _md(f"*CSM:*\n{clip_mrkdwn(message.csm_name or 'unassigned', NAME_CHARS)}"),
    ]
    out.append(SectionBlock(block_id="ticketspike_customer", fields=fields[:MAX_FIELDS]))
    if message.ticket_links:
        links = _fit(
            message.ticket_links,
            lambda pair: _ticket_link(*pair),
            sep=", ",
            budget=TICKET_LINKS_BUDGET,
            max_items=MAX_TICKET_LINKS,
        )
        out.append(_section("ticketspike_tickets", "*Tickets:* " + links))
    if message.lines:
        out.extend(_line_sections(message.lines))
    return out


def _lines_body(message: AlertMessage) -> list[Block]:
    out: list[Block] = []
    if message.ticket_count:
        out.append(_counts(message))
    out.extend(_line_sections(message.lines))
    if not message.customer_id and not message.customer_name:
        return out  # about no customer (a ticket source gone quiet): no customer line
    customer = clip_mrkdwn(message.customer_name or message.customer_id, NAME_CHARS)
    out.append(DividerBlock())
    out.append(
        ContextBlock(
            block_id="ticketspike_context",
            elements=[
                _md(
                    f"Customer: {customer} · CSM: "
                    f"{clip_mrkdwn(message.csm_name or 'unassigned', NAME_CHARS)}"
                )
            ],
        )
    )
    return out


def _line_sections(lines: Sequence[str]) -> list[Block]:
    """Free sentences, escaped, packed into as few sections as fit the budget."""
    text = _fit(
        lines,
        lambda line: clip_mrkdwn(line, MAX_SECTION_TEXT - 20),
        sep="\n",
        budget=LINES_BUDGET,
        max_items=len(lines),
    )
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        if current and len(current) + 1 + len(line) > MAX_SECTION_TEXT:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return [_section(f"ticketspike_lines_{i}", chunk) for i, chunk in enumerate(chunks)]


def _fit(
    items: Sequence[T], show: Callable[[T], str], *, sep: str, budget: int, max_items: int
) -> str:
    """Join as many shown ``items`` as fit ``budget`` characters, then "+N more".

    ``show`` (escaping, clipping) runs only on the items that may be shown, so a
    spike of ten thousand tickets costs what a spike of ten does.
    """
    shown: list[str] = []
    used = 0
    for raw in items[:max_items]:
        item = show(raw)
        cost = len(item) + (len(sep) if shown else 0)
        # Keep room for the "+N more" tail should anything be left out.
        if used + cost > budget - 20:
            break
        shown.append(item)
        used += cost
    hidden = len(items) - len(shown)
    if hidden:
        shown.append(f"+{hidden} more")
    return sep.join(shown)


def _ticket_link(ticket_id: str, url: str) -> str:
    label = clip_mrkdwn(ticket_id, 60).replace("|", "¦")
    target = safe_url(url)
    if target is None or len(target) > 500:
        return label
    return f"<{target}|{label}>"


# -- buttons ------------------------------------------------------------------------


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:64] or "action"


def _buttons(
    message: AlertMessage, templates: Mapping[str, str], episode_id: str
) -> list[InteractiveElement]:
    alert = message.kind is MessageKind.ALERT
    links = message.links or (DEFAULT_BUTTONS if alert else ())
    if alert and episode_id:
        links = (Link("Acknowledge", action_id=ACK_ACTION), *links)
    values = {
        "customer_id": message.customer_id,
        "customer_name": message.customer_name,
        "episode_id": episode_id,
        "severity": message.severity.value,
    }
    value = json.dumps({"customer_id": message.customer_id, "episode_id": episode_id})
    out: list[InteractiveElement] = []
    seen: set[str] = set()
    for link in links[:MAX_BUTTONS]:
        slug = _slug(link.label)
        url: str | None = None
        if slug in templates:
            url = button_url(templates[slug], values)
        elif link.url and is_web_url(link.url) and len(link.url) <= 3000:
            url = link.url
        action_id = (link.action_id or f"ticketspike_{slug}")[:255]
        if action_id in seen:
            continue  # Slack refuses two elements with one action id in a block
        seen.add(action_id)
        out.append(
            ButtonElement(
                text=PlainTextObject(text=clip_mrkdwn(link.label, MAX_BUTTON_TEXT), emoji=False),
                action_id=action_id,
                url=url,
                value=value if len(value) <= MAX_BUTTON_VALUE else None,
                style="primary" if not out else None,
            )
        )
    if alert and episode_id:
        out.append(
            OverflowMenuElement(
                action_id=MORE_ACTION,
                options=[
                    *(
                        Option(value=f"snooze_{name}", label=f"Snooze {name}")
                        for name, _h in SNOOZE_CHOICES
                    ),
                    Option(value="resolve", label="Resolve"),
                ],
            )
        )
    return out
