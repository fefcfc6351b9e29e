"""Bringing documents into the corpus safely, and taking them out: uploads, `add` and `remove`.

Everything here treats a file as untrusted data. A name is reduced to a safe base name (no folders, no
`..`, no leading dot, no control characters, no reserved device names, at most `MAX_NAME_BYTES` bytes); the
type must be one the corpus reads; the size is checked before a byte is read; the content must parse within
the limits of `corpus.py` (a scanned PDF, undecodable bytes or a compression bomb are refused with a message
naming the file) and must not already be in the corpus. Symbolic links are never followed: a folder given to
`add` is searched without entering links (each one is reported), a link given by name is refused, and
`remove` deletes only a regular file inside the corpus. Nothing is ever executed or rendered. Each file is
judged on its own: one bad file is reported and the rest of the batch still goes in.

All or nothing. With an embedder, `add_documents` and `remove_document` change the corpus and rebuild the
index under the build lock as one change, which happens whole or not at all, even when the process is killed
at any moment. A change keeps a journal in a hidden folder of the corpus (hidden: no build ever reads it):

    corpus/.trash/<change>/journal.json    "add" or "remove", the files with their SHA-256, and the
                                           generation that was live when the change began
    corpus/.trash/<change>/old/<path>      a file the change displaced (removed, or replaced by an overwrite)

`remove` moves the document into the trash, rebuilds, and only then deletes it; if the build fails it is
moved back. `add` writes the new files (a replaced one goes to the trash first) and rebuilds; if the build
fails, what it wrote is deleted and what it displaced is put back. `recover`, which runs first whenever the
build lock is taken (`build.locked`), settles a change whose process died: unless the index switched to a
generation that has the change, it is undone (a removed file comes back, an added one goes, so a retry is not
"a duplicate"); if it did, it is finished.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import time
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import index as store
from .build import BuildReport, Progress, check_corpus, locked, sync_locked
from .config import Settings
from .corpus import (
    FORMATS,
    VOCABULARY_FILE,
    chunk,
    discover,
    is_corpus_file,
    parse_document,
    read_file,
    scan,
    sha256_bytes,
    too_big,
)
from .embed import Embedder
from .errors import AssistantError, DocumentError, InputError

log = logging.getLogger(__name__)

UPLOADS = "uploads"
#: The hidden folder inside the corpus where changes in progress keep their journal and displaced files.
TRASH = ".trash"
JOURNAL = "journal.json"
#: The longest file name `safe_name` gives, in UTF-8 bytes. File systems allow 255 bytes per name (ext4,
#: XFS, btrfs; eCryptfs about 143), and normalisation can lengthen a name (NFKC turns one character into up to
#: 18): 200 leaves room for the "doc-" prefix and holds any name a person types.
MAX_NAME_BYTES = 200
#: The longest file type kept by `safe_name` (".markdown" is the longest the corpus reads).
MAX_SUFFIX_CHARS = 16
#: Folders `add --into` may nest inside the corpus: deep enough for any filing scheme, and short of the
#: 4,096-byte path limit with every part at its longest.
MAX_FOLDER_DEPTH = 8
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


@dataclass
class AddResult:
    added: list[str] = field(default_factory=list)  # corpus-relative paths written (and, with an embedder, indexed)
    replaced: list[str] = field(default_factory=list)  # of those, the ones that overwrote a document
    skipped: list[str] = field(default_factory=list)  # one message per refused file, naming it
    report: BuildReport | None = None


@dataclass(frozen=True)
class Incoming:
    """A file that passed every check that needs no lock: name, type, size, parsing within the limits."""

    raw: str  # the name as given, for messages
    name: str  # its safe name
    data: bytes
    digest: str


def _bounded_utf8(text: str, limit: int) -> str:
    """The longest prefix of `text` of at most `limit` UTF-8 bytes (never half a character)."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", errors="ignore")


def safe_name(name: str) -> str:
    """A file name that cannot escape its folder or hide: raises `InputError` when nothing usable is left.

    The name is bounded in UTF-8 bytes after normalisation (`MAX_NAME_BYTES`), so no name is too long for
    the file system however it was typed.

    >>> safe_name("../../etc/Notes on MLOps.md")
    'Notes-on-MLOps.md'
    >>> safe_name("C:\\\\Users\\\\me\\\\cv.PDF")
    'cv.pdf'
    >>> len(safe_name("機" * 300 + ".md").encode())
    200
    """
    if not isinstance(name, str) or "\x00" in name:
        raise InputError(f"{name!r}: the file name contains a NUL byte" if isinstance(name, str) else "a file name is not text")
    if any("\ud800" <= ch <= "\udfff" for ch in name):
        raise InputError(f"{name!r}: the file name is not valid text")
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFKC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^\w.\-]+", "-", stem, flags=re.UNICODE).strip(".-_ ")[:MAX_NAME_BYTES]
    suffix = suffix.lower()[:MAX_SUFFIX_CHARS]
    if not stem or not suffix:
        raise InputError(f"{_short(name)!r}: not a usable file name (it needs a name and a type such as .md)")
    if stem.split(".")[0].lower() in _RESERVED:
        stem = f"doc-{stem}"
    stem = _bounded_utf8(stem, MAX_NAME_BYTES - 1 - len(suffix.encode("utf-8"))).rstrip(".-_ ")
    if not stem:
        raise InputError(f"{_short(name)!r}: not a usable file name (it needs a name and a type such as .md)")
    return f"{stem}.{suffix}"


def _short(text: str, limit: int = 80) -> str:
    """`text` cut for a one-line message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _folder_parts(folder: str) -> list[str]:
    """The safe parts of a folder inside the corpus (`add --into`)."""
    if not isinstance(folder, str):
        raise InputError("the folder inside the corpus must be text, such as uploads")
    parts = [safe_name(part + ".x")[:-2] for part in re.split(r"[\\/]+", folder) if part and part != "."]
    if len(parts) > MAX_FOLDER_DEPTH:
        raise InputError(f"the folder {_short(folder)!r} nests {len(parts)} deep; at most {MAX_FOLDER_DEPTH} folders are allowed")
    return parts


def _read_inputs(items: Iterable[tuple[str, bytes]] | Iterable[str | Path], result: AddResult, limit: int) -> list[tuple[str, bytes]]:
    """(name, bytes) pairs from uploads, files, or folders (searched for corpus files, never through a link).

    A file on disk is read through `corpus.read_file`: its size is checked first, and a link is refused.
    """
    out: list[tuple[str, bytes]] = []
    for item in items:
        if isinstance(item, tuple):
            name, data = item if len(item) == 2 else (repr(item), None)
            if not isinstance(name, str) or not isinstance(data, bytes | bytearray):
                result.skipped.append(f"{_short(str(name))}: not a file name and its bytes")
                continue
            out.append((name, bytes(data)))
            continue
        path = Path(item)
        if path.is_symlink():
            result.skipped.append(f"{path}: a symbolic link; links are never followed (add the file it points to)")
            continue
        if path.is_dir():
            found = scan(path)
            result.skipped += [f"{path / rel}: a symbolic link; links are never followed" for rel in found.links]
            if not found.files and not found.links:
                result.skipped.append(f"{path}: no Markdown, text, PDF or HTML files in this folder")
            paths = [path / rel for rel in found.files]
        elif path.is_file():
            paths = [path]
        else:
            result.skipped.append(f"{path}: no such file or folder")
            continue
        for p in paths:
            try:
                out.append((p.name, read_file(p, str(p), limit)))
            except DocumentError as exc:
                result.skipped.append(str(exc))
    return out


def _validated(settings: Settings, pairs: list[tuple[str, bytes]], result: AddResult) -> list[Incoming]:
    """The files that can be indexed: a safe name, an allowed type, within the size, and parsed and chunked
    within the limits of `corpus.py` (so nothing enters the corpus that the build would refuse)."""
    limit = settings.max_upload_bytes
    accepted: list[Incoming] = []
    for raw_name, data in pairs:
        try:
            name = safe_name(raw_name)
            if Path(name).suffix not in FORMATS:
                raise DocumentError(_short(raw_name), f"unsupported file type (allowed: {', '.join(sorted(FORMATS))})")
            if len(data) > limit:
                raise too_big(_short(raw_name), len(data), limit)
            chunk(parse_document(name, data), **settings.chunking)
        except AssistantError as exc:
            result.skipped.append(str(exc))
            continue
        accepted.append(Incoming(raw_name, name, data, sha256_bytes(data)))
    return accepted


def _existing_hashes(root: Path, limit: int) -> dict[str, str]:
    hashes = {}
    for rel in discover(root):
        try:
            hashes[sha256_bytes(read_file(root / rel, rel.as_posix(), limit))] = rel.as_posix()
        except DocumentError:
            continue
    return hashes


def _corpus_folder(root: Path, parts: list[str]) -> Path:
    """`root/parts...`, refusing a part that is a symbolic link or not a folder (nothing is written through a link)."""
    path = root
    for part in parts:
        path = path / part
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(info.st_mode):
            what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a folder"
            raise InputError(f"{path.relative_to(root).as_posix()} in the corpus is {what}; choose another folder (--into)")
    return path


def add_documents(
    settings: Settings,
    items: Iterable[tuple[str, bytes]] | Iterable[str | Path],
    overwrite: bool = False,
    folder: str = UPLOADS,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    wait: float = 600.0,
) -> AddResult:
    """Validate documents and copy them into `corpus/<folder>/`; with `embedder`, index them too, all or nothing.

    With an embedder, a file reported added is in the corpus and in the index; if the build fails, the files
    written are taken out again (and replaced ones put back) before the error is raised. Without one, the
    files are only copied (the caller indexes). `items` are (name, bytes) uploads or paths of files or
    folders.
    """
    result = AddResult()
    parts = _folder_parts(folder)
    incoming = _validated(settings, _read_inputs(items, result, settings.max_upload_bytes), result)
    if not incoming:
        return result
    root = settings.corpus_dir
    check_corpus(settings)
    with locked(settings, wait):
        target_dir = _corpus_folder(root, parts)
        known = _existing_hashes(root, settings.max_upload_bytes)
        plan: list[tuple[Incoming, str]] = []
        planned: set[str] = set()
        for item in incoming:
            target = target_dir / item.name
            rel = target.relative_to(root).as_posix()
            try:
                if item.digest in known:
                    raise DocumentError(_short(item.raw), f"duplicate: the same content is already in the corpus as {known[item.digest]}")
                present = target.exists() or target.is_symlink()
                if rel in planned or (present and not overwrite):
                    raise DocumentError(_short(item.raw), f"a different document is already at {rel}; rename the file or replace it (--overwrite)")
                if present and (target.is_symlink() or not target.is_file()):
                    raise DocumentError(_short(item.raw), f"{rel} in the corpus is not a regular file; it is left alone")
            except DocumentError as exc:
                result.skipped.append(str(exc))
                continue
            known[item.digest] = rel
            planned.add(rel)
            plan.append((item, rel))
        if not plan:
            return result
        change = _Change.begin(settings, "add", {rel: item.digest for item, rel in plan})
        try:
            written: dict[str, Incoming] = {}
            for item, rel in plan:
                try:
                    replaced = change.put(rel, item.data)
                except OSError as exc:  # this file only (a name the file system refuses, say): the batch goes on
                    change.undo_file(rel)
                    result.skipped.append(f"{_short(item.raw)}: cannot be written into the corpus ({exc.strerror or exc})")
                    continue
                written[rel] = item
                result.added.append(rel)
                if replaced:
                    result.replaced.append(rel)
            if embedder is not None and written:
                result.report = sync_locked(settings, embedder, progress)
                _drop_unindexed(settings, change, written, result, embedder, progress)
        except BaseException:
            change.undo()
            raise
        change.finish()
    for rel in result.added:
        log.info("added %s", rel)
    return result


def _drop_unindexed(
    settings: Settings, change: _Change, written: dict[str, Incoming], result: AddResult, embedder: Embedder, progress: Progress | None
) -> None:
    """Take out of the corpus any written file the build did not index (it checked them as `_validated` did,
    so this is rare: a file changed on disk meanwhile), so "added" always means "indexed"."""
    documents = _indexed(settings) or {}
    restored = False
    for rel, item in written.items():
        if documents.get(rel, {}).get("sha256") == item.digest:
            continue
        reasons = [m for m in result.report.skipped if m.startswith(f"{rel}: ")] if result.report else []
        restored |= change.undo_file(rel)
        result.added.remove(rel)
        if rel in result.replaced:
            result.replaced.remove(rel)
        result.skipped.append(reasons[0] if reasons else f"{_short(item.raw)}: could not be indexed")
    if restored:  # a replaced document came back: index it again
        result.report = sync_locked(settings, embedder, progress)


def _document_rel(settings: Settings, doc: str) -> str:
    """`doc` as a corpus-relative path that names a document, checked without touching the disk."""
    missing = InputError(f"no document {_short(str(doc))!r} in {settings.corpus_dir}/; `python -m assistant list` shows them")
    if not isinstance(doc, str) or not doc.strip() or "\x00" in doc or any("\ud800" <= ch <= "\udfff" for ch in doc):
        raise missing
    rel = PurePosixPath(doc)
    if rel.is_absolute() or not rel.parts or any(part in ("..", ".") or part.startswith(".") for part in rel.parts):
        raise missing
    if not is_corpus_file(Path(rel)) or Path(rel) == VOCABULARY_FILE:
        raise missing
    return rel.as_posix()


def resolve_document(settings: Settings, doc: str) -> Path:
    """The file of corpus-relative `doc`: a regular file inside the corpus reached without any symbolic link.

    Anything else (a path outside, a link to a file anywhere, a folder, a missing file) is `InputError`, so
    `remove` can never delete what a link points to.
    """
    rel = _document_rel(settings, doc)
    path = settings.corpus_dir
    info = None
    for part in PurePosixPath(rel).parts:
        path = path / part
        try:
            info = os.lstat(path)
        except OSError:
            raise InputError(f"no document {_short(doc)!r} in {settings.corpus_dir}/; `python -m assistant list` shows them") from None
        if stat.S_ISLNK(info.st_mode):
            raise InputError(f"{_short(doc)!r} is a symbolic link, not a document; links are never followed, so nothing was removed")
    if info is None or not stat.S_ISREG(info.st_mode):
        raise InputError(f"no document {_short(doc)!r} in {settings.corpus_dir}/; `python -m assistant list` shows them")
    return path


def remove_document(settings: Settings, doc: str, embedder: Embedder | None = None, progress: Progress | None = None, wait: float = 600.0) -> BuildReport | None:
    """Delete a document from the corpus; with `embedder`, its passages from the index too, all or nothing.

    The file goes into the trash first and is deleted only once the index without it is live; if the build
    fails it is put back, so the document is never gone from disk while the index still cites it. A document
    the index lists whose file was deleted by hand is taken out of the index.
    """
    check_corpus(settings)
    with locked(settings, wait):
        rel = _document_rel(settings, doc)
        try:
            resolve_document(settings, doc)
        except InputError:
            listed = embedder is not None and rel in (_indexed(settings) or {})
            if listed and not os.path.lexists(settings.corpus_dir / rel):
                return sync_locked(settings, embedder, progress)
            raise
        change = _Change.begin(settings, "remove", {rel: ""})
        try:
            change.take(rel)
            report = sync_locked(settings, embedder, progress) if embedder is not None else None
        except BaseException:
            change.undo()
            raise
        change.finish()
    log.info("removed %s", rel)
    return report


# ------------------------------------------------------------------------------------------------ changes


def _indexed(settings: Settings) -> dict | None:
    """The live index's documents ({path: entry}), or None when there is no readable index."""
    try:
        manifest = store.read_manifest(settings.index_dir, verify=False)
    except AssistantError:
        return None
    return manifest["documents"] if manifest else None


def _live_generation(settings: Settings) -> str | None:
    try:
        gen = store.current_generation(settings.index_dir)
    except AssistantError:
        return None
    return gen.name if gen is not None else None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_regular(path: Path) -> bool:
    """Whether `path` is a regular file itself (not a link to one)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _write_new(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet (never through a link), and make it durable."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class _Change:
    """One add or remove in progress, journaled in `corpus/.trash/<id>/` (see the module docstring)."""

    def __init__(self, root: Path, folder: Path, op: str, files: dict[str, str], generation: str | None) -> None:
        self.root = root
        self.folder = folder
        self.op = op
        self.files = files
        self.generation = generation

    @classmethod
    def begin(cls, settings: Settings, op: str, files: dict[str, str]) -> _Change:
        """Write the journal (durably, before the corpus is touched) and return the change."""
        root = settings.corpus_dir
        trash = root / TRASH
        if trash.is_symlink() or (trash.exists() and not trash.is_dir()):
            raise InputError(f"{trash} is not a folder; move it away so changes to the corpus can be made safely")
        folder = trash / f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        generation = _live_generation(settings)
        journal = json.dumps({"op": op, "files": files, "generation": generation}, ensure_ascii=False).encode("utf-8")
        _write_new(folder / f".{JOURNAL}.tmp", journal)
        os.rename(folder / f".{JOURNAL}.tmp", folder / JOURNAL)
        _fsync_dir(folder)
        _fsync_dir(trash)
        return cls(root, folder, op, files, generation)

    def _old(self, rel: str) -> Path:
        return self.folder.joinpath("old", *PurePosixPath(rel).parts)

    def take(self, rel: str) -> None:
        """Move the corpus file `rel` into the trash (the first step of a remove, or of an overwrite)."""
        old = self._old(rel)
        old.parent.mkdir(parents=True, exist_ok=True)
        os.rename(self.root / rel, old)
        _fsync_dir(old.parent)
        _fsync_dir((self.root / rel).parent)

    def put(self, rel: str, data: bytes) -> bool:
        """Write `data` as the corpus file `rel`; a file already there goes into the trash. Returns whether
        one did. The bytes are written and synced beside the journal, then renamed into place: a reader
        sees the whole file or none."""
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        replaced = os.path.lexists(target)
        if replaced:
            self.take(rel)
        staged = self.folder / f"new-{uuid.uuid4().hex}"
        _write_new(staged, data)
        os.rename(staged, target)
        _fsync_dir(target.parent)
        return replaced

    def undo_file(self, rel: str) -> bool:
        """Undo this change for `rel`: remove what an add wrote there, put back what was displaced. Returns
        whether a displaced file was put back."""
        target = self.root / rel
        if self.op == "add" and _is_regular(target) and store.file_sha256(target) == self.files.get(rel):
            target.unlink()
        old = self._old(rel)
        if _is_regular(old) and not os.path.lexists(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(old, target)
            _fsync_dir(target.parent)
            return True
        return False

    def undo(self) -> None:
        """Undo the whole change (the build failed or was interrupted) and forget it."""
        for rel in self.files:
            try:
                self.undo_file(rel)
            except OSError as exc:  # keep the journal: the next command tries again
                log.warning("could not undo the change to %s (%s); the next command will try again", rel, exc.strerror or exc)
                return
        self.finish()

    def finish(self) -> None:
        """Forget the change: delete its journal and whatever it displaced."""
        shutil.rmtree(self.folder, ignore_errors=True)


def recover(settings: Settings) -> list[str]:
    """Settle every change a killed process left in `corpus/.trash/` (call with the build lock held).

    A change is finished when the index switched, after it began, to a generation that has it (an added file
    with its hash, a removed one gone); otherwise it is undone. Returns one line per change settled, which
    are also logged as warnings.
    """
    trash = settings.corpus_dir / TRASH
    if trash.is_symlink() or not trash.is_dir():
        return []
    messages: list[str] = []
    for folder in sorted(trash.iterdir()):
        if folder.is_symlink() or not folder.is_dir():
            folder.unlink(missing_ok=True)
            continue
        message = _settle(settings, folder)
        if message:
            messages.append(message)
            log.warning(message)
    return messages


def _read_journal(folder: Path) -> dict | None:
    try:
        journal = json.loads((folder / JOURNAL).read_bytes())
    except (OSError, ValueError):
        return None
    files = journal.get("files") if isinstance(journal, dict) else None
    if journal.get("op") not in ("add", "remove") or not isinstance(files, dict) or not all(isinstance(k, str) for k in files):
        return None
    generation = journal.get("generation")
    return {"op": journal["op"], "files": files, "generation": generation if isinstance(generation, str) else None}


def _settle(settings: Settings, folder: Path) -> str:
    """Finish or undo the change journaled in `folder`; a line saying which (or "" for nothing to do)."""
    root = settings.corpus_dir
    journal = _read_journal(folder)
    if journal is None:  # the journal is written before the corpus is touched: nothing was changed
        old = folder / "old"
        if old.is_dir():  # (never expected) put back anything displaced whose place is free
            for path in sorted(p for p in old.rglob("*") if p.is_file() and not p.is_symlink()):
                rel = path.relative_to(old).as_posix()
                if _safe_rel(rel) and not os.path.lexists(root / rel):
                    (root / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.rename(path, root / rel)
        shutil.rmtree(folder, ignore_errors=True)
        return ""
    files = {rel: digest for rel, digest in journal["files"].items() if _safe_rel(rel)}
    change = _Change(root, folder, journal["op"], files, journal["generation"])
    documents = _indexed(settings) if _live_generation(settings) != change.generation else None
    names = ", ".join(sorted(files)) or "nothing"
    if change.op == "add":
        done = documents is not None and all(documents.get(rel, {}).get("sha256") == digest for rel, digest in files.items())
    else:
        done = documents is not None and not any(rel in documents for rel in files)
    if done:
        change.finish()
        return f"an interrupted {change.op} of {names} had reached the index; it is now complete"
    if documents is not None and change.op == "add":  # some files reached the index, some did not: keep each that did
        for rel, digest in files.items():
            if documents.get(rel, {}).get("sha256") != digest:
                change.undo_file(rel)
        change.finish()
        return f"an interrupted add of {names} was settled: what reached the index stays, the rest was taken out"
    change.undo()
    what = "taken out of the corpus again" if change.op == "add" else "put back"
    return f"an interrupted {change.op} of {names} had not reached the index; it was undone ({what})"


def _safe_rel(rel: str) -> bool:
    """Whether a path read from a journal stays inside the corpus (a journal is a file like any other)."""
    path = PurePosixPath(rel)
    return bool(rel) and not path.is_absolute() and all(part not in ("", ".", "..") and not part.startswith(".") for part in path.parts)
