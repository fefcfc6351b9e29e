"""Choose retrieval and abstention defaults on one half of the labelled set, report them on the other.

    .venv/bin/python bench/tune.py [--questions tests/data/questions.jsonl] [--also-tune FILE] [--json] [--quick]

For each passage size it builds an index of the real corpus in a temporary folder and computes the dense
and BM25 rankings of every question once. On the tune side (the "tune" half of the labelled set, plus
`--also-tune`: the blind set, written later) it then chooses, in this order:

1. the fusion (dense, BM25 and asked-question weights, rrf_k) and the sentence re-ranking (weight,
   depth) with the best mean of hit@5, MRR@10 and citation validity (within half a question's worth of
   the best, the one with less re-ranking, then the one leaning less on asked questions);
2. the abstention threshold: the highest one whose abstention precision is still >= 0.9 (the target),
   because answering a question the corpus cannot answer is the worse mistake. Asked questions count as
   support at `Settings.asked_offset`, which is set by hand, not tuned (docs/evaluation.md says why);
3. the name hinge (`Settings.name_hinge`), then the unknown-word hinge (`Settings.unknown_word_hinge`):
   each the middle of the widest run of values with the best abstention F1;

and last, across passage sizes, the one with the best objective by the rule of step 1.

The winner is then measured on the "test" half, which took no part in the choice. Results feed
docs/evaluation.md.
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

from assistant.api import Assistant  # noqa: E402
from assistant.compose import compose  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.decide import Judge, Reason  # noqa: E402
from assistant.embed import Embedder  # noqa: E402
from assistant.evaluate import abstention, load_cases, retrieval_metrics  # noqa: E402

SIZES = [(40, 120), (60, 250), (150, 400)]
# Dense and keyword rankings both stay in: hybrid is the product, and each alone is measured by `eval`'s
# dense and bm25 rows. (With asked questions in the grid, dense 0 won the tune half by a fraction of a
# question and lost on the test half.)
WEIGHTS = [(1.0, 0.5), (1.0, 1.0), (1.5, 1.0), (2.0, 1.0), (1.0, 1.5)]
ASKED = [0.0, 1.0, 1.5, 2.0]
RRF_KS = [5, 20, 60]
SENTENCE = [(0.0, 0), (0.5, 30), (1.0, 30)]  # (weight, depth)
KS = [3, 5, 8]
PRECISION_FLOOR = 0.9
NEVER = 9.0  # a threshold no cosine reaches: searches skip the abstain checks while fusion is tuned


def mean(xs):
    return round(sum(xs) / len(xs), 4) if xs else 0.0


class Runner:
    """Searches with any settings, computing each question's rankings only once."""

    def __init__(self, bot: Assistant, cases) -> None:
        self.bot = bot
        self.retriever = bot._retriever
        self.base = bot.settings
        self.cases = cases
        original = self.retriever.rankings
        memo: dict = {}

        def rankings(query, n, mode="hybrid"):
            key = (query, n, mode)
            if key not in memo:
                memo[key] = original(query, n, mode)
            return memo[key]

        self.retriever.rankings = rankings

    def understand(self, case, settings: Settings, k: int = 10, mode: str = "hybrid"):
        """(reading, retrieval) of a case, read and searched as `Assistant.ask` does with these settings."""
        self.retriever.settings = self.bot.settings = settings
        reading, retrieval, _ = self.bot._understand(" ".join(case.question.split()), k, mode, list(case.history))
        return reading, retrieval

    def search(self, case, settings: Settings, k: int = 10, mode: str = "hybrid"):
        return self.understand(case, settings, k, mode)[1]

    def judge(self, settings: Settings) -> Judge:
        stored = self.retriever.stored
        return Judge(self.bot.embedder, self.retriever.keywords, stored.vocabulary, settings, stored.has_money_figures, stored.passages)

    def retrieval(self, cases, settings: Settings, mode: str = "hybrid") -> dict:
        rows = [
            retrieval_metrics([s.doc for s in self.search(c, settings, 10, mode).sources], c.expected) for c in cases if c.in_scope
        ]
        return {m: mean([row[m] for row in rows]) for m in ("hit@1", "hit@5", "mrr@10", "ndcg@5")}

    def scores(self, cases, settings: Settings) -> list[tuple[float, bool]]:
        """(abstain score, out of scope) per case: the best sentence's cosine, or 0 when the sources lack a
        name, a figure or the word the question hinges on (that abstention holds at any threshold)."""
        out = []
        settings = settings.replace(threshold=0.0)  # so every case gets the other checks
        judge = self.judge(settings)
        for c in cases:
            reading, r = self.understand(c, settings, settings.top_k)
            decision = judge.decide(reading, r)
            out.append((r.relevance if decision.reason in (Reason.ANSWERED, Reason.OFF_SUBJECT) else 0.0, not c.in_scope))
        return out

    def citation_validity(self, cases, settings: Settings, k: int, threshold: float | None = None) -> float:
        """Share of answered in-scope cases whose answer cites an expected document. `threshold` (default:
        the settings') decides what is answered; searching with a threshold no cosine reaches skips the
        name, figure and word checks, which the fusion grid leaves for later."""
        valid = []
        settings = settings.replace(threshold=settings.threshold if threshold is None else threshold)
        judge = self.judge(settings)
        for c in cases:
            if not c.in_scope:
                continue
            reading, r = self.understand(c, settings, k)
            if threshold is not None and threshold >= NEVER:
                decided = r.relevance >= settings.threshold
            else:
                decided = judge.decide(reading, r).answer
            if decided:
                answer = compose(c.question, r, settings.threshold)
                valid.append(float(any(s.doc in c.expected for s in answer.sources)))
        return mean(valid)


def highest_threshold(scores, floor: float = PRECISION_FLOOR) -> float:
    """The highest threshold (0.01 steps) whose abstention precision on `scores` is at least `floor`."""
    good = [t / 100 for t in range(10, 71) if abstention(scores, t / 100)[0] >= floor]
    return max(good) if good else 0.3


def middle_of_best_run(values: list[float], quality) -> float:
    """The middle of the longest run of consecutive `values` that reach the best `quality`."""
    results = [quality(v) for v in values]
    best = max(results)
    runs, current = [], []
    for v, q in zip(values, results):
        if q >= best - 1e-9:
            current.append(v)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    run = max(runs, key=len)
    return round((run[0] + run[-1]) / 2, 3)


def f1(scores, threshold: float) -> float:
    p, r = abstention(scores, threshold)
    return 2 * p * r / (p + r) if p + r else 0.0


def tune_size(runner: Runner, tune, test, base: Settings) -> dict:
    quiet = base.replace(threshold=NEVER)
    grid = []
    for (dw, bw), aw, rrf_k, (sw, depth) in itertools.product(WEIGHTS, ASKED, RRF_KS, SENTENCE):
        settings = quiet.replace(
            dense_weight=dw, bm25_weight=bw, asked_weight=aw, rrf_k=rrf_k, sentence_weight=sw, rerank_depth=depth
        )
        m = runner.retrieval(tune, settings)
        m["citation_validity"] = runner.citation_validity(tune, settings, base.top_k, threshold=base.threshold)
        grid.append(((m["mrr@10"] + m["hit@5"] + m["citation_validity"]) / 3, sw, aw, rrf_k, settings, m))
    # Within half a question's worth of the best objective counts as a tie; ties go to less re-ranking
    # (simpler, and cheaper per question), then to less weight on asked questions (the corpus's own words
    # first), then to the better objective, then to the smaller rrf_k.
    best = max(g[0] for g in grid)
    near = [g for g in grid if g[0] >= best - 0.5 / max(1, sum(c.in_scope for c in tune))]
    near.sort(key=lambda g: (g[1], g[2], -g[0], g[3]))
    *_, chosen, tune_metrics = near[0]
    threshold = highest_threshold(runner.scores(tune, chosen.replace(unknown_word_hinge=0.0, name_hinge=0.0)))
    chosen = chosen.replace(threshold=threshold)
    hinges = [h / 100 for h in range(60, 100)]
    name_hinge = middle_of_best_run(
        hinges, lambda h: f1(runner.scores(tune, chosen.replace(name_hinge=h, unknown_word_hinge=0.0)), threshold)
    )
    chosen = chosen.replace(name_hinge=name_hinge)
    hinge = middle_of_best_run(hinges, lambda h: f1(runner.scores(tune, chosen.replace(unknown_word_hinge=h)), threshold))
    chosen = chosen.replace(unknown_word_hinge=hinge)
    test_scores = runner.scores(test, chosen)
    return {
        "chosen": {
            "dense_weight": chosen.dense_weight,
            "bm25_weight": chosen.bm25_weight,
            "asked_weight": chosen.asked_weight,
            "rrf_k": chosen.rrf_k,
            "sentence_weight": chosen.sentence_weight,
            "rerank_depth": chosen.rerank_depth,
            "threshold": threshold,
            "asked_offset": chosen.asked_offset,
            "name_hinge": name_hinge,
            "unknown_word_hinge": hinge,
        },
        "tune": {**tune_metrics, "abstention": dict(zip(("precision", "recall"), abstention(runner.scores(tune, chosen), threshold)))},
        "test": {
            "hybrid": runner.retrieval(test, chosen),
            "dense": runner.retrieval(test, chosen, "dense"),
            "bm25": runner.retrieval(test, chosen, "bm25"),
        },
        "test_abstention": dict(zip(("precision", "recall"), abstention(test_scores, threshold))),
        "k": {k: runner.citation_validity(test, chosen, k) for k in KS},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", default=str(ROOT / "tests/data/questions.jsonl"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="only the default passage size")
    ap.add_argument("--also-tune", default=str(ROOT / "tests/data/blind.jsonl"), help="more questions for the tune side ('' for none)")
    args = ap.parse_args()
    extra = load_cases(Path(args.also_tune)) if args.also_tune else []
    cases = load_cases(Path(args.questions)) + extra
    tune = load_cases(Path(args.questions), "tune") + extra
    test = load_cases(Path(args.questions), "test")
    embedder = Embedder(Settings())
    results = {"tune_questions": len(tune), "test_questions": len(test), "sizes": []}
    with tempfile.TemporaryDirectory() as tmp:
        for min_w, max_w in [(60, 250)] if args.quick else SIZES:
            settings = Settings(
                corpus_dir=ROOT / "corpus", index_dir=Path(tmp) / f"i{max_w}", state_dir=Path(tmp) / "s", min_words=min_w, max_words=max_w
            )
            bot = Assistant.load(settings=settings, embedder=embedder)
            row = {"min_words": min_w, "max_words": max_w, "passages": len(bot.stored.passages)}
            row.update(tune_size(Runner(bot, cases), tune, test, settings))
            results["sizes"].append(row)
            if not args.json:
                print(f"passages {min_w}-{max_w} words ({row['passages']}): chosen {row['chosen']}", flush=True)
                print(f"  tune  {row['tune']}")
                for mode, m in row["test"].items():
                    print(f"  test  {mode:<7}{m}")
                print(f"  test abstention {row['test_abstention']}  citation validity by k {row['k']}", flush=True)
    results["chosen_size"] = choose_size(results["sizes"], sum(c.in_scope for c in tune))
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        best = results["chosen_size"]
        print(f"chosen passage size: {best['min_words']}-{best['max_words']} words")
    return 0


def choose_size(rows: list[dict], n_tune: int) -> dict:
    """The passage size by the same rule as the fusion: best tune objective, where sizes within half a
    question's worth of the best tie and ties go to less re-ranking."""
    def objective(row: dict) -> float:
        return (row["tune"]["mrr@10"] + row["tune"]["hit@5"] + row["tune"]["citation_validity"]) / 3

    best = max(objective(r) for r in rows)
    near = [r for r in rows if objective(r) >= best - 0.5 / max(1, n_tune)]
    return min(near, key=lambda r: (r["chosen"]["sentence_weight"], -objective(r)))


if __name__ == "__main__":
    raise SystemExit(main())
