"""A loopback Gemini server for offline tests of the real google-genai SDK.

:class:`GeminiLoopback` listens on 127.0.0.1 (ephemeral port) and speaks the REST
API the SDK sends, both for the Gemini API
(``POST /{v1,v1beta}/models/{model}:generateContent``, ``:batchEmbedContents``,
``:embedContent``, key in ``x-goog-api-key``) and for Vertex AI
(``POST /{v1,v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{model}:...``
including ``:predict``, bearer token; express mode
``/{v1,v1beta1}/publishers/google/models/{model}:...`` with an API key). It checks every request, answers with
scripted replies in the service's response shapes (usage included), and injects
faults. It implements :class:`memplane_conformance.endpoint.ScriptedEndpoint`.

Usage::

    with GeminiLoopback() as server:
        server.enqueue_structured({"decisions": []})
        llm = GeminiLLM(server.llm_config())
        llm.generate(...)
        assert server.requests[0].extra["endpoint"] == "generateContent"

Requests the real service would reject get the same kind of 4xx answer, and the
problem is kept in :attr:`GeminiLoopback.problems` so a test can assert none occurred.
The script is one FIFO queue (replies and faults in the order queued); a fault at its
head fails the next request of any kind.
Embedding requests need no script: vectors are derived from the words of each text
(texts sharing words get similar vectors) plus a small task-type component, so
documents and queries differ the way they do with the real models.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from memplane_conformance.endpoint import RecordedRequest
from memplane_conformance.loopback import (
    BadRequest,
    LoopbackServer,
    Reply,
    Scripted,
    json_reply,
    text_words,
    word_vector,
)
from memplane_conformance.malformed import ShapeEdits, reshape

#: the wire adapter of the malformed-response corpus (memplane_conformance.malformed).
#: A candidate without content is legal (a blocked or recited answer), so
#: ``message_missing`` has no counterpart on this wire.
SHAPES: ShapeEdits = {
    "answers_null_entry": [(("candidates", 0), None)],
    "answers_not_list": [(("candidates",), "oops")],
    "message_not_object": [(("candidates", 0, "content"), "oops")],
    "text_not_string": [(("candidates", 0, "content", "parts", 0, "text"), 42)],
    "text_is_object": [(("candidates", 0, "content", "parts", 0, "text"), {"text": "hi"})],
    "usage_not_integer": [(("usageMetadata", "promptTokenCount"), "many"),
                          (("usageMetadata", "candidatesTokenCount"), "lots")],
    "usage_not_object": [(("usageMetadata",), [1, 2])],
}
_API_PATH = re.compile(r"^/(v1|v1beta|v1alpha)/models/([^/:]+):([A-Za-z]+)$")
_VERTEX_PATH = re.compile(
    r"^/(v1|v1beta1)/projects/([^/]+)/locations/([^/]+)/publishers/google/models/([^/:]+):([A-Za-z]+)$"
)
_EXPRESS_PATH = re.compile(r"^/(v1|v1beta1)/publishers/google/models/([^/:]+):([A-Za-z]+)$")
_GENERATE_KEYS = {"contents", "systemInstruction", "generationConfig", "safetySettings",
                  "tools", "toolConfig", "cachedContent", "labels"}
_TASK_TYPES = {"RETRIEVAL_DOCUMENT", "RETRIEVAL_QUERY", "SEMANTIC_SIMILARITY", "CLASSIFICATION",
               "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY"}
_NATIVE_DIMENSIONS = {"gemini-embedding-001": 3072, "text-embedding-005": 768,
                      "text-embedding-004": 768, "text-multilingual-embedding-002": 768}


@dataclass
class _Reply:
    text: str
    usage: tuple[int, int] | None = None
    finish_reason: str = "STOP"
    block_reason: str | None = None


class _RequestProblem(BadRequest):
    """The request is one the real service would reject (kept in ``problems``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, status=status, kind=code)


def loopback_embedding(text: str, dimension: int, task_type: str | None) -> list[float]:
    """The deterministic vector the server returns for ``text``: a signed bag of words
    plus a small component that depends on the task type."""
    return word_vector(text, dimension, task_type)


class GeminiLoopback(LoopbackServer):
    """A scripted Gemini endpoint on 127.0.0.1; use as a context manager.

    ``api_key`` is the key the Gemini API paths accept; ``access_token`` the bearer
    token Vertex AI paths accept, for ``project`` / ``location``. A ``timeout``
    fault holds the response for ``slow_seconds`` (configure the client's timeout
    below it). The server shuts itself down after ``max_lifetime`` seconds at most.
    """

    def __init__(
        self,
        *,
        api_key: str = "loopback-api-key",
        access_token: str = "loopback-access-token",
        project: str = "loopback-project",
        location: str = "us-central1",
        slow_seconds: float = 5.0,
        max_lifetime: float = 600.0,
    ) -> None:
        super().__init__(slow_seconds=slow_seconds, lifetime=max_lifetime)
        self.api_key, self.access_token = api_key, access_token
        self.project, self.location = project, location

    @property
    def base_url(self) -> str:
        return self.url

    def llm_config(self, **overrides: Any) -> dict[str, Any]:
        """Provider config for the Gemini API mode against this server (fast retries)."""
        config = {"api_key": self.api_key, "base_url": self.base_url, "timeout": 2.0,
                  "retry_initial_delay": 0.01, "retry_max_delay": 0.05}
        return {**config, **overrides}

    def vertex_config(self, **overrides: Any) -> dict[str, Any]:
        """Provider config for the Vertex AI mode against this server."""
        config = self.llm_config(vertexai=True, project=self.project, location=self.location,
                                 access_token=self.access_token)
        config.pop("api_key")
        return {**config, **overrides}

    # --- ScriptedEndpoint -----------------------------------------------------
    def enqueue_text(self, text: str, *, usage: tuple[int, int] | None = None,
                     finish_reason: str = "STOP") -> None:
        self.enqueue(Scripted("text", _Reply(text, usage, finish_reason)))

    def enqueue_structured(self, obj: dict[str, Any]) -> None:
        # Gemini's structured channel is schema-constrained JSON text in the candidate.
        self.enqueue(Scripted("structured", _Reply(json.dumps(obj))))

    def enqueue_blocked(self, reason: str = "SAFETY") -> None:
        """The prompt is blocked: no candidates, ``promptFeedback.blockReason`` set."""
        self.enqueue(Scripted("text", _Reply("", block_reason=reason)))

    def well_formed_body(self, text: str) -> dict[str, Any]:
        """A generateContent answer of ``text`` (the malformed corpus starts from it)."""
        return {
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2,
                              "totalTokenCount": 7},
            "modelVersion": "loopback-gemini",
        }

    def malformed_body(self, case: str, text: str) -> Any:
        return reshape(self.well_formed_body(text), SHAPES.get(case))

    def json_schema_of(self, request: Any) -> dict[str, Any] | None:
        body = request.body if isinstance(request.body, dict) else {}
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema", config.get("responseSchema"))
        return schema if isinstance(schema, dict) else None

    # --- request handling (called on the server's threads) ---------------------
    def handle(self, request: RecordedRequest) -> Reply:
        route = self._route(request)
        item = self.next_item(replies=False)  # a fault at the head of the script
        if item is not None:
            request.extra["fault"] = item.value
            return self._fault(item, route["mode"])
        if not isinstance(request.body, dict):
            raise _RequestProblem(400, "INVALID_ARGUMENT", "the request body must be a JSON object")
        endpoint = route["endpoint"]
        if endpoint == "generateContent":
            payload = self._generate(request.body)
        elif endpoint in ("batchEmbedContents", "embedContent", "predict"):
            payload = self._embed(endpoint, route, request.body)
        else:
            raise _RequestProblem(404, "NOT_FOUND", f"no method {endpoint!r} on this loopback")
        return json_reply(200, payload)

    def error(self, status: int, message: str, kind: str) -> Reply:
        code = kind if kind.isupper() else "INVALID_ARGUMENT"
        return json_reply(status, {"error": {"code": status, "message": message, "status": code}})

    def _route(self, request: RecordedRequest) -> dict[str, Any]:
        method, plain, headers = request.method, request.path, request.headers
        if method != "POST":
            raise _RequestProblem(405, "INVALID_ARGUMENT", f"{method} is not used by this API")
        api = _API_PATH.match(plain)
        express = _EXPRESS_PATH.match(plain)
        if match := api or express:
            version, model, endpoint = match.groups()
            mode = "gemini_api" if api else "vertex_express"
            route = {"mode": mode, "version": version, "model": model, "endpoint": endpoint}
            request.extra.update(route)
            key = headers.get("x-goog-api-key")
            if key is None:
                raise _RequestProblem(403, "PERMISSION_DENIED",
                                      "Method doesn't allow unregistered callers: send an API key")
            if key != self.api_key:
                raise _RequestProblem(400, "INVALID_ARGUMENT",
                                      "API key not valid. Please pass a valid API key. (API_KEY_INVALID)")
        elif match := _VERTEX_PATH.match(plain):
            version, project, location, model, endpoint = match.groups()
            route = {"mode": "vertex", "version": version, "model": model, "endpoint": endpoint,
                     "project": project, "location": location}
            request.extra.update(route)
            if headers.get("authorization") != f"Bearer {self.access_token}":
                raise _RequestProblem(401, "UNAUTHENTICATED",
                                      "Request had invalid authentication credentials")
            if (project, location) != (self.project, self.location):
                raise _RequestProblem(403, "PERMISSION_DENIED",
                                      f"no access to project {project!r} in {location!r}")
        else:
            raise _RequestProblem(404, "NOT_FOUND", f"unknown path {plain}")
        if not headers.get("content-type", "").startswith("application/json"):
            raise _RequestProblem(400, "INVALID_ARGUMENT", "Content-Type must be application/json")
        return route

    def _fault(self, item: Scripted, mode: str) -> Reply:
        fault = item.value
        if fault == "auth":
            if mode == "vertex":
                return self.error(401, "Request had invalid authentication credentials",
                                  "UNAUTHENTICATED")
            return self.error(403, "The caller does not have permission", "PERMISSION_DENIED")
        if fault == "rate_limit":
            error: dict[str, Any] = {"code": 429, "message": "Resource has been exhausted",
                                     "status": "RESOURCE_EXHAUSTED"}
            headers = {}
            if item.retry_after is not None:
                headers["retry-after"] = f"{item.retry_after:g}"
                error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                     "retryDelay": f"{item.retry_after:g}s"}]
            return json_reply(429, {"error": error}, headers)
        if fault == "server_error":
            return self.error(500, "An internal error has occurred", "INTERNAL")
        if fault == "timeout":
            reply = self.error(504, "too slow", "DEADLINE_EXCEEDED")
            reply.delay = self.slow_seconds
            return reply
        return Reply(200, b'{"candidates": [{"content": ', {"content-type": "application/json"})

    def _generate(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - _GENERATE_KEYS
        if unknown:
            raise _RequestProblem(400, "INVALID_ARGUMENT",
                                  f"Invalid JSON payload received. Unknown name {sorted(unknown)}")
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise _RequestProblem(400, "INVALID_ARGUMENT", "contents is not specified")
        prompt_words = 0
        for content in contents:
            if not isinstance(content, dict) or content.get("role") not in ("user", "model"):
                raise _RequestProblem(400, "INVALID_ARGUMENT",
                                      "each content needs role 'user' or 'model'")
            prompt_words += _count_parttext_words(content)
        system = body.get("systemInstruction")
        if system is not None:
            if not isinstance(system, dict):
                raise _RequestProblem(400, "INVALID_ARGUMENT", "systemInstruction must be a Content")
            prompt_words += _count_parttext_words(system)
        config = body.get("generationConfig") or {}
        has_schema = "responseJsonSchema" in config or "responseSchema" in config
        if "responseJsonSchema" in config and "responseSchema" in config:
            raise _RequestProblem(400, "INVALID_ARGUMENT",
                                  "responseSchema and responseJsonSchema are mutually exclusive")
        if has_schema and config.get("responseMimeType") != "application/json":
            raise _RequestProblem(400, "INVALID_ARGUMENT",
                                  "a response schema needs responseMimeType application/json")
        schema = config.get("responseJsonSchema", config.get("responseSchema"))
        if has_schema and not (isinstance(schema, dict) and ("type" in schema or "$ref" in schema
                                                             or "anyOf" in schema)):
            raise _RequestProblem(400, "INVALID_ARGUMENT", "the response schema must be a schema object")
        item = self.next_item()
        reply = item.value if item is not None else None
        if not isinstance(reply, _Reply):
            raise _RequestProblem(400, "FAILED_PRECONDITION",
                                  "loopback: no reply was scripted (call enqueue_text/enqueue_structured)")
        prompt_tokens, completion_tokens = reply.usage or (prompt_words, len(text_words(reply.text)))
        if reply.block_reason is not None:
            return {"promptFeedback": {"blockReason": reply.block_reason},
                    "usageMetadata": {"promptTokenCount": prompt_tokens,
                                      "totalTokenCount": prompt_tokens},
                    "modelVersion": "loopback-gemini"}
        return {
            "candidates": [{
                "content": {"role": "model", "parts": [{"text": reply.text}]},
                "finishReason": reply.finish_reason,
                "index": 0,
            }],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": completion_tokens,
                "totalTokenCount": prompt_tokens + completion_tokens,
            },
            "modelVersion": "loopback-gemini",
            "responseId": hashlib.sha1(json.dumps(body).encode()).hexdigest()[:16],
        }

    def _embed(self, endpoint: str, route: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        model = route["model"]
        items: list[tuple[str, str | None, int | None]] = []  # (text, task, dimension)
        if endpoint == "predict":
            instances = body.get("instances")
            if not isinstance(instances, list) or not instances:
                raise _RequestProblem(400, "INVALID_ARGUMENT", "instances must be a non-empty list")
            dimension = (body.get("parameters") or {}).get("outputDimensionality")
            for instance in instances:
                items.append((_text(instance.get("content")), instance.get("task_type"), dimension))
        else:
            requests = body.get("requests") if endpoint == "batchEmbedContents" else [body]
            if not isinstance(requests, list) or not requests:
                raise _RequestProblem(400, "INVALID_ARGUMENT", "requests must be a non-empty list")
            if len(requests) > 100:
                raise _RequestProblem(400, "INVALID_ARGUMENT",
                                      "at most 100 requests are allowed in one batch")
            for request in requests:
                if route["mode"] == "gemini_api" and request.get("model", f"models/{model}") != f"models/{model}":
                    raise _RequestProblem(400, "INVALID_ARGUMENT",
                                          f"request model {request.get('model')!r} differs from {model!r}")
                options = request.get("embedContentConfig", request)
                items.append((_text_of_content(request.get("content")), options.get("taskType"),
                              options.get("outputDimensionality")))
        vectors = []
        for text, task, dimension in items:
            if task is not None and task not in _TASK_TYPES:
                raise _RequestProblem(400, "INVALID_ARGUMENT", f"unknown task type {task!r}")
            native = _NATIVE_DIMENSIONS.get(model, 768)
            size = dimension or native
            if not isinstance(size, int) or not 1 <= size <= native:
                raise _RequestProblem(400, "INVALID_ARGUMENT",
                                      f"outputDimensionality must be in [1, {native}]")
            vectors.append(word_vector(text, size, task))
        if endpoint == "predict":
            return {"predictions": [
                {"embeddings": {"values": v, "statistics": {"token_count": len(text_words(t)),
                                                            "truncated": False}}}
                for v, (t, _, _) in zip(vectors, items, strict=True)
            ]}
        if endpoint == "embedContent":
            return {"embedding": {"values": vectors[0]}}
        return {"embeddings": [{"values": v} for v in vectors]}



def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _RequestProblem(400, "INVALID_ARGUMENT", "each text to embed must be a non-empty string")
    return value


def _text_of_content(content: Any) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        raise _RequestProblem(400, "INVALID_ARGUMENT", "content.parts must be a non-empty list")
    return _text("".join(p.get("text", "") for p in parts if isinstance(p, dict)))


def _count_parttext_words(content: dict[str, Any]) -> int:
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise _RequestProblem(400, "INVALID_ARGUMENT", "every content needs a non-empty parts list")
    words = 0
    for part in parts:
        if not isinstance(part, dict) or not isinstance(part.get("text"), str):
            raise _RequestProblem(400, "INVALID_ARGUMENT", "only text parts are expected here")
        words += len(text_words(part["text"]))
    return words
