"""The stored index: FAISS vectors, the passages beside them, and a manifest, written atomically.

Layout under `index/`:

    CURRENT                 one line: the name of the live generation
    gen-<time>-<rand>/      a complete, immutable build
        manifest.json       format, model, dimension, chunking, documents (hash, passages), file checksums
        passages.jsonl      one passage per line, in corpus order
        dense.faiss         IndexIDMap2 over IndexFlatIP (normalised vectors: inner product = cosine)
    embeddings.sqlite       cache of vectors by embedded-text hash, so unchanged text is never re-encoded
    .lock                   held while a build runs

A build writes a new generation into a temporary folder, fsyncs it, renames it into place and only then
rewrites `CURRENT` (write-then-rename). A crash at any moment leaves `CURRENT` naming a complete
generation, so readers never see half an index. Old generations are deleted after the swap, keeping one
spare for readers that opened it a moment before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from .config import Settings
from .corpus import Passage
from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
PASSAGES = "passages.jsonl"
DENSE = "dense.faiss"
CACHE = "embeddings.sqlite"
REBUILD_HINT = "run `python -m assistant index --rebuild`"


def faiss_id(passage_id: str) -> int:
    """The FAISS int64 id of a passage: its first 15 hex digits (60 bits, always positive)."""
    return int(passage_id[:15], 16)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old content or the new, never a mix."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


@dataclass
class DocEntry:
    """What the manifest remembers of one document."""

    sha256: str
    title: str
    passages: int
    indexed_at: str


class StoredIndex:
    """A loaded generation: passages, their FAISS index and the manifest. Read-only and thread-safe."""

    def __init__(self, path: Path, manifest: dict, passages: list[Passage], dense) -> None:
        self.path = path
        self.manifest = manifest
        self.passages = passages
        self.dense = dense
        self.position = {faiss_id(p.id): i for i, p in enumerate(passages)}

    @property
    def generation(self) -> str:
        return self.path.name

    @property
    def documents(self) -> dict[str, DocEntry]:
        return {doc: DocEntry(**entry) for doc, entry in self.manifest["documents"].items()}

    def __len__(self) -> int:
        return len(self.passages)

    def search(self, vector, k: int) -> list[tuple[int, float]]:
        """(passage position, cosine) of the `k` nearest passages, best first."""
        import numpy as np

        if not self.passages or k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        scores, ids = self.dense.search(query, min(k, len(self.passages)))
        return [(self.position[int(i)], float(s)) for s, i in zip(scores[0], ids[0]) if i != -1]

    def vectors(self, passage_ids: Iterable[str]) -> dict[str, object]:
        """Stored vectors of the given passages that this index holds."""
        out = {}
        for pid in passage_ids:
            fid = faiss_id(pid)
            if fid in self.position:
                out[pid] = self.dense.reconstruct(fid)
        return out


# ------------------------------------------------------------------------------------------------ reading


def current_generation(root: Path) -> Path | None:
    """The live generation folder, or None when nothing was ever built."""
    try:
        name = (root / CURRENT).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {root / CURRENT}: {exc}; {REBUILD_HINT}") from None
    if not name or "/" in name or name.startswith("."):
        raise IndexCorruptError(f"{root / CURRENT} is damaged; {REBUILD_HINT}")
    return root / name


def read_manifest(root: Path) -> dict | None:
    """The live manifest without loading vectors (for `list` and the sidebar), or None."""
    gen = current_generation(root)
    if gen is None:
        return None
    try:
        return json.loads((gen / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def check_compatible(manifest: dict, settings: Settings, dim: int | None = None) -> None:
    """Refuse an index built for another format, model, dimension or chunking."""
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index has format {manifest.get('format')}, this version reads {FORMAT_VERSION}; {REBUILD_HINT}"
        )
    if manifest.get("model") != settings.model_name:
        raise IndexMismatchError(
            f"the index was built with model {manifest.get('model')!r} but {settings.model_name!r} is configured; "
            f"{REBUILD_HINT}"
        )
    if dim is not None and manifest.get("dim") != dim:
        raise IndexMismatchError(f"the index has dimension {manifest.get('dim')}, the model gives {dim}; {REBUILD_HINT}")


def load(root: Path, settings: Settings, verify: bool = True) -> StoredIndex:
    """Load the live generation, checking manifest, compatibility and (with `verify`) file checksums."""
    gen = current_generation(root)
    if gen is None:
        raise IndexMissingError(f"no index in {root}/; run `python -m assistant index` to build it")
    if not gen.is_dir():
        raise IndexCorruptError(f"{root / CURRENT} names {gen.name}, which is missing; {REBUILD_HINT}")
    try:
        manifest = json.loads((gen / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"the index manifest in {gen} is unreadable ({exc}); {REBUILD_HINT}") from None
    check_compatible(manifest, settings)
    if verify:
        for name, expected in manifest.get("files", {}).items():
            target = gen / name
            if not target.is_file() or file_sha256(target) != expected:
                raise IndexCorruptError(
                    f"index file {target} is missing or damaged (checksum mismatch); run `python -m assistant index` to repair it"
                )
    try:
        passages = [Passage(**json.loads(line)) for line in (gen / PASSAGES).read_text().splitlines() if line]
        import faiss

        dense = faiss.read_index(str(gen / DENSE))
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise IndexCorruptError(f"cannot read the index in {gen} ({type(exc).__name__}); {REBUILD_HINT}") from None
    if dense.ntotal != len(passages) or dense.d != manifest.get("dim"):
        raise IndexCorruptError(f"the index in {gen} does not match its passages; {REBUILD_HINT}")
    return StoredIndex(gen, manifest, passages, dense)


# ------------------------------------------------------------------------------------------------ writing


def new_dense(dim: int):
    """An empty exact inner-product index that can remove by id."""
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def write(root: Path, manifest: dict, passages: list[Passage], dense) -> Path:
    """Write a complete generation and make it live atomically. Returns its folder."""
    import faiss

    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        lines = "".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in passages)
        _write_synced(tmp / PASSAGES, lines.encode())
        faiss.write_index(dense, str(tmp / DENSE))
        with (tmp / DENSE).open("rb+") as fh:
            os.fsync(fh.fileno())
        manifest = dict(manifest, files={name: file_sha256(tmp / name) for name in (PASSAGES, DENSE)})
        _write_synced(tmp / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
        _fsync_dir(tmp)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        final = root / f"gen-{stamp}-{uuid.uuid4().hex[:6]}"
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_atomic(root / CURRENT, (final.name + "\n").encode())
    _collect_garbage(root, keep={final.name})
    return final


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _collect_garbage(root: Path, keep: set[str], spare: int = 1) -> None:
    """Remove unfinished temporary folders and all but `spare` older generations (called under the lock)."""
    gens = sorted((p for p in root.glob("gen-*") if p.is_dir() and p.name not in keep), key=lambda p: p.stat().st_mtime)
    doomed = gens[:-spare] if spare else gens
    doomed += [p for p in root.glob(".tmp-*") if p.is_dir()]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ cache


class EmbeddingCache:
    """Vectors by (model, hash of the embedded text) in SQLite: crash-safe, shared by every build."""

    def __init__(self, root: Path, model: str) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.model = model
        self.db = sqlite3.connect(root / CACHE, timeout=60)
        try:
            self.db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vector BLOB, PRIMARY KEY (model, key))")
        except sqlite3.DatabaseError:  # a damaged cache is only a cache: start again
            self.db.close()
            (root / CACHE).unlink(missing_ok=True)
            self.db = sqlite3.connect(root / CACHE, timeout=60)
            self.db.execute("CREATE TABLE vectors (model TEXT, key TEXT, vector BLOB, PRIMARY KEY (model, key))")

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def get_many(self, keys: list[str], dim: int) -> dict[str, object]:
        import numpy as np

        found: dict[str, object] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({marks})", [self.model, *chunk]
            )
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (dim,):
                    found[key] = vector
        return found

    def put_many(self, items: dict[str, object]) -> None:
        import numpy as np

        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(self.model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )

    def close(self) -> None:
        self.db.close()
