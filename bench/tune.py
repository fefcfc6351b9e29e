"""Choose retrieval defaults on one half of the labelled set, report them on the other.

    .venv/bin/python bench/tune.py [--questions tests/data/questions.jsonl] [--json]

For each passage size it builds an index of the real corpus in a temporary folder, computes the dense and
BM25 rankings of every question once, then tries every fusion setting (weights, rrf_k) on the "tune" half
and the abstention threshold on the same half. The winner is then measured on the "test" half, which took
no part in the choice. Results feed docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.answer import compose  # noqa: E402
from assistant.api import Assistant, condense  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.embed import Embedder  # noqa: E402
from assistant.evaluate import abstention, load_cases, retrieval_metrics  # noqa: E402
from assistant.retrieve import Retrieval, fuse  # noqa: E402

SIZES = [(40, 120), (60, 250), (150, 400)]
WEIGHTS = [(1.0, 0.0), (0.0, 1.0), (1.0, 0.5), (1.0, 1.0), (1.5, 1.0), (2.0, 1.0), (1.0, 1.5)]
RRF_KS = [5, 20, 60, 120]
KS = [3, 5, 8]


def mean(xs):
    return round(sum(xs) / len(xs), 4) if xs else 0.0


def score(cases, ranked, dw, bw, rrf_k):
    rows = []
    for case in cases:
        if not case.in_scope:
            continue
        r = ranked[case.id]
        order = fuse(r, dw, bw, rrf_k)[:10]
        rows.append(retrieval_metrics([r.docs[p] for p in order], case.expected))
    return {m: mean([row[m] for row in rows]) for m in ("hit@1", "hit@5", "mrr@10", "ndcg@5")}


def best_threshold(cases, ranked):
    """The threshold with the best abstention F1 on these cases (ties: the lowest threshold)."""
    best = [(ranked[c.id].best_cosine, not c.in_scope) for c in cases]
    choice, top = 0.3, -1.0
    for t in [x / 100 for x in range(10, 61)]:
        p, r = abstention(best, t)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > top + 1e-9:
            choice, top = t, f1
    return choice


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", default=str(ROOT / "tests/data/questions.jsonl"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="only the default passage size")
    args = ap.parse_args()
    cases = load_cases(Path(args.questions))
    tune = load_cases(Path(args.questions), "tune")
    test = load_cases(Path(args.questions), "test")
    embedder = Embedder(Settings())
    results = {"tune_questions": len(tune), "test_questions": len(test), "sizes": []}
    with tempfile.TemporaryDirectory() as tmp:
        for min_w, max_w in [(60, 250)] if args.quick else SIZES:
            settings = Settings(
                corpus_dir=ROOT / "corpus", index_dir=Path(tmp) / f"i{max_w}", state_dir=Path(tmp) / "s", min_words=min_w, max_words=max_w
            )
            bot = Assistant.load(settings=settings, embedder=embedder)
            retriever = bot._retriever
            ranked = {}
            for case in cases:
                r = retriever.rankings(condense(case.question, list(case.history)), 50)
                r.docs = [p.doc for p in retriever.stored.passages]
                ranked[case.id] = r
            grid = []
            for (dw, bw), rrf_k in itertools.product(WEIGHTS, RRF_KS):
                m = score(tune, ranked, dw, bw, rrf_k)
                grid.append(((m["mrr@10"] + m["hit@5"]) / 2, dw, bw, rrf_k, m))
            grid.sort(key=lambda g: (-g[0], g[3]))
            _, dw, bw, rrf_k, tune_metrics = grid[0]
            threshold = best_threshold(tune, ranked)
            row = {
                "min_words": min_w,
                "max_words": max_w,
                "passages": len(retriever.stored.passages),
                "chosen": {"dense_weight": dw, "bm25_weight": bw, "rrf_k": rrf_k, "threshold": threshold},
                "tune": tune_metrics,
                "test": {
                    "hybrid": score(test, ranked, dw, bw, rrf_k),
                    "dense": score(test, ranked, 1.0, 0.0, rrf_k),
                    "bm25": score(test, ranked, 0.0, 1.0, rrf_k),
                },
                "test_abstention": dict(zip(("precision", "recall"), abstention([(ranked[c.id].best_cosine, not c.in_scope) for c in test], threshold))),
                "k": {},
            }
            for k in KS:  # citation validity of the composed answers on the test half
                valid = []
                for case in test:
                    if not case.in_scope:
                        continue
                    r = ranked[case.id]
                    order = fuse(r, dw, bw, rrf_k)[:k]
                    retrieval = Retrieval([retriever.source(p, r) for p in order], r.best_cosine, r.query)
                    answer = compose(case.question, retrieval, threshold)
                    if not answer.abstained:
                        valid.append(float(any(s.doc in case.expected for s in answer.sources)))
                row["k"][k] = mean(valid)
            results["sizes"].append(row)
            if not args.json:
                print(f"passages {min_w}-{max_w} words ({row['passages']}): chosen {row['chosen']}")
                print(f"  tune  {tune_metrics}")
                for mode, m in row["test"].items():
                    print(f"  test  {mode:<7}{m}")
                print(f"  test abstention {row['test_abstention']}  citation validity by k {row['k']}")
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
