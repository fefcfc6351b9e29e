"""Embedding speed: the torch path (threads 1 and N) against ONNX Runtime fp32 and int8, with retrieval quality.

    .venv/bin/python bench/embed_speed.py [--rounds 3] [--json]            # torch only unless onnxruntime is installed
    ONNX: in a side environment (see docs/performance.md), e.g. /tmp/onnxvenv/bin/python bench/embed_speed.py

Measured in one process, path by path in blocks, alternating the order of the paths each round:

* passages per second encoding the real corpus's passages (batches of 32), and p50 latency of one
  question (the labelled set's questions), for each path;
* agreement with the torch vectors (mean and minimum cosine), and hit@5 on the labelled set with an
  index built by that path (hybrid retrieval, as `python -m assistant eval` reports it).

The ONNX paths need `onnxruntime`, `onnx` and `onnxscript`. sentence-transformers' own `backend="onnx"`
needs `optimum-onnx`, whose releases require transformers < 4.58 while this project pins 5.24, so it cannot be
installed here; this benchmark exports the bundled model itself with `torch.onnx.export` (offline, from
the bundled folder), quantises it with `onnxruntime.quantization.quantize_dynamic` (int8 weights), and runs
it with the model's own tokenizer, mean pooling and normalisation. Without those packages the ONNX rows say
why they are missing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_common import ROOT, machine, p50, parser, questions, ratio, run_and_report, timed  # noqa: E402


def corpus_texts() -> list[str]:
    from assistant.corpus import chunk, discover, load_document

    root = ROOT / "corpus"
    return [p.embedding_text() for rel in discover(root) for p in chunk(load_document(root, rel))]


class OrtEmbedder:
    """all-MiniLM-L6-v2 through ONNX Runtime: tokenizer, the exported transformer, mean pooling, L2 norm."""

    def __init__(self, onnx_path: Path, model_dir: Path, threads: int, name: str) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # No spin-waiting after a run: spinning threads would steal the cores from the torch path measured
        # next to it (and from everything else on a small machine).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(256)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.name = name
        self.dim = 384
        self.max_tokens = 256

    def encode(self, texts, batch_size=32, progress=None):
        import numpy as np

        out = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer.encode_batch(list(texts[start : start + batch_size]))
            ids = np.array([b.ids for b in batch], dtype=np.int64)
            mask = np.array([b.attention_mask for b in batch], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
            weights = mask[..., None].astype(np.float32)
            vectors = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            out.append(vectors.astype(np.float32))
            if progress:
                progress(len(batch))
        return np.vstack(out) if out else np.zeros((0, self.dim), np.float32)

    def encode_query(self, text):
        return self.encode([text])[0]


def export_onnx(embedder, folder: Path) -> dict:
    """Export the loaded model's transformer to ONNX (fp32) and quantise it (int8). Returns paths and seconds."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder.mkdir(parents=True, exist_ok=True)
    fp32, int8 = folder / "model.onnx", folder / "model-int8.onnx"
    bert = embedder.model[0].auto_model.eval()
    # A real batch with padding: tracing an all-ones mask lets transformers drop the mask from the graph.
    sample = embedder.model.preprocess(["an example sentence about machine learning engineers", "short"])
    kwargs = {k: sample[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    t0 = time.perf_counter()
    torch.onnx.export(bert, (), str(fp32), kwargs=kwargs, input_names=list(kwargs), output_names=["last_hidden_state"],
                      dynamic_axes={k: {0: "batch", 1: "sequence"} for k in [*kwargs, "last_hidden_state"]},
                      dynamo=True, external_data=False)
    export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return {"fp32": fp32, "int8": int8, "export_s": round(export_s, 1), "quantize_s": round(time.perf_counter() - t0, 1)}


def hit_at_5(embedder, tmp: Path) -> dict:
    """hit@5 (hybrid and dense) on the labelled set's in-scope questions, with an index built by `embedder`."""
    from perf_common import corpus_settings

    from assistant.api import Assistant
    from assistant.evaluate import load_cases, retrieval_metrics

    settings = corpus_settings(tmp / embedder.name)
    bot = Assistant.load(settings=settings, embedder=embedder)
    out = {}
    for mode in ("hybrid", "dense"):
        hits = [
            retrieval_metrics([s.doc for s in bot.retrieve(c.question, k=10, mode=mode, history=list(c.history))], c.expected)["hit@5"]
            for c in load_cases(ROOT / "tests/data/questions.jsonl")
            if c.in_scope
        ]
        out[mode] = round(sum(hits) / len(hits), 4)
    return out


def run(args, embedder=None) -> dict:
    import numpy as np

    from assistant.config import Settings
    from assistant.embed import Embedder, resolve_model_path

    embedder = embedder or Embedder(Settings())
    texts = corpus_texts()[: args.passages] if args.passages else corpus_texts()
    qs = questions(args.queries)
    _ = embedder.model  # loaded: its thread settings are in place
    from assistant.embed import available_cpus

    batch_t, query_t = embedder._threads["batch"], embedder._threads["query"]
    thread_counts = sorted({1, available_cpus(), batch_t, query_t})
    paths: dict[str, object] = {f"torch-{n}t": ("torch", n) for n in thread_counts}
    result: dict = {"machine": machine(), "passages": len(texts), "queries": len(qs), "threads": {"batch": batch_t, "query": query_t},
                    "paths": {}}
    with tempfile.TemporaryDirectory(prefix="embed-") as tmp:
        tmp_path = Path(tmp)
        try:
            exported = export_onnx(embedder, tmp_path / "onnx")
            result["onnx_export"] = {"export_s": exported["export_s"], "quantize_s": exported["quantize_s"],
                                     "fp32_mb": round(exported["fp32"].stat().st_size / 2**20, 1),
                                     "int8_mb": round(exported["int8"].stat().st_size / 2**20, 1)}
            model_dir = resolve_model_path(embedder.settings)
            for n in thread_counts:
                paths[f"onnx-fp32-{n}t"] = OrtEmbedder(exported["fp32"], model_dir, n, f"onnx-fp32-{n}t")
                paths[f"onnx-int8-{n}t"] = OrtEmbedder(exported["int8"], model_dir, n, f"onnx-int8-{n}t")
        except ImportError as exc:
            result["onnx_export"] = {"error": f"not measured: {exc.name or exc} is not installed"}

        def encode(path, items):
            if isinstance(path, tuple):  # the project's Embedder, with its thread counts overridden
                saved = embedder._threads
                embedder._threads = {"batch": path[1], "query": path[1]}
                try:
                    return embedder.encode(items)
                finally:
                    embedder._threads = saved
            return path.encode(items)

        reference = encode(("torch", batch_t), texts)
        reference_q = encode(("torch", query_t), qs)
        through = {name: [] for name in paths}
        latency = {name: [] for name in paths}
        for name, path in paths.items():  # warm up, and agreement with torch
            vecs, qvecs = encode(path, texts), encode(path, qs)
            cos = np.concatenate([(vecs * reference).sum(1), (qvecs * reference_q).sum(1)])
            result["paths"][name] = {"cosine_mean": round(float(cos.mean()), 5), "cosine_min": round(float(cos.min()), 5)}
        # Each path runs as a block (a warm-up call first, untimed): switching torch's thread count costs
        # 0.3-0.5 s on the next call, which would swamp a per-question interleaving. Rounds alternate the
        # order of the paths so that slow spells of other load fall on each alike.
        for round_no in range(args.rounds):
            order = list(paths.items()) if round_no % 2 == 0 else list(reversed(paths.items()))
            for name, path in order:
                encode(path, texts[:2])
                through[name].append(len(texts) / (timed(encode, path, texts)[1] / 1000))
                encode(path, [qs[0]])
                for q in qs:
                    latency[name].append(timed(encode, path, [q])[1])
        base_batch, base_query = f"torch-{batch_t}t", f"torch-{query_t}t"  # the project's own settings
        for name in paths:
            row = result["paths"][name]
            row["passages_per_s"] = round(p50(through[name]), 1)
            row["query_p50_ms"] = round(p50(latency[name]), 2)
        for name in paths:
            row = result["paths"][name]
            row["speedup_passages"] = ratio(row["passages_per_s"], result["paths"][base_batch]["passages_per_s"])
            row["speedup_query"] = ratio(result["paths"][base_query]["query_p50_ms"], row["query_p50_ms"])
        if args.quality:
            result["paths"][base_batch]["hit@5"] = hit_at_5(embedder, tmp_path)
            for name, path in paths.items():
                if not isinstance(path, tuple) and name.endswith(f"-{batch_t}t"):
                    result["paths"][name]["hit@5"] = hit_at_5(path, tmp_path)
    return result


def main(argv=None, embedder=None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--passages", type=int, default=0, help="only the first N passages (0: all)")
    ap.add_argument("--queries", type=int, default=40, help="questions timed one by one")
    ap.add_argument("--no-quality", dest="quality", action="store_false", help="skip the hit@5 runs")
    result = run_and_report(ap, argv, run, embedder)
    if result is None:
        return 0
    t = result["threads"]
    print(f"{result['passages']} passages, {result['queries']} questions; the project's threads: {t['batch']} per batch, "
          f"{t['query']} per question (speed-ups are against torch with those)")
    if "error" in result["onnx_export"]:
        print(f"ONNX: {result['onnx_export']['error']}")
    else:
        print(f"ONNX export {result['onnx_export']}")
    for name, row in result["paths"].items():
        hit = f", hit@5 {row['hit@5']}" if "hit@5" in row else ""
        print(f"{name:16} {row['passages_per_s']:>8} passages/s ({row['speedup_passages']}x)  query p50 {row['query_p50_ms']:>7} ms "
              f"({row['speedup_query']}x)  cosine to torch mean {row['cosine_mean']} min {row['cosine_min']}{hit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
