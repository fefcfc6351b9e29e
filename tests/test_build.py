"""Incremental builds: only new text is embedded, removed text leaves the index, and the result equals a fresh build."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import FakeEmbedder, make_settings

from assistant import index as store
from assistant.build import sync
from assistant.corpus import chunk, load_document
from assistant.errors import BusyError
from assistant.keywords import KeywordIndex

NEW_DOC = """# Model monitoring

## Drift

Data drift happens when the inputs a model sees in production stop looking like its training data.
Engineers compare feature distributions over time and alert when a statistical test flags a shift.

## Retraining

When monitoring shows that quality has dropped, a retraining pipeline fits a fresh model on recent data.
The new model is evaluated against the old one before it replaces it, and the switch can be rolled back.
"""


def ids_of(settings, doc: str | None = None) -> list[str]:
    loaded = store.load(settings.index_dir, settings)
    return [p.id for p in loaded.passages if doc is None or p.doc == doc]


def passages_on_disk(settings, rel: str):
    return chunk(load_document(settings.corpus_dir, rel), **settings.chunking)


# ------------------------------------------------------------------------------------------- incremental


def test_first_build_embeds_every_passage_and_reports_the_documents_added(tiny, fake_embedder):
    report = sync(tiny, fake_embedder)
    assert sorted(report.added) == ["baking.txt", "skills.md"]
    assert report.rebuilt and not report.unchanged
    assert report.embedded == report.passages == fake_embedder.encoded > 0
    assert report.documents == 2


def test_adding_a_document_embeds_only_its_new_passages(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    before = ids_of(tiny)
    (tiny.corpus_dir / "monitoring.md").write_text(NEW_DOC)
    new_passages = passages_on_disk(tiny, "monitoring.md")
    assert new_passages

    counter = FakeEmbedder()
    report = sync(tiny, counter)
    assert report.added == ["monitoring.md"]
    assert report.changed == [] and report.removed == []
    assert counter.encoded == report.embedded == len(new_passages)
    assert report.reused == len(before)
    after = ids_of(tiny)
    assert set(after) == set(before) | {p.id for p in new_passages}


def test_an_unchanged_corpus_reports_unchanged_and_encodes_nothing(tiny, fake_embedder):
    first = sync(tiny, fake_embedder)
    counter = FakeEmbedder()
    report = sync(tiny, counter)
    assert report.unchanged
    assert counter.encoded == 0 and counter.calls == 0
    assert report.embedded == 0 and report.reused == report.passages == first.passages
    assert report.generation == first.generation == store.current_generation(tiny.index_dir).name
    assert "up to date" in report.summary()


def test_editing_a_document_replaces_its_old_passages_with_new_ones(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    old_ids = set(ids_of(tiny, "baking.txt"))
    skills_ids = ids_of(tiny, "skills.md")
    path = tiny.corpus_dir / "baking.txt"
    path.write_text(path.read_text().replace("Sourdough bread", "Rye bread"))
    new_ids = {p.id for p in passages_on_disk(tiny, "baking.txt")}

    counter = FakeEmbedder()
    report = sync(tiny, counter)
    assert report.changed == ["baking.txt"] and not report.added and not report.removed
    now = set(ids_of(tiny, "baking.txt"))
    assert now == new_ids
    assert not (old_ids & set(ids_of(tiny)))  # the old passages are gone from the index
    assert ids_of(tiny, "skills.md") == skills_ids
    assert counter.encoded == len(new_ids - old_ids)
    loaded = store.load(tiny.index_dir, tiny)
    assert loaded.dense.ntotal == len(loaded.passages)
    assert all("Sourdough" not in p.text for p in loaded.passages)


def test_changing_only_a_documents_title_re_embeds_its_passages(tiny, fake_embedder):
    # The title is part of what the model sees, so a vector made under the old title must not be kept.
    sync(tiny, fake_embedder)
    old_ids = set(ids_of(tiny, "skills.md"))
    path = tiny.corpus_dir / "skills.md"
    path.write_text(path.read_text().replace("title: Skills for ML engineers", "title: What ML engineers know"))

    counter = FakeEmbedder()
    report = sync(tiny, counter)
    assert report.changed == ["skills.md"]
    assert counter.encoded == len(old_ids) > 0
    loaded = store.load(tiny.index_dir, tiny)
    stored = loaded.vectors([p.id for p in loaded.passages if p.doc == "skills.md"])
    for p in (p for p in loaded.passages if p.doc == "skills.md"):
        assert p.title == "What ML engineers know"
        assert np.allclose(stored[p.id], FakeEmbedder().encode([p.embedding_text()])[0])


def test_deleting_a_document_removes_its_passages(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    gone = set(ids_of(tiny, "baking.txt"))
    (tiny.corpus_dir / "baking.txt").unlink()
    counter = FakeEmbedder()
    report = sync(tiny, counter)
    assert report.removed == ["baking.txt"]
    assert counter.encoded == 0
    loaded = store.load(tiny.index_dir, tiny)
    assert "baking.txt" not in loaded.documents
    assert not gone & {p.id for p in loaded.passages}
    assert loaded.dense.ntotal == len(loaded.passages)
    assert all(loaded.passages[pos].doc == "skills.md" for pos, _ in loaded.search(np.ones(fake_embedder.dim), k=10))


def test_adding_a_document_tokenizes_and_json_encodes_only_its_passages(tiny, fake_embedder, monkeypatch):
    """The unchanged passages keep their saved word counts and their stored passages.jsonl lines."""
    import json

    from assistant import keywords

    sync(tiny, fake_embedder)
    (tiny.corpus_dir / "monitoring.md").write_text(NEW_DOC)
    new = passages_on_disk(tiny, "monitoring.md")
    tokenized: list[str] = []
    encoded: list[str] = []
    words = keywords.words

    class CountingJson:  # index.py's json module, counting the passages it encodes
        def __getattr__(self, name):
            return getattr(json, name)

        def dumps(self, obj, *args, **kwargs):
            if isinstance(obj, dict) and "text" in obj:
                encoded.append(obj["id"])
            return json.dumps(obj, *args, **kwargs)

    monkeypatch.setattr(keywords, "words", lambda text: tokenized.append(text) or words(text))
    monkeypatch.setattr(store, "json", CountingJson())
    report = sync(tiny, FakeEmbedder())
    assert report.added == ["monitoring.md"] and report.reused > 0
    assert sorted(tokenized) == sorted(p.embedding_text() for p in new)
    assert sorted(encoded) == sorted(p.id for p in new)


def test_incremental_build_equals_a_build_from_scratch(tmp_path, tiny, embedder):
    sync(tiny, embedder)
    corpus = tiny.corpus_dir
    (corpus / "monitoring.md").write_text(NEW_DOC)
    skills = corpus / "skills.md"
    skills.write_text(skills.read_text().replace("C++ matters", "Rust and C++ matter"))
    sync(tiny, embedder)
    (corpus / "baking.txt").unlink()
    (corpus / "sub").mkdir()
    (corpus / "sub" / "extra.txt").write_text(
        "Feature stores\n\nA feature store keeps features consistent between training and serving.\n"
    )
    sync(tiny, embedder)
    incremental = store.load(tiny.index_dir, tiny)

    fresh_root = tmp_path / "fresh"
    fresh_root.mkdir()
    fresh = make_settings(fresh_root, corpus=corpus)  # a fresh index folder, hence a fresh cache
    assert not (fresh.index_dir / store.CACHE).exists()
    report = sync(fresh, embedder)
    assert report.embedded == report.passages
    scratch = store.load(fresh.index_dir, fresh)

    assert [p.id for p in incremental.passages] == [p.id for p in scratch.passages]
    assert incremental.passages == scratch.passages
    assert incremental.dense.ntotal == scratch.dense.ntotal == len(scratch.passages)
    ids = [p.id for p in scratch.passages]
    a, b = incremental.vectors(ids), scratch.vectors(ids)
    for pid in ids:
        assert np.allclose(a[pid], b[pid], atol=1e-5)
    assert {k: (v["sha256"], v["passages"]) for k, v in incremental.manifest["documents"].items()} == {
        k: (v["sha256"], v["passages"]) for k, v in scratch.manifest["documents"].items()
    }
    query = embedder.encode_query("What is data drift?")
    top_a = [incremental.passages[i].id for i, _ in incremental.search(query, 3)]
    top_b = [scratch.passages[i].id for i, _ in scratch.search(query, 3)]
    assert top_a == top_b
    # The keyword index (built from saved word counts) and passages.jsonl (reused lines) are the same too.
    assert (incremental.path / store.PASSAGES).read_bytes() == (scratch.path / store.PASSAGES).read_bytes()
    kw_a, kw_b = (KeywordIndex.load(s.keyword_dir, len(s.passages)) for s in (incremental, scratch))
    assert kw_a.vocab == kw_b.vocab and kw_a.bm25.vocab_dict == kw_b.bm25.vocab_dict
    for key in ("data", "indices", "indptr"):
        assert np.array_equal(kw_a.bm25.scores[key], kw_b.bm25.scores[key])


def test_rebuild_takes_every_vector_from_the_embedding_cache(tiny, fake_embedder):
    first = sync(tiny, fake_embedder)
    counter = FakeEmbedder()
    report = sync(tiny, counter, rebuild=True)
    assert report.rebuilt and not report.unchanged
    assert counter.encoded == 0 and report.embedded == 0
    assert report.reused == report.passages == first.passages
    assert report.generation != first.generation


def test_embedding_cache_survives_a_deleted_generation(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    for gen in tiny.index_dir.glob("gen-*"):
        shutil.rmtree(gen)
    (tiny.index_dir / store.CURRENT).unlink()
    counter = FakeEmbedder()
    report = sync(tiny, counter)
    assert counter.encoded == 0 and report.passages > 0


def test_a_bad_file_is_skipped_with_a_message_naming_it_and_the_rest_is_indexed(tiny, fake_embedder):
    (tiny.corpus_dir / "broken.md").write_bytes(b"# Broken\n\ncaf\xe9 au lait\n")
    (tiny.corpus_dir / "empty.txt").write_bytes(b"")
    report = sync(tiny, fake_embedder)
    assert len(report.skipped) == 2
    assert any(msg.startswith("broken.md: ") and "UTF-8" in msg for msg in report.skipped)
    assert any(msg.startswith("empty.txt: ") for msg in report.skipped)
    assert sorted(report.added) == ["baking.txt", "skills.md"]
    loaded = store.load(tiny.index_dir, tiny)
    assert set(loaded.documents) == {"baking.txt", "skills.md"}
    assert {p.doc for p in loaded.passages} == {"baking.txt", "skills.md"}


def test_a_document_that_turns_bad_leaves_the_index(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    (tiny.corpus_dir / "baking.txt").write_bytes(b"\xff\xfe\xfa not text")
    report = sync(tiny, fake_embedder)
    assert any(msg.startswith("baking.txt: ") for msg in report.skipped)
    assert report.removed == ["baking.txt"]
    assert "baking.txt" not in store.load(tiny.index_dir, tiny).documents


def test_hidden_and_unsupported_files_are_not_indexed(tiny, fake_embedder):
    (tiny.corpus_dir / ".draft.md").write_text("# Draft\n\nSecret draft text.\n")
    (tiny.corpus_dir / "tool.py").write_text("print('hello')\n")
    report = sync(tiny, fake_embedder)
    assert sorted(report.added) == ["baking.txt", "skills.md"]
    assert not report.skipped


def test_a_changed_chunking_setting_rechunks_every_document(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    before = store.load(tiny.index_dir, tiny)
    finer = tiny.replace(min_words=5, max_words=40, overlap_words=5)
    counter = FakeEmbedder()
    report = sync(finer, counter)
    assert report.rebuilt and sorted(report.added) == ["baking.txt", "skills.md"]  # the old passages are no use
    assert not report.unchanged
    after = store.load(finer.index_dir, finer)
    assert after.manifest["chunking"] == finer.chunking
    expected = [p.id for rel in ("baking.txt", "skills.md") for p in passages_on_disk(finer, rel)]
    assert sorted(p.id for p in after.passages) == sorted(expected)
    assert len(after) > len(before)
    assert all(p.words <= 40 + 5 for p in after.passages)
    assert not {p.id for p in before.passages} & {p.id for p in after.passages}
    assert counter.encoded == len(after)
    assert after.dense.ntotal == len(after)


def test_a_new_chunker_version_rechunks_unchanged_documents(tiny, fake_embedder, monkeypatch):
    import assistant.build as build

    sync(tiny, fake_embedder)
    before = sorted(ids_of(tiny))
    # The chunker now cuts the same files differently (as after a fix to lead-in lines).
    monkeypatch.setattr(build, "chunk", lambda doc, **kw: chunk(doc, **{**kw, "min_words": 5, "max_words": 40, "overlap_words": 5}))
    assert sync(tiny, FakeEmbedder()).unchanged  # same version: the stored passages are kept
    assert sorted(ids_of(tiny)) == before
    monkeypatch.setattr(build, "CHUNKER_VERSION", build.CHUNKER_VERSION + 1)
    report = sync(tiny, FakeEmbedder())
    assert sorted(report.changed) == ["baking.txt", "skills.md"]
    loaded = store.load(tiny.index_dir, tiny)
    assert loaded.manifest["chunker"] == build.CHUNKER_VERSION
    assert all(p.words <= 45 for p in loaded.passages) and len(loaded.passages) > len(before)


def test_a_keyword_index_saved_for_other_tokens_is_rewritten_even_when_no_document_changed(tiny, fake_embedder, monkeypatch):
    import json

    from assistant import keywords

    sync(tiny, fake_embedder)
    monkeypatch.setattr(keywords, "TOKENIZER_VERSION", keywords.TOKENIZER_VERSION + 1)
    report = sync(tiny, FakeEmbedder())
    assert not report.unchanged and report.embedded == 0
    loaded = store.load(tiny.index_dir, tiny)
    assert json.loads((loaded.keyword_dir / "meta.json").read_text())["tokenizer"] == keywords.TOKENIZER_VERSION
    assert sync(tiny, FakeEmbedder()).unchanged


def test_a_second_build_while_the_lock_is_held_raises_busy(tiny, fake_embedder):
    from filelock import FileLock

    tiny.index_dir.mkdir(parents=True)
    with FileLock(str(tiny.index_dir / ".lock")):
        with pytest.raises(BusyError, match="another build"):
            sync(tiny, fake_embedder, wait=0.2)
    assert fake_embedder.encoded == 0
    assert store.current_generation(tiny.index_dir) is None
    assert sync(tiny, fake_embedder, wait=0.2).passages > 0  # released: the next build runs


def test_progress_reports_reading_and_embedding(tiny, fake_embedder):
    seen = []
    sync(tiny, fake_embedder, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert ("read", 2, 2) in seen
    embeds = [e for e in seen if e[0] == "embed"]
    assert embeds and embeds[-1][1] == embeds[-1][2]


class WiderFake(FakeEmbedder):
    dim = 128


def test_a_model_of_another_dimension_under_the_same_name_triggers_a_rebuild(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    (tiny.corpus_dir / "monitoring.md").write_text(NEW_DOC)
    wider = WiderFake()
    report = sync(tiny, wider)
    assert report.rebuilt
    loaded = store.load(tiny.index_dir, tiny)
    assert loaded.dense.d == 128 and loaded.manifest["dim"] == 128


# ------------------------------------------------------------------------------------------- durability


def _synthetic_docs(folder, count: int, words: int = 900) -> None:
    """Documents long enough that embedding them takes a few seconds with the real model."""
    vocab = "model data feature pipeline training metric drift cluster tensor gradient label deploy".split()
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(count):
        paragraphs = []
        for p in range(words // 60):
            sentence = " ".join(vocab[(d * 7 + p * 3 + i) % len(vocab)] for i in range(12))
            paragraphs.append(f"Document {d} paragraph {p} says {sentence}. " * 5)
        (folder / f"synthetic-{d:03d}.md").write_text(f"# Synthetic {d}\n\n" + "\n\n".join(paragraphs))


def test_a_build_killed_mid_way_leaves_the_old_index_loadable_and_the_next_run_finishes(tmp_path, tiny, embedder):
    import os
    import signal
    import subprocess
    import sys

    from conftest import REPO

    sync(tiny, embedder)
    before = ids_of(tiny)
    _synthetic_docs(tiny.corpus_dir / "bulk", 15)
    env = {
        **os.environ,
        "ASSISTANT_CORPUS_DIR": str(tiny.corpus_dir),
        "ASSISTANT_INDEX_DIR": str(tiny.index_dir),
        "ASSISTANT_STATE_DIR": str(tiny.state_dir),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "index"], cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    seen = b""
    try:
        while b"Embedding passages" not in seen:  # kill it while it is encoding, not before
            chunk_ = proc.stderr.read1(4096)
            if not chunk_:
                break
            seen += chunk_
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert b"Embedding passages" in seen, seen.decode(errors="replace")
    assert proc.returncode == -signal.SIGKILL

    assert ids_of(tiny) == before  # the previous index is still the live one, intact
    report = sync(tiny, embedder)
    assert report.reused > 0  # what the killed build had encoded was kept in the cache
    assert len(store.load(tiny.index_dir, tiny).documents) == 17
    assert not list(tiny.index_dir.glob(".tmp-*"))


def _cli_env(settings) -> dict:
    import os

    return {
        **os.environ,
        "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir),
        "ASSISTANT_INDEX_DIR": str(settings.index_dir),
        "ASSISTANT_STATE_DIR": str(settings.state_dir),
    }


def _kill_corpus(root, embedder):
    from conftest import TINY_DOCS

    settings = make_settings(root)
    settings.corpus_dir.mkdir(parents=True)
    for name, text in TINY_DOCS.items():
        (settings.corpus_dir / name).write_text(text)
    sync(settings, embedder)
    _synthetic_docs(settings.corpus_dir / "bulk", 4, words=600)
    return settings


@pytest.fixture(scope="module")
def cli_build_seconds(tmp_path_factory, embedder):
    """How long a whole `python -m assistant index` of the kill-test corpus takes on this machine."""
    import subprocess
    import sys
    import time

    from conftest import REPO

    settings = _kill_corpus(tmp_path_factory.mktemp("probe"), embedder)
    started = time.monotonic()
    probe = subprocess.run([sys.executable, "-m", "assistant", "index", "--quiet"], cwd=REPO, env=_cli_env(settings), timeout=300)
    assert probe.returncode == 0
    return time.monotonic() - started


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_build_killed_at_a_random_moment_always_leaves_a_loadable_index_matching_its_manifest(
    tmp_path, embedder, cli_build_seconds, seed
):
    """Kill `python -m assistant index` at a seeded random moment of its run: start-up, reading, encoding,
    writing or swapping. Whatever the moment, the live index loads (checksums verified) and agrees with its
    manifest, and the next build completes."""
    import json
    import random
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO

    settings = _kill_corpus(tmp_path, embedder)
    delay = random.Random(seed).uniform(0.3, 1.0) * cli_build_seconds
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "index", "--quiet"], cwd=REPO, env=_cli_env(settings))
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)

    loaded = store.load(settings.index_dir, settings)  # verifies the checksums of every file
    manifest = json.loads((loaded.path / store.MANIFEST).read_text())
    assert manifest["count"] == len(loaded.passages) == loaded.dense.ntotal
    assert {p.doc for p in loaded.passages} == set(manifest["documents"])
    report = sync(settings, embedder)
    assert report.documents == 2 + 4
    assert len(store.load(settings.index_dir, settings).documents) == 6


# ------------------------------------------------------------------------------------------ asked questions

ASKED_DOC = """# Leakage

## Data leakage

<!-- asked:
- Why does my model do great in testing but badly for real users?
- Did my model peek at the answers?
-->

Data leakage happens when information that is unavailable at prediction time sneaks into training data.
Evaluation then looks far better than production, because the model learned from a clue it will not have.
"""


def test_asked_questions_get_vectors_and_a_later_build_encodes_only_new_questions(tiny, fake_embedder):
    (tiny.corpus_dir / "leakage.md").write_text(ASKED_DOC)
    sync(tiny, fake_embedder)
    loaded = store.load(tiny.index_dir, tiny)
    matrix, owners = loaded.asked()
    leak = [i for i, p in enumerate(loaded.passages) if p.asked]
    assert len(matrix) == 2 and list(owners) == leak * 2
    expected = FakeEmbedder().encode(list(loaded.passages[leak[0]].asked))
    assert np.allclose(matrix, expected)

    (tiny.index_dir / store.CACHE).unlink(missing_ok=True)  # vectors must come from the old generation then
    (tiny.corpus_dir / "leakage.md").write_text(ASKED_DOC.replace("-->", "- Is my evaluation fooling me?\n-->"))
    counter = FakeEmbedder()
    report = sync(tiny, counter)
    assert report.changed == ["leakage.md"]
    assert counter.encoded == report.embedded + 1  # the changed passage (ids carry their questions) and one question
    matrix, owners = store.load(tiny.index_dir, tiny).asked()
    assert len(matrix) == 3 and np.allclose(matrix[2], FakeEmbedder().encode(["Is my evaluation fooling me?"])[0])


def test_a_corpus_without_asked_questions_writes_no_asked_file(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    loaded = store.load(tiny.index_dir, tiny)
    assert not (loaded.path / store.ASKED).exists()
    matrix, owners = loaded.asked()
    assert len(matrix) == len(owners) == 0


def test_the_vocabulary_file_is_no_document_and_a_change_to_it_is_live_after_index_without_embedding(tiny, fake_embedder):
    sync(tiny, fake_embedder)
    (tiny.corpus_dir / "vocabulary.txt").write_text("MLE = machine learning engineer\n")
    report = sync(tiny, FakeEmbedder())
    assert not report.unchanged and report.embedded == 0 and "vocabulary.txt" not in report.added
    loaded = store.load(tiny.index_dir, tiny)
    assert loaded.vocabulary.meanings("mle") == ("machine learning engineer",)
    assert all(p.doc != "vocabulary.txt" for p in loaded.passages)
    assert sync(tiny, FakeEmbedder()).unchanged
    (tiny.corpus_dir / "vocabulary.txt").write_text("MLE = machine learning engineer\nDS = data scientist\n")
    assert store.load(tiny.index_dir, tiny).generation != sync(tiny, FakeEmbedder()).generation


def test_an_unreadable_vocabulary_is_reported_and_the_documents_still_index(tiny, fake_embedder):
    (tiny.corpus_dir / "vocabulary.txt").write_bytes(b"MLE = \xff\xfe")
    report = sync(tiny, fake_embedder)
    assert any("vocabulary.txt" in message for message in report.skipped) and report.documents == 2


# ------------------------------------------------------------------------------------------ hostile corpus


def test_a_missing_corpus_folder_is_refused_and_the_index_is_left_as_it_is(tiny, fake_embedder):
    from assistant.errors import CorpusMissingError

    before = sync(tiny, fake_embedder).generation
    gone = tiny.replace(corpus_dir=tiny.corpus_dir.parent / "no-such-corpus")
    with pytest.raises(CorpusMissingError, match=r"the corpus folder .*no-such-corpus/ does not exist") as info:
        sync(gone, fake_embedder)  # used to report every document "removed" and empty the index
    assert "\n" not in str(info.value)
    assert store.current_generation(tiny.index_dir).name == before
    assert set(store.load(tiny.index_dir, tiny).documents) == {"baking.txt", "skills.md"}


def test_a_symbolic_link_in_the_corpus_is_never_indexed_and_is_reported(tiny, fake_embedder, tmp_path):
    secret = tmp_path / "secret.md"
    secret.write_text("# Secret\n\nThe root password is hunter2, kept outside the corpus.\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "more.md").write_text("# More\n\nAnother file outside the corpus about hunter2.\n")
    (tiny.corpus_dir / "link.md").symlink_to(secret)
    (tiny.corpus_dir / "folder").symlink_to(outside)
    report = sync(tiny, fake_embedder)
    loaded = store.load(tiny.index_dir, tiny)
    assert set(loaded.documents) == {"baking.txt", "skills.md"}
    assert all("hunter2" not in p.text for p in loaded.passages)
    assert sorted(m.split(":")[0] for m in report.skipped) == ["folder", "link.md"]
    assert all("symbolic link" in m for m in report.skipped)


def test_a_corpus_file_over_the_size_limit_is_skipped_without_being_read(tiny, fake_embedder, monkeypatch):
    import os

    with (tiny.corpus_dir / "huge.md").open("wb") as fh:  # sparse: 1 GB on paper
        fh.truncate(1 << 30)
    read = []
    real_read = os.read

    def counting(fd, n):
        data = real_read(fd, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(os, "read", counting)
    report = sync(tiny, fake_embedder)
    assert any(m.startswith("huge.md: is 1073.7 MB, over the 20 MB limit") for m in report.skipped), report.skipped
    assert sum(read) < 1 << 20  # only the small documents were read
    assert report.documents == 2
