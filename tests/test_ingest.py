"""Bringing files into the corpus: safe names, allowed types, size, duplicates, overwrite, and staying inside corpus/."""

from __future__ import annotations

import pytest
from conftest import make_settings

from assistant import Assistant
from assistant.errors import InputError
from assistant.ingest import UPLOADS, add_documents, remove_document, resolve_document, safe_name

GOOD = b"# Feature stores\n\nA feature store keeps features consistent between training and serving.\n"
OTHER = b"# Model registries\n\nA model registry records every trained model with its metrics and lineage.\n"


@pytest.fixture
def settings(tmp_path):
    (tmp_path / "corpus").mkdir()
    return make_settings(tmp_path)


def all_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------- safe_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd.md", "passwd.md"),
        ("/etc/passwd.md", "passwd.md"),
        ("/absolute/path/to/notes.txt", "notes.txt"),
        ("C:\\Users\\me\\cv.PDF", "cv.pdf"),
        ("..\\..\\windows\\system32\\evil.md", "evil.md"),
        ("Notes on MLOps.md", "Notes-on-MLOps.md"),
        (".env.md", "env.md"),
        ("...hidden.txt", "hidden.txt"),
        ("CON.md", "doc-CON.md"),
        ("con.txt", "doc-con.txt"),
        ("lpt1.md", "doc-lpt1.md"),
        ("nul.tar.md", "doc-nul.tar.md"),
        ("Résumé 機械学習.md", "Résumé-機械学習.md"),
        ("ｆｕｌｌｗｉｄｔｈ.md", "fullwidth.md"),
        ("line\nbreak\r.md", "linebreak.md"),
        ("\u202eevil.md", "evil.md"),
    ],
)
def test_safe_name_reduces_a_name_to_a_safe_base_name(raw, expected):
    assert safe_name(raw) == expected


@pytest.mark.parametrize("raw", ["../../etc/passwd.md", "C:\\x\\..\\y.md", ".env.md", "a/b/.c.md", "CON.md", "dir/ü.md"])
def test_safe_names_never_contain_separators_or_start_with_a_dot(raw):
    name = safe_name(raw)
    assert "/" not in name and "\\" not in name and ".." not in name.rsplit(".", 1)[0]
    assert not name.startswith(".")
    assert name.split(".")[0].lower() not in {"con", "prn", "aux", "nul"}


def test_safe_name_with_a_nul_byte_is_refused():
    with pytest.raises(InputError, match="NUL"):
        safe_name("evil\x00.md")


@pytest.mark.parametrize("raw", ["", "..", ".md", "noextension", "dir/", "../..", "....md"])
def test_safe_name_refuses_names_with_nothing_usable_left(raw):
    with pytest.raises(InputError):
        safe_name(raw)


# ------------------------------------------------------------------------------------------- add_documents


def test_added_documents_land_in_the_uploads_folder_under_their_safe_name(settings):
    result = add_documents(settings, [("../../escape.md", GOOD), ("/abs/other.md", OTHER)])
    assert result.added == [f"{UPLOADS}/escape.md", f"{UPLOADS}/other.md"]
    assert result.skipped == [] and result.replaced == []
    assert (settings.corpus_dir / UPLOADS / "escape.md").read_bytes() == GOOD
    assert all_files(settings.corpus_dir) == [f"{UPLOADS}/escape.md", f"{UPLOADS}/other.md"]


def test_files_never_land_outside_the_corpus(settings, tmp_path):
    hostile = [
        ("../../outside.md", GOOD),
        ("..\\..\\outside2.md", OTHER),
        (str(tmp_path / "abs.md"), b"# Abs\n\nAbsolute path upload text.\n"),
        (".hidden.md", b"# Hidden\n\nHidden file upload text.\n"),
    ]
    result = add_documents(settings, hostile)
    assert len(result.added) == 4
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and settings.corpus_dir not in p.parents]
    assert outside == [settings.index_dir / ".lock"]  # the build lock, which every change to the corpus holds
    for rel in result.added:
        target = (settings.corpus_dir / rel).resolve()
        assert settings.corpus_dir.resolve() in target.parents
        assert not any(part.startswith(".") for part in target.relative_to(settings.corpus_dir.resolve()).parts)
    assert not list(settings.corpus_dir.rglob("*.part"))


def test_a_folder_that_climbs_out_of_the_corpus_is_refused(settings, tmp_path):
    with pytest.raises(InputError):
        add_documents(settings, [("x.md", GOOD)], folder="../../outside")
    assert not (tmp_path.parent / "outside").exists()
    assert all_files(tmp_path) == []


def test_a_nested_folder_stays_inside_the_corpus(settings):
    result = add_documents(settings, [("x.md", GOOD)], folder="notes/extra")
    assert result.added == ["notes/extra/x.md"]


def test_only_allowed_file_types_are_accepted(settings):
    result = add_documents(
        settings, [("setup.exe", b"MZ\x90\x00binary"), ("script.sh", b"rm -rf /"), ("ok.txt", b"Plain text file content here.\n")]
    )
    assert result.added == [f"{UPLOADS}/ok.txt"]
    assert len(result.skipped) == 2
    assert result.skipped[0].startswith("setup.exe: unsupported file type")
    assert result.skipped[1].startswith("script.sh: unsupported file type")
    assert all_files(settings.corpus_dir) == [f"{UPLOADS}/ok.txt"]


def test_files_over_the_size_limit_are_refused(tmp_path):
    (tmp_path / "corpus").mkdir()
    small = make_settings(tmp_path, max_upload_mb=0.001)  # about 1 KB
    big = b"# Big\n\n" + b"words and more words " * 200
    result = add_documents(small, [("big.md", big), ("small.md", GOOD)])
    assert result.added == [f"{UPLOADS}/small.md"]
    assert len(result.skipped) == 1
    assert result.skipped[0].startswith("big.md: ") and "limit" in result.skipped[0]
    assert not (small.corpus_dir / UPLOADS / "big.md").exists()


def test_duplicate_content_is_refused_naming_the_existing_document(settings):
    (settings.corpus_dir / "notes").mkdir()
    (settings.corpus_dir / "notes" / "original.md").write_bytes(GOOD)
    result = add_documents(settings, [("copy-of-it.md", GOOD)])
    assert result.added == []
    assert len(result.skipped) == 1
    assert result.skipped[0].startswith("copy-of-it.md: duplicate")
    assert "notes/original.md" in result.skipped[0]


def test_duplicates_within_one_batch_are_refused(settings):
    result = add_documents(settings, [("a.md", GOOD), ("b.md", GOOD)])
    assert result.added == [f"{UPLOADS}/a.md"]
    assert "uploads/a.md" in result.skipped[0] and result.skipped[0].startswith("b.md: ")


def test_same_name_different_content_is_refused_without_overwrite(settings):
    add_documents(settings, [("doc.md", GOOD)])
    result = add_documents(settings, [("doc.md", OTHER)])
    assert result.added == [] and result.replaced == []
    assert result.skipped[0].startswith("doc.md: ") and "overwrite" in result.skipped[0]
    assert (settings.corpus_dir / UPLOADS / "doc.md").read_bytes() == GOOD


def test_same_name_different_content_is_replaced_with_overwrite(settings):
    add_documents(settings, [("doc.md", GOOD)])
    result = add_documents(settings, [("doc.md", OTHER)], overwrite=True)
    assert result.added == [f"{UPLOADS}/doc.md"]
    assert result.replaced == [f"{UPLOADS}/doc.md"]
    assert result.skipped == []
    assert (settings.corpus_dir / UPLOADS / "doc.md").read_bytes() == OTHER
    assert all_files(settings.corpus_dir) == [f"{UPLOADS}/doc.md"]


def test_bad_files_are_refused_by_name_while_the_rest_of_the_batch_goes_in(settings):
    batch = [
        ("first.md", GOOD),
        ("empty.md", b""),
        ("latin1.txt", "Un café noir, s'il vous plaît.".encode("latin-1")),
        ("scan.pdf", b"%PDF-1.4\ngarbage without objects"),
        ("last.md", OTHER),
    ]
    result = add_documents(settings, batch)
    assert result.added == [f"{UPLOADS}/first.md", f"{UPLOADS}/last.md"]
    assert len(result.skipped) == 3
    assert result.skipped[0].startswith("empty.md: ") and "empty" in result.skipped[0]
    assert result.skipped[1].startswith("latin1.txt: ") and "UTF-8" in result.skipped[1]
    assert result.skipped[2].startswith("scan.pdf: ")
    assert all_files(settings.corpus_dir) == [f"{UPLOADS}/first.md", f"{UPLOADS}/last.md"]


def test_paths_on_disk_can_be_added_and_missing_ones_are_reported(settings, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "note.md").write_bytes(GOOD)
    (src / "ignored.bin").write_bytes(b"\x00\x01")
    result = add_documents(settings, [src, tmp_path / "nope.md"])
    assert result.added == [f"{UPLOADS}/note.md"]
    assert any("nope.md" in msg and "no such file" in msg for msg in result.skipped)


# ------------------------------------------------------------------------------------------- remove_document


def test_remove_document_deletes_a_corpus_file(settings):
    add_documents(settings, [("doc.md", GOOD)])
    remove_document(settings, f"{UPLOADS}/doc.md")
    assert all_files(settings.corpus_dir) == []


@pytest.mark.parametrize("doc", ["../x.md", "uploads/../../x.md", "../corpus-sibling/x.md"])
def test_remove_document_refuses_paths_outside_the_corpus(settings, tmp_path, doc):
    victim = tmp_path / "x.md"
    victim.write_bytes(GOOD)
    sibling = tmp_path / "corpus-sibling" / "x.md"
    sibling.parent.mkdir()
    sibling.write_bytes(GOOD)
    with pytest.raises(InputError):
        remove_document(settings, doc)
    assert victim.exists() and sibling.exists()


def test_remove_document_refuses_an_absolute_path(settings, tmp_path):
    victim = tmp_path / "abs.md"
    victim.write_bytes(GOOD)
    with pytest.raises(InputError):
        remove_document(settings, str(victim))
    assert victim.exists()


def test_remove_document_refuses_a_missing_document_and_folders(settings):
    (settings.corpus_dir / "notes").mkdir()
    with pytest.raises(InputError, match="python -m assistant list"):
        remove_document(settings, "notes/missing.md")
    with pytest.raises(InputError):
        remove_document(settings, "notes")
    assert (settings.corpus_dir / "notes").is_dir()


def test_resolve_document_refuses_a_symlink_leading_outside(settings, tmp_path):
    secret = tmp_path / "secret.md"
    secret.write_bytes(GOOD)
    (settings.corpus_dir / "link.md").symlink_to(secret)
    with pytest.raises(InputError):
        resolve_document(settings, "link.md")
    assert secret.exists()


# ------------------------------------------------------------------------------------------- symbolic links


def test_removing_a_symlinked_document_never_deletes_what_it_points_to(settings):
    real = settings.corpus_dir / "real.md"
    real.write_bytes(GOOD)
    (settings.corpus_dir / "link.md").symlink_to(real)
    with pytest.raises(InputError, match="symbolic link"):
        remove_document(settings, "link.md")
    assert real.read_bytes() == GOOD  # was deleted through the link
    assert (settings.corpus_dir / "link.md").is_symlink()


def test_remove_never_touches_anything_outside_the_corpus_through_a_linked_folder(settings, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.md").write_bytes(GOOD)
    (settings.corpus_dir / "linked").symlink_to(outside)
    with pytest.raises(InputError):
        remove_document(settings, "linked/keep.md")
    assert (outside / "keep.md").read_bytes() == GOOD


def test_a_folder_add_never_follows_links_and_reports_each_one(settings, tmp_path):
    secret = tmp_path / "passwd.md"
    secret.write_bytes(b"# root\n\nroot:x:0:0:root:/root:/bin/bash and other secret lines.\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "other.md").write_bytes(OTHER)
    src = tmp_path / "src"
    src.mkdir()
    (src / "note.md").write_bytes(GOOD)
    (src / "passwd.md").symlink_to(secret)
    (src / "folder").symlink_to(elsewhere)
    result = add_documents(settings, [src])
    assert result.added == [f"{UPLOADS}/note.md"]
    assert sorted(m for m in result.skipped if "symbolic link" in m) == [
        f"{src / 'folder'}: a symbolic link; links are never followed",
        f"{src / 'passwd.md'}: a symbolic link; links are never followed",
    ]
    assert all_files(settings.corpus_dir) == [f"{UPLOADS}/note.md"]
    assert all(b"root:x" not in (settings.corpus_dir / f).read_bytes() for f in all_files(settings.corpus_dir))


def test_a_symlink_given_by_name_is_refused(settings, tmp_path):
    secret = tmp_path / "secret.md"
    secret.write_bytes(GOOD)
    (tmp_path / "link.md").symlink_to(secret)
    (tmp_path / "linkdir").symlink_to(tmp_path)
    result = add_documents(settings, [tmp_path / "link.md", tmp_path / "linkdir"])
    assert result.added == []
    assert [m.split(": ", 1)[1] for m in result.skipped] == ["a symbolic link; links are never followed (add the file it points to)"] * 2


def test_a_corpus_folder_that_is_a_link_is_never_written_through(settings, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (settings.corpus_dir / "uploads").symlink_to(outside)
    with pytest.raises(InputError, match="symbolic link"):
        add_documents(settings, [("x.md", GOOD)])
    assert list(outside.iterdir()) == []


# ------------------------------------------------------------------------------------------- one bad file, one message


def test_a_name_that_grows_past_the_file_system_limit_after_normalisation_is_bounded():
    from assistant.ingest import MAX_NAME_BYTES

    raw = "\u337f" * 30 + ".md"  # "㍿" is one character; NFKC makes it four (株式会社), 12 bytes of UTF-8
    assert len(raw.encode()) < 255
    name = safe_name(raw)
    assert len(name.encode()) <= MAX_NAME_BYTES and name.endswith(".md") and name.startswith("株式会社")
    assert len(safe_name("é" * 5000 + "." + "m" * 5000).encode()) <= MAX_NAME_BYTES


def test_one_bad_file_never_stops_a_batch(settings):
    from test_corpus import pdf_compression_bomb

    batch = [
        ("\u337f" * 30 + ".md", GOOD),  # its name was too long for the disk after normalisation: OSError
        ("bomb.pdf", pdf_compression_bomb()),  # pypdf's LimitReachedError escaped as a traceback
        ("last.md", OTHER),
    ]
    result = add_documents(settings, batch)
    assert len(result.added) == 2 and result.added[-1] == f"{UPLOADS}/last.md"
    assert len(result.skipped) == 1 and result.skipped[0].startswith("bomb.pdf: ") and "LimitReachedError" in result.skipped[0]


def test_a_file_the_disk_refuses_is_reported_and_the_rest_goes_in(settings, monkeypatch):
    import errno

    from assistant import ingest

    put = ingest._Change.put

    def refuse_one(self, rel, data):
        if rel.endswith("first.md"):
            raise OSError(errno.ENAMETOOLONG, "File name too long")
        return put(self, rel, data)

    monkeypatch.setattr(ingest._Change, "put", refuse_one)
    result = add_documents(settings, [("first.md", GOOD), ("second.md", OTHER)])
    assert result.added == [f"{UPLOADS}/second.md"]
    assert result.skipped == ["first.md: cannot be written into the corpus (File name too long)"]
    assert all_files(settings.corpus_dir) == [f"{UPLOADS}/second.md"]


def test_a_file_on_disk_over_the_limit_is_refused_without_being_read(tmp_path):
    import tracemalloc

    (tmp_path / "corpus").mkdir()
    settings = make_settings(tmp_path)
    huge = tmp_path / "huge.md"
    with huge.open("wb") as fh:  # sparse: 200 MB on paper
        fh.truncate(200 * 1024 * 1024)
    tracemalloc.start()
    try:
        result = add_documents(settings, [huge])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.added == [] and "over the 20 MB limit" in result.skipped[0]
    assert peak < 5 * 1024 * 1024  # the file was read whole before its size was checked


# ------------------------------------------------------------------------------------------- all or nothing


NOTE = b"# Model monitoring\n\nData drift happens when production inputs stop looking like the training data.\n"


@pytest.fixture
def indexed(tiny, fake_embedder):
    """The tiny corpus, indexed with the fake embedder."""
    from assistant.build import sync

    sync(tiny, fake_embedder)
    return tiny


def indexed_docs(settings) -> dict[str, str]:
    from assistant import index as store

    return {doc: entry.sha256 for doc, entry in store.load(settings.index_dir, settings).documents.items()}


def corpus_docs(settings) -> dict[str, str]:
    import hashlib

    from assistant.corpus import discover

    return {rel.as_posix(): hashlib.sha256((settings.corpus_dir / rel).read_bytes()).hexdigest() for rel in discover(settings.corpus_dir)}


def assert_agree(settings) -> None:
    """The corpus and the index hold the same documents, byte for byte, and no change is left pending."""
    assert corpus_docs(settings) == indexed_docs(settings)
    assert not [p for p in (settings.corpus_dir / ".trash").rglob("*") if p.is_file()]


def failing_index_writes(monkeypatch):
    import errno

    import faiss

    def full(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(faiss, "write_index", full)


def test_a_remove_whose_build_fails_keeps_the_document_on_disk_and_in_the_index(indexed, fake_embedder, monkeypatch):
    from assistant.errors import IndexWriteError

    failing_index_writes(monkeypatch)
    with pytest.raises(IndexWriteError, match="previous index is unchanged"):
        Assistant.remove_document(indexed, "baking.txt", embedder=fake_embedder)
    assert (indexed.corpus_dir / "baking.txt").is_file()  # was deleted, while the index still cited it
    assert "baking.txt" in indexed_docs(indexed)
    assert_agree(indexed)
    monkeypatch.undo()
    Assistant.remove_document(indexed, "baking.txt", embedder=fake_embedder)  # a retry works: it was "no document"
    assert "baking.txt" not in indexed_docs(indexed)
    assert_agree(indexed)


def test_an_add_whose_build_fails_leaves_nothing_behind_and_a_retry_is_no_duplicate(indexed, fake_embedder, monkeypatch):
    from assistant.errors import IndexWriteError

    failing_index_writes(monkeypatch)
    with pytest.raises(IndexWriteError):
        Assistant.add_documents(indexed, [("monitoring.md", NOTE)], embedder=fake_embedder)
    assert not (indexed.corpus_dir / UPLOADS / "monitoring.md").exists()  # sat there unindexed
    assert_agree(indexed)
    monkeypatch.undo()
    result = Assistant.add_documents(indexed, [("monitoring.md", NOTE)], embedder=fake_embedder)
    assert result.added == [f"{UPLOADS}/monitoring.md"] and result.skipped == []  # was "duplicate"
    assert f"{UPLOADS}/monitoring.md" in indexed_docs(indexed)
    assert_agree(indexed)


def test_an_overwrite_whose_build_fails_puts_the_old_version_back(indexed, fake_embedder, monkeypatch):
    from assistant.errors import IndexWriteError

    Assistant.add_documents(indexed, [("note.md", GOOD)], embedder=fake_embedder)
    failing_index_writes(monkeypatch)
    with pytest.raises(IndexWriteError):
        Assistant.add_documents(indexed, [("note.md", OTHER)], overwrite=True, embedder=fake_embedder)
    assert (indexed.corpus_dir / UPLOADS / "note.md").read_bytes() == GOOD
    assert_agree(indexed)


def test_a_document_deleted_by_hand_can_still_be_removed_from_the_index(indexed, fake_embedder):
    (indexed.corpus_dir / "baking.txt").unlink()
    Assistant.remove_document(indexed, "baking.txt", embedder=fake_embedder)
    assert "baking.txt" not in indexed_docs(indexed)


def test_the_vocabulary_file_and_hidden_files_are_no_documents_to_remove(indexed, fake_embedder):
    (indexed.corpus_dir / "vocabulary.txt").write_text("MLE = machine learning engineer\n")
    for doc in ("vocabulary.txt", ".trash/x.md", ""):
        with pytest.raises(InputError):
            Assistant.remove_document(indexed, doc, embedder=fake_embedder)
    assert (indexed.corpus_dir / "vocabulary.txt").exists()


# Killed with SIGKILL at chosen points: a child process runs the real CLI (with the fake embedder, so each run
# takes a second or two) and stops at the point named, where the test kills it. Then a later command runs and
# the corpus and the index must agree with what the user was told (nothing: the command never finished).

_KILLABLE = """
import os, sys, time
sys.path.insert(0, {tests!r})
from conftest import FakeEmbedder
import assistant.api
from assistant import index as store, ingest
assistant.api.Embedder = lambda settings: FakeEmbedder()
point = sys.argv[1]

def pause(*args, **kwargs):
    print("PAUSED", point, flush=True)
    time.sleep(600)

def after(obj, name):
    original = getattr(obj, name)
    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        pause()
        return result
    setattr(obj, name, wrapped if not isinstance(original, classmethod) else classmethod(wrapped))

if point == "journal":          # the journal is written, the corpus not yet touched
    begin = ingest._Change.begin.__func__
    ingest._Change.begin = classmethod(lambda cls, *a: (begin(cls, *a), pause())[0])
elif point == "corpus":         # the corpus is changed, the build not started
    ingest.sync_locked = pause
elif point == "encoding":       # the build is encoding the new passages
    FakeEmbedder.encode = pause
elif point == "writing":        # the build is about to write the new generation
    store.write = pause
elif point == "switching":      # the new generation is on disk, CURRENT not yet switched
    store.write_atomic = pause
elif point == "switched":       # CURRENT is switched, the change not yet finished
    store._collect_garbage = pause
elif point == "finishing":      # the build is done, the trash not yet emptied
    ingest._Change.finish = pause
from assistant.cli import main
print("STARTED", flush=True)
sys.exit(main(sys.argv[2:]))
"""


def _child(settings, point: str, *command: str) -> list[str]:
    import sys

    from conftest import REPO

    return [sys.executable, "-c", _KILLABLE.format(tests=str(REPO / "tests")), point, *command, "--quiet"]


def _child_env(settings) -> dict:
    import os

    return {
        **os.environ,
        "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir),
        "ASSISTANT_INDEX_DIR": str(settings.index_dir),
        "ASSISTANT_STATE_DIR": str(settings.state_dir),
    }


def run_cli(settings, *command: str) -> float:
    """Run `python -m assistant COMMAND` (fake embedder) to its end; the seconds the command itself took
    (from when the child had imported what it needs and started it)."""
    import subprocess
    import time

    from conftest import REPO

    proc = subprocess.Popen(
        _child(settings, "none", *command), cwd=REPO, env=_child_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout.readline().startswith(b"STARTED")
    started = time.monotonic()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode(errors="replace")
    return time.monotonic() - started


def run_killed(settings, point: str, *command: str, delay: float | None = None) -> bool:
    """Run `python -m assistant COMMAND` in a child; kill it with SIGKILL at `point` (or after `delay` s).
    Returns whether it was killed (a run that finished before `delay` was not)."""
    import signal
    import subprocess
    import time

    from conftest import REPO

    proc = subprocess.Popen(
        _child(settings, point, *command), cwd=REPO, env=_child_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith(b"STARTED"), (line + proc.stdout.read() + proc.stderr.read()).decode(errors="replace")
        if delay is None:
            line = proc.stdout.readline()
            assert line.startswith(b"PAUSED"), (line + proc.stdout.read() + proc.stderr.read()).decode(errors="replace")
        else:  # a moment of the command's own work, not of Python starting up
            time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    return proc.returncode == -signal.SIGKILL


POINTS = ["journal", "corpus", "writing", "switching", "switched", "finishing"]
BEFORE_THE_SWITCH = {"journal", "corpus", "encoding", "writing", "switching"}


@pytest.mark.parametrize("point", POINTS)
def test_a_remove_killed_at_any_point_is_settled_by_the_next_command(indexed, point):
    from conftest import FakeEmbedder


    assert run_killed(indexed, point, "remove", "baking.txt")
    rows, _ = Assistant.list_documents(indexed)
    listed = "baking.txt" in {r["doc"] for r in rows}
    assert listed == (point in BEFORE_THE_SWITCH)
    if listed:  # `list` shows it, so a retry must find it (it used to say "no document")
        Assistant.remove_document(indexed, "baking.txt", embedder=FakeEmbedder())
    else:  # the index already dropped it: the file goes too, and a retry says so
        with pytest.raises(InputError, match="no document"):
            Assistant.remove_document(indexed, "baking.txt", embedder=FakeEmbedder())
    assert "baking.txt" not in corpus_docs(indexed)
    assert_agree(indexed)


@pytest.mark.parametrize("point", ["journal", "corpus", "encoding", "switching", "switched", "finishing"])
def test_an_add_killed_at_any_point_is_settled_by_the_next_command(indexed, point, tmp_path):
    from conftest import FakeEmbedder

    from assistant.build import sync

    note = tmp_path / "monitoring.md"
    note.write_bytes(NOTE)
    assert run_killed(indexed, point, "add", str(note))
    sync(indexed, FakeEmbedder())  # a later command: `index`
    assert_agree(indexed)
    reached = f"{UPLOADS}/monitoring.md" in indexed_docs(indexed)
    assert reached == (point not in BEFORE_THE_SWITCH)
    result = Assistant.add_documents(indexed, [note], embedder=FakeEmbedder())  # the user tries again
    if reached:
        assert result.added == [] and "duplicate" in result.skipped[0] and f"{UPLOADS}/monitoring.md" in result.skipped[0]
    else:
        assert result.added == [f"{UPLOADS}/monitoring.md"], result.skipped  # not "duplicate"
    assert_agree(indexed)


def test_a_retried_add_after_a_kill_is_not_a_duplicate_even_without_an_index_in_between(indexed, tmp_path):
    from conftest import FakeEmbedder

    note = tmp_path / "monitoring.md"
    note.write_bytes(NOTE)
    assert run_killed(indexed, "corpus", "add", str(note))
    assert (indexed.corpus_dir / UPLOADS / "monitoring.md").exists()  # written, never indexed
    result = Assistant.add_documents(indexed, [note], embedder=FakeEmbedder())
    assert result.added == [f"{UPLOADS}/monitoring.md"] and result.skipped == []
    assert_agree(indexed)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_add_and_remove_killed_at_a_random_moment_leave_the_corpus_and_index_agreeing(indexed, tmp_path, seed):
    import random

    from conftest import FakeEmbedder

    from assistant.build import sync

    note = tmp_path / "monitoring.md"
    note.write_bytes(NOTE)
    took = run_cli(indexed, "add", str(note))  # a whole run, to time it
    Assistant.remove_document(indexed, f"{UPLOADS}/monitoring.md", embedder=FakeEmbedder())
    rng = random.Random(seed)
    for command, doc in ((("add", str(note)), f"{UPLOADS}/monitoring.md"), (("remove", "baking.txt"), "baking.txt")):
        run_killed(indexed, "none", *command, delay=rng.uniform(0.0, 1.0) * took)
        rows, _ = Assistant.list_documents(indexed)
        listed = doc in {r["doc"] for r in rows}  # what the user sees after the kill
        if command[0] == "add":  # a retry adds what `list` does not show, and calls what it shows a duplicate
            result = Assistant.add_documents(indexed, [note], embedder=FakeEmbedder())
            assert bool(result.added) != listed, (listed, result)
        elif listed:  # a retry removes what `list` shows ...
            Assistant.remove_document(indexed, doc, embedder=FakeEmbedder())
        else:  # ... and says "no document" only for what it does not show
            with pytest.raises(InputError, match="no document"):
                Assistant.remove_document(indexed, doc, embedder=FakeEmbedder())
        assert_agree(indexed)
        sync(indexed, FakeEmbedder())
        assert_agree(indexed)


def test_adding_to_a_corpus_folder_that_does_not_exist_starts_no_new_corpus(tmp_path, fake_embedder):
    from assistant.errors import CorpusMissingError

    settings = make_settings(tmp_path, corpus=tmp_path / "typo")
    with pytest.raises(CorpusMissingError, match="does not exist"):
        Assistant.add_documents(settings, [("x.md", GOOD)], embedder=fake_embedder)
    assert not (tmp_path / "typo").exists() and not (tmp_path / "index").exists()
