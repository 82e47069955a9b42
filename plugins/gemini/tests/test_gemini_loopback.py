"""The loopback server itself rejects what the Gemini API would reject."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from memplane_gemini.testing import GeminiLoopback


def _post(server: GeminiLoopback, path: str, body: object, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(f"{server.base_url}{path}", method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


GOOD = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_requests_without_a_key_are_refused(server: GeminiLoopback) -> None:
    status, body = _post(server, "/v1beta/models/m:generateContent", GOOD, {})
    assert (status, body["error"]["status"]) == (403, "PERMISSION_DENIED")


@pytest.mark.parametrize(("body", "message"), [
    ({"contents": []}, "contents"),
    ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "role"),
    ({**GOOD, "generationConfig": {"responseJsonSchema": {"type": "object"}}}, "responseMimeType"),
    ({**GOOD, "response_format": {}}, "Unknown name"),
])
def test_invalid_generate_requests_are_400s(server: GeminiLoopback, body: dict, message: str) -> None:
    server.enqueue_text("never sent")
    status, answer = _post(server, "/v1beta/models/m:generateContent", body,
                           {"x-goog-api-key": server.api_key})
    assert status == 400 and message in answer["error"]["message"]
    assert server.problems


def test_embedding_options_are_checked(server: GeminiLoopback) -> None:
    key = {"x-goog-api-key": server.api_key}
    item = {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "x"}]}}
    status, answer = _post(server, "/v1beta/models/gemini-embedding-001:batchEmbedContents",
                           {"requests": [{**item, "taskType": "RETRIEVAL"}]}, key)
    assert status == 400 and "task type" in answer["error"]["message"]
    status, answer = _post(server, "/v1beta/models/gemini-embedding-001:batchEmbedContents",
                           {"requests": [{**item, "outputDimensionality": 4096}]}, key)
    assert status == 400 and "outputDimensionality" in answer["error"]["message"]
    status, answer = _post(server, "/v1beta/models/gemini-embedding-001:batchEmbedContents",
                           {"requests": [item] * 101}, key)
    assert status == 400 and "100" in answer["error"]["message"]


def test_vertex_paths_check_project_and_token(server: GeminiLoopback) -> None:
    path = "/v1beta1/projects/{}/locations/us-central1/publishers/google/models/m:generateContent"
    status, _ = _post(server, path.format(server.project), GOOD, {"authorization": "Bearer nope"})
    assert status == 401
    status, _ = _post(server, path.format("someone-else"), GOOD,
                      {"authorization": f"Bearer {server.access_token}"})
    assert status == 403
