"""Bringing files into the corpus: safe names, allowed types, size, duplicates, overwrite, and staying inside corpus/."""

from __future__ import annotations

import pytest
from conftest import make_settings

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
    assert outside == []
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
