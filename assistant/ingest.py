"""Bringing documents into the corpus safely: uploads and `add`, and `remove`.

Everything here treats a file as untrusted data. A name is reduced to a safe base name (no folders, no
`..`, no leading dot, no control characters, no reserved device names); the type must be one the corpus
reads; the size is capped; the content must parse (a scanned PDF or undecodable bytes are refused with a
message naming the file) and must not already be in the corpus. Nothing is ever executed or rendered.
Each file is judged on its own: one bad file is reported and the rest of the batch still goes in.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .build import BuildReport
from .config import Settings
from .corpus import FORMATS, discover, parse_document, sha256_bytes
from .errors import DocumentError, InputError

log = logging.getLogger(__name__)

UPLOADS = "uploads"
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


@dataclass
class AddResult:
    added: list[str] = field(default_factory=list)  # corpus-relative paths written
    replaced: list[str] = field(default_factory=list)  # of those, the ones that overwrote a document
    skipped: list[str] = field(default_factory=list)  # one message per refused file, naming it
    report: BuildReport | None = None


def safe_name(name: str) -> str:
    """A file name that cannot escape its folder or hide: raises `InputError` when nothing usable is left.

    >>> safe_name("../../etc/Notes on MLOps.md")
    'Notes-on-MLOps.md'
    >>> safe_name("C:\\\\Users\\\\me\\\\cv.PDF")
    'cv.pdf'
    """
    if not isinstance(name, str) or "\x00" in name:
        raise InputError(f"{name!r}: the file name contains a NUL byte")
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFKC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^\w.\-]+", "-", stem, flags=re.UNICODE).strip(".-_ ")[:100]
    suffix = suffix.lower()
    if not stem or not suffix:
        raise InputError(f"{name!r}: not a usable file name (it needs a name and a type such as .md)")
    if stem.split(".")[0].lower() in _RESERVED:
        stem = f"doc-{stem}"
    return f"{stem}.{suffix}"


def _read_inputs(items: Iterable[tuple[str, bytes]] | Iterable[str | Path], result: AddResult) -> list[tuple[str, bytes]]:
    """(name, bytes) pairs from uploads, files, or folders (searched for corpus files)."""
    out: list[tuple[str, bytes]] = []
    for item in items:
        if isinstance(item, tuple):
            out.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            files = [path / rel for rel in discover(path)]
            if not files:
                result.skipped.append(f"{path}: no Markdown, text, PDF or HTML files in this folder")
            paths = files
        elif path.is_file():
            paths = [path]
        else:
            result.skipped.append(f"{path}: no such file or folder")
            continue
        for p in paths:
            try:
                out.append((p.name, p.read_bytes()))
            except OSError as exc:
                result.skipped.append(f"{p}: cannot be read ({exc.strerror or exc})")
    return out


def _existing_hashes(root: Path) -> dict[str, str]:
    hashes = {}
    for rel in discover(root):
        try:
            hashes[sha256_bytes((root / rel).read_bytes())] = rel.as_posix()
        except OSError:
            continue
    return hashes


def add_documents(
    settings: Settings,
    items: Iterable[tuple[str, bytes]] | Iterable[str | Path],
    overwrite: bool = False,
    folder: str = UPLOADS,
) -> AddResult:
    """Validate and copy documents into `corpus/<folder>/`. Indexing is the caller's next step."""
    result = AddResult()
    folder_parts = [safe_name(part + ".x")[:-2] for part in re.split(r"[\\/]+", folder) if part and part != "."]
    target_dir = settings.corpus_dir.joinpath(*folder_parts)
    limit = int(settings.max_upload_mb * 1024 * 1024)
    known = _existing_hashes(settings.corpus_dir)
    for raw_name, data in _read_inputs(items, result):
        try:
            name = safe_name(raw_name)
            if Path(name).suffix not in FORMATS:
                raise DocumentError(raw_name, f"unsupported file type (allowed: {', '.join(sorted(FORMATS))})")
            if len(data) > limit:
                raise DocumentError(raw_name, f"is {len(data) / 1e6:.1f} MB, over the {settings.max_upload_mb:g} MB limit")
            parse_document(name, data)  # refuse what cannot be indexed before it enters the corpus
            digest = sha256_bytes(data)
            rel = (target_dir / name).relative_to(settings.corpus_dir).as_posix()
            if digest in known:
                raise DocumentError(raw_name, f"duplicate: the same content is already in the corpus as {known[digest]}")
            target = target_dir / name
            if target.exists() and not overwrite:
                raise DocumentError(raw_name, f"a different document is already at {rel}; rename the file or replace it (--overwrite)")
        except (DocumentError, InputError) as exc:
            result.skipped.append(str(exc))
            continue
        existed = target.exists()
        target_dir.mkdir(parents=True, exist_ok=True)
        tmp = target_dir / f".{uuid.uuid4().hex}.part"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        known[digest] = rel
        result.added.append(rel)
        if existed:
            result.replaced.append(rel)
        log.info("added %s", rel)
    return result


def resolve_document(settings: Settings, doc: str) -> Path:
    """The file of corpus-relative `doc`, refusing anything outside the corpus."""
    root = settings.corpus_dir.resolve()
    target = (settings.corpus_dir / doc).resolve()
    if root not in target.parents or not target.is_file():
        raise InputError(f"no document {doc!r} in {settings.corpus_dir}/; `python -m assistant list` shows them")
    return target


def remove_document(settings: Settings, doc: str) -> None:
    resolve_document(settings, doc).unlink()
    log.info("removed %s", doc)
