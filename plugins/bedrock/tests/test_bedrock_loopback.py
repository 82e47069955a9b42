"""The loopback server itself rejects what Bedrock would reject (so plugin tests can fail)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from memplane_bedrock.testing import BedrockLoopback


def _runtime(server: BedrockLoopback, service: str = "bedrock-runtime"):
    return boto3.client(service, endpoint_url=server.endpoint_url, region_name=server.region,
                        aws_access_key_id=server.access_key_id,
                        aws_secret_access_key=server.secret_access_key)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_unsigned_requests_are_refused(server: BedrockLoopback) -> None:
    request = urllib.request.Request(f"{server.endpoint_url}/model/m/converse", method="POST",
                                     data=b"{}", headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 403
    assert "MissingAuthenticationToken" in caught.value.headers["x-amzn-errortype"]


def test_requests_signed_for_another_region_are_refused(server: BedrockLoopback) -> None:
    client = boto3.client("bedrock-runtime", endpoint_url=server.endpoint_url,
                          region_name="eu-west-1", aws_access_key_id=server.access_key_id,
                          aws_secret_access_key=server.secret_access_key)
    with pytest.raises(ClientError) as caught:
        client.converse(modelId="m", messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert _code(caught) == "InvalidSignatureException"


def test_converse_validation(server: BedrockLoopback) -> None:
    client = _runtime(server)
    server.enqueue_text("never sent")
    with pytest.raises(ClientError) as caught:
        client.converse(modelId="m", messages=[{"role": "assistant", "content": [{"text": "hi"}]}])
    assert _code(caught) == "ValidationException"
    with pytest.raises(ClientError) as caught:
        client.converse(modelId="m", messages=[{"role": "user", "content": [{"text": " "}]}])
    assert "blank" in str(caught.value)
    tool = {"toolSpec": {"name": "answer", "inputSchema": {"json": {"type": "object"}}}}
    with pytest.raises(ClientError) as caught:
        client.converse(modelId="m", messages=[{"role": "user", "content": [{"text": "hi"}]}],
                        toolConfig={"tools": [tool], "toolChoice": {"tool": {"name": "other"}}})
    assert "toolChoice" in str(caught.value)
    assert len(server.problems) == 3


def test_embedding_bodies_are_checked_per_family(server: BedrockLoopback) -> None:
    client = _runtime(server)
    with pytest.raises(ClientError) as caught:  # Cohere's body sent to Titan
        client.invoke_model(modelId="amazon.titan-embed-text-v2:0",
                            body=json.dumps({"texts": ["a"], "input_type": "search_query"}),
                            contentType="application/json")
    assert "extraneous" in str(caught.value)
    with pytest.raises(ClientError) as caught:  # Cohere without input_type
        client.invoke_model(modelId="cohere.embed-english-v3", body=json.dumps({"texts": ["a"]}),
                            contentType="application/json")
    assert "input_type" in str(caught.value)


def test_rerank_needs_a_rerank_model_arn(server: BedrockLoopback) -> None:
    client = _runtime(server, "bedrock-agent-runtime")
    with pytest.raises(ClientError) as caught:
        client.rerank(
            queries=[{"type": "TEXT", "textQuery": {"text": "q"}}],
            sources=[{"type": "INLINE", "inlineDocumentSource": {
                "type": "TEXT", "textDocument": {"text": "d"}}}],
            rerankingConfiguration={"type": "BEDROCK_RERANKING_MODEL",
                                    "bedrockRerankingConfiguration": {"modelConfiguration": {
                                        "modelArn": "amazon.rerank-v1:0"}}},
        )
    assert "modelArn" in str(caught.value)
