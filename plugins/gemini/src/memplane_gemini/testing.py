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
Embedding requests need no script: vectors are derived from the words of each text
(texts sharing words get similar vectors) plus a small task-type component, so
documents and queries differ the way they do with the real models.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Fault = Literal["auth", "rate_limit", "server_error", "timeout", "malformed"]

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
_WORD = re.compile(r"\w+")


try:  # the conformance suite's own record type, when it is installed
    from memplane_conformance.endpoint import RecordedRequest
except ImportError:  # pragma: no cover - same fields, for use without the suite

    @dataclass
    class RecordedRequest:  # type: ignore[no-redef]
        method: str
        path: str
        headers: dict[str, str]
        body: Any
        extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Reply:
    text: str
    usage: tuple[int, int] | None = None
    finish_reason: str = "STOP"
    block_reason: str | None = None


@dataclass
class _Fault:
    kind: Fault
    retry_after: float | None = None


class _RequestProblem(Exception):
    """The request is one the real service would reject."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _bucket(token: str, salt: str, dim: int) -> tuple[int, float]:
    digest = hashlib.sha256(f"{salt}:{token}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % dim, (1.0 if digest[4] & 1 else -1.0)


def loopback_embedding(text: str, dimension: int, task_type: str | None) -> list[float]:
    """The deterministic vector the server returns for ``text``: a signed bag of words
    plus a small component that depends on the task type."""
    vector = [0.0] * dimension
    for word in _words(text) or [text]:
        index, sign = _bucket(word, "w", dimension)
        vector[index] += sign
    if task_type:
        index, sign = _bucket(task_type, "t", dimension)
        vector[index] += 0.25 * sign
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class GeminiLoopback:
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
        self.api_key, self.access_token = api_key, access_token
        self.project, self.location = project, location
        self.slow_seconds, self.max_lifetime = slow_seconds, max_lifetime
        self._lock = threading.Lock()
        self._replies: deque[_Reply] = deque()
        self._faults: deque[_Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self.problems: list[str] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._timer: threading.Timer | None = None

    # --- lifecycle ------------------------------------------------------------
    def start(self) -> GeminiLoopback:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         name="gemini-loopback", daemon=True).start()
        self._timer = threading.Timer(self.max_lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers holding a `timeout` fault
        if self._timer is not None:
            self._timer.cancel()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> GeminiLoopback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the loopback server is not running; use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

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
        with self._lock:
            self._replies.append(_Reply(text, usage, finish_reason))

    def enqueue_structured(self, obj: dict[str, Any]) -> None:
        # Gemini's structured channel is schema-constrained JSON text in the candidate.
        with self._lock:
            self._replies.append(_Reply(json.dumps(obj)))

    def enqueue_blocked(self, reason: str = "SAFETY") -> None:
        """The prompt is blocked: no candidates, ``promptFeedback.blockReason`` set."""
        with self._lock:
            self._replies.append(_Reply("", block_reason=reason))

    def enqueue_fault(self, fault: Fault, *, retry_after: float | None = None) -> None:
        if fault not in ("auth", "rate_limit", "server_error", "timeout", "malformed"):
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._faults.append(_Fault(fault, retry_after))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def json_schema_of(self, request: Any) -> dict[str, Any] | None:
        body = request.body if isinstance(request.body, dict) else {}
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema", config.get("responseSchema"))
        return schema if isinstance(schema, dict) else None

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self._faults.clear()
            self._requests.clear()
            self.problems.clear()

    # --- request handling (called on the server's threads) ---------------------
    def _handle(self, method: str, path: str, headers: dict[str, str],
                raw: bytes) -> tuple[int, dict[str, str], bytes, bool]:
        """Returns (status, headers, body, hold): hold means answer only after slow_seconds."""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        record = RecordedRequest(method, path.split("?", 1)[0], headers, body)
        with self._lock:
            self._requests.append(record)
            fault = self._faults.popleft() if self._faults else None
        try:
            route = self._route(method, path, headers, record)
            if fault is not None:
                record.extra["fault"] = fault.kind
                return self._fault_response(fault, route["mode"])
            if not isinstance(body, dict):
                raise _RequestProblem(400, "INVALID_ARGUMENT", "the request body must be a JSON object")
            endpoint = route["endpoint"]
            if endpoint == "generateContent":
                payload = self._generate(body)
            elif endpoint in ("batchEmbedContents", "embedContent", "predict"):
                payload = self._embed(endpoint, route, body)
            else:
                raise _RequestProblem(404, "NOT_FOUND", f"no method {endpoint!r} on this loopback")
        except _RequestProblem as problem:
            with self._lock:
                self.problems.append(f"{path}: {problem.message}")
            return _error(problem.status, problem.code, problem.message)
        return 200, {"content-type": "application/json"}, json.dumps(payload).encode(), False

    def _route(self, method: str, path: str, headers: dict[str, str],
               record: RecordedRequest) -> dict[str, Any]:
        if method != "POST":
            raise _RequestProblem(405, "INVALID_ARGUMENT", f"{method} is not used by this API")
        plain = path.split("?", 1)[0]
        api = _API_PATH.match(plain)
        express = _EXPRESS_PATH.match(plain)
        if match := api or express:
            version, model, endpoint = match.groups()
            mode = "gemini_api" if api else "vertex_express"
            route = {"mode": mode, "version": version, "model": model, "endpoint": endpoint}
            record.extra.update(route)
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
            record.extra.update(route)
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

    def _fault_response(self, fault: _Fault, mode: str) -> tuple[int, dict[str, str], bytes, bool]:
        if fault.kind == "auth":
            if mode == "vertex":
                return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials")
            return _error(403, "PERMISSION_DENIED", "The caller does not have permission")
        if fault.kind == "rate_limit":
            status, headers, body, _ = _error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted")
            if fault.retry_after is not None:
                headers["retry-after"] = f"{fault.retry_after:g}"
                payload = json.loads(body)
                payload["error"]["details"] = [{
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{fault.retry_after:g}s",
                }]
                body = json.dumps(payload).encode()
            return status, headers, body, False
        if fault.kind == "server_error":
            return _error(500, "INTERNAL", "An internal error has occurred")
        if fault.kind == "timeout":
            status, headers, body, _ = _error(504, "DEADLINE_EXCEEDED", "too slow")
            return status, headers, body, True
        return 200, {"content-type": "application/json"}, b'{"candidates": [{"content": ', False

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
            prompt_words += _count_part_words(content)
        system = body.get("systemInstruction")
        if system is not None:
            if not isinstance(system, dict):
                raise _RequestProblem(400, "INVALID_ARGUMENT", "systemInstruction must be a Content")
            prompt_words += _count_part_words(system)
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
        with self._lock:
            reply = self._replies.popleft() if self._replies else None
        if reply is None:
            raise _RequestProblem(400, "FAILED_PRECONDITION",
                                  "loopback: no reply was scripted (call enqueue_text/enqueue_structured)")
        prompt_tokens, completion_tokens = reply.usage or (prompt_words, len(_words(reply.text)))
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
            vectors.append(loopback_embedding(text, size, task))
        if endpoint == "predict":
            return {"predictions": [
                {"embeddings": {"values": v, "statistics": {"token_count": len(_words(t)),
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


def _count_part_words(content: dict[str, Any]) -> int:
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise _RequestProblem(400, "INVALID_ARGUMENT", "every content needs a non-empty parts list")
    words = 0
    for part in parts:
        if not isinstance(part, dict) or not isinstance(part.get("text"), str):
            raise _RequestProblem(400, "INVALID_ARGUMENT", "only text parts are expected here")
        words += len(_words(part["text"]))
    return words


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes, bool]:
    body = {"error": {"code": status, "message": message, "status": code}}
    return status, {"content-type": "application/json"}, json.dumps(body).encode(), False


def _handler_for(endpoint: GeminiLoopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, out_headers, body, hold = endpoint._handle(self.command, self.path, headers, raw)
            if hold and endpoint._stopping.wait(endpoint.slow_seconds):
                return  # shutting down: drop the held request
            try:
                self.send_response(status)
                for name, value in out_headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout fault)

        do_POST = do_GET = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler
