"""Smoke runs of every performance benchmark in bench/ at tiny sizes, so none of them can rot.

Each runs in-process through its `main(argv, embedder)` with the session's real model (the startup one also
starts fresh processes, as it must). They check that the figures are there and make sense, never how fast
anything was: timings belong in docs/performance.md, not in assertions.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench(name: str):
    """Import bench/<name>.py as a module (bench/ is a folder of scripts, not a package)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_json(capsys, name: str, argv: list[str], **kwargs) -> dict:
    assert bench(name).main([*argv, "--json"], **kwargs) == 0
    return json.loads(capsys.readouterr().out)


def test_every_benchmark_says_what_it_is_and_how_to_run_it():
    for name in ("perf_common", "query_latency", "build_speed", "startup", "scale", "embed_speed", "save_turn"):
        assert (BENCH / f"{name}.py").read_text().startswith('"""'), name
    for name in ("query_latency", "build_speed", "startup", "scale", "embed_speed", "save_turn"):
        doc = bench(name).__doc__
        assert f"bench/{name}.py" in doc and ".venv/bin/python" in doc


def test_query_benchmark_breaks_ask_down_against_the_floor(capsys, embedder):
    out = run_json(capsys, "query_latency", ["--rounds", "1", "--limit", "3", "--docs", "3"], embedder=embedder)
    assert out["questions"] == 3 and out["passages"] > 5
    for key in ("ask", "floor", "floor_encode", "floor_search", "reading", "embed", "dense", "keyword", "fusion", "decide", "compose"):
        assert out["ms"][key]["p50_ms"] > 0 and out["ms"][key]["p95_ms"] >= out["ms"][key]["p50_ms"]
    assert out["ask_over_floor_p50"] > 0 and out["target"] == 1.3


def test_build_benchmark_compares_a_full_build_with_bare_encoding(capsys, embedder):
    out = run_json(capsys, "build_speed", ["--copies", "2", "--rounds", "1", "--docs", "2"], embedder=embedder)
    (round_,) = out["rounds"]
    assert out["passages"] == round_["passages"] > 5
    assert 0 < round_["build_encode_s"] <= round_["build_s"]
    assert out["build_over_encode"] > 0 and out["encode_passages_per_s"] > 0


def test_startup_benchmark_checks_help_imports_no_torch_and_times_ask_and_app(capsys, embedder):
    # Two fresh processes load the model (the ask command, the app); the in-process stage breakdown would be
    # a third, so the smoke run leaves it out (`--no-stages`); the app run breaks the model load out too.
    out = run_json(capsys, "startup", ["--runs", "1", "--ask-runs", "1", "--docs", "3", "--no-stages"], embedder=embedder)
    assert out["help_imports"]["torch"] is False
    assert out["help_imports"]["sentence_transformers"] is False and out["help_imports"]["faiss"] is False
    assert out["help_s"] > 0 and out["ask_launch_to_answer_s"] > 0 and out["ask_answered"]
    assert "ask_stages_s" not in out
    assert "first_answer_s" in out["app"] or "error" in out["app"]  # app.py is measured when it runs
    if "first_answer_s" in out["app"]:
        assert out["app"]["model_load_s"] > 0 and out["app"]["first_answer_s"] >= out["app"]["page_ready_s"]


def test_scale_benchmark_covers_exact_and_approximate_indexes(capsys):
    out = run_json(
        capsys, "scale", ["--sizes", "600,2500", "--ann-threshold", "1000", "--nprobe", "8,64", "--queries", "20", "--exact-queries", "3"]
    )
    small, large = out["sizes"]
    assert small["kind"] == "flat" and large["kind"] == "ivf"
    assert small["recall@10"] == 1.0
    assert [s["nprobe"] for s in large["dense"]] == [8, 64]
    assert large["dense"][-1]["recall@10"] >= large["dense"][0]["recall@10"] - 0.05
    assert large["dense"][-1]["recall@10"] >= 0.9
    for row in (small, large):
        assert row["dense_memory_ratio"] > 0 and row["loaded_index_mb"] > 0 and row["disk_mb"] > 0
        assert row["keyword_p50_ms"] > 0 and row["hybrid_p50_ms"] > 0 and row["load_verified_s"] > 0


def test_embedding_benchmark_measures_the_torch_path_and_reports_onnx(capsys, embedder):
    out = run_json(capsys, "embed_speed", ["--rounds", "1", "--passages", "8", "--queries", "2", "--no-quality"], embedder=embedder)
    torch_paths = [name for name in out["paths"] if name.startswith("torch-")]
    assert "torch-1t" in torch_paths
    for name in torch_paths:
        row = out["paths"][name]
        assert row["passages_per_s"] > 0 and row["query_p50_ms"] > 0 and row["cosine_min"] > 0.999
    assert "error" in out["onnx_export"] or any(name.startswith("onnx-") for name in out["paths"])


def test_save_turn_benchmark_compares_ask_with_ask_and_save_on_sqlite_and_postgresql(capsys, embedder, postgres_server):
    out = run_json(capsys, "save_turn", ["--rounds", "1", "--limit", "3", "--docs", "3", "--database-url", postgres_server], embedder=embedder)
    assert out["questions"] == 3 and out["target"] == 1.10
    for backend in ("sqlite", "postgresql"):
        row = out[backend]
        assert row["backend"] == backend and row["saved_turns"] == 3
        for key in ("ask", "save", "ask_save"):
            assert row["ms"][key]["p50_ms"] > 0 and row["ms"][key]["p95_ms"] >= row["ms"][key]["p50_ms"]
        assert row["ms"]["ask_save"]["p50_ms"] > row["ms"]["save"]["p50_ms"]
        assert row["ask_save_over_ask_p50"] > 0


def test_load_benchmark_runs_one_then_two_processes_saving_turns_into_one_database(capsys, real_settings, monkeypatch):
    # Fresh processes load the model themselves (spawned, as servers are); they find the session's index
    # through the environment they inherit.
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(real_settings.corpus_dir))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(real_settings.index_dir))
    out = run_json(capsys, "load", ["--processes", "2", "--per-process", "3"])
    assert out["mode"] == "processes" and out["database"] == "sqlite"
    assert [run["processes"] for run in out["runs"]] == [1, 2]
    for run in out["runs"]:
        assert run["errors"] == 0 and run["saved"] == run["asks"] == 3 * run["processes"]
        assert run["asks_per_s"] > 0 and run["p95_ms"] >= run["p50_ms"] > 0 and run["peak_rss_mb_per_process"] > 0


@pytest.mark.parametrize("name", ["query_latency", "build_speed", "startup", "scale", "embed_speed", "save_turn", "load"])
def test_importing_a_benchmark_runs_nothing(name, capsys):
    bench(name)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------------------------- thread settings the benchmarks chose


def test_one_question_encodes_on_the_query_threads_and_batches_on_the_batch_threads(embedder):
    import torch

    from assistant.embed import batch_threads, query_threads

    assert query_threads(embedder.settings) == 1
    embedder.encode_query("What is MLOps?")
    assert torch.get_num_threads() == 1
    embedder.encode(["one passage", "another passage"])
    assert torch.get_num_threads() == batch_threads(embedder.settings) >= 1
    embedder.encode_query("What is MLOps?")
    assert torch.get_num_threads() == 1


def test_a_dense_search_runs_on_the_calling_thread_only(tiny, fake_embedder):
    import faiss

    from assistant import index as store
    from assistant.build import sync

    sync(tiny, fake_embedder)
    loaded = store.load(tiny.index_dir, tiny)
    loaded.search(fake_embedder.encode_query("bread"), k=2)
    assert faiss.omp_get_max_threads() == 1


def test_one_text_encoded_directly_equals_sentence_transformers_encode(embedder):
    import numpy as np

    texts = ["What is MLOps?", "lerning rate", "é" * 3, "Long question about machine learning careers " * 80]
    for text in texts:
        direct = embedder.encode_query(text)
        reference = embedder.model.encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)[0]
        assert direct.dtype == np.float32 and direct.shape == (384,)
        assert np.allclose(direct, reference, atol=1e-6), text
    assert embedder._direct  # the direct path was used, not silently abandoned
