"""A deterministic, offline embedder based on feature hashing.

This is NOT a semantic embedder: texts are similar only when they share words or
character trigrams. It needs no model and no network, so tests, the conformance
suite and offline runs get stable vectors. Use a real embedding model for real use.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from pydantic import Field

from memplane.providers.base import Embedder, ProviderConfig, Purpose, Vectors

_WORD = re.compile(r"[^\W_]+")
# trigrams weigh less than whole words: they only add robustness to inflection and typos
_TRIGRAM_WEIGHT = 0.5


class HashingEmbedderConfig(ProviderConfig):
    dimension: int = Field(default=384, ge=8, le=65536, description="length of every vector")


def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    """Stable bucket and sign for a feature (blake2b, not Python's salted hash())."""
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimension, (1.0 if (value >> 63) & 1 else -1.0)


class HashingEmbedder(Embedder):
    """Feature hashing of lowercased unicode word tokens and character trigrams,
    L2-normalised. Deterministic across processes and machines; not semantic —
    meant for tests and offline runs only."""

    name: ClassVar[str] = "hashing"
    Config: ClassVar[type[ProviderConfig]] = HashingEmbedderConfig
    capabilities: ClassVar[frozenset[str]] = frozenset()

    @property
    def dimension(self) -> int:
        return int(self.config.dimension)

    @property
    def model_name(self) -> str:
        return "feature-hashing-v1"  # words and trigrams; a new scheme gets a new name

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        if isinstance(texts, str):
            texts = [texts]
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        dim = self.dimension
        vector = np.zeros(dim, dtype=np.float64)
        folded = unicodedata.normalize("NFKC", text).casefold()
        for word in _WORD.findall(folded):
            index, sign = _bucket("w:" + word, dim)
            vector[index] += sign
            padded = f" {word} "
            for i in range(len(padded) - 2):
                index, sign = _bucket("t:" + padded[i : i + 3], dim)
                vector[index] += sign * _TRIGRAM_WEIGHT
        norm = float(np.linalg.norm(vector))
        if norm > 0.0:
            vector /= norm
        return [float(x) for x in vector]
