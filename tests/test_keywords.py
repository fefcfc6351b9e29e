"""The keyword index: which words the corpus knows, and BM25 ranking, on a tiny in-memory corpus."""

from __future__ import annotations

from assistant.keywords import KeywordIndex

TEXTS = [
    "Writing a blog post about your project shows how you think.",
    "Monitoring tracks latency and errors of a model in production.",
    "Convolutional networks (CNNs) suit images.",
    "Exploding gradients make training unstable.",
]


def test_a_word_is_known_in_any_form_with_the_same_stem():
    index = KeywordIndex.build(TEXTS)
    assert index.knows("blog") and index.knows("blogs")
    assert index.knows("blogging")  # stems to "blogg": the doubled letter is undone to find "blog"
    assert index.knows("monitor") and index.knows("cnn")
    assert index.knows("explodes")  # stems to "explode", the corpus's "exploding" to "explod"
    assert not index.knows("uptime") and not index.knows("bloggers-unknown")


def test_ranking_puts_the_passage_with_the_rarer_shared_word_first():
    index = KeywordIndex.build(TEXTS)
    from assistant.text import tokenize

    assert index.ranking(tokenize("latency of a model"), 1)[0] == 1
