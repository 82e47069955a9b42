"""The embedder against the loopback server: batching, dimensions, order, errors."""

from __future__ import annotations

import math

import pytest

from memplane.errors import ProviderError, RateLimitError, ValidationError
from memplane_openai.embedder import batches, estimated_tokens
from memplane_openai.testing import embedding_vector

TEXTS = [f"memory number {i}" for i in range(7)]


def test_vectors_come_back_in_input_order_across_batches(server, make_embedder):
    embedder = make_embedder(dimensions=16, batch_size=3)
    vectors = embedder.embed(TEXTS)
    assert [r.extra["batch_size"] for r in server.requests] == [3, 3, 1]
    expected = [embedding_vector("text-embedding-3-small", t, 16) for t in TEXTS]
    assert all(math.isclose(a, b, abs_tol=1e-9)
               for got, want in zip(vectors, expected, strict=True)
               for a, b in zip(got, want, strict=True))
    assert vectors.usage.embedding_calls == 3  # the cost travels with the vectors
    assert vectors.usage.embedding_tokens == sum(
        r.extra["usage"]["prompt_tokens"] for r in server.requests)
    assert not hasattr(embedder, "usage")


def test_requests_carry_model_dimensions_and_float_encoding(server, make_embedder):
    make_embedder(model="text-embedding-3-large", dimensions=256).embed(["a text"])
    body = server.requests[0].body
    assert body == {"model": "text-embedding-3-large", "input": ["a text"],
                    "dimensions": 256, "encoding_format": "float"}


def test_known_models_report_their_native_dimension_without_a_call(server, make_embedder):
    assert make_embedder(model="text-embedding-3-large").dimension == 3072
    assert make_embedder().dimension == 1536
    assert server.requests == []


def test_unknown_model_dimension_is_probed_once(server, make_embedder):
    embedder = make_embedder(model="nomic-embed-text")
    assert embedder.dimension == server.default_dimensions
    assert embedder.dimension == server.default_dimensions
    assert len(server.requests) == 1


def test_token_budget_splits_batches(server, make_embedder):
    long_texts = ["word " * 300 for _ in range(4)]  # ~500 estimated tokens each
    make_embedder(dimensions=8, max_batch_tokens=1200).embed(long_texts)
    assert [r.extra["batch_size"] for r in server.requests] == [2, 2]


def test_batches_respect_both_limits():
    texts = ["x" * 30] * 10  # 11 estimated tokens each
    assert [len(b) for b in batches(texts, 4, 10_000)] == [4, 4, 2]
    assert [len(b) for b in batches(texts, 100, 25)] == [2, 2, 2, 2, 2]
    assert [len(b) for b in batches(["y" * 999], 100, 5)] == [1]  # oversized alone
    assert estimated_tokens("") == 1


def test_model_without_dimensions_support_is_refused_clearly(server, make_embedder):
    embedder = make_embedder(model="text-embedding-ada-002", dimensions=256)
    with pytest.raises(ProviderError, match="dimensions") as info:
        embedder.embed(["x"])
    assert info.value.retryable is False
    server.problems.clear()  # the refusal is what this test provokes


def test_server_ignoring_dimensions_is_an_error_not_a_silent_mismatch(server, make_embedder):
    server.honour_dimensions = False  # as some OpenAI-compatible servers do
    embedder = make_embedder(model="local-embedder", dimensions=24)
    with pytest.raises(ProviderError, match=f"returned {server.default_dimensions}-dimensional"):
        embedder.embed(["x"])


def test_empty_inputs(server, make_embedder):
    embedder = make_embedder(dimensions=8)
    assert embedder.embed([]) == []
    with pytest.raises(ValidationError, match="empty"):
        embedder.embed(["fine", "  "])
    with pytest.raises(ValidationError, match="list"):
        embedder.embed("one string")
    assert server.requests == []


def test_too_long_input_is_a_provider_error(server, make_embedder):
    with pytest.raises(ProviderError, match="maximum context length"):
        make_embedder(dimensions=8).embed([" ".join(["w"] * 9000)])


def test_rate_limit_is_retried_and_counted(server, make_embedder):
    server.enqueue_fault("rate_limit", retry_after=0.01)
    vectors = make_embedder(dimensions=8, max_retries=1).embed(["x"])
    assert len(vectors) == 1 and len(server.requests) == 2
    server.enqueue_fault("rate_limit", retry_after=0.01)
    with pytest.raises(RateLimitError):
        make_embedder(dimensions=8).embed(["x"])


async def test_async_embed_matches_sync(server, make_embedder):
    embedder = make_embedder(dimensions=16, batch_size=2)
    sync = embedder.embed(TEXTS[:3])
    asy = await embedder.aembed(TEXTS[:3])
    assert asy == sync
    assert server.requests[-1].headers["x-stainless-async"].startswith("async")
    await embedder.aclose()
