"""Azure OpenAI by configuration: deployment paths, api-version, api-key header."""

from __future__ import annotations

import pytest

from memplane.errors import AuthenticationError, ConfigurationError
from memplane.models import ChatMessage, DecisionList

USER = [ChatMessage(role="user", content="I prefer tea")]


def test_chat_goes_to_the_deployment_with_api_version_and_api_key(server, make_azure_llm):
    server.azure_api_version = "2024-10-21"
    server.enqueue_structured({"decisions": []})
    response = make_azure_llm().generate(USER, json_schema=DecisionList.model_json_schema())
    [request] = server.requests
    assert request.path == "/openai/deployments/mem-gpt/chat/completions"
    assert request.extra["query"] == {"api-version": "2024-10-21"}
    assert request.headers["api-key"] == server.api_key
    assert "authorization" not in request.headers
    assert request.body["model"] == "mem-gpt"  # model defaults to the deployment
    assert server.json_schema_of(request) is not None
    assert response.structured == {"decisions": []}


def test_api_version_is_configurable(server, make_azure_llm):
    server.enqueue_text("ok")
    make_azure_llm(api_version="2025-01-01-preview").generate(USER)
    assert server.requests[0].extra["query"]["api-version"] == "2025-01-01-preview"


def test_entra_token_is_sent_as_bearer(server, make_azure_llm):
    server.enqueue_text("ok")
    make_azure_llm(api_key=None, azure_ad_token=server.api_key).generate(USER)
    assert server.requests[0].headers["authorization"] == f"Bearer {server.api_key}"


def test_wrong_azure_key_is_an_authentication_error(server, make_azure_llm):
    with pytest.raises(AuthenticationError):
        make_azure_llm(api_key="wrong").generate(USER)


def test_azure_needs_endpoint_and_deployment():
    from memplane_openai.llm import AzureOpenAILLM

    with pytest.raises(ConfigurationError, match="deployment"):
        AzureOpenAILLM({"azure_endpoint": "https://x.openai.azure.com", "api_key": "k"})


def test_azure_without_credentials_is_a_configuration_error(monkeypatch):
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    from memplane_openai.llm import AzureOpenAILLM

    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_API_KEY"):
        AzureOpenAILLM({"azure_endpoint": "https://x.openai.azure.com", "deployment": "d"})


def test_azure_embeddings_go_to_the_embedding_deployment(server, make_azure_embedder):
    embedder = make_azure_embedder(dimensions=32)
    vectors = embedder.embed(["tea", "coffee"])
    [request] = server.requests
    assert request.path == "/openai/deployments/mem-embed/embeddings"
    assert request.headers["api-key"] == server.api_key
    assert request.body["dimensions"] == 32
    assert [len(v) for v in vectors] == [32, 32] and embedder.dimension == 32
