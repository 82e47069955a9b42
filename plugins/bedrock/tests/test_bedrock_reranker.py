"""BedrockReranker through the boto3 bedrock-agent-runtime client against the loopback."""

from __future__ import annotations

import pytest

from memplane.errors import AuthenticationError, ProviderError, RateLimitError, ValidationError
from memplane_bedrock.reranker import BedrockReranker, model_arn
from memplane_bedrock.testing import BedrockLoopback

DOCS = ["the car is red", "apple pie recipe", "an apple a day", "pie charts"]


@pytest.mark.parametrize("model", ["amazon.rerank-v1:0", "cohere.rerank-v3-5:0"])
def test_rerank_request_and_ordering(server: BedrockLoopback, model: str) -> None:
    reranker = BedrockReranker(server.client_config(model=model))
    results = reranker.rerank("apple pie", DOCS, top_n=3)

    assert [r.index for r in results] == [1, 2, 3]
    assert [r.score for r in results] == [1.0, 0.5, 0.5]
    [request] = server.requests
    assert request.path == "/rerank"
    body = request.body
    assert body["queries"] == [{"type": "TEXT", "textQuery": {"text": "apple pie"}}]
    assert body["sources"][1] == {"type": "INLINE", "inlineDocumentSource": {
        "type": "TEXT", "textDocument": {"text": "apple pie recipe"}}}
    config = body["rerankingConfiguration"]
    assert config["type"] == "BEDROCK_RERANKING_MODEL"
    assert config["bedrockRerankingConfiguration"] == {
        "numberOfResults": 3,
        "modelConfiguration": {"modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model}"},
    }
    assert server.problems == []


def test_scores_are_clamped_ties_keep_input_order_and_all_returned_without_top_n(
        server: BedrockLoopback) -> None:
    server.enqueue_rerank_scores([0.2, 1.3, 0.2, -0.1])
    results = BedrockReranker(server.client_config()).rerank("q", DOCS)
    assert [(r.index, r.score) for r in results] == [(1, 1.0), (0, 0.2), (2, 0.2), (3, 0.0)]
    assert server.requests[0].body["rerankingConfiguration"]["bedrockRerankingConfiguration"][
        "numberOfResults"] == 4


def test_top_n_larger_than_the_documents_is_capped(server: BedrockLoopback) -> None:
    assert len(BedrockReranker(server.client_config()).rerank("apple", DOCS[:2], top_n=10)) == 2


def test_full_arns_are_used_as_given_and_partitions_follow_the_region() -> None:
    arn = "arn:aws:bedrock:eu-central-1::foundation-model/cohere.rerank-v3-5:0"
    assert model_arn(arn, "us-east-1") == arn
    assert model_arn("amazon.rerank-v1:0", "cn-north-1").startswith("arn:aws-cn:bedrock:cn-north-1:")


def test_bad_input(server: BedrockLoopback) -> None:
    reranker = BedrockReranker(server.client_config())
    assert reranker.rerank("q", []) == []
    with pytest.raises(ValidationError):
        reranker.rerank("q", DOCS, top_n=0)
    with pytest.raises(ValidationError):
        reranker.rerank("  ", DOCS)
    assert server.requests == []


def test_errors_map(server: BedrockLoopback) -> None:
    reranker = BedrockReranker(server.client_config(max_retries=0))
    server.enqueue_fault("auth")
    with pytest.raises(AuthenticationError):
        reranker.rerank("q", DOCS)
    server.enqueue_fault("rate_limit", retry_after=0)
    with pytest.raises(RateLimitError):
        reranker.rerank("q", DOCS)
    server.enqueue_fault("malformed")  # cut off: botocore hands back nothing
    with pytest.raises(ProviderError, match="could not be decoded") as caught:
        reranker.rerank("q", DOCS)
    assert caught.value.retryable
    server.enqueue_raw(200, b'{"results": [{"index": 0, "relevanceScore": "high"}]}',
                       {"content-type": "application/json"})
    with pytest.raises(ProviderError) as caught:
        reranker.rerank("q", DOCS)
    assert not caught.value.retryable
    wrong_region = BedrockReranker(server.client_config(model="arn:aws:bedrock:eu-west-1::foundation-model/amazon.rerank-v1:0"))
    with pytest.raises(ProviderError, match="ValidationException"):
        wrong_region.rerank("q", DOCS)


async def test_async_rerank(server: BedrockLoopback) -> None:
    results = await BedrockReranker(server.client_config()).arerank("apple pie", DOCS, top_n=1)
    assert [r.index for r in results] == [1]
