"""The loopback server itself: life cycle and fidelity to what the SDK expects."""

from __future__ import annotations

import struct
import urllib.error
import urllib.request

import pytest

from memplane_openai.testing import OpenAILoopback, embedding_vector


def test_server_stops_by_itself_after_its_lifetime():
    server = OpenAILoopback(lifetime=0.2).start()
    url = server.base_url
    assert server.wait_stopped(timeout=30), "the server outlived its lifetime"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/chat/completions", data=b"{}", timeout=5)


def test_context_exit_stops_the_server():
    with OpenAILoopback() as server:
        url = server.base_url
    assert server.wait_stopped(timeout=0)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/chat/completions", data=b"{}", timeout=5)


def test_sdk_default_base64_embeddings_decode_to_the_same_vectors():
    import openai

    with OpenAILoopback() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
        response = client.embeddings.create(model="text-embedding-3-small", input=["tea"],
                                            dimensions=8)  # the SDK asks for base64 here
        assert server.requests[0].body["encoding_format"] == "base64"
        client.close()
    expected = struct.unpack("<8f", struct.pack("<8f", *embedding_vector(
        "text-embedding-3-small", "tea", 8)))
    assert list(response.data[0].embedding) == pytest.approx(list(expected))


def test_unknown_fault_is_refused():
    with OpenAILoopback() as server, pytest.raises(ValueError, match="unknown fault"):
        server.enqueue_fault("meltdown")  # type: ignore[arg-type]
