"""Start-up: `--help` without torch, `ask` from launch to answer, and the app from start to first answer.

    .venv/bin/python bench/startup.py [--runs 5] [--no-app] [--json]

Everything runs in fresh processes against an index of the real corpus built first in a temporary folder:

* `python -m assistant --help`: wall time (p50 of `--runs`; target at most 0.5 s) against a bare
  `python -c pass`, and whether torch, sentence-transformers or FAISS got imported (they must not);
* `python -m assistant ask QUESTION --json`: wall time from launch to answer (p50 of `--runs`);
* the same path broken into stages inside one process: imports, index load, model load, first (cold) ask,
  second (warm) ask;
* the app: `streamlit.testing.v1.AppTest` runs app.py (imports, model and index load through
  `st.cache_resource`), then submits a question; the model and index loads are timed by wrapping
  `Embedder._load` and `index.load`. A real browser session adds Streamlit's server start, not measured here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_common import ROOT, corpus_settings, machine, p50, parser, run_and_report  # noqa: E402

QUESTION = "What skills do I need to become a machine learning engineer?"

_HELP_PROBE = """
import json, sys
from assistant.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print(json.dumps({name: name in sys.modules for name in ("torch", "sentence_transformers", "faiss", "bm25s", "numpy")}))
"""

_STAGES = """
import json, sys, time
t0 = time.perf_counter()
from assistant import index as store
from assistant.api import Assistant
from assistant.config import Settings
from assistant.embed import Embedder
t1 = time.perf_counter()
settings = Settings.from_env()
stored = store.load(settings.index_dir, settings)
t2 = time.perf_counter()
embedder = Embedder(settings)
embedder.model
t3 = time.perf_counter()
bot = Assistant(settings, embedder, stored)
bot.ask(sys.argv[1], log_gaps=False)
t4 = time.perf_counter()
bot.ask(sys.argv[1] + " Which ones matter most?", log_gaps=False)
t5 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "index_load_s": t2 - t1, "model_load_s": t3 - t2, "first_ask_s": t4 - t3, "warm_ask_s": t5 - t4}))
"""

_APP = """
import json, sys, time
t0 = time.perf_counter()
from streamlit.testing.v1 import AppTest
import assistant.embed as embed, assistant.index as store
spent = {"model_load_s": 0.0, "index_load_s": 0.0}
def wrap(owner, name, key):
    original = getattr(owner, name)
    def timed(*a, **k):
        s = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            spent[key] += time.perf_counter() - s
    setattr(owner, name, timed)
wrap(embed.Embedder, "_load", "model_load_s")
wrap(store, "load", "index_load_s")
at = AppTest.from_file(sys.argv[1], default_timeout=300)
at.run()
t1 = time.perf_counter()
at.chat_input[0].set_value(sys.argv[2]).run()
t2 = time.perf_counter()
text = " ".join(m.markdown[0].value for m in at.chat_message if m.markdown) if at.chat_message else ""
print(json.dumps({"page_ready_s": t1 - t0, "first_answer_s": t2 - t0, "answer_s": t2 - t1, "answered": "[1]" in text, **spent,
                  "exceptions": [str(e.value)[:200] for e in at.exception]}))
"""


def _env(settings) -> dict:
    env = dict(os.environ)
    env.update({"ASSISTANT_CORPUS_DIR": str(settings.corpus_dir), "ASSISTANT_INDEX_DIR": str(settings.index_dir),
                "ASSISTANT_STATE_DIR": str(settings.state_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "PYTHONPATH": str(ROOT)})
    return env


def _wall(cmd: list[str], env: dict, cwd: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, done.stdout


def run(args, embedder=None) -> dict:
    from assistant.build import sync
    from assistant.embed import Embedder

    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        settings = corpus_settings(Path(tmp), args.docs)
        sync(settings, embedder or Embedder(settings))
        env = _env(settings)
        cwd = Path(tmp)
        out: dict = {"machine": machine()}
        bare = [_wall([py, "-c", "pass"], env, cwd)[0] for _ in range(args.runs)]
        helps = [_wall([py, "-m", "assistant", "--help"], env, cwd)[0] for _ in range(args.runs)]
        out["python_bare_s"] = round(p50(bare), 3)
        out["help_s"] = round(p50(helps), 3)
        out["help_target_s"] = 0.5
        out["help_imports"] = json.loads(_wall([py, "-c", _HELP_PROBE], env, cwd)[1].strip().splitlines()[-1])
        asks = []
        for _ in range(args.ask_runs):
            seconds, stdout = _wall([py, "-m", "assistant", "ask", QUESTION, "--json"], env, cwd)
            asks.append(seconds)
            out["ask_answered"] = bool(json.loads(stdout).get("sources"))
        out["ask_launch_to_answer_s"] = round(p50(asks), 3)
        if args.stages:
            stages = json.loads(_wall([py, "-c", _STAGES, QUESTION], env, cwd)[1].strip().splitlines()[-1])
            out["ask_stages_s"] = {k: round(v, 3) for k, v in stages.items()}
        if args.app:
            try:
                app = json.loads(_wall([py, "-c", _APP, str(ROOT / "app.py"), QUESTION], env, cwd)[1].strip().splitlines()[-1])
                out["app"] = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in app.items()}
            except (subprocess.CalledProcessError, ValueError, IndexError) as exc:  # app.py is someone else's, mid-edit
                out["app"] = {"error": f"{type(exc).__name__}: {getattr(exc, 'stderr', '') or exc}"[-500:]}
        return out


def main(argv=None, embedder=None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--runs", type=int, default=5, help="runs of --help and of the bare interpreter")
    ap.add_argument("--ask-runs", type=int, default=3)
    ap.add_argument("--no-app", dest="app", action="store_false", help="skip the Streamlit app measurement")
    ap.add_argument("--no-stages", dest="stages", action="store_false", help="skip the in-process stage breakdown of ask")
    ap.add_argument("--docs", type=int, default=None, help="only the first N corpus files (smoke runs)")
    result = run_and_report(ap, argv, run, embedder)
    if result is None:
        return 0
    heavy = [k for k, v in result["help_imports"].items() if v and k != "numpy"]
    print(f"--help: {result['help_s']}s (bare python {result['python_bare_s']}s; target <= {result['help_target_s']}s); "
          f"heavy imports: {', '.join(heavy) or 'none'}")
    print(f"ask: launch to answer {result['ask_launch_to_answer_s']}s", end="")
    st = result.get("ask_stages_s")
    print(f"; in-process: imports {st['imports_s']}s, index load {st['index_load_s']}s, model load {st['model_load_s']}s, "
          f"first ask {st['first_ask_s']}s, warm ask {st['warm_ask_s']}s" if st else "")
    if "app" in result:
        app = result["app"]
        if "error" in app:
            print(f"app: not measured ({app['error']})")
        else:
            print(f"app: start to first answer {app['first_answer_s']}s (page ready {app['page_ready_s']}s, of which model load "
                  f"{app['model_load_s']}s and index load {app['index_load_s']}s; answering {app['answer_s']}s); answered: {app['answered']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
