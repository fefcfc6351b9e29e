"""Build: passages per second of a full index build, against bare `model.encode` of the same texts.

    .venv/bin/python bench/build_speed.py [--copies 3] [--rounds 2] [--json]

The corpus is the real one, copied `--copies` times into a temporary folder (each copy under its own
sub-folder, so every passage is distinct and is embedded). Each round runs, back to back:

* a full build, `build.sync(rebuild=True)` into an empty index folder (so the embedding cache is empty):
  discovery, parsing and chunking, cache look-ups, encoding, the FAISS index, the BM25 index, writing and
  checksumming the generation; the time inside the model is recorded separately;
* the floor: `model.encode(texts, batch_size=32)` of the same passages' embedding texts, then of their
  asked questions (`<!-- asked: -->`), which a build embeds too.

Prints passages per second of each, the ratio build time / encode time (target at most 1.15), and where
the rest of the build time went.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_common import ROOT, machine, parser, ratio, run_and_report  # noqa: E402


class TimedEmbedder:
    """Delegates to the real embedder and adds up the time spent encoding."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.seconds = 0.0

    @property
    def dim(self):
        return self.inner.dim

    @property
    def max_tokens(self):
        return self.inner.max_tokens

    def encode(self, texts, batch_size=32, progress=None):
        t0 = time.perf_counter()
        try:
            return self.inner.encode(texts, batch_size=batch_size, progress=progress)
        finally:
            self.seconds += time.perf_counter() - t0

    def encode_query(self, text):
        return self.encode([text])[0]


def make_corpus(target: Path, copies: int, docs: int | None = None) -> None:
    from assistant.corpus import discover

    files = discover(ROOT / "corpus")[:docs] if docs else None
    for i in range(copies):
        if files is None:
            shutil.copytree(ROOT / "corpus", target / f"copy{i}", ignore=shutil.ignore_patterns("uploads"))
            continue
        for rel in files:
            (target / f"copy{i}" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / "corpus" / rel, target / f"copy{i}" / rel)


def run(args, embedder=None) -> dict:
    from assistant import index as store
    from assistant.build import sync
    from assistant.config import Settings
    from assistant.embed import Embedder

    with tempfile.TemporaryDirectory(prefix="build-") as tmp:
        root = Path(tmp)
        make_corpus(root / "corpus", args.copies, args.docs)
        embedder = embedder or Embedder(Settings())
        model = embedder.model
        model.encode(["warm up the model"], show_progress_bar=False)
        rounds = []
        for r in range(args.rounds):
            settings = Settings(corpus_dir=root / "corpus", index_dir=root / f"index{r}", state_dir=root / "state")
            timed_embedder = TimedEmbedder(embedder)
            t0 = time.perf_counter()
            report = sync(settings, timed_embedder, rebuild=True)
            build_s = time.perf_counter() - t0
            passages = store.load(settings.index_dir, settings).passages
            texts = [p.embedding_text() for p in passages]
            questions = [q for p in passages for q in p.asked]
            t0 = time.perf_counter()
            for batch in (texts, questions):
                if batch:
                    model.encode(batch, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            encode_s = time.perf_counter() - t0
            rounds.append({"passages": report.passages, "questions": len(questions), "build_s": round(build_s, 3), "encode_s": round(encode_s, 3),
                           "build_encode_s": round(timed_embedder.seconds, 3), "build_other_s": round(build_s - timed_embedder.seconds, 3)})
        best = min(rounds, key=lambda r: r["build_s"] / r["encode_s"])
        med = sorted(rounds, key=lambda r: r["build_s"] / r["encode_s"])[len(rounds) // 2]
        return {
            "machine": machine(),
            "passages": rounds[0]["passages"],
            "rounds": rounds,
            "build_passages_per_s": round(med["passages"] / med["build_s"], 1),
            "encode_passages_per_s": round(med["passages"] / med["encode_s"], 1),
            "build_over_encode": ratio(med["build_s"], med["encode_s"]),
            "best_build_over_encode": ratio(best["build_s"], best["encode_s"]),
            "target": 1.15,
        }


def main(argv=None, embedder=None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--copies", type=int, default=3, help="copies of the corpus to index")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--docs", type=int, default=None, help="only the first N corpus files (smoke runs)")
    result = run_and_report(ap, argv, run, embedder)
    if result is None:
        return 0
    for r in result["rounds"]:
        print(f"{r['passages']} passages, {r['questions']} asked questions: build {r['build_s']}s (model {r['build_encode_s']}s, rest {r['build_other_s']}s); "
              f"bare encode {r['encode_s']}s")
    print(f"build {result['build_passages_per_s']} passages/s, bare encode {result['encode_passages_per_s']} passages/s: "
          f"build/encode {result['build_over_encode']}x (median round; best {result['best_build_over_encode']}x; target <= {result['target']}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
