"""Scale: search latency, memory, build and load time, and recall@10 on synthetic corpora of 10k–1M passages.

    .venv/bin/python bench/scale.py                              # 10k, 100k and 1M passages (about 10 minutes)
    .venv/bin/python bench/scale.py --sizes 10000,100000 --json  # smaller
    .venv/bin/python bench/scale.py --sizes 1000000 --nprobe 64,128,160,256   # the nprobe trade-off

Each size goes through the project's own code: passages and vectors -> `index.make_dense` (exact flat below
`Settings.ann_threshold`, IVF-Flat from there on) and `retrieve.KeywordIndex.build` (BM25) -> `index.write`
-> `index.load` -> `StoredIndex.search` and `Retriever` (dense, keyword and hybrid search, with a stand-in
embedder that returns each query's synthetic vector, so no model runs here).

The vectors are synthetic but shaped like the real ones: 384 dimensions, a common mean direction so the
average cosine of two unrelated vectors is about 0.17, and a power-law eigen-spectrum (i^-0.8) close to
that of all-MiniLM-L6-v2 on this corpus's sentences (measured: 65% of the variance in 48 directions, 82% in
96). Passages fall into topics of about `--topic-size` passages that share a centre; queries are new draws
from the same topics. Small topics make neighbours hard to tell apart and approximate search hard: 100 is
deliberately pessimistic. The text is generated too: 30–70 pseudo-words per passage, Zipf-distributed over
a 20,000-word vocabulary; keyword queries are 3–5 words taken from a random passage.

Printed per size: build time (dense index, keyword index, writing), load time (a fresh process, with and
without checksum verification), memory (the dense index alone, and the whole loaded index, in fresh
processes), search latency p50/p95 (dense, exact baseline on the same vectors, keyword, hybrid), and
recall@10 of the dense search against exact search. Ratios are against the exact baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_common import ROOT, describe_machine, machine, p50, p95, ratio, timed  # noqa: E402

DIM = 384
VOCAB = 20_000


class Space:
    """The synthetic embedding space of one size: topic centres fixed by the size, draws by a seed."""

    def __init__(self, n: int, topic_size: int, alpha: float = 0.8, between: float = 0.5, dim: int = DIM) -> None:
        import numpy as np

        rng = np.random.default_rng(12345)
        rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        spectrum = np.arange(1, dim + 1, dtype=np.float64) ** -alpha
        self.basis = (rotation * np.sqrt(spectrum / spectrum.sum())).T.astype(np.float32)
        self.mean = rng.standard_normal(dim).astype(np.float32)
        self.mean *= 0.45 / np.linalg.norm(self.mean)
        self.topics = max(1, n // topic_size)
        self.centres = (rng.standard_normal((self.topics, dim), dtype=np.float32) @ self.basis) * np.float32(np.sqrt(between))
        self.within = np.float32(np.sqrt(1 - between))
        self.dim = dim

    def draw(self, n: int, seed: int):
        import numpy as np

        rng = np.random.default_rng(seed)
        out = np.empty((n, self.dim), dtype=np.float32)
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            topic = rng.integers(0, self.topics, m)
            x = self.mean + self.centres[topic] + (rng.standard_normal((m, self.dim), dtype=np.float32) @ self.basis) * self.within
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            out[start : start + m] = x
        return out


def pseudo_words(n: int) -> list[str]:
    """`n` distinct pronounceable words (deterministic)."""
    import itertools

    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    out: list[str] = []
    for length in (2, 3, 4):
        for combo in itertools.product(syllables, repeat=length):
            out.append("".join(combo))
            if len(out) == n:
                return out
    return out


def synthetic_passages(n: int, seed: int = 7):
    """`n` passages of 30–70 Zipf-distributed pseudo-words, 20 to a document."""
    import numpy as np

    from assistant.corpus import Passage, passage_id

    rng = np.random.default_rng(seed)
    vocab = np.array(pseudo_words(VOCAB), dtype=object)
    weights = 1.0 / (np.arange(VOCAB) + 10.0)
    lengths = rng.integers(30, 71, n)
    ids = rng.choice(VOCAB, size=int(lengths.sum()), p=weights / weights.sum()).astype(np.int32)
    out = []
    pos = 0
    for i in range(n):
        text = " ".join(vocab[ids[pos : pos + lengths[i]]])
        pos += lengths[i]
        doc, title, heading = f"synthetic/doc{i // 20:06d}.md", f"Document {i // 20}", f"Section {i % 20}"
        out.append(Passage(passage_id(doc, title, heading, text), doc, title, heading, text))
    return out


class VectorEmbedder:
    """Stands in for the model: returns the synthetic vector registered for each query text, and for any
    other text (the sentences a search scores) a unit vector seeded by its hash."""

    name = "synthetic"
    dim = DIM
    max_tokens = 256

    def __init__(self, table: dict) -> None:
        self.table = table

    def _vector(self, text):
        import hashlib

        import numpy as np

        if text in self.table:
            return self.table[text]
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode(self, texts, batch_size=32, progress=None, query=False):
        import numpy as np

        return np.vstack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_query(self, text):
        return self._vector(text)


_PROBE = r"""
import json, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {root!r} + "/bench")
from perf_common import rss_mb
import faiss, bm25s, numpy
from pathlib import Path
from assistant import index as store
from assistant.config import Settings
from assistant.retrieve import Retriever
settings = Settings(index_dir=Path({index!r}), ann_threshold={threshold}, ann_nprobe={nprobe})
out = {{"rss_start_mb": rss_mb()}}
if {mode!r} == "dense":
    dense = faiss.read_index(str(store.current_generation(settings.index_dir) / store.DENSE))
    out["dense_mb"] = rss_mb() - out["rss_start_mb"]
else:
    t = time.perf_counter(); stored = store.load(settings.index_dir, settings, verify={verify}); out["load_s"] = time.perf_counter() - t
    out["after_load_mb"] = rss_mb() - out["rss_start_mb"]
    r = Retriever(stored, None, settings)
    t = time.perf_counter(); r._keyword_index(); out["keyword_load_s"] = time.perf_counter() - t
    out["after_keyword_mb"] = rss_mb() - out["rss_start_mb"]
print(json.dumps(out))
"""


def probe(index_dir: Path, settings, mode: str, verify: bool = True) -> dict:
    """Load in a fresh process (so memory and time are not flattered by this one's caches)."""
    code = _PROBE.format(
        root=str(ROOT), index=str(index_dir), threshold=settings.ann_threshold, nprobe=settings.ann_nprobe, mode=mode, verify=verify
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_size(n: int, args, root: Path) -> dict:
    import faiss
    import numpy as np

    from assistant import index as store
    from assistant.config import Settings
    from assistant.retrieve import KeywordIndex, Retriever

    settings = Settings(index_dir=root / f"n{n}", ann_threshold=args.ann_threshold, ann_nprobe=args.nprobe[0])
    row: dict = {"passages": n}
    t0 = time.perf_counter()
    space = Space(n, args.topic_size)
    vectors = space.draw(n, seed=1)
    queries = space.draw(args.queries, seed=2)
    passages = synthetic_passages(n)
    row["generate_s"] = round(time.perf_counter() - t0, 2)

    ids = np.array([store.faiss_id(p.id) for p in passages], dtype=np.int64)
    dense, ms = timed(store.make_dense, DIM, ids, vectors, settings)
    row["kind"] = store.dense_kind(dense)
    row["build_dense_s"] = round(ms / 1000, 2)
    keyword, ms = timed(KeywordIndex.build, [p.embedding_text() for p in passages])
    row["build_keyword_s"] = round(ms / 1000, 2)
    per_doc: dict[str, int] = {}
    for p in passages:  # the manifest must account for every passage (index.check_manifest)
        per_doc[p.doc] = per_doc.get(p.doc, 0) + 1
    documents = {doc: {"sha256": "0" * 64, "title": doc, "passages": count, "indexed_at": ""} for doc, count in per_doc.items()}
    manifest = {"format": store.FORMAT_VERSION, "model": settings.model_name, "dim": DIM, "chunking": settings.chunking,
                "count": n, "dense": {"type": row["kind"], "trained_on": n}, "documents": documents}
    _, ms = timed(store.write, settings.index_dir, manifest, passages, dense, keyword)
    row["write_s"] = round(ms / 1000, 2)
    row["build_total_s"] = round(row["build_dense_s"] + row["build_keyword_s"] + row["write_s"], 2)
    del dense, keyword
    gen = store.current_generation(settings.index_dir)
    row["disk_mb"] = round(sum(p.stat().st_size for p in gen.rglob("*") if p.is_file()) / 2**20, 1)

    raw_mb = n * DIM * 4 / 2**20
    row["raw_vectors_mb"] = round(raw_mb, 1)
    row["dense_mb"] = round(probe(settings.index_dir, settings, "dense")["dense_mb"], 1)
    row["dense_memory_ratio"] = ratio(row["dense_mb"], raw_mb)
    loaded = probe(settings.index_dir, settings, "load", verify=True)
    row["load_verified_s"] = round(loaded["load_s"], 4)
    row["keyword_load_s"] = round(loaded["keyword_load_s"], 2)
    row["loaded_index_mb"] = round(loaded["after_keyword_mb"], 1)
    row["load_unverified_s"] = round(probe(settings.index_dir, settings, "load", verify=False)["load_s"], 2)

    stored = store.load(settings.index_dir, settings, verify=False)
    truth = faiss.knn(queries, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
    store.faiss_threads(1)  # the baseline gets the same single thread per query as StoredIndex.search
    exact_ms = [timed(faiss.knn, queries[i : i + 1], vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)[1] for i in range(min(len(queries), args.exact_queries))]
    row["exact_p50_ms"], row["exact_p95_ms"] = round(p50(exact_ms), 2), round(p95(exact_ms), 2)
    sweeps = []
    for nprobe in args.nprobe if row["kind"] == "ivf" else [None]:
        if nprobe is not None:
            faiss.extract_index_ivf(stored.dense).nprobe = nprobe
        lat, hits = [], []
        for i in range(len(queries)):
            found, ms = timed(stored.search, queries[i], 10)
            lat.append(ms)
            hits.append(len({pos for pos, _ in found} & set(truth[i].tolist())) / 10)
        sweeps.append({"nprobe": nprobe, "p50_ms": round(p50(lat), 2), "p95_ms": round(p95(lat), 2), "recall@10": round(float(np.mean(hits)), 4)})
    row["dense"] = sweeps
    store.configure(stored.dense, settings)
    row["dense_p50_ms"], row["dense_p95_ms"], row["recall@10"] = sweeps[0]["p50_ms"], sweeps[0]["p95_ms"], sweeps[0]["recall@10"]
    row["dense_vs_exact_p50"] = ratio(row["dense_p50_ms"], row["exact_p50_ms"])

    rng = np.random.default_rng(3)
    texts = []
    for i in range(len(queries)):
        ws = passages[int(rng.integers(0, n))].text.split()
        start = int(rng.integers(0, max(1, len(ws) - 5)))
        texts.append(" ".join(ws[start : start + int(rng.integers(3, 6))]) + f" q{i}")
    retriever = Retriever(stored, VectorEmbedder(dict(zip(texts, queries))), settings)
    retriever._keyword_index()
    kw = [timed(retriever._bm25_ranking, t, settings.candidates)[1] for t in texts]
    row["keyword_p50_ms"], row["keyword_p95_ms"] = round(p50(kw), 2), round(p95(kw), 2)
    hybrid = [timed(retriever.search, t, settings.top_k)[1] for t in texts]
    row["hybrid_p50_ms"], row["hybrid_p95_ms"] = round(p50(hybrid), 2), round(p95(hybrid), 2)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated passage counts")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--exact-queries", type=int, default=30, help="queries timed for the exact baseline")
    ap.add_argument("--topic-size", type=int, default=100)
    ap.add_argument("--ann-threshold", type=int, default=None, help="default: Settings.ann_threshold")
    ap.add_argument("--nprobe", default=None, help="comma-separated; the first is used for the headline (default: Settings.ann_nprobe)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from assistant.config import Settings

    defaults = Settings()
    args.ann_threshold = args.ann_threshold or defaults.ann_threshold
    args.nprobe = [int(x) for x in args.nprobe.split(",")] if args.nprobe else [defaults.ann_nprobe]
    results = {"machine": machine(), "ann_threshold": args.ann_threshold, "topic_size": args.topic_size, "sizes": []}
    if not args.json:
        print(describe_machine())
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        for n in [int(x) for x in args.sizes.split(",")]:
            row = run_size(n, args, Path(tmp))
            results["sizes"].append(row)
            if not args.json:
                print(
                    f"{n:>9} passages, {row['kind']}: build {row['build_total_s']}s (dense {row['build_dense_s']}s, "
                    f"keyword {row['build_keyword_s']}s, write {row['write_s']}s); load {row['load_verified_s']}s verified / "
                    f"{row['load_unverified_s']}s not, keyword {row['keyword_load_s']}s; dense index {row['dense_mb']} MB = "
                    f"{row['dense_memory_ratio']}x raw vectors, whole index {row['loaded_index_mb']} MB"
                )
                for s in row["dense"]:
                    print(f"           dense{'' if s['nprobe'] is None else ' nprobe ' + str(s['nprobe'])}: p50 {s['p50_ms']} ms, "
                          f"p95 {s['p95_ms']} ms, recall@10 {s['recall@10']}")
                print(f"           exact p50 {row['exact_p50_ms']} ms (dense/exact {row['dense_vs_exact_p50']}x); keyword p50 "
                      f"{row['keyword_p50_ms']} ms p95 {row['keyword_p95_ms']} ms; hybrid p50 {row['hybrid_p50_ms']} ms p95 "
                      f"{row['hybrid_p95_ms']} ms")
                sys.stdout.flush()
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
