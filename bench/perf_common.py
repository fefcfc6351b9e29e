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


# ------------------------------------------------------------------------------------------- a throwaway PostgreSQL server


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL server folder (`/usr/lib/postgresql/<version>/bin`) with `initdb`, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: _version_key(p.parent.parent.name))
    return found[-1].parent if found else None


def _version_key(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in name.split("."))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_server(durable: bool = True):
    """A context manager: a PostgreSQL server of its own (Debian's package) in a temporary folder on a free
    port of 127.0.0.1, yielding its URL (`postgresql://postgres@127.0.0.1:PORT/postgres`, trust
    authentication), stopped and removed on exit.

    PostgreSQL refuses to run as root, so as root the folder goes to the `postgres` user and the server runs
    as that user. `durable=False` turns fsync off (tests: faster, nothing to keep); benchmarks keep it on, as
    a real server would. Raises FileNotFoundError without the server binaries (`apt-get install -y
    postgresql`) and RuntimeError, with the server's log, when it does not start.
    """
    import contextlib
    import shutil
    import subprocess
    import tempfile

    @contextlib.contextmanager
    def _server():
        bindir = postgres_bindir()
        if bindir is None:
            raise FileNotFoundError("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): apt-get install -y postgresql")
        folder = Path(tempfile.mkdtemp(prefix="pg-"))
        as_user: dict = {}
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
            as_user = {"user": "postgres", "group": "postgres", "extra_groups": []}

        def run(*cmd: str) -> None:
            done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=120, **as_user)
            if done.returncode != 0:
                log = (folder / "log").read_text(errors="replace") if (folder / "log").exists() else ""
                raise RuntimeError(f"{Path(cmd[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}\n{log[-2000:]}")

        data = folder / "data"
        started = False
        try:
            run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync")
            options = f"-c listen_addresses=127.0.0.1 -k {folder}" + ("" if durable else " -c fsync=off -c full_page_writes=off")
            for attempt in range(3):  # the free port can be taken between choosing it and binding it
                port = free_port()
                try:
                    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", f"-p {port} {options}", "-l", str(folder / "log"), "-w", "-t", "60", "start")
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
            started = True
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            if started:
                subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], cwd=folder, capture_output=True, timeout=120, **as_user)
            shutil.rmtree(folder, ignore_errors=True)

    return _server()
