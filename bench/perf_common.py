"""Shared helpers for the performance benchmarks (bench/query_latency.py, build_speed.py, startup.py,
scale.py, embed_speed.py): percentiles, memory readings, a description of the machine, a temporary
index of the real corpus, and the command-line frame the benchmarks share. Not a benchmark itself;
nothing runs at import.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def p95(values: list[float]) -> float:
    return pct(values, 95)


def timed(fn, *args, **kwargs):
    """(result, milliseconds)."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, (time.perf_counter() - t0) * 1000


def rss_mb() -> float:
    """Resident memory of this process now, in MB (from /proc; 0 where unavailable)."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return _status_kb("VmHWM") / 1024


def _status_kb(field: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def machine() -> dict:
    """nproc, CPU model, RAM and the load average when the run started (others' work skews timings)."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = float(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(ram, 1),
        "loadavg_1m": round(load[0], 2),
        "python": platform.python_version(),
    }


def describe_machine() -> str:
    m = machine()
    return f"machine: {m['nproc']} CPUs, {m['cpu']}, {m['ram_gb']} GB RAM; load average {m['loadavg_1m']} at start"


def parser(doc: str) -> argparse.ArgumentParser:
    """A benchmark's option parser, described by the first line of its docstring, with `--json`."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    return ap


def run_and_report(ap: argparse.ArgumentParser, argv, run, embedder=None) -> dict | None:
    """Parse `argv` and call `run(args, embedder)`. With `--json`, print the result and return None;
    otherwise print the machine line and return the result for the benchmark's own table."""
    args = ap.parse_args(argv)
    result = run(args, embedder)
    if args.json:
        print(json.dumps(result, indent=1))
        return None
    print(describe_machine())
    return result


def corpus_settings(tmp: Path, docs: int | None = None, **changes):
    """Settings over the repository's real corpus (or a copy of its first `docs` files, for smoke runs) with
    the index, cache and logs in `tmp`."""
    import shutil

    from assistant.config import Settings
    from assistant.corpus import discover

    corpus = ROOT / "corpus"
    if docs:
        target = tmp / "corpus"
        for rel in discover(corpus)[:docs]:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(corpus / rel, target / rel)
        corpus = target
    return Settings(corpus_dir=corpus, index_dir=tmp / "index", state_dir=tmp / "state", **changes)


def questions(limit: int | None = None) -> list[str]:
    """The labelled questions (tests/data/questions.jsonl), in file order."""
    import json

    rows = [json.loads(line) for line in (ROOT / "tests/data/questions.jsonl").read_text().splitlines() if line.strip()]
    out = [r["question"] for r in rows]
    return out[:limit] if limit else out


def ratio(value: float, base: float) -> float:
    return round(value / base, 3) if base else float("inf")
