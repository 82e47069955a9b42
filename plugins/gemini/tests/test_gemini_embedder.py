"""GeminiEmbedder through the real google-genai SDK against the loopback REST server."""

from __future__ import annotations

import math

import pytest

from memplane.errors import ConfigurationError, ValidationError
from memplane_conformance.faults import assert_one_retry_then_typed_errors
from memplane_gemini.embedder import GeminiEmbedder
from memplane_gemini.testing import GeminiLoopback

TEXTS = ["Alice lives in Lisbon", "Bob likes green tea", "Carol writes Rust", "Dan runs", "Eve sings"]


def _items(request) -> list[dict]:
    return request.body["requests"]


def test_documents_and_queries_use_their_task_types(server: GeminiLoopback) -> None:
    embedder = GeminiEmbedder(server.llm_config(output_dimensionality=256))
    docs = embedder.embed(TEXTS[:2])
    queries = embedder.embed(TEXTS[:2], purpose="query")

    doc_request, query_request = server.requests
    assert doc_request.path == "/v1/models/gemini-embedding-001:batchEmbedContents"
    assert [i["taskType"] for i in _items(doc_request)] == ["RETRIEVAL_DOCUMENT"] * 2
    assert [i["taskType"] for i in _items(query_request)] == ["RETRIEVAL_QUERY"] * 2
    assert {i["outputDimensionality"] for i in _items(doc_request)} == {256}
    assert [i["content"]["parts"][0]["text"] for i in _items(doc_request)] == TEXTS[:2]
    assert all(len(v) == 256 == embedder.dimension for v in docs + queries)
    assert docs[0] != queries[0]
    assert "query_document" in embedder.capabilities
    assert server.problems == []


def test_vectors_are_unit_length(server: GeminiLoopback) -> None:
    for vector in GeminiEmbedder(server.llm_config()).embed(TEXTS):
        assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-9)


def test_batches_split_at_batch_size_and_keep_order(server: GeminiLoopback) -> None:
    embedder = GeminiEmbedder(server.llm_config(batch_size=2))
    batched = embedder.embed(TEXTS)
    assert [len(_items(r)) for r in server.requests] == [2, 2, 1]
    singles = [embedder.embed([t])[0] for t in TEXTS]
    assert batched == singles


def test_custom_task_types(server: GeminiLoopback) -> None:
    embedder = GeminiEmbedder(server.llm_config(document_task_type="SEMANTIC_SIMILARITY",
                                                query_task_type="QUESTION_ANSWERING"))
    embedder.embed(["x"])
    embedder.embed(["y"], purpose="query")
    assert [_items(r)[0]["taskType"] for r in server.requests] == [
        "SEMANTIC_SIMILARITY", "QUESTION_ANSWERING"]


def test_bad_configs_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="task type"):
        GeminiEmbedder({"query_task_type": "RETRIEVAL"})
    with pytest.raises(ConfigurationError, match="output_dimensionality"):
        GeminiEmbedder({"model": "my-tuned-model", "output_dimensionality": None})
    assert GeminiEmbedder({"output_dimensionality": None}).dimension == 3072


def test_empty_input(server: GeminiLoopback) -> None:
    embedder = GeminiEmbedder(server.llm_config())
    assert embedder.embed([]) == []
    with pytest.raises(ValidationError):
        embedder.embed(["ok", ""])
    assert server.requests == []


def test_vertex_gemini_model_uses_batch_embed_contents(server: GeminiLoopback) -> None:
    embedder = GeminiEmbedder(server.vertex_config(output_dimensionality=128))
    vectors = embedder.embed(TEXTS[:3], purpose="query")
    [request] = server.requests
    assert request.path.endswith("/projects/loopback-project/locations/us-central1/publishers/"
                                 "google/models/gemini-embedding-001:batchEmbedContents")
    assert [i["embedContentConfig"] for i in _items(request)] == [
        {"taskType": "RETRIEVAL_QUERY", "outputDimensionality": 128}] * 3
    assert [len(v) for v in vectors] == [128] * 3


def test_vertex_legacy_model_uses_predict(server: GeminiLoopback) -> None:
    embedder = GeminiEmbedder(server.vertex_config(model="text-embedding-005",
                                                   output_dimensionality=None))
    [vector] = embedder.embed(["hello"])
    [request] = server.requests
    assert request.path.endswith("/models/text-embedding-005:predict")
    assert request.body["instances"] == [{"content": "hello", "task_type": "RETRIEVAL_DOCUMENT"}]
    assert len(vector) == 768 == embedder.dimension


def test_errors_map_and_rate_limits_retry(server: GeminiLoopback) -> None:
    embedder = GeminiEmbedder(server.llm_config(max_retries=1))
    vectors = assert_one_retry_then_typed_errors(lambda: embedder.embed(["x"]), server)
    assert len(vectors) == 1


async def test_async_embed_matches_sync(server: GeminiLoopback) -> None:
    embedder = GeminiEmbedder(server.llm_config(batch_size=3))
    assert await embedder.aembed(TEXTS, purpose="query") == embedder.embed(TEXTS, purpose="query")
    await embedder.aclose()
