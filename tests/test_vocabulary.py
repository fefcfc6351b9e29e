"""The maintainer's vocabulary file: its format, whole-word matching, ambiguity, bounds (pure logic)."""

from __future__ import annotations

import pytest

from assistant.errors import DocumentError
from assistant.vocabulary import FILENAME, MAX_BYTES, Vocabulary

TEXT = """# comment
MLE, ML eng = machine learning engineer
CV = résumé | computer vision
lol, btw =
[fillers]
lol, btw
[roles]
machine learning engineer, AI engineer   # the roles
"""


def test_variants_expand_to_their_meaning_in_brackets_whole_words_only_and_any_case():
    v = Vocabulary.parse(TEXT)
    assert v.expand("What does an mle do? ML eng or not?") == (
        "What does an mle (machine learning engineer) do? ML eng (machine learning engineer) or not?"
    )
    assert v.expand("Trimle is no MLEs match") == "Trimle is no MLEs match"
    assert v.expand("A machine learning engineer, or MLE?") == "A machine learning engineer, or MLE?"  # already said
    assert v.expand("How does an MLE's day differ?") == "How does an MLE (machine learning engineer)'s day differ?"  # possessive
    assert v.expand("MLE'ish") == "MLE'ish"


def test_an_ambiguous_variant_takes_the_meaning_the_chooser_picks():
    v = Vocabulary.parse(TEXT)
    assert v.meanings("CV") == ("résumé", "computer vision")
    assert v.expand("Is CV a good field?") == "Is CV (résumé) a good field?"  # the first without a chooser
    chosen = v.expand("Is CV a good field?", choose=lambda text, meanings: meanings.index("computer vision"))
    assert chosen == "Is CV (computer vision) a good field?"


def test_roles_and_fillers_are_read_and_fillers_are_known_but_never_expanded():
    v = Vocabulary.parse(TEXT)
    assert v.roles == {"machine learning engineer", "ai engineer"}
    assert v.knows("LOL") and v.knows("mle") and not v.knows("chef")
    assert v.expand("lol what is this") == "lol what is this"


def test_a_malformed_line_is_skipped_with_a_warning_naming_it(caplog):
    v = Vocabulary.parse("MLE = machine learning engineer\nthis line has no equals sign\n= no variant\n")
    assert set(v.entries) == {"mle"}
    assert "vocabulary.txt:2" in caplog.text and "vocabulary.txt:3" in caplog.text


def test_the_file_format_round_trips(tmp_path):
    v = Vocabulary.parse(TEXT)
    assert Vocabulary.parse(v.to_text()) == v


def test_a_missing_file_is_an_empty_vocabulary_and_a_huge_or_binary_one_is_refused(tmp_path):
    assert Vocabulary.load(tmp_path) == Vocabulary()
    (tmp_path / FILENAME).write_bytes(b"x" * (MAX_BYTES + 1))
    with pytest.raises(DocumentError, match="vocabulary.txt"):
        Vocabulary.load(tmp_path)
    (tmp_path / FILENAME).write_bytes(b"MLE = \xff\xfe machine")
    with pytest.raises(DocumentError, match="not UTF-8"):
        Vocabulary.load(tmp_path)


def test_a_symlinked_vocabulary_file_is_ignored(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("MLE = machine learning engineer\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / FILENAME).symlink_to(outside)
    assert Vocabulary.load(corpus) == Vocabulary()


def test_the_repository_vocabulary_parses_without_warnings(caplog):
    from conftest import CORPUS

    v = Vocabulary.load(CORPUS)
    assert not caplog.records
    assert v.meanings("MLE") == ("machine learning engineer",) and "machine learning engineer" in v.roles
