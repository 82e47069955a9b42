"""The shared embedder contract, run against the packaged all-MiniLM-L6-v2 model."""

from __future__ import annotations

import pytest

from memplane_conformance import EmbedderContract
from memplane_sentence_transformers.embedder import SentenceTransformerEmbedder

_SHARED = SentenceTransformerEmbedder()  # one model load for the whole class


class TestSentenceTransformerContract(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> SentenceTransformerEmbedder:
        return _SHARED
