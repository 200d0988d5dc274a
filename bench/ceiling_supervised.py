"""How far bag-of-words models get on the real support text when they learn from it.

A yardstick for the goals set on the built-in classifier, not a classifier the
project ships: linear models over word and character n-grams (TF-IDF, then a
linear SVM or logistic regression) are trained on the dev file's own labelled
rows and scored on rows they did not see, in two ways:

* half A's rows -> half B (the same split as ``bench/eval_classifier.py``);
* five-fold cross-validation over the whole file, stratified by source label.

The built-in model learns only from the bundled seed phrases, so it cannot be
expected to do better than models that learn from the evaluation distribution
itself; where those stay below a goal, the goal is out of reach for any model
of this kind and the cause is in the labels (a GitHub "question" that reads as
a bug report), not in the vocabulary.

Needs scikit-learn, which is not a dependency of the project (install it in a
scratch environment); without it the script says so and exits.

    python bench/ceiling_supervised.py [--dev FILE]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval_classifier import DEV, halves

CATS = ("technical", "billing", "training", "feature_request", "other")


def _models() -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    def ngrams() -> Any:
        return make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        )

    return {
        "linear SVM, word 1-2 + char 2-5": make_pipeline(ngrams(), LinearSVC(C=0.5)),
        "logistic regression, same": make_pipeline(
            ngrams(), LogisticRegression(C=10, max_iter=2000)
        ),
    }


def _report(title: str, truth: Sequence[str], guess: Sequence[str], groups: Sequence[str]) -> None:
    hits = [t == g for t, g in zip(truth, guess, strict=True)]
    support = Counter(truth)
    right = Counter(t for t, h in zip(truth, hits, strict=True) if h)
    recalls = "  ".join(f"{c} {right[c] / support[c]:.1%}" for c in CATS if support[c])
    print(f"  {title}: {len(hits)} rows, accuracy {sum(hits) / len(hits):.1%}")
    print(f"    recall: {recalls}")
    by_group: dict[str, list[bool]] = defaultdict(list)
    for g, h in zip(groups, hits, strict=True):
        by_group[g].append(h)
    print(
        "    by source label: "
        + "  ".join(f"{g} {sum(v) / len(v):.0%}" for g, v in sorted(by_group.items()))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=DEV, help="the real support text dev file")
    args = parser.parse_args(argv)
    try:
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
    except ImportError:
        print("scikit-learn is not installed: pip install scikit-learn (not a project dependency)")
        return 0
    if not args.dev.is_file():
        print(f"dev file not found ({args.dev}): pass --dev FILE")
        return 0
    rows = [json.loads(line) for line in args.dev.read_text(encoding="utf-8").splitlines() if line]
    texts = [r["text"] for r in rows]
    truth = [r["category"] for r in rows]
    coarse = [f"{r['source']}:{r['category']}" for r in rows]
    half_of = halves(rows)
    a = [i for i, h in enumerate(half_of) if h == "A"]
    b = [i for i, h in enumerate(half_of) if h == "B"]
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(texts, coarse))
    for name, model in _models().items():
        print(name)
        model.fit([texts[i] for i in a], [truth[i] for i in a])
        guess_b = list(model.predict([texts[i] for i in b]))
        _report(
            "trained on half A, scored on half B",
            [truth[i] for i in b],
            guess_b,
            [coarse[i] for i in b],
        )
        guess = list(cross_val_predict(model, texts, truth, cv=folds))
        _report("five-fold cross-validation, all rows", truth, guess, coarse)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
