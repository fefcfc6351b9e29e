"""Spelling repair's word tests (pure logic)."""

def test_real_words_and_other_forms_are_not_taken_for_typos():
    from assistant.spelling import is_english, other_form

    assert is_english("bread") and is_english("pilot") and not is_english("lerning") and not is_english("chian")
    assert other_form("developer", "development") and other_form("secretly", "secrets")
    assert not other_form("machin", "machine") and not other_form("enginer", "engineer")


def test_two_swapped_letters_are_repaired_from_the_vocabulary():
    from assistant.spelling import swapped_letters

    vocab = frozenset({"join", "model", "work"})
    assert swapped_letters("jion", vocab) == "join" and swapped_letters("modle", vocab) == "model"
    assert swapped_letters("bread", vocab) is None
