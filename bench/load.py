"""Load: many threads asking through one shared `Assistant`, as Streamlit's session threads do; or several
server processes, each with its own `Assistant`, asking and saving turns into one state database.

    .venv/bin/python bench/load.py                    # 32 threads x 25 questions
    .venv/bin/python bench/load.py --threads 4 --per-thread 5
    .venv/bin/python bench/load.py --processes 2 [--per-process 150] [--database sqlite|postgresql|URL]

Threads: every answer must be identical to the single-threaded answer to the same question (no error, no
mixing between threads). Prints p50/p95 latency single-threaded and under load, and the throughput ratio.

Processes (`--processes N`, N of 1 or more): the deployment of docs/deploy.md in miniature. Runs 1 process,
then N processes at once (fresh ones each time, started with `spawn`), each loading its own `Assistant` over
the same index (read-only) and opening the same state database: SQLite in a temporary folder (the default), a
throwaway PostgreSQL server from Debian's package (`postgresql`), or the server a URL names. Each process warms
up (asks its questions once), waits for the others, then asks its `--per-process` questions again, saving
every answer as a turn (a new conversation every 10). Prints, for 1 and N processes, asks per second over the
whole run (wall clock from the common start to the last answer saved), p50/p95 of ask + save, errors, that
every turn was saved, and the peak memory of a process.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import statistics
import sys
import tempfile
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


TURNS_PER_CONVERSATION = 10


def _worker(settings: Settings, owner: str, questions: list[str], offset: int, count: int, ready, start, results) -> None:
    """One server process: its own `Assistant` and store; asks `count` questions and saves each answer in
    conversations of `owner`."""
    from assistant.state import StateStore

    bot = Assistant.load(settings=settings, build_if_missing=False)
    store = StateStore(settings)
    mine = [questions[(offset + i) % len(questions)] for i in range(count)]
    for q in dict.fromkeys(mine):  # warm: model loaded, BM25 built, these questions' sentence vectors made
        bot.ask(q, log_gaps=False)
    ready.put(offset)
    start.wait()
    rows, conversation = [], ""
    for i, q in enumerate(mine):
        started = time.perf_counter()
        try:
            answer = bot.ask(q, log_gaps=False)
            if i % TURNS_PER_CONVERSATION == 0:
                conversation = store.create_conversation(owner=owner).id
            store.append_turn(conversation, q, answer, owner=owner)
            rows.append(((time.perf_counter() - started) * 1000, ""))
        except Exception as exc:  # counted, not raised: the run goes on
            rows.append(((time.perf_counter() - started) * 1000, repr(exc)))
    store.close()
    sys.path.insert(0, str(ROOT / "bench"))
    from perf_common import peak_rss_mb

    results.put((rows, peak_rss_mb()))


def run_processes(processes: int, per_process: int, settings: Settings) -> dict:
    """`processes` fresh processes asking and saving turns at once into `settings`' state database."""
    from assistant.state import StateStore

    questions = [c.question for c in load_cases(ROOT / "tests/data/questions.jsonl")]
    ctx = multiprocessing.get_context("spawn")  # a fork would share the parent's torch threads and sockets
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    StateStore(settings).close()  # the schema is made once, before the race
    owners = [f"run{processes}-worker{p}@bench.invalid" for p in range(processes)]
    # The worker by its file's module name, which a spawned process can import (bench/ is on the sys.path it
    # inherits), whether this file runs as a script or was imported under another name (tests/test_bench.py).
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    worker = importlib.import_module("load")._worker
    workers = [
        ctx.Process(target=worker, args=(settings, owners[p], questions, p * per_process, per_process, ready, start, results))
        for p in range(processes)
    ]
    for w in workers:
        w.start()
    for _ in workers:
        _get(ready, workers, 600)
    started = time.perf_counter()
    start.set()
    replies = [_get(results, workers, 1800) for _ in workers]
    wall = time.perf_counter() - started
    rows = [r for reply_rows, _ in replies for r in reply_rows]
    for w in workers:
        w.join(timeout=60)
    with StateStore(settings) as store:
        saved = sum(c.turns for owner in owners for c in store.conversations(owner, limit=100_000))
    latencies = [ms for ms, _ in rows]
    errors = [e for _, e in rows if e]
    return {
        "processes": processes,
        "asks": len(rows),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "saved": saved,
        "asks_per_s": round(len(rows) / wall, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "peak_rss_mb_per_process": round(max(rss for _, rss in replies)),
    }


def _get(queue, workers, timeout: float):
    """The next item from a worker's queue; fails at once if a worker died instead of waiting out `timeout`."""
    import queue as queues

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return queue.get(timeout=1)
        except queues.Empty:
            dead = [w for w in workers if w.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a worker process died (exit code {dead[0].exitcode})") from None
    raise TimeoutError(f"no word from the worker processes in {timeout} s")


def run_process_levels(processes: int, per_process: int, database: str) -> dict:
    """1 process, then `processes` at once, on one database ("sqlite", "postgresql" or a URL)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from contextlib import ExitStack

    from perf_common import machine, postgres_server

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="load-")))
        url, backend = "", "sqlite"
        if database == "postgresql":
            url, backend = stack.enter_context(postgres_server(durable=True)), "postgresql (throwaway, local, fsync on)"
        elif database != "sqlite":
            url, backend = database, "postgresql (given)"
        settings = Settings.from_env(state_dir=tmp / "state", database_url=url)
        levels = sorted({1, processes})
        runs = [run_processes(n, per_process, settings) for n in levels]
    return {"mode": "processes", "database": backend, "per_process": per_process, "machine": machine(), "runs": runs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--per-thread", type=int, default=25)
    ap.add_argument("--processes", type=int, default=0, help="server processes asking and saving turns (1 and this many)")
    ap.add_argument("--per-process", type=int, default=150)
    ap.add_argument("--database", default="sqlite", help="sqlite (default), postgresql (a throwaway server) or a URL")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.processes:
        if args.processes < 1:
            ap.error("--processes must be 1 or more")
        r = run_process_levels(args.processes, args.per_process, args.database)
        if args.json:
            print(json.dumps(r, indent=1))
        else:
            print(f"state database: {r['database']}; {r['per_process']} asks per process, each answer saved as a turn")
            for row in r["runs"]:
                print(
                    f"{row['processes']} process(es): {row['asks_per_s']} asks/s, p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms; "
                    f"{row['errors']} errors, {row['saved']}/{row['asks']} turns saved; peak memory {row['peak_rss_mb_per_process']} MB a process"
                    + (f" (first error: {row['first_error']})" if row["errors"] else "")
                )
        return 0 if all(row["errors"] == 0 and row["saved"] == row["asks"] for row in r["runs"]) else 1
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
