"""A generated ticket stream for incident tests: 300 customers, a month of normal days, then
one day on which 40 of them spike on "login issues" within an hour (or, busy-Monday style,
every customer runs 1.5x its usual rate)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

UTC = timezone.utc
START = datetime(2026, 2, 2, tzinfo=UTC)
DAYS = 32  # day 31 is the day under test
CUSTOMERS = [f"cust{i:03d}" for i in range(300)]
AFFECTED = CUSTOMERS[:40]
UNRELATED = {
    "cust200": ("billing", "Invoice charged twice"),
    "cust250": ("training", "How do I set up the new reports?"),
}
_CATEGORIES = ("technical", "billing", "training", "feature_request", "other")
_SUBJECTS = {
    "technical": "Export is slow",
    "billing": "Question about my invoice",
    "training": "How do I add a user?",
    "feature_request": "Please add dark mode",
    "other": "General question",
}


def _row(
    cid: str, tid: str, at: datetime, category: str, subject: str, **extra: Any
) -> dict[str, Any]:
    row = {
        "ticketId": tid,
        "customerId": cid,
        "category": category,
        "severity": "P3",
        "subject": subject,
        "createdAt": at.isoformat().replace("+00:00", "Z"),
    }
    row.update(extra)
    return row


def stream(
    *,
    incident: bool = True,
    busy_monday: bool = False,
    seed: int = 7,
    customers: int = len(CUSTOMERS),
    affected: int = len(AFFECTED),
    days: int = DAYS,
) -> list[dict[str, Any]]:
    """The rows, in time order (smaller streams: fewer ``customers``, ``affected``, ``days``)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    last = days - 1
    for cid in CUSTOMERS[:customers]:
        per_day = rng.choice((1, 2, 2, 3))
        for day in range(days + 1):
            count = per_day
            if busy_monday and day == last:
                count = round(per_day * 1.5 + rng.random())
            for i in range(count):
                at = START + timedelta(days=day, hours=rng.uniform(0, 24))
                category = rng.choice(_CATEGORIES)
                rows.append(_row(cid, f"{cid}-{day}-{i}", at, category, _SUBJECTS[category]))
    day = START + timedelta(days=last)
    if incident:
        for n, cid in enumerate(CUSTOMERS[:affected]):
            begin = day + timedelta(hours=10, minutes=n)
            for i in range(10):
                at = begin + timedelta(minutes=1.5 * i)
                rows.append(
                    _row(
                        cid,
                        f"{cid}-login-{i}",
                        at,
                        "technical",
                        "Login issues: cannot sign in",
                        severity="P1" if i < 2 else "P2",
                    )
                )
        for cid, (category, subject) in UNRELATED.items():
            if cid not in CUSTOMERS[:customers]:
                continue
            begin = day + timedelta(hours=15 if category == "billing" else 19)
            for i in range(10):
                rows.append(
                    _row(cid, f"{cid}-own-{i}", begin + timedelta(minutes=4 * i), category, subject)
                )
    rows.sort(key=lambda r: (r["createdAt"], r["customerId"], r["ticketId"]))
    return rows


def write(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)
