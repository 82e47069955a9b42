"""The embedder against the malformed-response corpus (garbled bodies and wrong shapes
of the embeddings API), sync and async, through the real SDK and loopback HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest

from memplane.errors import ProviderError
from memplane_conformance.malformed import (
    CASES,
    DELETE,
    assert_typed_provider_error,
    garbled_bodies,
    reshape,
)
from memplane_openai.embedder import OpenAIEmbedder
from memplane_openai.testing import OpenAILoopback

GOOD = {"object": "list", "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.6, 0.8]}],
        "usage": {"prompt_tokens": 1, "total_tokens": 1}}
SHAPES = {
    "answers_null_entry": [(("data", 0), None)],
    "answers_not_list": [(("data",), "oops")],
    "message_missing": [(("data", 0, "embedding"), DELETE)],
    "text_not_string": [(("data", 0, "embedding"), "not a vector")],
    "text_is_object": [(("data", 0, "embedding"), [0.6, "x"])],
    "usage_not_integer": [(("usage", "prompt_tokens"), "many")],
    "usage_not_object": [(("usage",), [1, 2])],
}
MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def bodies() -> dict[str, bytes]:
    out = dict(garbled_bodies(GOOD))
    out.update({case: json.dumps(reshape(GOOD, edits)).encode() for case, edits in SHAPES.items()})
    return out


def embed(embedder: OpenAIEmbedder, mode: str) -> list[list[float]]:
    if mode == "async":
        return asyncio.run(embedder.aembed(["hello"]))
    return embedder.embed(["hello"])


@pytest.fixture
def make(server: OpenAILoopback):
    def build(**overrides: object) -> OpenAIEmbedder:
        return OpenAIEmbedder({"base_url": server.base_url, "api_key": server.api_key,
                               "dimensions": 2, "timeout": 1.0, **overrides})
    return build


@MODES
@pytest.mark.parametrize("case", sorted(bodies()))
def test_malformed_embeddings_are_typed(server: OpenAILoopback, make, case: str, mode: str) -> None:
    server.enqueue_raw(200, bodies()[case], {"content-type": "application/json"})
    assert_typed_provider_error(lambda: embed(make(max_retries=0), mode), case)
    assert len(server.requests) == 1


@MODES
@pytest.mark.parametrize("case", sorted(c for c in bodies() if CASES[c].retryable))
def test_garbled_embeddings_are_retried(server: OpenAILoopback, make, case: str, mode: str) -> None:
    server.enqueue_raw(200, bodies()[case], {"content-type": "application/json"})
    [vector] = embed(make(max_retries=1), mode)
    assert len(vector) == 2 and len(server.requests) == 2


def test_wrong_shapes_are_not_retried(server: OpenAILoopback, make) -> None:
    for _ in range(3):
        server.enqueue_raw(200, bodies()["answers_null_entry"], {"content-type": "application/json"})
    with pytest.raises(ProviderError):
        make(max_retries=2).embed(["hello"])
    assert len(server.requests) == 1
