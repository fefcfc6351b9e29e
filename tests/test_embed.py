"""The bundled model, offline."""

import numpy as np
import pytest

from assistant.config import Settings
from assistant.embed import Embedder
from assistant.errors import ModelError


def test_bundled_model_gives_normalised_384_dimensional_vectors(embedder):
    v = embedder.encode(["gradient descent", "a recipe for bread"])
    assert v.shape == (2, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_similar_texts_are_closer_than_unrelated_ones(embedder):
    a, b, c = embedder.encode(["How do I train a neural network?", "Training deep learning models", "Baking sourdough bread"])
    assert a @ b > a @ c + 0.2


def test_hub_access_is_switched_off_once_loaded(embedder):
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_a_model_path_that_is_not_a_model_is_one_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not a sentence-transformers model folder"):
        _ = Embedder(Settings(model_path=str(tmp_path))).dim
