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
    assert set(manifest["files"]) == {store.PASSAGES, store.DENSE}
    for name, digest in manifest["files"].items():
        assert store.file_sha256(gen / name) == digest


# ------------------------------------------------------------------------------------------- atomic swap


def test_current_names_a_complete_generation_after_a_build(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    name = (tiny.index_dir / store.CURRENT).read_text().strip()
    gen = tiny.index_dir / name
    assert name.startswith("gen-") and gen.is_dir()
    assert {p.name for p in gen.iterdir()} == {store.MANIFEST, store.PASSAGES, store.DENSE}
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
    with pytest.raises(OSError, match="disk full"):
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
    assert store.read_manifest(tiny.index_dir) is None


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


def test_sync_repairs_an_index_whose_current_names_a_missing_generation(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    (tiny.index_dir / store.CURRENT).write_text("gen-gone\n")
    report = sync(tiny, fake_embedder)
    assert report.rebuilt
    assert store.load(tiny.index_dir, tiny).generation == report.generation


# ------------------------------------------------------------------------------------------- the cache


def test_a_damaged_embedding_cache_is_replaced_not_fatal(tiny, fake_embedder):
    tiny.index_dir.mkdir(parents=True)
    (tiny.index_dir / store.CACHE).write_bytes(b"this is not a sqlite database" * 100)
    report = sync(tiny, fake_embedder)
    assert report.embedded == report.passages
    assert store.load(tiny.index_dir, tiny).passages
