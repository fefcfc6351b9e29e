"""The stored index: FAISS vectors, the passages beside them, and a manifest, written atomically.

Layout under `index/`:

    CURRENT                 one line: the name of the live generation
    gen-<time>-<rand>/      a complete, immutable build
        manifest.json       format, model, dimension, chunking, documents (hash, passages), file checksums
        passages.jsonl      one passage per line, in corpus order
        dense.faiss         IndexIDMap2 over IndexFlatIP (normalised vectors: inner product = cosine); from
                            `Settings.ann_threshold` passages on, an IndexIVFFlat (approximate; see below)
        asked.npy           a vector per asked question (`Passage.asked`), in passage order; only when the
                            corpus has asked questions
        keyword/            the BM25 index (bm25s arrays and vocabulary), the corpus's words and each
                            passage's word counts, built at index time so a large index loads without
                            tokenizing every passage again, and the next build tokenizes only new text
    embeddings.sqlite       cache of vectors by embedded-text hash, so unchanged text is never re-encoded
    .lock                   held while a build runs

A build writes a new generation into a temporary folder, fsyncs it, renames it into place and only then
rewrites `CURRENT` (write-then-rename). A crash at any moment leaves `CURRENT` naming a complete
generation, so readers never see half an index. Old generations are deleted after the swap, keeping one
spare for readers that opened it a moment before, and a loaded generation holds everything it needs in
memory (vectors, passages, asked-question vectors, vocabulary, keyword index), so a process that sits idle
while two builds delete its generation answers exactly as before.

The manifest is checked before it is trusted (`check_manifest`): its shape and types, its counts against the
passages, and its "files", which must give the SHA-256 of every file of the generation (the keyword folder's
too): a manifest that lost or renamed its checksums is damaged, not unverified.

Exact or approximate search. Below `Settings.ann_threshold` passages the dense index is exact (flat). From
there on it is an inverted-file index (IVF-Flat): k-means cells (`ann_nlist`, default 4·√n) trained on a
sample; a query scans the `ann_nprobe` nearest cells. Vectors are stored unquantised, so memory stays
about 1.05× the raw vectors, and a hash-table direct map keeps `remove_ids` and `reconstruct` by id working
for incremental builds. Rebuild policy: the cells are trained once and reused by later builds while the
passage count stays within half to twice the count they were trained on; outside that range (or when the
count crosses the threshold either way) the build trains a new index from the stored vectors, without
re-encoding anything. See docs/performance.md for the measured recall and latency.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .corpus import Passage
from .embed import available_cpus
from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError, IndexWriteError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
PASSAGES = "passages.jsonl"
DENSE = "dense.faiss"
KEYWORD = "keyword"
ASKED = "asked.npy"
VOCABULARY = "vocabulary.txt"
CACHE = "embeddings.sqlite"
REBUILD_HINT = "run `python -m assistant index --rebuild`"

_thread = threading.local()


def faiss_threads(n: int) -> None:
    """Set FAISS's OpenMP threads for the calling thread (OpenMP keeps the count per thread).

    One query searches on one thread: measured on the 2-core machine, a flat search of 100k vectors took
    12 ms on one thread and 40 ms on two (waking and joining the second costs more than it saves). Builds
    (k-means, adding vectors) use every available CPU.
    """
    if getattr(_thread, "faiss_threads", None) != n:
        import faiss

        faiss.omp_set_num_threads(n)
        _thread.faiss_threads = n


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
    """A loaded generation: passages, their FAISS index and the manifest. Read-only and thread-safe.

    `load` fills in everything a search needs (`asked`, `vocabulary`, `keywords`) at once, so nothing is read
    from the generation folder later: it may be deleted by later builds while this object is in use.
    """

    def __init__(
        self, path: Path, manifest: dict, passages: list[Passage], dense, asked=None, vocabulary=None, keywords=None
    ) -> None:
        import numpy as np

        self.path = path
        self.manifest = manifest
        self.passages = passages
        self.dense = dense
        self.position = {faiss_id(p.id): i for i, p in enumerate(passages)}
        owners = np.array([i for i, p in enumerate(passages) for _ in p.asked], dtype=np.int64)
        if asked is None or len(asked) != len(owners):  # a generation without asked questions
            asked, owners = np.zeros((0, dense.d), dtype=np.float32), owners[:0]
        self._asked = (asked, owners)
        if vocabulary is None:
            from .vocabulary import Vocabulary

            vocabulary = Vocabulary.parse("", name=f"{path.name}/{VOCABULARY}")
        self.vocabulary = vocabulary
        #: The saved keyword index (`keywords.KeywordIndex`), loaded by `load(search=True)`; else None and the
        #: retriever reads or builds it itself.
        self.keywords = keywords

    @property
    def has_money_figures(self) -> bool:
        """Whether any passage gives a money figure ("$90,000", "€60k"): pay or price questions need one."""
        if "money_figures" in self.manifest:
            return bool(self.manifest["money_figures"])
        from .requests import MONEY_FIGURE

        return any(MONEY_FIGURE.search(p.text) for p in self.passages)

    def asked(self) -> tuple[object, object]:
        """(matrix, owners): a vector per asked question, and the passage position each belongs to (empty
        arrays for an index without asked questions)."""
        return self._asked

    def asked_vectors(self) -> dict[str, object]:
        """{question: vector} for the asked questions this index holds (an incremental build reuses them)."""
        matrix, owners = self.asked()
        texts = [q for p in self.passages for q in p.asked] if len(owners) else []
        return dict(zip(texts, matrix))

    @property
    def keyword_dir(self) -> Path | None:
        """The saved keyword index of this generation, if it has one (builds before it did not)."""
        folder = self.path / KEYWORD
        return folder if folder.is_dir() else None

    @property
    def kind(self) -> str:
        """"flat" (exact) or "ivf" (approximate)."""
        return dense_kind(self.dense)

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
        faiss_threads(1)
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        scores, ids = self.dense.search(query, min(k, len(self.passages)))
        return [(self.position[int(i)], float(s)) for s, i in zip(scores[0], ids[0]) if i != -1]

    def vectors(self, passage_ids: Iterable[str]) -> dict[str, object]:
        """Stored vectors of the given passages that this index holds."""
        import numpy as np

        held = [pid for pid in passage_ids if faiss_id(pid) in self.position]
        out: dict[str, object] = {}
        for start in range(0, len(held), 65536):  # one call per block: fast even for a million passages
            part = held[start : start + 65536]
            matrix = self.dense.reconstruct_batch(np.array([faiss_id(p) for p in part], dtype=np.int64))
            out.update(zip(part, matrix))
        return out


# ------------------------------------------------------------------------------------------------ reading


#: What `CURRENT` may name: a generation folder as `write` names them ("gen-20261130T220149-60a573").
_GENERATION_NAME = re.compile(r"gen-[0-9A-Za-z-]{1,64}")


def current_generation(root: Path) -> Path | None:
    """The live generation folder, or None when nothing was ever built.

    Anything in `CURRENT` but one generation name (a stray byte, another path, a huge file) is
    `IndexCorruptError`, never a traceback or a path outside the index folder.
    """
    try:
        with (root / CURRENT).open("rb") as fh:
            raw = fh.read(256)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {root / CURRENT}: {exc.strerror or exc}; {REBUILD_HINT}") from None
    try:
        name = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        name = ""
    if not _GENERATION_NAME.fullmatch(name):
        raise IndexCorruptError(f"{root / CURRENT} is damaged; {REBUILD_HINT}")
    return root / name


def _live(root: Path) -> Path:
    """The live generation folder; `IndexMissingError` or `IndexCorruptError` when there is none to read."""
    gen = current_generation(root)
    if gen is None:
        raise IndexMissingError(f"no index in {root}/; run `python -m assistant index` to build it")
    if not gen.is_dir():
        raise IndexCorruptError(f"{root / CURRENT} names {gen.name}, which is missing; {REBUILD_HINT}")
    return gen


def _read_manifest_file(gen: Path) -> dict:
    try:
        manifest = json.loads((gen / MANIFEST).read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise IndexCorruptError(f"the index manifest in {gen} is damaged (unreadable: {_reason(exc)}); {REBUILD_HINT}") from None
    check_manifest(gen, manifest)
    return manifest


def read_manifest(root: Path, verify: bool = True) -> dict | None:
    """The live manifest without loading vectors (for `list`), or None when nothing was ever built.

    It is checked as `load` checks it (shape, and with `verify` the checksum of every file), so `list` calls
    an index damaged exactly when `ask` does.
    """
    if current_generation(root) is None:
        return None
    gen = _live(root)
    manifest = _read_manifest_file(gen)
    if verify:
        verify_files(gen, manifest)
    return manifest


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _is_int(value: object, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _manifest_problem(manifest: object) -> str | None:
    """What is wrong with the shape or the types of a manifest, or None."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    for key, check in (
        ("format", _is_int),
        ("model", lambda v: isinstance(v, str)),
        ("dim", lambda v: _is_int(v, 1)),
        ("count", _is_int),
        ("documents", lambda v: isinstance(v, dict)),
        ("files", lambda v: isinstance(v, dict) and bool(v)),
    ):
        if key not in manifest:
            return f"no {key!r}"
        if not check(manifest[key]):
            return f"{key!r} has the wrong type"
    optional = {
        "chunking": lambda v: isinstance(v, dict) and all(isinstance(k, str) and _is_int(n) for k, n in v.items()),
        "chunker": _is_int,
        "built_at": lambda v: isinstance(v, str),
        "dense": lambda v: isinstance(v, dict) and v.get("type") in ("flat", "ivf") and _is_int(v.get("trained_on", 0)),
        "vocabulary": lambda v: isinstance(v, str),
        "money_figures": lambda v: isinstance(v, bool),
    }
    for key, check in optional.items():
        if key in manifest and not check(manifest[key]):
            return f"{key!r} has the wrong type"
    entry_keys = {"sha256", "title", "passages", "indexed_at"}
    for doc, entry in manifest["documents"].items():
        if (
            not isinstance(entry, dict)
            or set(entry) != entry_keys
            or not isinstance(entry["sha256"], str)
            or not _HEX64.fullmatch(entry["sha256"])
            or not isinstance(entry["title"], str)
            or not isinstance(entry["indexed_at"], str)
            or not _is_int(entry["passages"])
        ):
            return f"the entry of document {doc!r} is malformed"
    if sum(entry["passages"] for entry in manifest["documents"].values()) != manifest["count"]:
        return "its document passage counts do not add up to its count"
    for name, digest in manifest["files"].items():
        parts = name.split("/")
        if not name or name.startswith("/") or any(part in ("", ".", "..") for part in parts):
            return f"it lists a file outside its folder ({name!r})"
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            return f"the checksum of {name} is malformed"
    for required in (PASSAGES, DENSE):
        if required not in manifest["files"]:
            return f"it gives no checksum for {required}"
    return None


def check_manifest(gen: Path, manifest: object) -> None:
    """Refuse a manifest whose shape, types or counts are wrong (`IndexCorruptError`, with the fix)."""
    problem = _manifest_problem(manifest)
    if problem:
        raise IndexCorruptError(f"the index manifest in {gen} is damaged ({problem}); {REBUILD_HINT}")


def verify_files(gen: Path, manifest: dict) -> None:
    """Every file of the generation must be listed in the manifest's "files" with its SHA-256, and match it."""
    on_disk = {p.relative_to(gen).as_posix() for p in gen.rglob("*") if not p.is_dir()} - {MANIFEST}
    listed = manifest["files"]
    unlisted = sorted(on_disk - set(listed))
    if unlisted:
        raise IndexCorruptError(
            f"index file {gen / unlisted[0]} is damaged (the manifest gives no checksum for it); run `python -m assistant index` to repair it"
        )
    for name, expected in listed.items():
        target = gen / name
        if not target.is_file() or target.is_symlink() or file_sha256(target) != expected:
            raise IndexCorruptError(
                f"index file {target} is missing or damaged (checksum mismatch); run `python -m assistant index` to repair it"
            )


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
    built = manifest.get("chunking")
    if built is not None and built != settings.chunking:  # answers would quote passages of the old size
        raise IndexMismatchError(
            f"the index holds passages of {_size(built)} but {_size(settings.chunking)} are configured; {REBUILD_HINT}"
        )


def _size(chunking: dict) -> str:
    return f"{chunking.get('min_words')}–{chunking.get('max_words')} words (overlap {chunking.get('overlap_words')})"


def load(root: Path, settings: Settings, verify: bool = True, search: bool = True) -> StoredIndex:
    """Load the live generation, checking manifest, compatibility and (with `verify`) file checksums.

    Everything is read now, not on first use: the asked-question vectors and the vocabulary always, the
    keyword index too with `search` (a build, which never searches, leaves it out). A problem with any of them
    is `IndexCorruptError`.
    """
    gen = _live(root)
    manifest = _read_manifest_file(gen)
    check_compatible(manifest, settings)
    if verify:
        verify_files(gen, manifest)
    damaged = f"the index in {gen} does not match its passages; {REBUILD_HINT}"
    try:
        # "\n" only: str.splitlines() also splits at U+2028 and U+0085, which JSON leaves unescaped in the text
        lines = [line for line in (gen / PASSAGES).read_text(encoding="utf-8").split("\n") if line]
        fields = json.loads("[" + ",".join(lines) + "]")  # one parse, not one per line
        if type(fields) is not list or not all(type(f) is dict and type(f.get("asked", [])) is list for f in fields):
            raise ValueError("a passage is not an object")
        passages = [Passage(**f) for f in fields]
        import faiss

        dense = faiss.read_index(str(gen / DENSE))
    except (OSError, ValueError, TypeError, RuntimeError, RecursionError) as exc:
        raise IndexCorruptError(f"cannot read the index in {gen} ({type(exc).__name__}); {REBUILD_HINT}") from None
    if not _passages_well_formed(passages):
        raise IndexCorruptError(f"cannot read the index in {gen} (a passage is malformed); {REBUILD_HINT}")
    if dense.ntotal != len(passages) or dense.d != manifest["dim"] or manifest["count"] != len(passages):
        raise IndexCorruptError(damaged)
    per_doc: dict[str, int] = {}
    for p in passages:
        per_doc[p.doc] = per_doc.get(p.doc, 0) + 1
    if any(per_doc.get(doc, 0) != entry["passages"] for doc, entry in manifest["documents"].items()) or not set(per_doc) <= set(
        manifest["documents"]
    ):
        raise IndexCorruptError(damaged)
    asked = _read_asked(gen, passages, dense.d)
    if asked is False:
        raise IndexCorruptError(damaged)
    vocabulary = _read_vocabulary(gen)
    configure(dense, settings)
    stored = StoredIndex(gen, manifest, passages, dense, asked=asked, vocabulary=vocabulary)
    if search:
        stored.keywords = _read_keywords(stored)
    return stored


def _passages_well_formed(passages: list[Passage]) -> bool:
    """Every field of every passage has the type the rest of the code takes for granted."""
    for p in passages:
        if not (
            type(p.id) is str
            and len(p.id) == 16
            and type(p.doc) is str
            and type(p.title) is str
            and type(p.heading) is str
            and type(p.text) is str
            and all(type(q) is str for q in p.asked)
        ):
            return False
        try:
            int(p.id, 16)
        except ValueError:
            return False
    return len({p.id for p in passages}) == len(passages)


def _read_asked(gen: Path, passages: list[Passage], dim: int):
    """The asked-question matrix (None when the generation has none), or False when it does not fit."""
    path = gen / ASKED
    expected = (sum(len(p.asked) for p in passages), dim)
    if not path.is_file():
        return None if expected[0] == 0 else False
    import numpy as np

    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return False
    if matrix.shape != expected or matrix.dtype != np.float32:
        return False
    return matrix


def _read_vocabulary(gen: Path):
    """The vocabulary built into the generation (`vocabulary.py`), empty if it has none."""
    from .errors import DocumentError
    from .vocabulary import MAX_BYTES, Vocabulary

    path = gen / VOCABULARY
    name = f"{gen.name}/{VOCABULARY}"
    if not path.is_file():
        return Vocabulary.parse("", name=name)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError("too large")
        return Vocabulary.parse(path.read_text(encoding="utf-8"), name=name)
    except (OSError, ValueError, DocumentError) as exc:
        raise IndexCorruptError(f"cannot read the vocabulary of the index in {gen} ({_reason(exc)}); {REBUILD_HINT}") from None


def _read_keywords(stored: StoredIndex):
    """The generation's saved keyword index, or one built from the passages (an index saved without one)."""
    from .keywords import KeywordIndex

    folder = stored.keyword_dir
    keywords = KeywordIndex.load(folder, len(stored.passages)) if folder is not None else None
    if keywords is None:
        keywords = KeywordIndex.build([p.keyword_text() for p in stored.passages])
    return keywords


# ------------------------------------------------------------------------------------------------ writing


def new_dense(dim: int):
    """An empty exact inner-product index that can remove by id."""
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def dense_kind(dense) -> str:
    """"ivf" for an inverted-file index, "flat" for the exact one."""
    import faiss

    try:
        faiss.extract_index_ivf(dense)
    except (RuntimeError, TypeError, ValueError):
        return "flat"
    return "ivf"


def wants_ann(count: int, settings: Settings) -> bool:
    """Whether an index of `count` passages should be approximate."""
    return count >= settings.ann_threshold


def nlist_for(count: int, settings: Settings) -> int:
    """IVF cells: `Settings.ann_nlist`, or 4·√count; never more than count / 39 (k-means needs the points)."""
    nlist = settings.ann_nlist or int(4 * count**0.5)
    return max(1, min(nlist, count // 39))


def new_ivf(dim: int, sample, count: int, settings: Settings):
    """An empty IVF-Flat inner-product index trained on `sample` (vectors), sized for `count` passages.

    Its direct map is a hash table, so `remove_ids` and `reconstruct(id)` work as on the flat index.
    """
    import faiss
    import numpy as np

    nlist = nlist_for(count, settings)
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.niter = 10  # ten k-means iterations: enough for search, and the 1M build stays at minutes
    ivf.cp.seed = 1234
    sample = np.ascontiguousarray(sample, dtype=np.float32)
    limit = settings.ann_train_per_cell * nlist
    if len(sample) > limit:
        sample = sample[np.random.default_rng(1234).choice(len(sample), limit, replace=False)]
    log.info("training an IVF index: %d cells on %d vectors", nlist, len(sample))
    ivf.train(sample)
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
    configure(ivf, settings)
    return ivf


def make_dense(dim: int, ids, matrix, settings: Settings):
    """A dense index over `matrix` (rows: normalised vectors) with FAISS `ids`: flat or IVF by the count."""
    import numpy as np

    matrix = np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1, dim)
    ids = np.asarray(ids, dtype=np.int64)
    faiss_threads(available_cpus())
    dense = new_ivf(dim, matrix, len(ids), settings) if wants_ann(len(ids), settings) else new_dense(dim)
    if len(ids):
        for start in range(0, len(ids), 262144):  # blocks bound the temporary memory of the assignment
            dense.add_with_ids(matrix[start : start + 262144], ids[start : start + 262144])
    return dense


def configure(dense, settings: Settings) -> None:
    """Search-time knobs, which FAISS does not store: the IVF cells to scan.

    (Splitting one query's cells over threads, `parallel_mode = 1`, was measured 20x slower on the 2-core
    machine: waking OpenMP threads costs more than scanning. The default scans on the calling thread.)
    """
    import faiss

    if dense_kind(dense) == "ivf":
        ivf = faiss.extract_index_ivf(dense)
        ivf.nprobe = max(1, min(settings.ann_nprobe, ivf.nlist))


def write(
    root: Path,
    manifest: dict,
    passages: list[Passage],
    dense,
    keyword=None,
    previous: StoredIndex | None = None,
    asked=None,
    vocabulary: str = "",
) -> Path:
    """Write a complete generation and make it live atomically. Returns its folder.

    `keyword`, when given, is an object with `save(folder)` (the retriever's `KeywordIndex`). `previous`, the
    generation this one extends, lends the stored lines of the passages it already holds (see `_passage_lines`).
    `asked`, a matrix with a row per asked question in passage order, is written when it has rows, and
    `vocabulary`, the maintainer's vocabulary in its file format, when it is not empty.
    """
    import faiss

    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        with (tmp / PASSAGES).open("wb") as fh:
            fh.writelines(_passage_lines(passages, previous))
            fh.flush()
            os.fsync(fh.fileno())
        faiss.write_index(dense, str(tmp / DENSE))
        with (tmp / DENSE).open("rb+") as fh:
            os.fsync(fh.fileno())
        if asked is not None and len(asked):
            import numpy as np

            with (tmp / ASKED).open("wb") as fh:
                np.save(fh, np.asarray(asked, dtype=np.float32))
                fh.flush()
                os.fsync(fh.fileno())
        if vocabulary.strip():
            _write_synced(tmp / VOCABULARY, vocabulary.encode("utf-8"))
        if keyword is not None:
            keyword.save(tmp / KEYWORD)
            for path in (tmp / KEYWORD).iterdir():
                with path.open("rb+") as fh:
                    os.fsync(fh.fileno())
            _fsync_dir(tmp / KEYWORD)
        names = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        manifest = dict(manifest, files={name: file_sha256(tmp / name) for name in names})
        # Not indented: json's C encoder does not indent, and its Python one took longer than all the rest
        _write_synced(tmp / MANIFEST, json.dumps(manifest, ensure_ascii=False).encode())
        _fsync_dir(tmp)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        final = root / f"gen-{stamp}-{uuid.uuid4().hex[:6]}"
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError | RuntimeError):  # a full disk surfaces as either (FAISS raises RuntimeError)
            raise IndexWriteError(f"cannot write the index in {root}/ ({_reason(exc)}); the previous index is unchanged") from None
        raise
    try:
        write_atomic(root / CURRENT, (final.name + "\n").encode())
    except OSError as exc:
        shutil.rmtree(final, ignore_errors=True)
        raise IndexWriteError(f"cannot switch to the new index in {root}/ ({_reason(exc)}); the previous index is unchanged") from None
    _collect_garbage(root, keep={final.name})
    return final


def _passage_lines(passages: list[Passage], previous: StoredIndex | None) -> Iterator[bytes]:
    """passages.jsonl, line by line. A passage `previous` holds unchanged keeps its stored line (that file was
    checksum-verified when `previous` was loaded), so only new passages are JSON-encoded: encoding every
    passage's text was the largest cost of writing a generation after adding one document.
    """
    stored: list[bytes] = []
    if previous is not None:
        try:
            stored = (previous.path / PASSAGES).read_bytes().split(b"\n")[:-1]
        except OSError:
            stored = []
        if len(stored) != len(previous.passages):  # not the file `previous` was loaded from: encode everything
            stored = []
    for p in passages:
        pos = previous.position.get(faiss_id(p.id)) if stored else None
        if pos is not None and previous.passages[pos] == p:
            yield stored[pos] + b"\n"
        else:
            fields = vars(p) if p.asked else {k: v for k, v in vars(p).items() if k != "asked"}
            yield (json.dumps(fields, ensure_ascii=False) + "\n").encode()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


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

        try:
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                    [(self.model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
                )
        except sqlite3.Error as exc:  # a full disk: the cache is only a cache, the build goes on without it
            log.warning("embedding cache not updated (%s)", exc)

    def close(self) -> None:
        self.db.close()
