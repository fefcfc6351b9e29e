"""The stored index: round trip with the real model, atomic swaps, garbage collection, and refusing bad indexes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import index as store
from assistant.build import sync
from assistant.corpus import chunk, discover, load_document
from assistant.errors import IndexCorruptError, IndexMismatchError, IndexMissingError


def live(settings) -> Path:
    gen = store.current_generation(settings.index_dir)
    assert gen is not None
    return gen


def generations(settings) -> list[Path]:
    return sorted(p for p in settings.index_dir.glob("gen-*") if p.is_dir())


def message(info, settings) -> str:
    """The error's message with the temporary folder cut out (its name holds the test's own words)."""
    return str(info.value).replace(str(settings.index_dir), "<index>")


def edit_manifest(settings, **changes) -> None:
    path = live(settings) / store.MANIFEST
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


# ------------------------------------------------------------------------------------------- round trip


def test_build_then_load_round_trips_passages_and_search_finds_the_right_one(tiny, embedder):
    report = sync(tiny, embedder)
    loaded = store.load(tiny.index_dir, tiny)

    expected = [p for rel in discover(tiny.corpus_dir) for p in chunk(load_document(tiny.corpus_dir, rel), **tiny.chunking)]
    assert loaded.passages == expected
    assert len(loaded) == report.passages == loaded.dense.ntotal
    assert loaded.generation == report.generation
    assert loaded.manifest["model"] == tiny.model_name
    assert loaded.manifest["dim"] == embedder.dim == loaded.dense.d
    assert set(loaded.documents) == {"skills.md", "baking.txt"}

    hits = loaded.search(embedder.encode_query("How do I bake sourdough bread with a crispy crust?"), k=1)
    assert loaded.passages[hits[0][0]].doc == "baking.txt"
    hits = loaded.search(embedder.encode_query("Which programming language do machine learning engineers use?"), k=len(loaded))
    best = loaded.passages[hits[0][0]]
    assert best.doc == "skills.md" and "Python" in best.text
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0001 <= s <= 1.0001 for s in scores)


def test_stored_vectors_are_the_models_vectors(tiny, embedder):
    import numpy as np

    sync(tiny, embedder)
    loaded = store.load(tiny.index_dir, tiny)
    stored = loaded.vectors([p.id for p in loaded.passages])
    fresh = embedder.encode([p.embedding_text() for p in loaded.passages])
    for p, vector in zip(loaded.passages, fresh):
        assert np.allclose(stored[p.id], vector, atol=1e-5)
    assert loaded.vectors(["0" * 16]) == {}


def test_loading_with_verification_checks_every_listed_file(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    gen = live(tiny)
    manifest = json.loads((gen / store.MANIFEST).read_text())
    on_disk = {p.relative_to(gen).as_posix() for p in gen.rglob("*") if p.is_file()} - {store.MANIFEST}
    assert set(manifest["files"]) == on_disk
    assert {store.PASSAGES, store.DENSE} < on_disk
    assert any(name.startswith(store.KEYWORD + "/") for name in on_disk)
    for name, digest in manifest["files"].items():
        assert store.file_sha256(gen / name) == digest


def test_a_passage_with_unicode_line_separators_round_trips(tiny, fake_embedder):
    """JSON leaves U+2028 and U+0085 unescaped; reading passages.jsonl must not split lines at them."""
    text = "# Notes\n\nOne line\u2028and the next, then a next-line\u0085character, about python and sql.\n"
    (tiny.corpus_dir / "notes.md").write_text(text, encoding="utf-8")
    sync(tiny, fake_embedder)
    loaded = store.load(tiny.index_dir, tiny)
    assert any("\u2028" in p.text and "\u0085" in p.text for p in loaded.passages)


# ------------------------------------------------------------------------------------------- atomic swap


def test_current_names_a_complete_generation_after_a_build(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    name = (tiny.index_dir / store.CURRENT).read_text().strip()
    gen = tiny.index_dir / name
    assert name.startswith("gen-") and gen.is_dir()
    assert {p.name for p in gen.iterdir()} == {store.MANIFEST, store.PASSAGES, store.DENSE, store.KEYWORD}
    assert not list(tiny.index_dir.glob(".tmp-*"))
    assert not list(tiny.index_dir.glob(".CURRENT.*"))


def test_old_generations_are_garbage_collected_keeping_one_spare(tiny, fake_embedder):
    seen = []
    for _ in range(5):
        report = sync(tiny, fake_embedder, rebuild=True)
        seen.append(report.generation)
        gens = generations(tiny)
        assert len(gens) <= 2
        assert live(tiny).name == report.generation
        assert report.generation in {g.name for g in gens}
    assert len(set(seen)) == 5
    assert {g.name for g in generations(tiny)} == set(seen[-2:])  # the live one and the one before it
    store.load(tiny.index_dir, tiny)


def test_stale_temporary_folders_are_removed_by_the_next_build(tiny, fake_embedder):
    tiny.index_dir.mkdir(parents=True)
    stale = tiny.index_dir / ".tmp-0123456789ab"
    stale.mkdir()
    (stale / store.PASSAGES).write_text("half written")
    sync(tiny, fake_embedder)
    assert not stale.exists()
    assert not list(tiny.index_dir.glob(".tmp-*"))


def test_a_build_that_fails_midway_leaves_the_previous_generation_live(tiny, fake_embedder, monkeypatch):
    import faiss

    first = sync(tiny, fake_embedder).generation
    (tiny.corpus_dir / "extra.md").write_text("# Extra\n\nA note about feature stores and model registries.\n")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", boom)
    from assistant.errors import IndexWriteError

    with pytest.raises(IndexWriteError, match="disk full.*previous index is unchanged"):
        sync(tiny, fake_embedder)
    monkeypatch.undo()

    assert live(tiny).name == first
    assert not list(tiny.index_dir.glob(".tmp-*"))
    loaded = store.load(tiny.index_dir, tiny)
    assert "extra.md" not in loaded.documents
    assert sync(tiny, fake_embedder).added == ["extra.md"]


# ------------------------------------------------------------------------------------------- refusing bad indexes


def test_an_index_built_with_another_model_is_refused_with_the_rebuild_hint(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    edit_manifest(tiny, model="some-other-model")
    with pytest.raises(IndexMismatchError) as info:
        store.load(tiny.index_dir, tiny)
    assert "--rebuild" in message(info, tiny)
    assert "some-other-model" in message(info, tiny)


def test_an_index_built_with_another_passage_size_is_refused_until_rebuilt(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    finer = tiny.replace(min_words=5, max_words=40, overlap_words=5)
    with pytest.raises(IndexMismatchError, match=r"passages of \d+–\d+ words .* but 5–40 words"):
        store.load(finer.index_dir, finer)
    sync(finer, fake_embedder)
    assert store.load(finer.index_dir, finer).manifest["chunking"] == finer.chunking


def test_another_configured_model_path_refuses_the_index(tiny, fake_embedder, tmp_path):
    sync(tiny, fake_embedder)
    other = tiny.replace(model_path=str(tmp_path / "models" / "bge-small"))
    with pytest.raises(IndexMismatchError) as info:
        store.load(other.index_dir, other)
    assert "'bge-small' is configured" in message(info, tiny) and "--rebuild" in message(info, tiny)


def test_an_index_of_another_format_version_is_refused(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    edit_manifest(tiny, format=store.FORMAT_VERSION + 1)
    with pytest.raises(IndexMismatchError) as info:
        store.load(tiny.index_dir, tiny)
    assert "format" in message(info, tiny) and "--rebuild" in message(info, tiny)


def test_check_compatible_refuses_another_dimension(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    manifest = store.load(tiny.index_dir, tiny).manifest
    store.check_compatible(manifest, tiny, fake_embedder.dim)
    with pytest.raises(IndexMismatchError, match="dimension"):
        store.check_compatible(manifest, tiny, 384)


def test_a_truncated_dense_file_is_reported_corrupt_and_sync_repairs_it(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    dense = live(tiny) / store.DENSE
    data = dense.read_bytes()
    dense.write_bytes(data[: len(data) // 2])

    with pytest.raises(IndexCorruptError) as info:
        store.load(tiny.index_dir, tiny)
    assert "repair" in message(info, tiny)
    assert store.DENSE in message(info, tiny)

    report = sync(tiny, fake_embedder)
    assert report.rebuilt and not report.unchanged
    loaded = store.load(tiny.index_dir, tiny)
    assert len(loaded) == report.passages and loaded.dense.ntotal == report.passages


def test_a_bit_flipped_passages_file_is_reported_corrupt_and_sync_repairs_it(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    passages = live(tiny) / store.PASSAGES
    data = bytearray(passages.read_bytes())
    data[len(data) // 2] ^= 0x01
    passages.write_bytes(bytes(data))

    with pytest.raises(IndexCorruptError) as info:
        store.load(tiny.index_dir, tiny)
    assert "repair" in message(info, tiny)

    sync(tiny, fake_embedder)
    loaded = store.load(tiny.index_dir, tiny)
    assert {p.doc for p in loaded.passages} == {"skills.md", "baking.txt"}


def test_a_truncated_dense_file_is_corrupt_even_without_checksum_verification(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    dense = live(tiny) / store.DENSE
    dense.write_bytes(dense.read_bytes()[:40])
    with pytest.raises(IndexCorruptError) as info:
        store.load(tiny.index_dir, tiny, verify=False)
    assert "cannot read the index" in message(info, tiny) and "--rebuild" in message(info, tiny)


def test_an_unreadable_manifest_is_reported_corrupt(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    (live(tiny) / store.MANIFEST).write_text("{not json")
    with pytest.raises(IndexCorruptError) as info:
        store.load(tiny.index_dir, tiny)
    assert "manifest" in message(info, tiny) and "--rebuild" in message(info, tiny)
    with pytest.raises(IndexCorruptError) as listed:  # `list` says what `ask` says, not "no index"
        store.read_manifest(tiny.index_dir)
    assert str(listed.value) == str(info.value)


def test_a_missing_index_says_how_to_build_one(tiny):
    with pytest.raises(IndexMissingError) as info:
        store.load(tiny.index_dir, tiny)
    assert "python -m assistant index" in message(info, tiny)
    assert store.read_manifest(tiny.index_dir) is None


def test_current_naming_a_missing_generation_is_corrupt(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    (tiny.index_dir / store.CURRENT).write_text("gen-20000101T000000-abcdef\n")
    with pytest.raises(IndexCorruptError) as info:
        store.load(tiny.index_dir, tiny)
    assert "names gen-20000101T000000-abcdef, which is missing" in message(info, tiny)
    assert "--rebuild" in message(info, tiny)


@pytest.mark.parametrize("content", ["../outside\n", ".tmp-abc\n", "\n"], ids=["escape", "hidden", "empty"])
def test_a_damaged_current_file_is_corrupt(tiny, fake_embedder, content):
    sync(tiny, fake_embedder)
    (tiny.index_dir / store.CURRENT).write_text(content)
    with pytest.raises(IndexCorruptError) as info:
        store.load(tiny.index_dir, tiny)
    assert "CURRENT is damaged" in message(info, tiny)


@pytest.mark.parametrize("content", [b"gen-\xff\xfe\n", b"\xff", b"gen-" + b"a" * 10_000, b"gen-ok\x00\n"], ids=["non-utf8", "byte", "huge", "nul"])
def test_any_malformed_current_file_is_corrupt_never_a_traceback(tiny, fake_embedder, content):
    sync(tiny, fake_embedder)
    (tiny.index_dir / store.CURRENT).write_bytes(content)
    for read in (lambda: store.load(tiny.index_dir, tiny), lambda: store.read_manifest(tiny.index_dir)):
        with pytest.raises(IndexCorruptError) as info:
            read()
        assert "CURRENT is damaged" in message(info, tiny) and "python -m assistant index" in message(info, tiny)
    assert sync(tiny, fake_embedder).rebuilt  # and `index` repairs it


def test_sync_repairs_an_index_whose_current_names_a_missing_generation(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    (tiny.index_dir / store.CURRENT).write_text("gen-gone\n")
    report = sync(tiny, fake_embedder)
    assert report.rebuilt
    assert store.load(tiny.index_dir, tiny).generation == report.generation


# ------------------------------------------------------------------------------------------- the manifest itself


def rewrite_manifest(settings, change) -> None:
    path = live(settings) / store.MANIFEST
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(change(manifest)))


def both_refuse(settings) -> str:
    """`load` (ask) and `read_manifest` (list) both refuse the index, with the same one-line message."""
    with pytest.raises(IndexCorruptError) as loading:
        store.load(settings.index_dir, settings)
    with pytest.raises(IndexCorruptError) as listing:
        store.read_manifest(settings.index_dir)
    assert str(loading.value) == str(listing.value)
    text = str(loading.value)
    assert "\n" not in text and "damaged" in text and "python -m assistant index" in text
    return text


def test_a_manifest_whose_checksums_were_renamed_away_is_damaged_and_altered_text_is_never_loaded(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    passages = live(tiny) / store.PASSAGES
    passages.write_text(passages.read_text().replace("Sourdough bread", "Pay us in bitcoin"))

    def rename(manifest):
        manifest["files_"] = manifest.pop("files")
        return manifest

    rewrite_manifest(tiny, rename)
    assert "no 'files'" in both_refuse(tiny)
    sync(tiny, fake_embedder)  # `index` repairs it
    assert all("bitcoin" not in p.text for p in store.load(tiny.index_dir, tiny).passages)


@pytest.mark.parametrize("left_out", [store.PASSAGES, store.DENSE, "keyword/"], ids=["passages", "dense", "keyword"])
def test_a_manifest_that_leaves_a_file_out_of_its_checksums_is_damaged(tiny, fake_embedder, left_out):
    sync(tiny, fake_embedder)
    rewrite_manifest(tiny, lambda m: dict(m, files={k: v for k, v in m["files"].items() if not k.startswith(left_out)}))
    assert left_out.rstrip("/") in both_refuse(tiny)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: dict(m, count=m["count"] + 1),
        lambda m: dict(m, count=m["count"] + 1, documents={**m["documents"], "baking.txt": {**m["documents"]["baking.txt"], "passages": m["documents"]["baking.txt"]["passages"] + 1}}),
        lambda m: dict(m, count=m["count"] + 1, documents={**m["documents"], "ghost.md": {**m["documents"]["baking.txt"], "passages": 1}}),
        lambda m: dict(m, count=m["count"] - m["documents"]["baking.txt"]["passages"], documents={k: v for k, v in m["documents"].items() if k != "baking.txt"}),
    ],
    ids=["count", "document-count", "extra-document", "missing-document"],
)
def test_edited_counts_in_the_manifest_are_noticed(tiny, fake_embedder, change):
    sync(tiny, fake_embedder)
    rewrite_manifest(tiny, change)
    with pytest.raises(IndexCorruptError) as info:
        store.load(tiny.index_dir, tiny)
    assert "python -m assistant index" in message(info, tiny)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: [m],
        lambda m: "manifest",
        lambda m: dict(m, documents=[]),
        lambda m: dict(m, documents=None),
        lambda m: dict(m, documents={"baking.txt": "x"}),
        lambda m: dict(m, documents={k: {**v, "extra": 1} for k, v in m["documents"].items()}),
        lambda m: dict(m, documents={k: {**v, "passages": "3"} for k, v in m["documents"].items()}),
        lambda m: dict(m, documents={k: {**v, "sha256": 5} for k, v in m["documents"].items()}),
        lambda m: dict(m, dim="64"),
        lambda m: dict(m, count=None),
        lambda m: dict(m, files=[]),
        lambda m: dict(m, files={**m["files"], "../../../etc/passwd": "0" * 64}),
        lambda m: dict(m, files={**m["files"], store.PASSAGES: None}),
        lambda m: dict(m, chunking="250"),
        lambda m: dict(m, dense={"type": "hnsw"}),
        lambda m: dict(m, money_figures="yes"),
        lambda m: {k: v for k, v in m.items() if k != "documents"},
    ],
    ids=lambda _: "shape",
)
def test_a_manifest_of_the_wrong_shape_is_one_clear_error_never_a_traceback(tiny, fake_embedder, change):
    sync(tiny, fake_embedder)
    rewrite_manifest(tiny, change)
    both_refuse(tiny)
    assert sync(tiny, fake_embedder).rebuilt  # `index` repairs it


# ------------------------------------------------------------------------------------------- the cache


def test_a_damaged_embedding_cache_is_replaced_not_fatal(tiny, fake_embedder):
    tiny.index_dir.mkdir(parents=True)
    (tiny.index_dir / store.CACHE).write_bytes(b"this is not a sqlite database" * 100)
    report = sync(tiny, fake_embedder)
    assert report.embedded == report.passages
    assert store.load(tiny.index_dir, tiny).passages


# ------------------------------------------------------------------------------------------- approximate search at scale


def clustered(n: int, dim: int = 32, seed: int = 0):
    """Normalised vectors in 20 clusters: a stand-in for embeddings with topics."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, dim)).astype(np.float32)
    x = centres[rng.integers(0, 20, n)] + 0.5 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_from_the_threshold_on_the_dense_index_is_ivf_that_removes_and_reconstructs_by_id(tiny):
    import faiss
    import numpy as np

    settings = tiny.replace(ann_threshold=1000, ann_nprobe=4)
    vectors = clustered(2000)
    ids = np.arange(2000, dtype=np.int64) * 7919 + (1 << 40)
    assert store.dense_kind(store.make_dense(32, ids[:999], vectors[:999], settings)) == "flat"
    dense = store.make_dense(32, ids, vectors, settings)
    assert store.dense_kind(dense) == "ivf" and dense.ntotal == 2000
    ivf = faiss.extract_index_ivf(dense)
    assert ivf.nlist == store.nlist_for(2000, settings) and ivf.nprobe == 4

    ivf.nprobe = ivf.nlist  # scanning every cell is exact
    _, found = dense.search(vectors[:20], 10)
    _, exact = faiss.knn(vectors[:20], vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
    assert all(set(f) == set(ids[e]) for f, e in zip(found, exact))

    assert np.allclose(dense.reconstruct(int(ids[123])), vectors[123])
    dense.remove_ids(ids[:10])
    assert dense.ntotal == 1990
    _, found = dense.search(vectors[:10], 1)
    assert not set(found[:, 0]) & set(ids[:10])
    with pytest.raises(RuntimeError):
        dense.reconstruct(int(ids[0]))


def test_the_build_switches_to_ivf_at_the_threshold_edits_it_incrementally_and_switches_back(tiny, fake_embedder):
    settings = tiny.replace(ann_threshold=2)
    first = sync(settings, fake_embedder)
    loaded = store.load(settings.index_dir, settings)
    assert loaded.kind == "ivf" and loaded.manifest["dense"] == {"type": "ivf", "trained_on": first.passages}
    encoded = fake_embedder.encoded

    (settings.corpus_dir / "extra.md").write_text("# Extra\n\nA note about feature stores and model registries.\n")
    second = sync(settings, fake_embedder)
    loaded = store.load(settings.index_dir, settings)
    assert second.embedded == 1 and fake_embedder.encoded == encoded + 1
    assert loaded.kind == "ivf" and loaded.manifest["dense"]["trained_on"] == first.passages  # edited, not retrained
    hits = loaded.search(fake_embedder.encode_query("feature stores and model registries"), k=1)
    assert loaded.passages[hits[0][0]].doc == "extra.md"

    (settings.corpus_dir / "baking.txt").unlink()
    third = sync(settings, fake_embedder)
    loaded = store.load(settings.index_dir, settings)
    assert third.removed == ["baking.txt"] and loaded.dense.ntotal == len(loaded) == third.passages
    assert {loaded.passages[pos].doc for pos, _ in loaded.search(fake_embedder.encode_query("sourdough bread"), k=10)} <= {
        "skills.md",
        "extra.md",
    }

    flat = settings.replace(ann_threshold=1000)
    before = fake_embedder.encoded
    sync(flat, fake_embedder, rebuild=False)
    # Same passages: nothing to do, so the IVF index stays until the corpus changes...
    (settings.corpus_dir / "more.md").write_text("# More\n\nGradient boosting and decision trees for tabular data.\n")
    sync(flat, fake_embedder)
    loaded = store.load(flat.index_dir, flat)
    assert loaded.kind == "flat" and loaded.manifest["dense"] == {"type": "flat"}
    assert fake_embedder.encoded == before + 1  # ...then it becomes flat again from the stored vectors
    assert loaded.dense.ntotal == len(loaded)


def test_an_ivf_index_trained_on_far_fewer_passages_is_retrained():
    from assistant.build import _extendable
    from assistant.config import Settings

    class Old:
        def __init__(self, kind, trained_on):
            self.dense = type("D", (), {"d": 8})()
            self.kind = kind
            self.manifest = {"dense": {"type": kind, "trained_on": trained_on}}

    s = Settings(ann_threshold=100)
    assert _extendable(Old("ivf", 150), 8, 250, s)
    assert not _extendable(Old("ivf", 100), 8, 250, s)  # more than twice what the cells were trained on
    assert not _extendable(Old("ivf", 500), 8, 200, s)  # less than half
    assert not _extendable(Old("flat", 0), 8, 250, s) and not _extendable(Old("ivf", 150), 8, 99, s)
    assert _extendable(Old("flat", 0), 8, 99, s) and not _extendable(Old("flat", 0), 16, 99, s)


def test_search_settings_are_validated(tiny):
    from assistant.errors import InputError

    for bad in ({"ann_nprobe": 0}, {"ann_threshold": 0}, {"ann_nlist": -1}, {"query_threads": -1}):
        with pytest.raises(InputError):
            tiny.replace(**bad)


# ------------------------------------------------------------------------------------------- the keyword index


def test_the_keyword_index_is_built_at_index_time_and_loaded_not_rebuilt(tiny, fake_embedder, monkeypatch):
    from assistant.keywords import KeywordIndex
    from assistant.retrieve import Retriever

    sync(tiny, fake_embedder)
    loaded = store.load(tiny.index_dir, tiny)
    assert loaded.keyword_dir == live(tiny) / store.KEYWORD

    def no_rebuild(texts):
        raise AssertionError("the saved keyword index should have been used")

    monkeypatch.setattr(KeywordIndex, "build", staticmethod(no_rebuild))
    retriever = Retriever(loaded, fake_embedder, tiny)
    top = retriever.search("sourdough starter crust", k=1).sources[0]
    assert top.doc == "baking.txt"
    assert retriever.repair_spelling("sourdogh bread") == "sourdough bread"


def test_an_index_saved_without_a_keyword_folder_still_searches(tiny, fake_embedder):
    import shutil

    from assistant.retrieve import Retriever

    sync(tiny, fake_embedder)
    gen = live(tiny)
    shutil.rmtree(gen / store.KEYWORD)  # as written before keyword indexes were saved
    manifest = json.loads((gen / store.MANIFEST).read_text())
    manifest["files"] = {k: v for k, v in manifest["files"].items() if not k.startswith(store.KEYWORD + "/")}
    (gen / store.MANIFEST).write_text(json.dumps(manifest))
    loaded = store.load(tiny.index_dir, tiny)
    assert loaded.keyword_dir is None
    assert Retriever(loaded, fake_embedder, tiny).search("sourdough starter crust", k=1).sources[0].doc == "baking.txt"


def test_a_saved_keyword_index_for_other_tokens_or_passages_is_not_used(tmp_path):
    from assistant import keywords
    from assistant.keywords import KeywordIndex
    from assistant.text import tokenize

    index = KeywordIndex.build(["gradient descent on a loss", "sourdough bread and a starter"])
    index.save(tmp_path / "kw")
    again = KeywordIndex.load(tmp_path / "kw", 2)
    assert again is not None and again.ranking(tokenize("sourdough"), 5) == [1]
    assert KeywordIndex.load(tmp_path / "kw", 3) is None
    meta = json.loads((tmp_path / "kw" / KeywordIndex.META).read_text())
    (tmp_path / "kw" / KeywordIndex.META).write_text(json.dumps(dict(meta, tokenizer=keywords.TOKENIZER_VERSION + 1)))
    assert KeywordIndex.load(tmp_path / "kw", 2) is None
    assert KeywordIndex.load(tmp_path / "missing", 2) is None


def test_the_keyword_index_scores_as_bm25s_own_indexing_does():
    import bm25s
    import numpy as np

    from assistant.keywords import KeywordIndex
    from assistant.text import tokenize

    texts = [p.read_text() for p in sorted((Path(__file__).resolve().parents[1] / "corpus").rglob("*.md"))]
    texts += ["", "the and of", "models model modelling"]  # no words at all; stopwords only; one stem thrice
    ours = KeywordIndex.build(texts)
    reference = bm25s.BM25()
    reference.index([tokenize(t) or ["_"] for t in texts], show_progress=False)
    for query in ["python sql interview", "model drift monitoring", "portfolio projects", "learning models", "c++"]:
        tokens = [t for t in tokenize(query) if t in ours.bm25.vocab_dict]
        assert tokens, query
        assert np.allclose(ours.bm25.get_scores(tokens), reference.get_scores(tokens), rtol=1e-5, atol=1e-7), query


def test_a_keyword_index_built_on_saved_word_counts_equals_one_built_from_scratch(tmp_path, monkeypatch):
    import numpy as np

    from assistant import keywords
    from assistant.keywords import KeywordIndex
    from assistant.text import tokenize

    before = ["gradient descent on a loss", "sourdough bread and a starter", "python and sql for data work"]
    KeywordIndex.build(before).save(tmp_path / "kw")
    after = [before[2], "rust for fast inference", before[0]]  # one gone, one new, the rest reordered
    seen: list[str] = []
    words = keywords.words
    monkeypatch.setattr(keywords, "words", lambda text: seen.append(text) or words(text))
    reused = KeywordIndex.build(after, previous=tmp_path / "kw", previous_texts=before)
    assert seen == ["rust for fast inference"]
    (tmp_path / "kw" / keywords._COUNTS).unlink()  # as saved before word counts were: tokenize everything
    fallback = KeywordIndex.build(after, previous=tmp_path / "kw", previous_texts=before)
    fresh = KeywordIndex.build(after)
    for index in (reused, fallback):
        assert index.vocab == fresh.vocab and index.bm25.vocab_dict == fresh.bm25.vocab_dict
        assert (index._counts != fresh._counts).nnz == 0
        for key in ("data", "indices", "indptr"):
            assert np.array_equal(index.bm25.scores[key], fresh.bm25.scores[key])
    assert reused.ranking(tokenize("rust inference"), 3) == [1]


def test_spelling_repair_by_length_buckets_matches_difflib_over_the_whole_vocabulary():
    import difflib
    import random

    from assistant.keywords import KeywordIndex

    texts = [p.read_text() for p in (Path(__file__).resolve().parents[1] / "corpus").rglob("*.md")]
    index = KeywordIndex.build(texts)
    vocab = sorted(index.vocab)
    rng = random.Random(5)
    probes = []
    for word in rng.sample(vocab, 300):
        i = rng.randrange(len(word))
        probes += [word[:i] + word[i + 1 :], word[:i] + "e" + word[i:], word[::-1], word + "ing"]
    for probe in probes:
        full = difflib.get_close_matches(probe, vocab, n=1, cutoff=0.8)
        assert index.close_word(probe) == (full[0] if full else None), probe


# ------------------------------------------------------------------------------------------- full disk


@pytest.fixture
def small_disk(tmp_path):
    """A 400 KB tmpfs where the machine lets us mount one (root on Linux), else None."""
    import subprocess

    target = tmp_path / "small-disk"
    target.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(target)], capture_output=True).returncode == 0
    yield target if mounted else None
    if mounted:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def test_a_full_disk_during_a_build_fails_cleanly_with_the_old_index_intact(tmp_path, small_disk, fake_embedder, monkeypatch):
    import errno

    from conftest import TINY_DOCS, make_settings

    from assistant.build import sync
    from assistant.errors import IndexWriteError

    settings = make_settings(tmp_path)
    if small_disk is not None:
        settings = settings.replace(index_dir=small_disk / "index")
    settings.corpus_dir.mkdir()
    for name, text in TINY_DOCS.items():
        (settings.corpus_dir / name).write_text(text)
    sync(settings, fake_embedder)
    before = store.load(settings.index_dir, settings)
    for part in range(4):  # four documents: one of 60,000 sentences would be over the passage limit
        big = " ".join(f"Sentence {i} about feature {i % 97} and pipeline {i % 13}." for i in range(part * 15_000, (part + 1) * 15_000))
        (settings.corpus_dir / f"big-{part}.txt").write_text(big)
    if small_disk is None:  # no tmpfs here: inject the error the disk would give
        import faiss

        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(faiss, "write_index", full)
    with pytest.raises(IndexWriteError, match="previous index is unchanged"):
        sync(settings, fake_embedder)
    after = store.load(settings.index_dir, settings)  # checksums verified
    assert after.generation == before.generation and [p.id for p in after.passages] == [p.id for p in before.passages]
    assert not list(settings.index_dir.glob(".tmp-*"))


def test_asked_vectors_that_do_not_fit_their_passages_are_reported_corrupt(tiny, fake_embedder):
    import numpy as np
    from test_build import ASKED_DOC

    (tiny.corpus_dir / "leakage.md").write_text(ASKED_DOC)
    sync(tiny, fake_embedder)
    gen = live(tiny)
    np.save(gen / store.ASKED, np.zeros((1, fake_embedder.dim), dtype=np.float32))  # one row for two questions
    with pytest.raises(IndexCorruptError, match="does not match its passages"):
        store.load(tiny.index_dir, tiny, verify=False)
    with pytest.raises(IndexCorruptError, match="checksum"):
        store.load(tiny.index_dir, tiny)
    sync(tiny, fake_embedder)  # repairs it
    assert len(store.load(tiny.index_dir, tiny).asked()[0]) == 2
