"""Ranking: reciprocal-rank fusion and re-ranking (pure logic)."""

def test_the_rerank_promotes_a_passage_whose_best_sentence_leads():
    from assistant.retrieve import rerank

    # 12 is 3rd fused but 1st by sentence: 1/8 + 1.5/6 = 0.375 beats 11 (1/7 + 1.5/7 = 0.357) and
    # 10 (1/6 + 1.5/8 = 0.354).
    order = [10, 11, 12]
    best = {10: 0.30, 11: 0.35, 12: 0.80}
    assert rerank(order, best, weight=1.5, rrf_k=5) == [12, 11, 10]
    assert rerank(order, best, weight=0.0, rrf_k=5) == order


def test_fusion_weighs_the_asking_sentences_rankings_like_the_whole_messages():
    from dataclasses import replace

    from assistant.retrieve import Rankings, fuse

    whole = Rankings(query="q", vector=None, dense=[(1, 0.9), (2, 0.8)], bm25=[1, 2], best_cosine=0.9, cosine={}, asked={1: 0.8, 2: 0.7})
    assert fuse(whole, 1.0, 1.0, 5, 1.0) == [1, 2]
    # Passage 2 is 2nd for the whole message and 1st for its asking sentence: 3/7 + 3/6 beats 1's 3/6.
    focused = replace(whole, focus=([(2, 0.7), (3, 0.6)], [2, 3], {2: 0.7, 3: 0.6}))
    assert fuse(focused, 1.0, 1.0, 5, 1.0) == [2, 1, 3]
