"""Incremental indexing cost: adding or changing one document, at two corpus sizes.

    .venv/bin/python bench/incremental.py                 # 200 and 2,000 documents
    .venv/bin/python bench/incremental.py --sizes 5,20    # a quick smoke run

For each size it builds a synthetic corpus (two ~100-word sections per document) in a temporary folder,
times a full build, then times `sync` after adding one new document and after changing one existing
document. The baseline is the bare `model.encode` of exactly the passages that operation had to embed,
measured in the same run right after it, so the ratio says what indexing adds on top of the unavoidable
encode. Target: add or change ≤ 2 × bare encode + 0.5 s, the same at both sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.build import sync  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.corpus import chunk, load_document  # noqa: E402
from assistant.embed import Embedder  # noqa: E402

WORDS = (
    "model data feature pipeline training metric drift cluster tensor gradient label deploy monitor python sql "
    "spark cloud review test api docker registry experiment latency batch stream notebook portfolio interview"
).split()


def document(seed: int) -> str:
    rng = random.Random(seed)

    def paragraph() -> str:
        sentences = []
        for _ in range(6):
            words = [rng.choice(WORDS) for _ in range(rng.randint(12, 20))]
            sentences.append(" ".join(words).capitalize() + ".")
        return " ".join(sentences)

    return f"# Synthetic document {seed}\n\n## Part one\n\n{paragraph()}\n\n## Part two\n\n{paragraph()}\n"


def bare_encode(embedder: Embedder, settings: Settings, corpus: Path, rel: str) -> tuple[float, int]:
    """Seconds to encode just this document's passages (the floor of indexing it)."""
    passages = chunk(load_document(corpus, rel), **settings.chunking)
    texts = [p.embedding_text() for p in passages]
    started = time.perf_counter()
    embedder.encode(texts)
    return time.perf_counter() - started, len(texts)


def run_size(embedder: Embedder, n_docs: int, tmp: Path) -> dict:
    corpus = tmp / f"corpus-{n_docs}"
    corpus.mkdir()
    for i in range(n_docs):
        (corpus / f"doc-{i:05d}.md").write_text(document(i))
    settings = Settings(corpus_dir=corpus, index_dir=tmp / f"index-{n_docs}", state_dir=tmp / "state")

    started = time.perf_counter()
    full = sync(settings, embedder)
    full_s = time.perf_counter() - started

    (corpus / "new-document.md").write_text(document(10_000_000 + n_docs))
    started = time.perf_counter()
    add = sync(settings, embedder)
    add_s = time.perf_counter() - started
    add_floor, add_passages = bare_encode(embedder, settings, corpus, "new-document.md")

    target = corpus / "doc-00000.md"
    target.write_text(target.read_text().replace("## Part two", "## Part two, revised") + "\nOne more sentence, revised.\n")
    started = time.perf_counter()
    change = sync(settings, embedder)
    change_s = time.perf_counter() - started
    change_floor, _ = bare_encode(embedder, settings, corpus, "doc-00000.md")

    return {
        "documents": n_docs,
        "load_1min": round(os.getloadavg()[0], 2),  # the machine is shared: other jobs slow every figure
        "passages": full.passages,
        "full_build_s": round(full_s, 3),
        "full_passages_per_s": round(full.passages / full_s, 1),
        "add_s": round(add_s, 3),
        "add_embedded": add.embedded,
        "add_passages": add_passages,
        "add_bare_encode_s": round(add_floor, 3),
        "add_ratio": round(add_s / add_floor, 2),
        "add_within_target": add_s <= 2 * add_floor + 0.5,
        "change_s": round(change_s, 3),
        "change_embedded": change.embedded,
        "change_bare_encode_s": round(change_floor, 3),
        "change_ratio": round(change_s / change_floor, 2),
        "change_within_target": change_s <= 2 * change_floor + 0.5,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,2000", help="comma-separated document counts")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    embedder = Embedder(Settings())
    embedder.encode(["warm up the model"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            rows.append(run_size(embedder, n, Path(tmp)))
            r = rows[-1]
            if not args.json:
                print(
                    f"{r['documents']:>6} docs, {r['passages']:>6} passages: full build {r['full_build_s']:.1f}s "
                    f"({r['full_passages_per_s']} passages/s); add one {r['add_s']:.3f}s = {r['add_ratio']}x bare encode "
                    f"({r['add_bare_encode_s']:.3f}s, {r['add_embedded']} embedded); change one {r['change_s']:.3f}s = "
                    f"{r['change_ratio']}x bare encode ({r['change_bare_encode_s']:.3f}s, {r['change_embedded']} embedded); "
                    f"within 2x+0.5s: add {r['add_within_target']}, change {r['change_within_target']} "
                    f"(load {r['load_1min']})"
                )
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
