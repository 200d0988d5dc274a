"""How well the built-in classifier categorizes tickets it has never seen.

Reads ``bench/data/labelled_tickets.jsonl`` (hand-written tickets, each with
a ``label``; the classifier is trained only on its bundled seed phrases, never
on this set), classifies every ticket as if its source had given no category,
and prints accuracy per category, precision and recall, a confusion matrix,
and how often the classifier answered ``other`` for lack of confidence.

    python bench/eval_classifier.py [--threshold 0.5] [--data FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from ticketspike.detect.classify import ClassificationSettings, train
from ticketspike.model import Category, ticket_event_from_json

DATA = Path(__file__).parent / "data" / "labelled_tickets.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--threshold", type=float, default=ClassificationSettings().threshold)
    parser.add_argument("--json", action="store_true", help="print figures as JSON")
    parser.add_argument("--errors", action="store_true", help="list misclassified tickets")
    args = parser.parse_args(argv)

    classifier = train(ClassificationSettings(threshold=args.threshold))
    rows = []
    for number, line in enumerate(args.data.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        obj = json.loads(line)
        label = Category(obj.pop("label"))
        obj.pop("category", None)
        ticket = ticket_event_from_json(obj, where=f"{args.data}:{number}").ticket
        rows.append((label, ticket))

    started = time.perf_counter()
    answers = [classifier.classify(ticket) for _label, ticket in rows]
    elapsed = time.perf_counter() - started

    cats = list(Category)
    confusion: Counter[tuple[Category, Category]] = Counter()
    unsure = 0
    for (label, _t), answer in zip(rows, answers, strict=True):
        confusion[(label, answer.category)] += 1
        unsure += answer.reason.startswith("text: unsure")
    total = len(rows)
    correct = sum(confusion[(c, c)] for c in cats)
    per_cat = {}
    for c in cats:
        support = sum(confusion[(c, p)] for p in cats)
        predicted = sum(confusion[(t, c)] for t in cats)
        hit = confusion[(c, c)]
        per_cat[c.value] = {
            "support": support,
            "recall": hit / support if support else 0.0,
            "precision": hit / predicted if predicted else 0.0,
        }
    figures = {
        "tickets": total,
        "accuracy": correct / total if total else 0.0,
        "threshold": args.threshold,
        "unsure_to_other": unsure,
        "per_category": per_cat,
        "confusion": {t.value: {p.value: confusion[(t, p)] for p in cats} for t in cats},
        "tickets_per_second": total / elapsed if elapsed else None,
    }
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return 0

    print(f"{total} labelled tickets, threshold {args.threshold:g}")
    print(f"overall accuracy: {figures['accuracy']:.1%}  ({correct}/{total})")
    print(f"answered 'other' for lack of confidence: {unsure}")
    print(f"speed: {figures['tickets_per_second']:,.0f} tickets/s\n")
    print(f"{'category':<16}{'support':>8}{'recall':>9}{'precision':>11}")
    for name, f in per_cat.items():
        print(f"{name:<16}{f['support']:>8}{f['recall']:>9.1%}{f['precision']:>11.1%}")
    short = {c: c.value[:8] for c in cats}
    print("\nconfusion (rows: true label, columns: predicted)")
    print(" " * 16 + "".join(f"{short[p]:>10}" for p in cats))
    for t in cats:
        print(f"{t.value:<16}" + "".join(f"{confusion[(t, p)]:>10}" for p in cats))
    if args.errors:
        print("\nmisclassified:")
        for (label, ticket), answer in zip(rows, answers, strict=True):
            if answer.category is not label:
                print(
                    f"  {ticket.ticket_id} {label.value:>15} -> {answer.category.value:<15} "
                    f"{answer.confidence:.2f} {ticket.subject[:60]}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
