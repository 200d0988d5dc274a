"""A look at a Slack message without a Slack workspace: Block Kit JSON as an HTML page.

Useful for reviewing a layout (the docs' picture of the alert is made with it)
and for checking what hostile ticket text turns into. It understands the blocks
this adapter sends (header, section with text or fields, context, actions,
divider) and the mrkdwn it writes (``*bold*``, ``<url|label>`` links, the
three escaped entities). Everything shown is HTML-escaped, so the page itself
is as inert as the message.

Usage::

    python -m ticketspike_slack.preview message.json > message.html

where ``message.json`` holds ``{"text": ..., "blocks": [...]}`` (a
``chat.postMessage`` body) or just the list of blocks.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "message_html"]

_EMOJI = {
    ":rotating_light:": "\U0001f6a8",
    ":white_check_mark:": "\u2705",
    ":warning:": "\u26a0\ufe0f",
    ":fire:": "\U0001f525",
    ":chart_with_upwards_trend:": "\U0001f4c8",
}
_LINK = re.compile(r"<(https?://[^|<>\s]+)\|([^<>]*)>")
_BOLD = re.compile(r"\*([^*\n]+)\*")

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Lato, Helvetica, Arial, sans-serif;
       background: #f8f8f8; margin: 0; padding: 24px; color: #1d1c1d; }
.msg { background: #fff; max-width: 640px; border: 1px solid #e2e2e2; border-radius: 8px;
       padding: 16px 20px; display: flex; gap: 12px; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #611f69; color: #fff;
          font-weight: 700; display: flex; align-items: center; justify-content: center; }
.who { font-weight: 900; font-size: 15px; }
.app { font-size: 10px; background: #e8e8e8; color: #616061; border-radius: 3px;
       padding: 1px 4px; margin-left: 4px; font-weight: 700; vertical-align: middle; }
.header { font-size: 18px; font-weight: 900; margin: 6px 0 8px; }
.section { font-size: 15px; line-height: 1.46; margin: 6px 0; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 24px; margin: 8px 0;
          font-size: 15px; line-height: 1.46; }
.context { font-size: 12px; color: #616061; margin: 6px 0; }
.actions { display: flex; gap: 8px; flex-wrap: wrap; margin: 10px 0 2px; }
.button { border: 1px solid #c9c9c9; border-radius: 4px; padding: 4px 12px; font-size: 14px;
          font-weight: 700; background: #fff; color: #1d1c1d; text-decoration: none; }
.button.primary { background: #007a5a; border-color: #007a5a; color: #fff; }
.button.danger { background: #e01e5a; border-color: #e01e5a; color: #fff; }
hr { border: 0; border-top: 1px solid #e2e2e2; margin: 10px 0; }
a { color: #1264a3; text-decoration: none; }
.fallback { font-size: 12px; color: #616061; max-width: 640px; margin-top: 10px; }
"""


def _emoji(text: str) -> str:
    for code, char in _EMOJI.items():
        text = text.replace(code, char)
    return text


def _slack_unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _plain(text: str) -> str:
    return html.escape(_emoji(_slack_unescape(text)))


def _inline(text: str) -> str:
    """One run of mrkdwn without links: entities decoded, HTML-escaped, bold applied."""
    escaped = html.escape(_emoji(_slack_unescape(text)))
    return _BOLD.sub(r"<b>\1</b>", escaped).replace("\n", "<br>")


def _mrkdwn(text: str) -> str:
    out: list[str] = []
    last = 0
    for match in _LINK.finditer(text):
        out.append(_inline(text[last : match.start()]))
        url = html.escape(_slack_unescape(match.group(1)), quote=True)
        out.append(f'<a href="{url}">{_inline(match.group(2))}</a>')
        last = match.end()
    out.append(_inline(text[last:]))
    return "".join(out)


def _text(obj: Mapping[str, Any] | None) -> str:
    if not obj:
        return ""
    text = str(obj.get("text", ""))
    return _mrkdwn(text) if obj.get("type") == "mrkdwn" else _plain(text)


def _block(block: Mapping[str, Any]) -> str:
    kind = block.get("type")
    if kind == "header":
        return f'<div class="header">{_text(block.get("text"))}</div>'
    if kind == "section":
        parts = []
        if block.get("text"):
            parts.append(f'<div class="section">{_text(block.get("text"))}</div>')
        if block.get("fields"):
            cells = "".join(f"<div>{_text(f)}</div>" for f in block["fields"])
            parts.append(f'<div class="fields">{cells}</div>')
        return "".join(parts)
    if kind == "context":
        return (
            '<div class="context">'
            + " ".join(_text(e) for e in block.get("elements", []))
            + "</div>"
        )
    if kind == "actions":
        buttons = []
        for element in block.get("elements", []):
            style = element.get("style") or ""
            label = _text(element.get("text"))
            href = html.escape(str(element.get("url") or "#"), quote=True)
            buttons.append(f'<a class="button {html.escape(style)}" href="{href}">{label}</a>')
        return '<div class="actions">' + "".join(buttons) + "</div>"
    if kind == "divider":
        return "<hr>"
    return ""


def message_html(
    blocks: Sequence[Mapping[str, Any]], *, text: str = "", app_name: str = "ticketspike"
) -> str:
    """A self-contained HTML page showing ``blocks`` roughly as Slack would."""
    body = "".join(_block(b) for b in blocks)
    fallback = f'<div class="fallback">Notification text: {_plain(text)}</div>' if text else ""
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(app_name)} message</title><style>{_STYLE}</style></head><body>"
        '<div class="msg"><div class="avatar">ts</div><div style="flex:1">'
        f'<div class="who">{html.escape(app_name)}<span class="app">APP</span></div>'
        f"{body}</div></div>{fallback}</body></html>"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ticketspike_slack.preview",
        description="Render a Slack message's Block Kit JSON as an HTML page.",
    )
    parser.add_argument("message", help="JSON file: a chat.postMessage body or a list of blocks")
    parser.add_argument("-o", "--output", help="write here instead of standard output")
    args = parser.parse_args(argv)
    try:
        data = json.loads(Path(args.message).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"{args.message}: cannot read Block Kit JSON: {exc}", file=sys.stderr)
        return 2
    blocks = (
        data if isinstance(data, list) else data.get("blocks") if isinstance(data, dict) else None
    )
    if not isinstance(blocks, list):
        print(
            f"{args.message}: expected a list of blocks or an object with 'blocks'", file=sys.stderr
        )
        return 2
    text = str(data.get("text", "")) if isinstance(data, dict) else ""
    page = message_html(blocks, text=text)
    if args.output:
        Path(args.output).write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
