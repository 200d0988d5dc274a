"""The acknowledgement e-mail draft to the customer's champion (docs/email.md).

The subject and body are workflow templates (the default is the text in docs/email.md,
with paragraphs for technical, billing, training and feature-request
tickets). The template is config; everything that came from tickets or the
CRM is a value in its context, cleaned for plain-text e-mail first: control
and bidirectional-override characters are removed so a theme or a name cannot
forge lines, headers or reorder what the champion reads. The subject is
always one line. The draft always requires approval: ticketspike never
writes to a customer on its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from ..model import Account, Category
from ..signals import Assessment
from .workflow import DraftEmailStep

__all__ = ["clean_text", "email_context", "render_email"]

# Bidi embeddings/overrides/isolates: invisible, and able to reorder text on screen.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def clean_text(value: str) -> str:
    """``value`` without control, format-override or line-breaking characters.

    Every run of whitespace (newlines and tabs included) becomes one space:
    ticket text is a phrase inside our sentence, never lines of its own.
    """
    text = _BIDI.sub("", value)
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Zl", "Zp")
    )
    return " ".join(text.split())


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def email_context(
    context: Mapping[str, Any],
    assessment: Assessment,
    account: Account | None,
    *,
    sla_hours: float,
) -> dict[str, Any]:
    """The step context plus the names the e-mail template uses, every string cleaned for e-mail."""
    champion = account.champion if account is not None else None
    csm = account.csm if account is not None else None
    out = dict(_clean(dict(context)))
    out.update(
        champion_name=clean_text(champion.name) if champion and champion.name else "there",
        csm_name=clean_text(csm.name) if csm and csm.name else "Your Customer Success team",
        sla_hours=int(sla_hours) if float(sla_hours).is_integer() else sla_hours,
        technical_issues=assessment.count_of(Category.TECHNICAL) > 0,
        billing_issues=assessment.count_of(Category.BILLING) > 0,
        training_issues=assessment.count_of(Category.TRAINING) > 0,
        feature_requests=assessment.count_of(Category.FEATURE_REQUEST) > 0,
    )
    return out


def render_email(step: DraftEmailStep, context: Mapping[str, Any]) -> tuple[str, str]:
    """Subject (one line) and body (``\\n`` line ends, no runs of blank lines)."""
    subject = " ".join(step.subject.render(context).split())
    body = step.body.render(context).replace("\r\n", "\n").replace("\r", "\n")
    body = re.sub(r"\n{3,}", "\n\n", body).strip("\n") + "\n"
    return subject, body
