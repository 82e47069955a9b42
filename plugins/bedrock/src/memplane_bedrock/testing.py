"""A loopback Bedrock server for offline tests of the real boto3 clients.

:class:`BedrockLoopback` listens on 127.0.0.1 (ephemeral port) and speaks the
REST/JSON protocol botocore sends to ``endpoint_url`` for

- bedrock-runtime ``converse``: ``POST /model/{modelId}/converse``,
- bedrock-runtime ``invoke_model``: ``POST /model/{modelId}/invoke`` (Titan and
  Cohere embedding bodies),
- bedrock-agent-runtime ``rerank``: ``POST /rerank``.

Point both clients at :attr:`BedrockLoopback.endpoint_url`. Every request must carry
a well-formed SigV4 ``Authorization`` header for the ``bedrock`` service, the
server's region and its access key id, and the signature must verify against the
server's (dummy) secret key over the method, path, signed headers and body.
Requests the real service would reject get a ``ValidationException`` (and are kept
in :attr:`BedrockLoopback.problems`); replies follow the real response shapes with
usage; faults come as the service sends them (``x-amzn-ErrorType`` header plus a
JSON ``message``). It implements
:class:`memplane_conformance.endpoint.ScriptedEndpoint`; replies and faults share one
FIFO script, and a fault at its head fails the next (well-signed) request of any kind.

Embeddings and rerank scores need no script: vectors are a signed bag of words
(texts sharing words are similar; queries and documents differ slightly for
Cohere's input types), and rerank scores are the share of query words a document
contains, unless :meth:`BedrockLoopback.enqueue_rerank_scores` scripts them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

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
from memplane_conformance.malformed import DELETE, ShapeEdits, reshape

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Za-z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
_MODEL_PATH = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>converse|invoke)$")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_RERANK_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov)?:bedrock:(?P<region>[a-z0-9-]+)::foundation-model/"
    r"(amazon\.rerank-v1:0|cohere\.rerank-v3-5:0)$"
)
_CONVERSE_KEYS = {"messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
                  "additionalModelRequestFields", "additionalModelResponseFieldPaths",
                  "promptVariables", "requestMetadata", "performanceConfig"}
_INFERENCE_KEYS = {"maxTokens", "temperature", "topP", "stopSequences"}
_COHERE_INPUT_TYPES = {"search_document", "search_query", "classification", "clustering"}
_ERROR_TYPE = "{}:http://internal.amazon.com/coral/com.amazon.bedrock/"


@dataclass
class _Reply:
    text: str | None = None
    structured: dict[str, Any] | None = None
    usage: tuple[int, int] | None = None


class _Rejected(BadRequest):
    """A request Bedrock would refuse (kept in ``problems``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, status=status, kind=code)
        self.code = code


def loopback_embedding(text: str, dimension: int, input_type: str | None = None,
                       normalize: bool = True) -> list[float]:
    """The deterministic vector the server returns for ``text``."""
    if normalize:
        return word_vector(text, dimension, input_type)
    return [v * 3.0 for v in word_vector(text, dimension, input_type, normalize=False)]


def loopback_relevance(query: str, document: str) -> float:
    """The score the server gives a document without a script: share of query words it has."""
    query_words = set(text_words(query))
    if not query_words:
        return 0.0
    return len(query_words & set(text_words(document))) / len(query_words)


#: the wire adapter of the malformed-response corpus (memplane_conformance.malformed):
#: Converse's answer list is ``output.message.content``, its entries content blocks
SHAPES: ShapeEdits = {
    "answers_null_entry": [(("output", "message", "content", 0), None)],
    "answers_not_list": [(("output", "message", "content"), "oops")],
    "message_missing": [(("output", "message"), DELETE)],
    "message_not_object": [(("output", "message"), "oops")],
    "text_not_string": [(("output", "message", "content", 0, "text"), 42)],
    "text_is_object": [(("output", "message", "content", 0, "text"), {"text": "hi"})],
    "usage_not_integer": [(("usage", "inputTokens"), "many"), (("usage", "outputTokens"), "lots")],
    "usage_not_object": [(("usage",), [1, 2])],
}


class BedrockLoopback(LoopbackServer):
    """A scripted Bedrock endpoint on 127.0.0.1; use as a context manager.

    ``access_key_id`` / ``secret_access_key`` are the dummy credentials clients should
    use (see :meth:`client_config`); ``region`` the region they sign for. A
    ``timeout`` fault holds the response for ``slow_seconds``. The server shuts
    itself down after ``max_lifetime`` seconds at most.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        access_key_id: str = "AKIALOOPBACKTESTKEY00",
        secret_access_key: str = "loopback-secret-access-key",
        slow_seconds: float = 5.0,
        max_lifetime: float = 600.0,
    ) -> None:
        super().__init__(slow_seconds=slow_seconds, lifetime=max_lifetime)
        self.region = region
        self.access_key_id, self.secret_access_key = access_key_id, secret_access_key
        self._scores: deque[list[float]] = deque()
        self._scores_lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        return self.url

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        """Provider config for any memplane-bedrock provider against this server."""
        config = {"endpoint_url": self.endpoint_url, "region": self.region,
                  "aws_access_key_id": self.access_key_id,
                  "aws_secret_access_key": self.secret_access_key, "timeout": 2.0}
        return {**config, **overrides}

    # --- ScriptedEndpoint -----------------------------------------------------
    def enqueue_text(self, text: str, *, usage: tuple[int, int] | None = None) -> None:
        self.enqueue(Scripted("text", _Reply(text=text, usage=usage)))

    def enqueue_structured(self, obj: dict[str, Any], *, usage: tuple[int, int] | None = None) -> None:
        """The model calls the forced tool with ``obj`` as its input."""
        self.enqueue(Scripted("structured", _Reply(structured=obj, usage=usage)))

    def enqueue_rerank_scores(self, scores: list[float]) -> None:
        """The next rerank call scores the documents with ``scores`` (in input order)."""
        with self._scores_lock:
            self._scores.append(list(scores))

    def json_schema_of(self, request: Any) -> dict[str, Any] | None:
        body = request.body if isinstance(request.body, dict) else {}
        config = body.get("toolConfig") or {}
        forced = ((config.get("toolChoice") or {}).get("tool") or {}).get("name")
        for tool in config.get("tools") or []:
            spec = tool.get("toolSpec") or {}
            if forced is None or spec.get("name") == forced:
                schema = (spec.get("inputSchema") or {}).get("json")
                return schema if isinstance(schema, dict) else None
        return None

    def well_formed_body(self, text: str) -> dict[str, Any]:
        """A Converse answer of ``text`` (the malformed corpus starts from it)."""
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7},
            "metrics": {"latencyMs": 1},
        }

    def malformed_body(self, case: str, text: str) -> Any:
        return reshape(self.well_formed_body(text), SHAPES.get(case))

    def reset(self) -> None:
        super().reset()
        with self._scores_lock:
            self._scores.clear()

    # --- request handling (server threads) -------------------------------------
    def handle(self, request: RecordedRequest) -> Reply:
        raw: bytes = request.extra["raw_body"]
        quoted, request.path = request.path, unquote(request.path)
        operation = self._route(request, quoted)
        self._check_signature(request.method, request.extra["target"], request.headers, raw,
                              request)
        item = self.next_item(replies=False)  # a fault at the head of the script
        if item is not None:
            request.extra["fault"] = item.value
            return self._fault(item)
        body = request.body
        if not isinstance(body, dict):
            raise _Rejected(400, "SerializationException", "the body must be a JSON object")
        extra_headers: dict[str, str] = {}
        if operation == "converse":
            payload = self._converse(body)
        elif operation == "invoke":
            payload, extra_headers = self._invoke(request.extra["model"], request.headers, body)
        else:
            payload = self._rerank(body)
        return json_reply(200, payload, {"x-amzn-requestid": _request_id(raw), **extra_headers})

    def error(self, status: int, message: str, kind: str) -> Reply:
        code = kind if kind[:1].isupper() else "ValidationException"
        return json_reply(status, {"message": message},
                          {"x-amzn-errortype": _ERROR_TYPE.format(code)})

    def _route(self, request: RecordedRequest, path: str) -> str:
        """The operation; ``path`` as sent (a model ARN's slashes stay encoded)."""
        method = request.method
        if method != "POST":
            raise _Rejected(404, "UnknownOperationException", f"{method} {path} is not an operation")
        if path == "/rerank":
            request.extra["operation"] = "rerank"
            return "rerank"
        match = _MODEL_PATH.match(path)
        if not match:
            raise _Rejected(404, "UnknownOperationException", f"no operation at {path}")
        model = unquote(match["model"])
        if not model:
            raise _Rejected(400, "ValidationException", "modelId must not be empty")
        request.extra.update(operation=match["op"], model=model)
        return match["op"]

    def _check_signature(self, method: str, raw_path: str, headers: dict[str, str], raw: bytes,
                         record: RecordedRequest) -> None:
        authorization = headers.get("authorization")
        if authorization is None:
            raise _Rejected(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        match = _AUTHORIZATION.match(authorization)
        if not match:
            raise _Rejected(403, "IncompleteSignatureException",
                            "Authorization header is not a well-formed SigV4 signature")
        signed = match["signed"].split(";")
        amz_date = headers.get("x-amz-date", "")
        if "host" not in signed or "x-amz-date" not in signed or not _AMZ_DATE.match(amz_date):
            raise _Rejected(403, "IncompleteSignatureException",
                            "the signature must cover host and x-amz-date")
        if not amz_date.startswith(match["date"]):
            raise _Rejected(403, "InvalidSignatureException", "credential date differs from x-amz-date")
        if match["service"] != "bedrock" or match["region"] != self.region:
            raise _Rejected(403, "InvalidSignatureException",
                            f"signed for {match['service']} in {match['region']}, expected bedrock "
                            f"in {self.region}")
        if match["key"] != self.access_key_id:
            raise _Rejected(403, "UnrecognizedClientException",
                            "The security token included in the request is invalid.")
        expected = sigv4_signature(self.secret_access_key, method, raw_path, headers, raw,
                                   signed, amz_date, match["region"], match["service"])
        if not hmac.compare_digest(expected, match["signature"]):
            raise _Rejected(403, "InvalidSignatureException",
                            "The request signature we calculated does not match the signature "
                            "you provided. Check your AWS Secret Access Key and signing method.")
        record.extra["signature"] = match.groupdict()

    def _fault(self, item: Scripted) -> Reply:
        fault = item.value
        if fault == "auth":
            return self.error(403, "You don't have access to the model with the specified model ID.",
                              "AccessDeniedException")
        if fault == "rate_limit":
            reply = self.error(429, "Too many requests, please wait before trying again.",
                               "ThrottlingException")
            if item.retry_after is not None:
                if math.isfinite(item.retry_after):
                    reply.headers["x-amz-retry-after"] = str(int(item.retry_after * 1000))
                reply.headers["retry-after"] = f"{item.retry_after:g}"
            return reply
        if fault == "server_error":
            return self.error(500, "The server encountered an error.", "InternalServerException")
        if fault == "timeout":
            reply = self.error(408, "too slow", "ModelTimeoutException")
            reply.delay = self.slow_seconds
            return reply
        return Reply(200, b'{"output": {"message": ', {"content-type": "application/json"})

    # --- converse ---------------------------------------------------------------
    def _converse(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - _CONVERSE_KEYS
        if unknown:
            raise _Rejected(400, "ValidationException", f"extraneous keys {sorted(unknown)}")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _Rejected(400, "ValidationException", "messages must be a non-empty list")
        words = 0
        for position, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            expected = "user" if position % 2 == 0 else "assistant"
            if role != expected:
                raise _Rejected(400, "ValidationException",
                                "A conversation must start with a user message and alternate "
                                "between user and assistant roles")
            words += _text_block_words(message.get("content"), "message content")
        if "system" in body:
            words += _text_block_words(body["system"], "system")
        inference = body.get("inferenceConfig") or {}
        if set(inference) - _INFERENCE_KEYS:
            raise _Rejected(400, "ValidationException", f"unknown inferenceConfig keys {sorted(set(inference) - _INFERENCE_KEYS)}")
        if "maxTokens" in inference and not (isinstance(inference["maxTokens"], int) and inference["maxTokens"] >= 1):
            raise _Rejected(400, "ValidationException", "maxTokens must be a positive integer")
        if "temperature" in inference and not 0 <= inference["temperature"] <= 1:
            raise _Rejected(400, "ValidationException", "temperature must be in [0, 1]")
        forced = self._check_tool_config(body.get("toolConfig"))
        item = self.next_item()
        reply = item.value if item is not None else None
        if not isinstance(reply, _Reply):
            raise _Rejected(400, "ValidationException",
                            "loopback: no reply was scripted (call enqueue_text/enqueue_structured)")
        if reply.structured is not None and forced is not None:
            content: list[dict[str, Any]] = [{"toolUse": {
                "toolUseId": "tooluse_" + _request_id(json.dumps(reply.structured).encode())[:20],
                "name": forced, "input": reply.structured}}]
            stop, out_words = "tool_use", len(text_words(json.dumps(reply.structured)))
        else:
            text = reply.text if reply.text is not None else json.dumps(reply.structured)
            content, stop, out_words = [{"text": text}], "end_turn", len(text_words(text))
        prompt_tokens, completion_tokens = reply.usage or (words, out_words)
        return {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": {"inputTokens": prompt_tokens, "outputTokens": completion_tokens,
                      "totalTokens": prompt_tokens + completion_tokens},
            "metrics": {"latencyMs": 1},
        }

    def _check_tool_config(self, config: Any) -> str | None:
        """Validate toolConfig; the name of the tool the request forces, if any."""
        if config is None:
            return None
        tools = config.get("tools") if isinstance(config, dict) else None
        if not isinstance(tools, list) or not tools:
            raise _Rejected(400, "ValidationException", "toolConfig.tools must be a non-empty list")
        names = []
        for tool in tools:
            spec = tool.get("toolSpec") if isinstance(tool, dict) else None
            if not isinstance(spec, dict) or not _TOOL_NAME.match(str(spec.get("name", ""))):
                raise _Rejected(400, "ValidationException",
                                "each tool needs a toolSpec with a name matching [a-zA-Z0-9_-]{1,64}")
            schema = (spec.get("inputSchema") or {}).get("json")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise _Rejected(400, "ValidationException",
                                "toolSpec.inputSchema.json must be a JSON schema of type object")
            names.append(spec["name"])
        choice = config.get("toolChoice")
        if choice is None or "auto" in choice or "any" in choice:
            return names[0] if choice is not None and "any" in choice and len(names) == 1 else None
        forced = (choice.get("tool") or {}).get("name")
        if forced not in names:
            raise _Rejected(400, "ValidationException",
                            f"toolChoice names {forced!r}, which is not among the tools {names}")
        return str(forced)

    # --- invoke_model (embeddings) ------------------------------------------------
    def _invoke(self, model: str, headers: dict[str, str],
                body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        if not headers.get("content-type", "").startswith("application/json"):
            raise _Rejected(400, "ValidationException", "contentType must be application/json")
        if "titan-embed-text-v2" in model or "titan-embed-text-v1" in model:
            return self._titan(model, body)
        if "cohere.embed" in model:
            return self._cohere(model, body)
        raise _Rejected(400, "ValidationException", "The provided model identifier is invalid.")

    def _titan(self, model: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        v2 = "v2" in model
        allowed = {"inputText", "dimensions", "normalize", "embeddingTypes"} if v2 else {"inputText"}
        if set(body) - allowed:
            raise _Rejected(400, "ValidationException",
                            f"Malformed input request: extraneous key {sorted(set(body) - allowed)} is not permitted")
        text = body.get("inputText")
        if not isinstance(text, str) or not text:
            raise _Rejected(400, "ValidationException", "Malformed input request: inputText must be a non-empty string")
        dimension = body.get("dimensions", 1024) if v2 else 1536
        if dimension not in (256, 512, 1024, 1536) or (v2 and dimension == 1536):
            raise _Rejected(400, "ValidationException", "dimensions must be one of 256, 512, 1024")
        normalize = body.get("normalize", True)
        tokens = len(text_words(text))
        vector = loopback_embedding(text, dimension, None, normalize=bool(normalize))
        payload: dict[str, Any] = {"embedding": vector, "inputTextTokenCount": tokens}
        if v2:
            payload["embeddingsByType"] = {"float": vector}
        return payload, {"x-amzn-bedrock-input-token-count": str(tokens)}

    def _cohere(self, model: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        v4 = "embed-v4" in model
        allowed = {"texts", "input_type", "truncate", "embedding_types", "images"}
        if v4:
            allowed |= {"output_dimension", "max_tokens", "inputs"}
        if set(body) - allowed:
            raise _Rejected(400, "ValidationException",
                            f"Malformed input request: extraneous key {sorted(set(body) - allowed)} is not permitted")
        texts = body.get("texts")
        if not isinstance(texts, list) or not 1 <= len(texts) <= 96 or not all(
                isinstance(t, str) and t for t in texts):
            raise _Rejected(400, "ValidationException", "texts must hold 1 to 96 non-empty strings")
        input_type = body.get("input_type")
        if input_type not in _COHERE_INPUT_TYPES:
            raise _Rejected(400, "ValidationException",
                            f"input_type must be one of {sorted(_COHERE_INPUT_TYPES)}")
        if body.get("truncate", "NONE") not in ("NONE", "START", "END"):
            raise _Rejected(400, "ValidationException", "truncate must be NONE, START or END")
        dimension = body.get("output_dimension", 1536) if v4 else 1024
        if dimension not in ((256, 512, 1024, 1536) if v4 else (1024,)):
            raise _Rejected(400, "ValidationException", "unsupported output_dimension")
        vectors = [loopback_embedding(t, dimension, input_type) for t in texts]
        tokens = sum(len(text_words(t)) for t in texts)
        types = body.get("embedding_types")
        payload: dict[str, Any] = {"id": _request_id(json.dumps(body).encode()), "texts": texts}
        if types is None:
            payload.update(embeddings=vectors, response_type="embeddings_floats")
        else:
            if types != ["float"]:
                raise _Rejected(400, "ValidationException", "this loopback serves embedding_types ['float'] only")
            payload.update(embeddings={"float": vectors}, response_type="embeddings_by_type")
        return payload, {"x-amzn-bedrock-input-token-count": str(tokens)}

    # --- rerank ---------------------------------------------------------------------
    def _rerank(self, body: dict[str, Any]) -> dict[str, Any]:
        queries = body.get("queries")
        if not isinstance(queries, list) or len(queries) != 1:
            raise _Rejected(400, "ValidationException", "queries must hold exactly one query")
        query = queries[0]
        if query.get("type") != "TEXT" or not isinstance((query.get("textQuery") or {}).get("text"), str):
            raise _Rejected(400, "ValidationException", "the query must be {type: TEXT, textQuery: {text}}")
        sources = body.get("sources")
        if not isinstance(sources, list) or not 1 <= len(sources) <= 1000:
            raise _Rejected(400, "ValidationException", "sources must hold 1 to 1000 documents")
        documents = []
        for source in sources:
            inline = source.get("inlineDocumentSource") or {}
            text = (inline.get("textDocument") or {}).get("text")
            if source.get("type") != "INLINE" or inline.get("type") != "TEXT" or not isinstance(text, str):
                raise _Rejected(400, "ValidationException",
                                "each source must be an INLINE TEXT document with textDocument.text")
            documents.append(text)
        config = body.get("rerankingConfiguration") or {}
        bedrock = config.get("bedrockRerankingConfiguration") or {}
        arn = (bedrock.get("modelConfiguration") or {}).get("modelArn", "")
        match = _RERANK_ARN.match(arn)
        if config.get("type") != "BEDROCK_RERANKING_MODEL" or not match:
            raise _Rejected(400, "ValidationException",
                            f"modelArn {arn!r} is not a rerank model ARN (amazon.rerank-v1:0 or "
                            "cohere.rerank-v3-5:0)")
        if match["region"] != self.region:
            raise _Rejected(400, "ValidationException", f"model ARN region differs from {self.region}")
        wanted = bedrock.get("numberOfResults", len(documents))
        if not isinstance(wanted, int) or not 1 <= wanted <= len(documents):
            raise _Rejected(400, "ValidationException", "numberOfResults must be in [1, number of sources]")
        with self._lock:
            scripted = self._scores.popleft() if self._scores else None
        text = query["textQuery"]["text"]
        if scripted is not None and len(scripted) != len(documents):
            raise _Rejected(400, "ValidationException",
                            f"loopback: {len(scripted)} scripted scores for {len(documents)} documents")
        scores = scripted or [loopback_relevance(text, d) for d in documents]
        order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))[:wanted]
        return {"results": [{"index": i, "relevanceScore": scores[i]} for i in order]}



def _text_block_words(blocks: Any, where: str) -> int:
    if not isinstance(blocks, list) or not blocks:
        raise _Rejected(400, "ValidationException", f"{where} must be a non-empty list of blocks")
    words = 0
    for block in blocks:
        text = block.get("text") if isinstance(block, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise _Rejected(400, "ValidationException",
                            f"The text field in the ContentBlock object in {where} is blank")
        words += len(text_words(text))
    return words


def sigv4_signature(secret_key: str, method: str, raw_path: str, headers: dict[str, str],
                    body: bytes, signed_headers: list[str], amz_date: str, region: str,
                    service: str) -> str:
    """The SigV4 signature of a request as received (written from the published
    algorithm, independently of botocore's signer)."""
    path, _, query = raw_path.partition("?")
    canonical_query = "&".join(sorted(
        f"{quote(unquote(k), safe='-_.~')}={quote(unquote(v), safe='-_.~')}"
        for k, _, v in (pair.partition("=") for pair in query.split("&") if pair)
    ))
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed_headers
    )
    payload_hash = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    canonical_request = "\n".join([
        method.upper(),
        quote(path, safe="/~"),  # non-S3 services encode the already-encoded path again
        canonical_query,
        canonical_headers,
        ";".join(signed_headers),
        payload_hash,
    ])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope,
        hashlib.sha256(canonical_request.encode()).hexdigest(),
    ])
    key = f"AWS4{secret_key}".encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _request_id(raw: bytes) -> str:
    return hashlib.sha1(raw).hexdigest()
