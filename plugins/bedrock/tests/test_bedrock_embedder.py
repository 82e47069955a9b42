"""BedrockEmbedder (Titan v2/v1, Cohere v3/v4) through boto3 invoke_model against the loopback."""

from __future__ import annotations

import math

import pytest

from memplane.errors import ConfigurationError, ValidationError
from memplane_bedrock.embedder import BedrockEmbedder
from memplane_bedrock.testing import BedrockLoopback
from memplane_conformance.faults import assert_one_retry_then_typed_errors

TEXTS = ["Alice lives in Lisbon", "Bob likes green tea", "Carol writes Rust", "Dan runs", "Eve sings"]


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


def test_titan_v2_sends_one_text_per_call_with_dimensions_and_normalize(server: BedrockLoopback) -> None:
    embedder = BedrockEmbedder(server.client_config(dimensions=512, normalize=True))
    vectors = embedder.embed(TEXTS[:3])

    assert {r.path for r in server.requests} == {"/model/amazon.titan-embed-text-v2:0/invoke"}
    bodies = sorted((r.body for r in server.requests), key=lambda b: b["inputText"])
    assert bodies == [{"inputText": t, "dimensions": 512, "normalize": True} for t in sorted(TEXTS[:3])]
    assert server.requests[0].headers["content-type"] == "application/json"
    assert server.requests[0].headers["accept"] == "application/json"
    assert [len(v) for v in vectors] == [512] * 3 == [embedder.dimension] * 3
    assert all(math.isclose(_norm(v), 1.0) for v in vectors)
    # parallel calls still return vectors in input order
    assert vectors == [embedder.embed([t])[0] for t in TEXTS[:3]]
    assert "query_document" not in embedder.capabilities
    assert server.problems == []


def test_titan_normalize_false_keeps_the_raw_vector(server: BedrockLoopback) -> None:
    raw = BedrockEmbedder(server.client_config(normalize=False)).embed(["a b c"])[0]
    assert not math.isclose(_norm(raw), 1.0)  # the service returned an unnormalised vector
    assert server.requests[0].body["normalize"] is False


def test_titan_v1_body_has_only_input_text(server: BedrockLoopback) -> None:
    embedder = BedrockEmbedder(server.client_config(model="amazon.titan-embed-text-v1"))
    assert len(embedder.embed(["hello"])[0]) == 1536 == embedder.dimension
    assert server.requests[0].body == {"inputText": "hello"}


def test_cohere_batches_with_input_types(server: BedrockLoopback) -> None:
    embedder = BedrockEmbedder(server.client_config(model="cohere.embed-english-v3", batch_size=2))
    docs = embedder.embed(TEXTS)
    queries = embedder.embed(TEXTS, purpose="query")

    requests = server.requests
    assert all(r.path == "/model/cohere.embed-english-v3/invoke" for r in requests)
    assert [len(r.body["texts"]) for r in requests] == [2, 2, 1, 2, 2, 1]
    assert [r.body["input_type"] for r in requests] == ["search_document"] * 3 + ["search_query"] * 3
    assert requests[0].body == {"texts": TEXTS[:2], "input_type": "search_document",
                                "truncate": "END", "embedding_types": ["float"]}
    assert [len(v) for v in docs] == [1024] * 5
    assert docs[0] != queries[0]
    assert "query_document" in embedder.capabilities


def test_cohere_v4_sends_output_dimension(server: BedrockLoopback) -> None:
    embedder = BedrockEmbedder(server.client_config(model="us.cohere.embed-v4:0", dimensions=256))
    assert len(embedder.embed(["hello"])[0]) == 256
    assert server.requests[0].body["output_dimension"] == 256


def test_bad_configs_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="unsupported embedding model"):
        BedrockEmbedder({"model": "amazon.nova-lite-v1:0"})
    with pytest.raises(ConfigurationError, match="256, 512, 1024"):
        BedrockEmbedder({"dimensions": 300})
    with pytest.raises(ConfigurationError, match="1024"):
        BedrockEmbedder({"model": "cohere.embed-multilingual-v3", "dimensions": 512})


def test_empty_input(server: BedrockLoopback) -> None:
    embedder = BedrockEmbedder(server.client_config())
    assert embedder.embed([]) == []
    with pytest.raises(ValidationError):
        embedder.embed([""])
    assert server.requests == []


def test_errors_map_and_throttling_retries(server: BedrockLoopback) -> None:
    embedder = BedrockEmbedder(server.client_config(model="cohere.embed-english-v3", max_retries=1))
    vectors = assert_one_retry_then_typed_errors(lambda: embedder.embed(["x"]), server)
    assert len(vectors) == 1


def test_malformed_embedding_body(server: BedrockLoopback) -> None:
    from memplane.errors import ProviderError

    server.enqueue_fault("malformed")
    with pytest.raises(ProviderError, match="not JSON") as caught:
        BedrockEmbedder(server.client_config(max_retries=0)).embed(["x"])
    assert caught.value.retryable


async def test_async_embed_matches_sync(server: BedrockLoopback) -> None:
    embedder = BedrockEmbedder(server.client_config(model="cohere.embed-english-v3"))
    assert await embedder.aembed(TEXTS, purpose="query") == embedder.embed(TEXTS, purpose="query")
