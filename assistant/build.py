"""Bring the index in line with `corpus/`, embedding only what is new.

    corpus/ ──discover──> files ──hash──> unchanged? reuse the manifest's passages
                                          changed/new? parse + chunk (a bad file: warn, skip)
    passages ──cache/old index──> vectors; the rest are encoded (with progress), longest first
    old FAISS index ──remove_ids(gone)──add_with_ids(new)──> new generation, swapped in atomically
    (or a fresh flat/IVF index from all vectors when the size calls for the other kind; see index.py)
    passages ──tokenize new text──> BM25 keyword index (other text keeps its saved word counts), saved in the generation

The whole build holds `index/.lock`, so two builds never interleave: a second one waits (up to
`wait` seconds) and then says another build is running. Because only complete generations are ever made
live, a build killed at any point leaves the previous index in place; the embedding cache keeps what it
had already encoded, so the next run picks up where the killed one stopped.

`add` and `remove` change the corpus and build under the same lock (`locked`, then `sync_locked`), and
whoever takes the lock first settles any add or remove a killed process left half done (`ingest.recover`),
so the corpus and the index always end up agreeing with what the user was told.

A corpus folder that does not exist is refused (`CorpusMissingError`): an index built from nothing would
remove every document. Symbolic links in the corpus are never followed (`corpus.scan`), and every file is
read through `corpus.read_file`, which checks its size before reading it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import index as store
from .config import Settings
from .corpus import CHUNKER_VERSION, Passage, chunk, read_file, scan, sha256_bytes
from .embed import Embedder
from .errors import AssistantError, BusyError, CorpusMissingError, DocumentError, IndexMissingError
from .keywords import KeywordIndex
from .requests import MONEY_FIGURE
from .vocabulary import Vocabulary

log = logging.getLogger(__name__)

#: Progress callback: (stage, done, total). Stages: "read", "embed".
Progress = Callable[[str, int, int], None]


@dataclass
class BuildReport:
    """What a build did, for the CLI's summary and the tests."""

    documents: int = 0
    passages: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # messages naming each file that could not be read
    embedded: int = 0  # passages actually encoded by the model (cache misses)
    reused: int = 0
    seconds: float = 0.0
    rebuilt: bool = False  # the old index was unusable or --rebuild was asked
    unchanged: bool = False  # nothing to do: no new generation was written
    generation: str = ""

    def summary(self) -> str:
        if self.unchanged:
            return f"Index is up to date: {self.documents} documents, {self.passages} passages."
        parts = [f"Indexed {self.documents} documents, {self.passages} passages in {self.seconds:.1f}s"]
        detail = [f"{len(v)} {k}" for k, v in (("added", self.added), ("changed", self.changed), ("removed", self.removed)) if v]
        if detail:
            parts.append("; ".join(detail))
        parts.append(f"{self.embedded} passages embedded, {self.reused} reused")
        return " — ".join(parts) + "."


def _lock(settings: Settings, wait: float):
    from filelock import FileLock, Timeout

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.index_dir / ".lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise BusyError(f"another build is running on {settings.index_dir}/ (it holds the lock); try again when it ends") from None
    return lock


@contextmanager
def locked(settings: Settings, wait: float = 600.0) -> Iterator[None]:
    """Hold the build lock (`index/.lock`) for a build or a change to the corpus.

    First thing under the lock, an add or remove that a killed process left half done is settled
    (`ingest.recover`): nothing else can be reading or writing the corpus then, and every later command,
    whichever it is, starts from a corpus that agrees with the index.
    """
    lock = _lock(settings, wait)
    try:
        from .ingest import recover  # ingest builds on this module

        recover(settings)
        yield
    finally:
        lock.release()


def sync(
    settings: Settings,
    embedder: Embedder,
    progress: Progress | None = None,
    rebuild: bool = False,
    wait: float = 600.0,
) -> BuildReport:
    """Make the index match the corpus. Returns a report; raises only on problems with the index itself
    (and `CorpusMissingError` when the corpus folder does not exist: the index is then left as it is)."""
    with locked(settings, wait):
        return sync_locked(settings, embedder, progress, rebuild)


def check_corpus(settings: Settings) -> None:
    """Refuse a corpus folder that does not exist (`CorpusMissingError`): a build from it would remove every
    document from the index, and an `add` would start a new corpus in the wrong place."""
    if not settings.corpus_dir.is_dir():
        what = "is not a folder" if settings.corpus_dir.exists() else "does not exist"
        raise CorpusMissingError(
            f"the corpus folder {settings.corpus_dir}/ {what} (ASSISTANT_CORPUS_DIR); the index was left as it is"
        )


def sync_locked(settings: Settings, embedder: Embedder, progress: Progress | None = None, rebuild: bool = False) -> BuildReport:
    """`sync` for a caller that already holds the lock (`locked`)."""
    check_corpus(settings)
    return _sync_locked(settings, embedder, progress or (lambda *a: None), rebuild)


def _load_previous(settings: Settings, embedder: Embedder, rebuild: bool) -> store.StoredIndex | None:
    """The live index if it can be extended: same format, model and dimension, and intact."""
    if rebuild:
        return None
    try:
        old = store.load(settings.index_dir, settings, search=False)
        store.check_compatible(old.manifest, settings, embedder.dim)
        return old
    except AssistantError as exc:
        if not isinstance(exc, IndexMissingError):
            log.warning("the existing index is not reusable (%s); building from scratch", str(exc).split("; run `")[0])
        return None


def _sync_locked(settings: Settings, embedder: Embedder, progress: Progress, rebuild: bool) -> BuildReport:
    started = time.perf_counter()
    report = BuildReport()
    old = _load_previous(settings, embedder, rebuild)
    report.rebuilt = old is None
    old_docs = old.documents if old else {}
    old_by_doc: dict[str, list[Passage]] = {}
    for p in old.passages if old else []:
        old_by_doc.setdefault(p.doc, []).append(p)
    # Passages of an unchanged file are reused only if they would be cut the same way today.
    same_chunking = bool(old) and old.manifest.get("chunking") == settings.chunking and old.manifest.get("chunker") == CHUNKER_VERSION

    found = scan(settings.corpus_dir)
    files = found.files
    report.skipped += [f"{rel.as_posix()}: a symbolic link; links are never followed, so it is not indexed" for rel in found.links]
    limit = settings.max_upload_bytes
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    passages: list[Passage] = []
    docs: dict[str, dict] = {}
    for i, rel in enumerate(files, start=1):
        name = rel.as_posix()
        progress("read", i, len(files))
        try:  # the size is checked before reading; deleted or unreadable since discovery: the next run sees the truth
            data = read_file(settings.corpus_dir / rel, name, limit)
        except DocumentError as exc:
            report.skipped.append(str(exc))
            continue
        digest = sha256_bytes(data)
        prev = old_docs.get(name)
        if prev and same_chunking and prev.sha256 == digest and name in old_by_doc:
            doc_passages, title, indexed_at = old_by_doc[name], prev.title, prev.indexed_at
        else:
            try:
                document = _parse(settings.corpus_dir, rel, data)
                doc_passages = chunk(document, **settings.chunking)
            except DocumentError as exc:
                report.skipped.append(str(exc))
                log.warning("skipped %s", exc)
                continue
            title, indexed_at = document.title, now
            (report.changed if prev else report.added).append(name)
        passages.extend(doc_passages)
        docs[name] = {"sha256": digest, "title": title, "passages": len(doc_passages), "indexed_at": indexed_at}
    passages = _dedupe(passages)
    counts: dict[str, int] = {}
    for p in passages:  # what the generation holds, which its manifest must say (`index.check_manifest`)
        counts[p.doc] = counts.get(p.doc, 0) + 1
    for name, entry in docs.items():
        entry["passages"] = counts.get(name, 0)
    report.removed = sorted(set(old_docs) - set(docs))
    report.documents, report.passages = len(docs), len(passages)

    try:
        vocabulary = Vocabulary.load(settings.corpus_dir).to_text()
    except DocumentError as exc:  # the documents still index; questions are read without the vocabulary
        report.skipped.append(str(exc))
        vocabulary = "\n"
    vocabulary_hash = sha256_bytes(vocabulary.encode("utf-8"))
    same_vocabulary = bool(old) and old.manifest.get("vocabulary", sha256_bytes(b"\n")) == vocabulary_hash
    fresh_keywords = bool(old) and KeywordIndex.is_current(old.keyword_dir, len(old.passages))
    if old and not (report.added or report.changed or report.removed) and same_chunking and fresh_keywords and same_vocabulary:
        report.unchanged = True
        report.reused = len(passages)
        report.generation = old.generation
        report.seconds = time.perf_counter() - started
        return report

    extend = _extendable(old, embedder.dim, len(passages), settings)
    needed = [p for p in passages if store.faiss_id(p.id) not in old.position] if extend else passages
    vectors = _vectors(settings, embedder, needed, old, progress, report)
    report.reused = len(passages) - report.embedded
    if extend:
        dense = _extend_dense(old, passages, vectors)
        trained_on = old.manifest.get("dense", {}).get("trained_on", len(old.passages))
    else:
        dense = store.make_dense(
            embedder.dim, [store.faiss_id(p.id) for p in passages], [vectors[p.id] for p in passages], settings
        )
        trained_on = len(passages)
    del vectors
    kind = store.dense_kind(dense)
    keyword = KeywordIndex.build(  # tokenizes only text the previous generation did not have
        [p.keyword_text() for p in passages],
        previous=old.keyword_dir if old else None,
        previous_texts=[p.keyword_text() for p in old.passages] if old else (),
    )
    manifest = {
        "format": store.FORMAT_VERSION,
        "model": settings.model_name,
        "dim": embedder.dim,
        "chunking": settings.chunking,
        "chunker": CHUNKER_VERSION,
        "built_at": now,
        "count": len(passages),
        "dense": {"type": kind, "trained_on": trained_on} if kind == "ivf" else {"type": kind},
        "documents": docs,
        "vocabulary": vocabulary_hash,
        "money_figures": any(MONEY_FIGURE.search(p.text) for p in passages),
    }
    asked = _asked_matrix(settings, embedder, passages, old, progress)
    report.generation = store.write(
        settings.index_dir, manifest, passages, dense, keyword=keyword, previous=old, asked=asked, vocabulary=vocabulary
    ).name
    report.seconds = time.perf_counter() - started
    log.info(report.summary())
    return report


def _parse(root: Path, rel: Path, data: bytes):
    """Parse the bytes already read (not the file again: it may have changed meanwhile)."""
    from .corpus import parse_document

    return parse_document(rel.as_posix(), data)


def _dedupe(passages: list[Passage]) -> list[Passage]:
    seen: set[str] = set()
    out = []
    for p in passages:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out


def _vectors(settings, embedder, passages, old, progress, report) -> dict[str, object]:
    """A vector for each of `passages`: from the old index, else the cache, else the model."""
    cache = store.EmbeddingCache(settings.index_dir, settings.model_name)
    try:
        vectors: dict[str, object] = old.vectors([p.id for p in passages]) if old else {}
        missing = [p for p in passages if p.id not in vectors]
        keys = {p.id: cache.key(p.embedding_text()) for p in missing}
        dim = embedder.dim
        cached = cache.get_many(list(keys.values()), dim) if missing else {}
        todo = []
        for p in missing:
            if keys[p.id] in cached:
                vectors[p.id] = cached[keys[p.id]]
            else:
                todo.append(p)
        # Longest first, as sentence-transformers orders one call: batches of like lengths pad little.
        todo.sort(key=lambda p: -len(p.embedding_text()))
        done = 0
        batch = 64
        for start in range(0, len(todo), batch):  # cache each batch: a killed build keeps its work
            part = todo[start : start + batch]
            encoded = embedder.encode([p.embedding_text() for p in part])
            fresh = {p.id: v for p, v in zip(part, encoded)}
            vectors.update(fresh)
            cache.put_many({keys[pid]: v for pid, v in fresh.items()})
            done += len(part)
            progress("embed", done, len(todo))
        report.embedded = len(todo)
        return vectors
    finally:
        cache.close()


def _asked_matrix(settings, embedder, passages: list[Passage], old, progress):
    """A row per asked question (`Passage.asked`), in passage order: from the old index, else the cache,
    else the model. None when the corpus has no asked questions."""
    import numpy as np

    texts = [q for p in passages for q in p.asked]
    if not texts:
        return None
    known = old.asked_vectors() if old else {}
    missing = [q for q in dict.fromkeys(texts) if q not in known]
    if missing:
        cache = store.EmbeddingCache(settings.index_dir, settings.model_name)
        try:
            keys = {q: cache.key(q) for q in missing}
            cached = cache.get_many(list(keys.values()), embedder.dim)
            known.update({q: cached[keys[q]] for q in missing if keys[q] in cached})
            todo = [q for q in missing if q not in known]
            for start in range(0, len(todo), 64):  # cache each batch: a killed build keeps its work
                part = todo[start : start + 64]
                fresh = dict(zip(part, embedder.encode(part)))
                known.update(fresh)
                cache.put_many({keys[q]: v for q, v in fresh.items()})
                progress("questions", start + len(part), len(todo))
        finally:
            cache.close()
    return np.vstack([np.asarray(known[q], dtype=np.float32) for q in texts])


def _extendable(old, dim: int, count: int, settings: Settings) -> bool:
    """Whether the old dense index can be edited (remove gone, add new) rather than made anew.

    It must have the dimension and the kind (flat or IVF) that `count` passages call for; an IVF index
    must also have been trained on between half and twice as many passages (its cells fit the data).
    """
    if old is None or old.dense.d != dim:
        return False
    ann = store.wants_ann(count, settings)
    if (old.kind == "ivf") != ann:
        return False
    if ann:
        trained_on = old.manifest.get("dense", {}).get("trained_on", 0)
        return trained_on / 2 <= count <= trained_on * 2
    return True


def _extend_dense(old, passages: list[Passage], vectors: dict[str, object]):
    """The old FAISS index with gone passages removed by id and new ones added."""
    import faiss
    import numpy as np

    wanted = {store.faiss_id(p.id): p for p in passages}
    dense = faiss.clone_index(old.dense)
    gone = np.array([fid for fid in old.position if fid not in wanted], dtype=np.int64)
    if len(gone):
        dense.remove_ids(gone)
    new = [p for fid, p in wanted.items() if fid not in old.position]
    if new:
        matrix = np.vstack([np.asarray(vectors[p.id], dtype=np.float32) for p in new])
        dense.add_with_ids(matrix, np.array([store.faiss_id(p.id) for p in new], dtype=np.int64))
    return dense
