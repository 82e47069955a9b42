"""The embedder against the malformed-response corpus (garbled bodies and wrong shapes
of batchEmbedContents), sync and async, through the real SDK and loopback HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest

from memplane_conformance.malformed import (
    CASES,
    assert_typed_provider_error,
    garbled_bodies,
    reshape,
)
from memplane_gemini.embedder import GeminiEmbedder
from memplane_gemini.testing import GeminiLoopback

GOOD = {"embeddings": [{"values": [0.6, 0.8]}]}
SHAPES = {
    "answers_null_entry": [(("embeddings", 0), None)],
    "text_not_string": [(("embeddings", 0, "values"), "not a vector")],
    "text_is_object": [(("embeddings", 0, "values"), [0.6, "x"])],
}
MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def bodies() -> dict[str, bytes]:
    # invalid_utf8 is left out: the corpus corrupts the first string, here the key
    # "embeddings", and the SDK (decoding with replacement) then sees an unknown key and
    # no embeddings, which it cannot tell from a wrong shape. The LLM's answer text is
    # where the corruption lands there, and that case is in the LLM contract.
    out = {k: v for k, v in garbled_bodies(GOOD).items() if k != "invalid_utf8"}
    out.update({case: json.dumps(reshape(GOOD, edits)).encode() for case, edits in SHAPES.items()})
    return out


def embed(embedder: GeminiEmbedder, mode: str) -> list[list[float]]:
    if mode == "async":
        return asyncio.run(embedder.aembed(["hello"]))
    return embedder.embed(["hello"])


def make(server: GeminiLoopback, **overrides: object) -> GeminiEmbedder:
    return GeminiEmbedder(server.llm_config(output_dimensionality=2, retry_initial_delay=0.01,
                                            **overrides))


@MODES
@pytest.mark.parametrize("case", sorted(bodies()))
def test_malformed_embeddings_are_typed(server: GeminiLoopback, case: str, mode: str) -> None:
    server.enqueue_raw(200, bodies()[case], {"content-type": "application/json"})
    assert_typed_provider_error(lambda: embed(make(server, max_retries=0), mode), case)
    assert len(server.requests) == 1


@MODES
@pytest.mark.parametrize("case", sorted(c for c in bodies() if CASES[c].retryable))
def test_garbled_embeddings_are_retried(server: GeminiLoopback, case: str, mode: str) -> None:
    server.enqueue_raw(200, bodies()[case], {"content-type": "application/json"})
    [vector] = embed(make(server, max_retries=1), mode)
    assert len(vector) == 2 and len(server.requests) == 2
