"""The Titan embedder against the malformed-response corpus (garbled bodies and wrong
shapes of InvokeModel), through the real boto3 client and loopback HTTP."""

from __future__ import annotations

import json

import pytest

from memplane_bedrock.embedder import BedrockEmbedder
from memplane_bedrock.testing import BedrockLoopback
from memplane_conformance.malformed import (
    CASES,
    assert_typed_provider_error,
    garbled_bodies,
    reshape,
)

GOOD = {"embedding": [0.6, 0.8] * 128, "inputTextTokenCount": 1, "note": "malformed-corpus-answer"}
SHAPES = {
    "text_not_string": [(("embedding",), "not a vector")],
    "text_is_object": [(("embedding", 0), "x")],
}


def bodies() -> dict[str, bytes]:
    out = dict(garbled_bodies(GOOD))
    out.update({case: json.dumps(reshape(GOOD, edits)).encode() for case, edits in SHAPES.items()})
    return out


def make(server: BedrockLoopback, **overrides: object) -> BedrockEmbedder:
    return BedrockEmbedder(server.client_config(dimensions=256, normalize=False, **overrides))


@pytest.mark.parametrize("case", sorted(bodies()))
def test_malformed_embeddings_are_typed(server: BedrockLoopback, case: str) -> None:
    server.enqueue_raw(200, bodies()[case], {"content-type": "application/json"})
    assert_typed_provider_error(lambda: make(server, max_retries=0).embed(["hello"]), case)
    assert len(server.requests) == 1


@pytest.mark.parametrize("case", sorted(c for c in bodies() if CASES[c].retryable))
def test_garbled_embeddings_are_retried(server: BedrockLoopback, case: str) -> None:
    server.enqueue_raw(200, bodies()[case], {"content-type": "application/json"})
    [vector] = make(server, max_retries=1).embed(["hello"])
    assert len(vector) == 256 and len(server.requests) == 2
