"""Deterministic test vectors: random unit vectors and a text -> vector lookup."""

from __future__ import annotations

import hashlib

import numpy as np


def unit_vectors(count: int, dimension: int = 384, *, seed: int = 0) -> np.ndarray:
    """``count`` random unit vectors (float32), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, dimension), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def synthetic_texts(count: int, *, prefix: str = "memory") -> list[str]:
    """Distinct one-sentence texts (distinct so no store deduplicates them)."""
    topics = ("hiking", "tea", "Rust", "jazz", "Lisbon", "chess", "sourdough", "cycling")
    return [
        f"{prefix} {i}: the user mentioned {topics[i % len(topics)]} on day {i // 8}."
        for i in range(count)
    ]


class VectorTable:
    """Maps texts to precomputed vectors so embedding costs nothing during a run.

    Unknown texts get a deterministic vector derived from their hash, so a query that
    was not precomputed still works (and costs a hash, not a model call).
    """

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension
        self._table: dict[str, list[float]] = {}

    def put(self, texts: list[str], vectors: np.ndarray) -> None:
        for text, vector in zip(texts, vectors, strict=True):
            self._table[text] = vector.tolist()

    def get(self, text: str) -> list[float]:
        found = self._table.get(text)
        if found is None:
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
            found = unit_vectors(1, self.dimension, seed=seed)[0].tolist()
            self._table[text] = found
        return found
