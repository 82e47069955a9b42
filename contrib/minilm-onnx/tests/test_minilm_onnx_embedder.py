"""The minilm_onnx embedder on the real packaged int8 model."""

from __future__ import annotations

import numpy as np
import pytest

from memplane.errors import ValidationError
from memplane.plugins.registry import load_provider_class
from memplane_conformance.lazy import sdk_modules_after_loading
from memplane_minilm_onnx.embedder import MiniLMOnnxEmbedder

TEXTS = ["I live in Lisbon.", "My dog Bruno loves the beach.", "Which city is home?"]


@pytest.fixture(scope="module")
def embedder() -> MiniLMOnnxEmbedder:
    return MiniLMOnnxEmbedder()


def test_entry_point_and_lazy_runtime() -> None:
    assert load_provider_class("embedders", "minilm_onnx") is MiniLMOnnxEmbedder
    assert sdk_modules_after_loading(
        "minilm_onnx", {"embedders": {}}, ["onnxruntime", "tokenizers", "torch"]) == []


def test_vectors_are_normalised_and_sized(embedder: MiniLMOnnxEmbedder) -> None:
    vectors = np.asarray(embedder.embed(TEXTS))
    assert vectors.shape == (3, embedder.dimension) == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert embedder.embed([]) == []
    with pytest.raises(ValidationError):
        embedder.embed("not a list")


def test_paraphrases_rank_first(embedder: MiniLMOnnxEmbedder) -> None:
    facts = np.asarray(embedder.embed(["User lives in Lisbon", "User is allergic to peanuts",
                                       "User has a dog named Bruno"]))
    for query, expected in [("Which city is home?", 0), ("Any food intolerances?", 1),
                            ("Tell me about the pet", 2)]:
        scores = facts @ np.asarray(embedder.embed([query], purpose="query"))[0]
        assert int(np.argmax(scores)) == expected, (query, scores)


def test_batching_and_padding_do_not_change_vectors(embedder: MiniLMOnnxEmbedder) -> None:
    texts = ["short", "a much longer sentence that needs many more word pieces than the first"]
    together = np.asarray(MiniLMOnnxEmbedder({"batch_size": 2}).embed(texts))
    alone = np.asarray([embedder.embed([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_long_texts_are_truncated_not_refused(embedder: MiniLMOnnxEmbedder) -> None:
    [vector] = embedder.embed(["word " * 2000])
    assert len(vector) == 384


def test_matches_the_torch_model_it_replaces(embedder: MiniLMOnnxEmbedder) -> None:
    """int8 weights cost almost nothing: cosine > 0.99 with sentence-transformers'
    float32 all-MiniLM-L6-v2 (measured 0.9994-0.9996). Runs where torch is installed."""
    st = pytest.importorskip("memplane_sentence_transformers.embedder")
    reference = np.asarray(st.SentenceTransformerEmbedder().embed(TEXTS))
    ours = np.asarray(embedder.embed(TEXTS))
    assert (reference * ours).sum(axis=1).min() > 0.99
