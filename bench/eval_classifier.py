"""How well the built-in classifier and theme finder do on text they have never seen.

Two sets:

* ``bench/data/labelled_tickets.jsonl``: the project's own hand-written
  tickets, each with a ``label``;
* the real support text dev file (default ``../shared/data/support-text-dev.jsonl``
  from the project root, ``--dev`` to point elsewhere): public issue titles,
  app reviews, banking and shop requests, each with a ``category``. Skipped
  with a note when the file is not there.

The classifier is trained only on its bundled seed phrases, never on either
set. For each set it prints accuracy per category (recall) and precision, the
overall accuracy and a confusion matrix. The dev file is also split in two
stratified halves (by source and source label, ordered by a hash of the
text): figures were tuned
looking at half A only, so half B is the held-out figure.

Themes: for every source intent with enough rows (banking77 and bitext carry
one per row) spike windows are built from one half: 60-80 % of a window's
tickets share that intent, the rest is background from other intents, and the
baseline is other intents only. A window is a hit when one of its top three
themes names the intent (a word from the intent's own description, below).

    python bench/eval_classifier.py [--dev FILE] [--threshold 0.5] [--json] [--errors]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ticketspike.model import Category, Ticket, ticket_event_from_json
from ticketspike.text.classify import ClassificationSettings, NaiveBayesClassifier, train
from ticketspike.text.themes import find_themes
from ticketspike.text.tokens import segments, stem

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "labelled_tickets.jsonl"
DEV = ROOT / ".." / "shared" / "data" / "support-text-dev.jsonl"
CATS = list(Category)
AT = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)
SPLIT_SALT = "ticketspike-dev-split/"

# What a theme must say to name an intent: any one of these words (compared by
# light stem). Written from the intent names, not from the rows.
INTENT_WORDS: dict[str, tuple[str, ...]] = {
    "Refund_not_showing_up": ("refund",),
    "activate_my_card": ("activate", "activation"),
    "age_limit": ("age", "old", "young"),
    "atm_support": ("atm", "cash", "withdraw", "withdrawal"),
    "automatic_top_up": ("automatic", "auto", "top"),
    "card_arrival": ("arrive", "arrival", "delivery", "deliver", "received"),
    "card_delivery_estimate": ("delivery", "deliver", "arrive", "arrival", "shipping"),
    "change_pin": ("pin",),
    "country_support": ("country", "countries", "abroad"),
    "edit_personal_details": ("details", "address", "name", "personal"),
    "exchange_via_app": ("exchange", "currency", "currencies"),
    "extra_charge_on_statement": ("charge", "statement", "extra", "fee"),
    "getting_virtual_card": ("virtual",),
    "lost_or_stolen_card": ("lost", "stolen", "lose", "steal", "stole"),
    "passcode_forgotten": ("passcode", "password", "forgot", "forgotten"),
    "request_refund": ("refund",),
    "top_up_by_cash_or_cheque": ("cheque", "check", "cash", "top"),
    "transaction_charged_twice": ("twice", "double", "duplicate"),
    "transfer_fee_charged": ("fee", "transfer"),
    "card_payment_fee_charged": ("fee",),
    "change_shipping_address": ("address", "shipping"),
    "set_up_shipping_address": ("address", "shipping"),
    "check_cancellation_fee": ("cancellation", "fee", "termination"),
    "check_invoice": ("invoice", "bill"),
    "get_invoice": ("invoice", "bill"),
    "check_payment_methods": ("payment", "pay", "method"),
    "check_refund_policy": ("refund", "reimbursement", "policy"),
    "contact_customer_service": ("customer service", "support", "contact"),
    "contact_human_agent": ("agent", "human", "person", "representative", "operator"),
    "delivery_options": ("delivery", "shipping", "shipment"),
    "delivery_period": ("delivery", "arrive", "shipping", "shipment"),
    "newsletter_subscription": ("newsletter",),
    "payment_issue": ("payment", "pay"),
    "recover_password": ("password", "pin", "key", "restore", "recover"),
    "registration_problems": ("registration", "register", "signup"),
    "track_order": ("order", "purchase", "track"),
    "track_refund": ("refund",),
}
MIN_INTENT_ROWS = 10


def _ticket(text: str, ticket_id: str, created_at: datetime = AT) -> Ticket:
    # A short line reads like a subject (an issue title, a chat opener); a
    # longer text (a review, an e-mail) like a body without a subject.
    subject, body = (text, "") if len(text) <= 100 else ("", text)
    return Ticket(
        ticket_id=ticket_id,
        customer_id="eval",
        subject=subject,
        body=body,
        created_at=created_at,
        category_given=False,
    )


def load_own(path: Path) -> list[tuple[Category, Ticket]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        obj = json.loads(line)
        label = Category(obj.pop("label"))
        obj.pop("category", None)
        rows.append((label, ticket_event_from_json(obj, where=f"{path}:{number}").ticket))
    return rows


def load_dev(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            row["ticket"] = _ticket(row["text"], f"D{number}")
            rows.append(row)
    return rows


def halves(rows: Sequence[dict[str, Any]]) -> list[str]:
    """'A' or 'B' per row, fixed by a hash of its text, alternating within each source label.

    Rows of one source label are ordered by the SHA-256 of their text and
    dealt out A, B, A, B...: the split depends on nothing but the rows
    themselves (not their order in the file, not a random generator), and
    both halves get the same mix of sources and labels.
    """
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[(row["source"], row["orig_label"])].append(i)
    out = [""] * len(rows)
    for idx in groups.values():
        idx.sort(key=lambda i: hashlib.sha256(f"{SPLIT_SALT}{rows[i]['text']}".encode()).digest())
        for j, i in enumerate(idx):
            out[i] = "A" if j % 2 == 0 else "B"
    return out


def figures(pairs: Sequence[tuple[Category, Category]]) -> dict[str, Any]:
    confusion: Counter[tuple[Category, Category]] = Counter(pairs)
    total = len(pairs)
    correct = sum(confusion[(c, c)] for c in CATS)
    per_cat = {}
    for c in CATS:
        support = sum(confusion[(c, p)] for p in CATS)
        predicted = sum(confusion[(t, c)] for t in CATS)
        hit = confusion[(c, c)]
        per_cat[c.value] = {
            "support": support,
            "recall": hit / support if support else 0.0,
            "precision": hit / predicted if predicted else 0.0,
        }
    return {
        "tickets": total,
        "accuracy": correct / total if total else 0.0,
        "per_category": per_cat,
        "confusion": {t.value: {p.value: confusion[(t, p)] for p in CATS} for t in CATS},
    }


def print_figures(title: str, f: dict[str, Any], *, confusion: bool = True) -> None:
    print(f"== {title}: {f['tickets']} tickets, accuracy {f['accuracy']:.1%}")
    print(f"{'category':<16}{'support':>8}{'recall':>9}{'precision':>11}")
    for name, c in f["per_category"].items():
        print(f"{name:<16}{c['support']:>8}{c['recall']:>9.1%}{c['precision']:>11.1%}")
    if confusion:
        print("confusion (rows: true label, columns: predicted)")
        print(" " * 16 + "".join(f"{p.value[:8]:>10}" for p in CATS))
        for t in CATS:
            row = f["confusion"][t.value]
            print(f"{t.value:<16}" + "".join(f"{row[p.value]:>10}" for p in CATS))
    print()


def _stems(text: str) -> set[str]:
    return {stem(w) for seg in segments(text) for w in seg}


def names_intent(phrase: str, intent: str) -> bool:
    said = _stems(phrase)
    return any(_stems(word) <= said for word in INTENT_WORDS[intent])


def theme_windows(
    rows: Sequence[dict[str, Any]], half_of: Sequence[str], half: str, *, seeds: int = 2
) -> list[dict[str, Any]]:
    """Spike windows from one half of the rows, and whether the top three themes named them."""
    by_intent: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        if half_of[i] == half and row["orig_label"] in INTENT_WORDS:
            by_intent[row["orig_label"]].append(i)
    pool = [i for i, h in enumerate(half_of) if h == half]
    results = []
    for intent in sorted(by_intent):
        own = by_intent[intent]
        if len(own) * 2 < MIN_INTENT_ROWS:
            continue
        for seed in range(seeds):
            rng = random.Random(f"{intent}/{seed}")
            k = min(len(own), rng.randint(6, 10))
            share = rng.uniform(0.6, 0.8)
            dominant = rng.sample(own, k)
            others = [i for i in pool if rows[i]["orig_label"] != intent]
            rng.shuffle(others)
            n_background = max(1, round(k / share) - k)
            background, base_rows = others[:n_background], others[n_background : n_background + 80]
            window = [
                _ticket(rows[i]["text"], f"W{n}", AT - timedelta(minutes=n))
                for n, i in enumerate(dominant + background)
            ]
            baseline = [
                _ticket(rows[i]["text"], f"B{n}", AT - timedelta(days=1 + n % 29))
                for n, i in enumerate(base_rows)
            ]
            themes = find_themes(window, baseline, limit=3)
            hit = any(names_intent(t.phrase, intent) for t in themes)
            results.append(
                {
                    "intent": intent,
                    "seed": seed,
                    "dominant": k,
                    "window": len(window),
                    "themes": [f"{t.phrase} ({t.count})" for t in themes],
                    "hit": hit,
                }
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the project's own labelled set")
    parser.add_argument("--dev", type=Path, default=DEV, help="the real support text dev file")
    parser.add_argument("--threshold", type=float, default=ClassificationSettings().threshold)
    parser.add_argument("--json", action="store_true", help="print figures as JSON")
    parser.add_argument("--errors", action="store_true", help="list misclassified own tickets")
    parser.add_argument("--themes", action="store_true", help="list every theme window")
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="also train the same model on half A's rows and score half B (a yardstick only)",
    )
    args = parser.parse_args(argv)

    classifier = train(ClassificationSettings(threshold=args.threshold))
    out: dict[str, Any] = {"threshold": args.threshold}

    own = load_own(args.data)
    started = time.perf_counter()
    own_answers = [classifier.classify(ticket) for _label, ticket in own]
    elapsed = time.perf_counter() - started
    out["own"] = figures(
        [(label, a.category) for (label, _t), a in zip(own, own_answers, strict=True)]
    )
    out["own"]["unsure_to_other"] = sum(a.reason.startswith("text: unsure") for a in own_answers)
    out["tickets_per_second"] = len(own) / elapsed if elapsed else None

    if args.dev.is_file():
        out.update(_dev_figures(classifier, args.dev))
        if args.ceiling:
            out["ceiling_b"] = _ceiling(args.dev, args.threshold)
    else:
        out["dev"] = None

    if args.json:
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0

    print(f"threshold {args.threshold:g}; speed {out['tickets_per_second']:,.0f} tickets/s\n")
    print_figures(f"own labelled set ({args.data.name})", out["own"])
    if args.errors:
        print("misclassified own tickets:")
        for (label, ticket), answer in zip(own, own_answers, strict=True):
            if answer.category is not label:
                print(
                    f"  {ticket.ticket_id} {label.value:>15} -> {answer.category.value:<15} "
                    f"{answer.confidence:.2f} {ticket.subject[:60]}"
                )
        print()
    if out["dev"] is None:
        print(f"dev file not found ({args.dev}): pass --dev FILE for the real-text figures")
        return 0
    print_figures(f"dev file ({args.dev.name})", out["dev"])
    print_figures("dev half A (looked at while tuning)", out["dev_a"], confusion=False)
    print_figures("dev half B (held out)", out["dev_b"], confusion=False)
    print("dev accuracy per source, and recall of each category the source labels:")
    for source, f in out["dev_sources"].items():
        recalls = "  ".join(
            f"{name} {c['recall']:.0%} of {c['support']}"
            for name, c in f["per_category"].items()
            if c["support"]
        )
        print(f"  {source:<12}{f['tickets']:>6}{f['accuracy']:>9.1%}   {recalls}")
    print("dev accuracy by how surely the source label maps to a category:")
    for level, f in out["dev_mapping"].items():
        print(f"  {level:<12}{f['tickets']:>6}{f['accuracy']:>9.1%}")
    print()
    if "ceiling_b" in out:
        print_figures(
            "yardstick: the same model also trained on half A's rows, scored on half B",
            out["ceiling_b"],
            confusion=False,
        )
    for half in ("A", "B"):
        t = out[f"themes_{half.lower()}"]
        print(
            f"themes, windows from half {half}: dominant intent in the top three for "
            f"{t['hits']}/{t['windows']} ({t['hit_rate']:.1%})"
        )
        for w in t["list"]:
            if args.themes or not w["hit"]:
                mark = "hit " if w["hit"] else "MISS"
                print(
                    f"  {mark} {w['intent']:<28} {w['dominant']:>2}/{w['window']:<3}"
                    f" {'; '.join(w['themes'])}"
                )
    return 0


def _ceiling(path: Path, threshold: float) -> dict[str, Any]:
    """Half B's figures for the model trained on half A's labelled rows on top of the seeds.

    Nothing of this ships: it says how far this kind of model can go on text
    like the dev file's even when it learns from that very distribution, so a
    goal for the seed-trained model can be judged against it.
    """
    rows = load_dev(path)
    half_of = halves(rows)
    learnt = tuple(
        (
            c,
            tuple(
                r["text"]
                for r, h in zip(rows, half_of, strict=True)
                if h == "A" and r["category"] == c.value
            ),
        )
        for c in CATS
    )
    model = train(ClassificationSettings(threshold=threshold, keywords=learnt, keyword_weight=1))
    return figures(
        [
            (Category(r["category"]), model.classify(r["ticket"]).category)
            for r, h in zip(rows, half_of, strict=True)
            if h == "B"
        ]
    )


def _dev_figures(classifier: NaiveBayesClassifier, path: Path) -> dict[str, Any]:
    rows = load_dev(path)
    half_of = halves(rows)
    pairs = []
    for row in rows:
        answer = classifier.classify(row["ticket"])
        pairs.append((Category(row["category"]), answer.category))
    by_source: dict[str, list[tuple[Category, Category]]] = defaultdict(list)
    for row, pair in zip(rows, pairs, strict=True):
        by_source[row["source"]].append(pair)
    out: dict[str, Any] = {
        "dev": figures(pairs),
        "dev_a": figures([p for p, h in zip(pairs, half_of, strict=True) if h == "A"]),
        "dev_b": figures([p for p, h in zip(pairs, half_of, strict=True) if h == "B"]),
        "dev_sources": {s: figures(p) for s, p in sorted(by_source.items())},
        "dev_mapping": {
            level: figures(
                [p for r, p in zip(rows, pairs, strict=True) if r["mapping_confidence"] == level]
            )
            for level in sorted({row["mapping_confidence"] for row in rows})
        },
    }
    for half in ("A", "B"):
        windows = theme_windows(rows, half_of, half)
        hits = sum(w["hit"] for w in windows)
        out[f"themes_{half.lower()}"] = {
            "windows": len(windows),
            "hits": hits,
            "hit_rate": hits / len(windows) if windows else 0.0,
            "list": windows,
        }
    return out


if __name__ == "__main__":
    raise SystemExit(main())
