"""Follow-ups: when a question borrows from the conversation (pure logic)."""

from assistant.followup import condense


def test_a_short_follow_up_borrows_the_previous_questions_terms():
    assert condense("Which frameworks?", ["What do I need for deep learning?"]) == "Which frameworks? deep learning"


def test_a_follow_up_that_refers_back_borrows_terms_even_when_long():
    out = condense("Why does it matter so much for this career path?", [{"role": "user", "content": "What is calculus?"}])
    assert "calculus" in out


def test_a_full_new_question_stands_alone():
    q = "What is SQL used for in data cleaning work?"
    assert condense(q, ["What is MLOps?"]) == q


def test_only_user_turns_are_used_as_history():
    history = [{"role": "user", "content": "Tell me about Kubernetes"}, {"role": "assistant", "content": "Docker images [1]."}]
    assert "kubernetes" in condense("Why?", history).lower() and "docker" not in condense("Why?", history).lower()
