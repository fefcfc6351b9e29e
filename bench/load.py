"""Load: many threads asking through one shared `Assistant`, as Streamlit's session threads do.

    .venv/bin/python bench/load.py                    # 32 threads x 25 questions
    .venv/bin/python bench/load.py --threads 4 --per-thread 5

Every answer must be identical to the single-threaded answer to the same question (no error, no mixing
between threads). Prints p50/p95 latency single-threaded and under load, and the throughput ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import Assistant  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.evaluate import load_cases  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(threads: int, per_thread: int, settings: Settings | None = None) -> dict:
    bot = Assistant.load(settings=settings or Settings.from_env())
    questions = [c.question for c in load_cases(ROOT / "tests/data/questions.jsonl")]
    bot.ask(questions[0], log_gaps=False)  # warm: model loaded, BM25 built

    expected, single = {}, []
    for q in questions:
        started = time.perf_counter()
        expected[q] = bot.ask(q, log_gaps=False).to_dict()
        single.append((time.perf_counter() - started) * 1000)

    def worker(t: int) -> list[tuple[float, bool]]:
        out = []
        for i in range(per_thread):
            q = questions[(t * per_thread + i) % len(questions)]
            started = time.perf_counter()
            answer = bot.ask(q, log_gaps=False).to_dict()
            out.append(((time.perf_counter() - started) * 1000, answer == expected[q]))
        return out

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = [r for rows in pool.map(worker, range(threads)) for r in rows]
    wall = time.perf_counter() - started
    latencies = [ms for ms, _ in results]
    return {
        "threads": threads,
        "asks": len(results),
        "errors": 0,
        "identical": sum(ok for _, ok in results),
        "single_p50_ms": round(statistics.median(single), 1),
        "single_p95_ms": round(percentile(single, 0.95), 1),
        "load_p50_ms": round(statistics.median(latencies), 1),
        "load_p95_ms": round(percentile(latencies, 0.95), 1),
        "throughput_per_s": round(len(results) / wall, 1),
        "single_throughput_per_s": round(1000 / statistics.fmean(single), 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--per-thread", type=int, default=25)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    r = run(args.threads, args.per_thread)
    if args.json:
        print(json.dumps(r, indent=1))
    else:
        print(
            f"{r['asks']} asks on {r['threads']} threads: {r['identical']}/{r['asks']} identical to single-threaded, "
            f"0 errors; p50 {r['load_p50_ms']} ms, p95 {r['load_p95_ms']} ms under load "
            f"(single-threaded p50 {r['single_p50_ms']} ms, p95 {r['single_p95_ms']} ms); throughput "
            f"{r['throughput_per_s']}/s vs {r['single_throughput_per_s']}/s single = "
            f"{r['throughput_per_s'] / r['single_throughput_per_s']:.2f}x"
        )
    return 0 if r["identical"] == r["asks"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
