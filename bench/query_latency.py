"""Query: warm `ask` latency (p50, p95) by stage, against the floor of a bare encode plus a bare FAISS search.

    .venv/bin/python bench/query_latency.py [--rounds 3] [--limit N] [--json]

Builds an index of the real corpus in a temporary folder, loads an `Assistant`, warms it up (every question
once), then for each labelled question (tests/data/questions.jsonl) and round measures, back to back so
that other load on the machine hits both alike:

* the floor: `model.encode([question])` on the bare sentence-transformers model plus a bare
  `faiss_index.search(vector, 5)` on the same index;
* `Assistant.ask(question)` end to end;
* the stages of the same path, one by one: spelling repair, embed (`Embedder.encode_query`), dense search
  (`StoredIndex.search`), keyword search (BM25), fusion (`Retriever.finish`: reciprocal rank, sentence scores
  and the coverage checks, building the sources), and
  composition (`answer.compose`).

Prints p50/p95 of each, the ratio ask p50 / floor p50 (the target is at most 1.3), and the p50/p95 of
ask minus floor question by question. Note: `Embedder` encodes one question straight through the model's
modules, skipping about 1 ms of `model.encode` bookkeeping (same vector), so the embed stage can come in
under the floor's encode.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_common import corpus_settings, machine, p50, p95, parser, questions, ratio, run_and_report, timed  # noqa: E402

STAGES = ("reading", "embed", "dense", "keyword", "fusion", "decide", "compose")


def run(args, embedder=None) -> dict:
    import numpy as np

    from assistant.api import Assistant
    from assistant.compose import compose
    from assistant.embed import Embedder

    with tempfile.TemporaryDirectory(prefix="query-") as tmp:
        settings = corpus_settings(Path(tmp), args.docs)
        embedder = embedder or Embedder(settings)
        bot = Assistant.load(settings=settings, embedder=embedder)
        retriever = bot._retriever
        stored = retriever.stored
        model = embedder.model
        qs = questions(args.limit)
        for q in qs:  # warm: every question once through both paths
            bot.ask(q, log_gaps=False)
            model.encode([q], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

        times: dict[str, list[float]] = {k: [] for k in ("ask", "floor", "floor_encode", "floor_search", "stages", *STAGES)}
        overhead: list[float] = []  # ask minus floor, question by question (the pair ran back to back)
        s = settings
        n = max(s.candidates, s.top_k)
        for round_no in range(args.rounds):
            for i, q in enumerate(qs):
                order = (0, 1) if (i + round_no) % 2 == 0 else (1, 0)
                for which in order:
                    if which == 0:
                        vector, enc_ms = timed(
                            model.encode, [q], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
                        )
                        _, search_ms = timed(stored.dense.search, np.asarray(vector, dtype=np.float32), s.top_k)
                        times["floor_encode"].append(enc_ms)
                        times["floor_search"].append(search_ms)
                        times["floor"].append(enc_ms + search_ms)
                    else:
                        times["ask"].append(timed(bot.ask, q, log_gaps=False)[1])
                overhead.append(times["ask"][-1] - times["floor"][-1])
                # The same path, stage by stage.
                text = " ".join(q.split())[: s.max_question_chars]
                reading, t_read = timed(bot.read, text)
                repaired = reading.text
                vector, t_embed = timed(embedder.encode_query, repaired)
                dense, t_dense = timed(stored.search, vector, n)
                bm25, t_kw = timed(retriever._bm25_ranking, repaired, n)

                def fusion(dense=dense, bm25=bm25, vector=vector, repaired=repaired):
                    from assistant.retrieve import Rankings

                    ranked = Rankings(repaired, vector, dense, bm25, dense[0][1] if dense else 0.0, dict(dense))
                    return retriever.finish(ranked, s.top_k)

                retrieval, t_fuse = timed(fusion)
                _, t_decide = timed(bot.judge.decide, reading, retrieval)
                _, t_compose = timed(compose, text, retrieval, s.threshold)
                stages = (t_read, t_embed, t_dense, t_kw, t_fuse, t_decide, t_compose)
                for name, value in zip(STAGES, stages):
                    times[name].append(value)
                times["stages"].append(sum(stages))

        summary = {k: {"p50_ms": round(p50(v), 3), "p95_ms": round(p95(v), 3)} for k, v in times.items()}
        return {
            "machine": machine(),
            "passages": len(stored),
            "questions": len(qs),
            "rounds": args.rounds,
            "threads": _threads(),
            "ms": summary,
            "ask_over_floor_p50": ratio(summary["ask"]["p50_ms"], summary["floor"]["p50_ms"]),
            "ask_over_floor_p95": ratio(summary["ask"]["p95_ms"], summary["floor"]["p95_ms"]),
            "paired_overhead_ms": {"p50": round(p50(overhead), 3), "p95": round(p95(overhead), 3)},
            "target": 1.3,
        }


def _threads() -> int:
    import torch

    return torch.get_num_threads()  # after an ask on this thread: the query thread count


def main(argv=None, embedder=None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="only the first N questions")
    ap.add_argument("--docs", type=int, default=None, help="only the first N corpus files (smoke runs)")
    result = run_and_report(ap, argv, run, embedder)
    if result is None:
        return 0
    print(f"{result['passages']} passages, {result['questions']} questions x {result['rounds']} rounds, torch threads {result['threads']}")
    print(f"{'':14}{'p50 ms':>9}{'p95 ms':>9}")
    for name in ("floor_encode", "floor_search", "floor", *STAGES, "stages", "ask"):
        row = result["ms"][name]
        print(f"{name:14}{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}")
    print(f"ask / floor: p50 {result['ask_over_floor_p50']}x, p95 {result['ask_over_floor_p95']}x (target p50 <= {result['target']}x); "
          f"ask minus floor, question by question: p50 {result['paired_overhead_ms']['p50']} ms, p95 {result['paired_overhead_ms']['p95']} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
