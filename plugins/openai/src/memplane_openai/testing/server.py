"""A loopback server that speaks the OpenAI wire protocol, for offline tests.

It serves ``POST /v1/chat/completions`` and ``POST /v1/embeddings`` (and the Azure
paths ``/openai/deployments/{deployment}/...?api-version=...``), checks each request
the way the real API would refuse it (model, messages, response_format and strict
schemas, auth headers, embedding inputs), answers with the scripted replies in the
real response shapes (with usage), and injects faults. Embeddings are deterministic
unit vectors seeded by a hash of (model, text), of the requested dimensions.

    with OpenAILoopback() as server:
        server.enqueue_structured({"decisions": []})
        llm = OpenAILLM(model="gpt-4o-mini", base_url=server.base_url, api_key=server.api_key)
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import struct
import time
from itertools import count
from typing import Any

from memplane_conformance.endpoint import RecordedRequest
from memplane_conformance.loopback import (
    BadRequest,
    LoopbackServer,
    Refused,
    Reply,
    Scripted,
    json_reply,
)
from memplane_conformance.malformed import DELETE, ShapeEdits, reshape

ROLES = {"system", "developer", "user", "assistant", "tool"}
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
AZURE_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<op>chat/completions|embeddings)$")
#: native sizes; a model not listed here returns ``default_dimensions``
MODEL_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
#: models that refuse the ``dimensions`` parameter, as the real API does
FIXED_DIMENSION_MODELS = {"text-embedding-ada-002"}


#: the wire adapter of the malformed-response corpus (memplane_conformance.malformed)
SHAPES: ShapeEdits = {
    "answers_null_entry": [(("choices", 0), None)],
    "answers_not_list": [(("choices",), "oops")],
    "message_missing": [(("choices", 0, "message"), DELETE)],
    "message_not_object": [(("choices", 0, "message"), "oops")],
    "text_not_string": [(("choices", 0, "message", "content"), 42)],
    "text_is_object": [(("choices", 0, "message", "content"), {"text": "hi"})],
    "usage_not_integer": [(("usage", "prompt_tokens"), "many"),
                          (("usage", "completion_tokens"), "lots")],
    "usage_not_object": [(("usage",), [1, 2])],
}


def words(text: str) -> int:
    return len(text.split())


def embedding_vector(model: str, text: str, dimensions: int) -> list[float]:
    """A unit vector determined by (model, text) alone."""
    seed = int.from_bytes(hashlib.sha256(f"{model}\x00{text}".encode()).digest()[:8], "big")
    rng = random.Random(seed)
    raw = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    return [x / norm for x in raw]


def strict_problems(node: Any, where: str = "$") -> list[str]:
    """What strict structured outputs would refuse in a schema."""
    problems: list[str] = []
    if isinstance(node, list):
        for i, item in enumerate(node):
            problems += strict_problems(item, f"{where}[{i}]")
        return problems
    if not isinstance(node, dict):
        return problems
    if "$ref" in node and len(node) > 1:
        problems.append(f"{where}: $ref cannot have sibling keywords")
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties") is not False:
            problems.append(f"{where}: additionalProperties must be false")
        props = node.get("properties", {})
        if sorted(node.get("required", [])) != sorted(props):
            problems.append(f"{where}: every property must be required")
    for key, value in node.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            for name, sub in value.items():
                problems += strict_problems(sub, f"{where}.{key}.{name}")
        elif isinstance(value, dict | list):
            problems += strict_problems(value, f"{where}.{key}")
    return problems


class OpenAILoopback(LoopbackServer):
    """Implements :class:`memplane_conformance.endpoint.ScriptedEndpoint`."""

    def __init__(
        self,
        *,
        api_key: str = "sk-loopback",
        azure_api_version: str | None = None,
        default_dimensions: int = 64,
        max_embedding_inputs: int = 2048,
        max_input_tokens: int = 8192,
        known_models: set[str] | None = None,
        honour_dimensions: bool = True,
        slow_seconds: float = 5.0,
        lifetime: float = 600.0,
    ) -> None:
        super().__init__(slow_seconds=slow_seconds, lifetime=lifetime)
        self.api_key = api_key
        #: when set, Azure requests must carry exactly this api-version
        self.azure_api_version = azure_api_version
        self.default_dimensions = default_dimensions
        self.max_embedding_inputs = max_embedding_inputs
        self.max_input_tokens = max_input_tokens
        #: when set, other model names get the API's 404 model_not_found
        self.known_models = known_models
        #: False mimics compatible servers that silently ignore `dimensions`
        self.honour_dimensions = honour_dimensions
        self._ids = count(1)

    @property
    def base_url(self) -> str:
        """For ``base_url`` of the OpenAI client / the ``openai`` provider."""
        return f"{self.url}/v1"

    @property
    def azure_endpoint(self) -> str:
        """For ``azure_endpoint`` of the Azure client / the ``azure_openai`` provider."""
        return self.url

    def enqueue_refusal(self, refusal: str) -> None:
        """The model declines: ``content`` null and ``message.refusal`` set, as
        structured outputs answer requests the model will not fulfil."""
        with self._lock:
            self._script.append(Scripted("refusal", refusal))

    def well_formed_body(self, text: str) -> dict[str, Any]:
        """A chat completion answering ``text`` (the malformed corpus starts from it)."""
        return {
            "id": "chatcmpl-loopback-wire", "object": "chat.completion", "created": 0,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text,
                                                 "refusal": None},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        }

    def malformed_body(self, case: str, text: str) -> Any:
        return reshape(self.well_formed_body(text), SHAPES.get(case))

    def json_schema_of(self, request: RecordedRequest) -> dict[str, Any] | None:
        body = request.body if isinstance(request.body, dict) else {}
        fmt = body.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema")
            return schema if isinstance(schema, dict) else None
        return None

    # --- dispatch ----------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        operation = self._route(request)
        request.extra["operation"] = operation
        self._check_auth(request)
        if not isinstance(request.body, dict):
            raise BadRequest("the body must be a JSON object")
        # validate first: a refused request consumes nothing from the script
        if operation == "chat":
            self._check_chat(request.body)
        else:
            self._check_embeddings(request.body)
        item = self.next_item(replies=operation == "chat")
        if item is not None and item.kind == "fault":
            return self.fault_reply(item)
        if operation == "chat":
            return self._chat(request, item)
        return self._embeddings(request)

    def _route(self, request: RecordedRequest) -> str:
        if request.method != "POST":
            raise BadRequest(f"{request.method} is not served here; the API uses POST")
        if request.path == "/v1/chat/completions":
            return "chat"
        if request.path == "/v1/embeddings":
            return "embeddings"
        match = AZURE_PATH.match(request.path)
        if match is None:
            raise BadRequest(f"unknown path {request.path}")
        request.extra["azure_deployment"] = match["deployment"]
        version = request.extra["query"].get("api-version")
        if not version:
            raise BadRequest("Azure requests need the api-version query parameter")
        if self.azure_api_version and version != self.azure_api_version:
            raise BadRequest(f"api-version {version!r}, expected {self.azure_api_version!r}")
        return "chat" if match["op"] == "chat/completions" else "embeddings"

    def _check_auth(self, request: RecordedRequest) -> None:
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            raise BadRequest("content-type must be application/json")
        bearer = request.headers.get("authorization", "")
        if "azure_deployment" in request.extra:
            ok = request.headers.get("api-key") == self.api_key or bearer == f"Bearer {self.api_key}"
        else:
            ok = bearer == f"Bearer {self.api_key}"
        if not ok:
            raise Refused("Incorrect API key provided")

    # --- chat completions --------------------------------------------------------

    def _check_chat(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("'model' is required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("'messages' must be a non-empty array")
        for i, message in enumerate(messages):
            self._check_message(i, message)
        self._check_options(body)
        if self.known_models is not None and model not in self.known_models:
            raise Refused(f"The model `{model}` does not exist or you do not have access to it.",
                          status=404, kind="invalid_request_error")

    def _chat(self, request: RecordedRequest, item: Scripted | None) -> Reply:
        model, messages = request.body["model"], request.body["messages"]
        if item is None:
            reply = self.error(500, "loopback: no scripted reply queued; call enqueue_text() "
                               "or enqueue_structured() first", "server_error")
            reply.headers["x-should-retry"] = "false"
            return reply
        text = json.dumps(item.value) if item.kind == "structured" else item.value
        prompt = sum(words(m.get("content") or "") + 3 for m in messages)
        completion = words(text) + 1
        request.extra["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion}
        return json_reply(200, {
            "id": f"chatcmpl-loopback-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_loopback",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant",
                            "content": None if item.kind == "refusal" else text,
                            "refusal": text if item.kind == "refusal" else None},
                "finish_reason": "stop",
                "logprobs": None,
            }],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        })

    def _check_message(self, i: int, message: Any) -> None:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise BadRequest(f"messages[{i}] needs a role in {sorted(ROLES)}")
        content = message.get("content")
        if not isinstance(content, str | list):
            raise BadRequest(f"messages[{i}].content must be a string or an array of parts")
        if message["role"] == "tool" and not message.get("tool_call_id"):
            raise BadRequest(f"messages[{i}]: a tool message needs tool_call_id")
        name = message.get("name")
        if name is not None and not (isinstance(name, str) and NAME_PATTERN.match(name)):
            raise BadRequest(f"messages[{i}].name must match {NAME_PATTERN.pattern}")

    def _check_options(self, body: dict[str, Any]) -> None:
        for key in ("max_tokens", "max_completion_tokens"):
            if key in body and not (isinstance(body[key], int) and body[key] > 0):
                raise BadRequest(f"'{key}' must be a positive integer")
        temperature = body.get("temperature")
        if temperature is not None and not (isinstance(temperature, int | float) and 0 <= temperature <= 2):
            raise BadRequest("'temperature' must be between 0 and 2")
        fmt = body.get("response_format")
        if fmt is None:
            return
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "json_object":
            if not any("json" in str(m.get("content", "")).lower() for m in body["messages"]):
                raise BadRequest("'messages' must contain the word 'json' to use json_object")
            return
        if kind == "text":
            return
        if kind != "json_schema":
            raise BadRequest("response_format.type must be text, json_object or json_schema")
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise BadRequest("response_format.json_schema.schema must be an object")
        name = spec.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise BadRequest(f"response_format.json_schema.name must match {NAME_PATTERN.pattern}")
        if spec.get("strict"):
            schema = spec["schema"]
            problems = [] if schema.get("type") == "object" else ["$: the root must be an object"]
            problems += strict_problems(schema)
            if problems:
                raise BadRequest("invalid schema for strict mode: " + "; ".join(problems))

    # --- embeddings --------------------------------------------------------------

    def _check_embeddings(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("'model' is required")
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            raise BadRequest("'input' must be a string or a non-empty array of strings")
        if len(inputs) > self.max_embedding_inputs:
            raise BadRequest(f"'input' has {len(inputs)} items; at most {self.max_embedding_inputs}")
        if not all(isinstance(text, str) and text for text in inputs):
            raise BadRequest("every 'input' item must be a non-empty string")
        longest = max(words(text) for text in inputs)
        if longest > self.max_input_tokens:
            # a legitimate refusal, not a protocol violation: not kept in `problems`
            raise Refused(
                f"This model's maximum context length is {self.max_input_tokens} tokens, "
                f"however you requested {longest} tokens",
                status=400, kind="invalid_request_error",
            )
        dimensions = body.get("dimensions")
        if dimensions is not None:
            if model in FIXED_DIMENSION_MODELS:
                raise BadRequest(f"model {model} does not support 'dimensions'")
            if not isinstance(dimensions, int) or dimensions <= 0:
                raise BadRequest("'dimensions' must be a positive integer")
        if body.get("encoding_format", "float") not in ("float", "base64"):
            raise BadRequest("'encoding_format' must be float or base64")

    def _embeddings(self, request: RecordedRequest) -> Reply:
        body = request.body
        model, dimensions = body["model"], body.get("dimensions")
        inputs = [body["input"]] if isinstance(body["input"], str) else body["input"]
        encoding = body.get("encoding_format", "float")
        native = MODEL_DIMENSIONS.get(model, self.default_dimensions)
        size = dimensions if dimensions and self.honour_dimensions else native
        data = []
        for i, text in enumerate(inputs):
            vector = embedding_vector(model, text, size)
            encoded: Any = vector
            if encoding == "base64":
                encoded = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        tokens = sum(words(text) for text in inputs)
        request.extra["usage"] = {"prompt_tokens": tokens}
        request.extra["batch_size"] = len(inputs)
        return json_reply(200, {
            "object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })

    # --- error shape -------------------------------------------------------------

    def error(self, status: int, message: str, kind: str) -> Reply:
        code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
        return json_reply(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})

    def fault_reply(self, item: Scripted) -> Reply:
        if item.value == "malformed":
            return Reply(200, b'{"id": "chatcmpl-cut", "object": "chat.completion", "choices": [{"ind',
                         {"content-type": "application/json"})
        return super().fault_reply(item)

