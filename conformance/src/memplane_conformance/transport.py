"""Tier 1 for LLM authors: a model class and its parameters, driven through a
scripted transport (no server, no sockets).

Write your LLM so that its one network exchange goes through a *transport*: an object
with ``send(request, *, timeout)`` (and ``asend`` for an ``async_native`` model) that
takes an OpenAI-style chat-completions request dict and returns a
:class:`TransportResponse` (status, headers, body bytes), or raises ``TimeoutError``.
In production the transport posts the dict to your API (translating it if your API
speaks another shape); in the suite, :class:`ScriptedTransport` answers from a queue::

    import pytest
    from memplane_conformance.transport import TransportLLMContract
    from my_package.llm import MyLLM

    class TestMyLLM(TransportLLMContract):
        @pytest.fixture
        def llm_class(self):
            return MyLLM              # constructed as MyLLM({**llm_params, **overrides},
                                      #                      transport=<ScriptedTransport>)

        @pytest.fixture
        def llm_params(self):
            return {"model": "my-model", "timeout": 1.0}

Everything :class:`~memplane_conformance.LLMContract` checks runs, with the faults as
HTTP statuses and headers: parsing of every reply shape through the real pipeline,
the request carrying the JSON schema (``response_format``), usage on every path,
sync and async error mapping (401, 429 with ``Retry-After``, 500, timeout,
unparsable body), bounded retries, and the malformed-response corpus. What only a
server can show (your SDK's HTTP handling, the retry-wait policy) is tier 2: the
real client against a :class:`~memplane_conformance.loopback.LoopbackServer`.

The wire, both ways:

- request: ``{"model": ..., "messages": [{"role": ..., "content": ...}, ...],
  "max_tokens": int | None, "response_format": {"type": "json_schema",
  "json_schema": {"name": ..., "schema": {...}}}}`` (``response_format`` only when
  asked for a schema; ``{"type": "json_object"}`` for JSON mode);
- 200 body: ``{"choices": [{"index": 0, "message": {"role": "assistant",
  "content": "..."}, "finish_reason": "stop"}], "usage": {"prompt_tokens": n,
  "completion_tokens": m}, "model": "..."}`` (a structured reply is the JSON text
  in ``content``);
- errors: status 401 / 429 (``Retry-After`` header when the fault carries one) /
  500 with ``{"error": {"message": ..., "type": ...}}``; a timeout raises
  ``TimeoutError`` from ``send``; an unparsable body comes with status 200.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import pytest

from memplane.providers.base import LLM
from memplane_conformance.endpoint import Fault, RecordedRequest
from memplane_conformance.llm import LLMContract
from memplane_conformance.malformed import DELETE, reshape

_JSON = {"content-type": "application/json"}
_FAULTS: dict[str, tuple[int, str]] = {
    "auth": (401, "invalid_api_key"),
    "rate_limit": (429, "rate_limit_exceeded"),
    "server_error": (500, "server_error"),
}
#: the malformed-response corpus's shape cases on this wire
SHAPES: dict[str, list[tuple[tuple[str | int, ...], Any]]] = {
    "answers_null_entry": [(("choices", 0), None)],
    "answers_not_list": [(("choices",), "none")],
    "message_missing": [(("choices", 0, "message"), DELETE)],
    "message_not_object": [(("choices", 0, "message"), "text")],
    "text_not_string": [(("choices", 0, "message", "content"), 42)],
    "text_is_object": [(("choices", 0, "message", "content"), {"text": "x"})],
    "usage_not_integer": [(("usage", "prompt_tokens"), "3")],
    "usage_not_object": [(("usage",), [3, 4])],
}


@dataclass(frozen=True)
class TransportResponse:
    """What one exchange returned: the HTTP status, headers (lower-case names) and body."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not)."""
        return json.loads(self.body.decode("utf-8"))


@runtime_checkable
class ChatTransport(Protocol):
    """Where a tier-1 model sends its chat-completions request."""

    def send(self, request: dict[str, Any], *, timeout: float | None = None) -> TransportResponse:
        """One exchange; raises ``TimeoutError`` when no answer came in time."""

    async def asend(self, request: dict[str, Any], *,
                    timeout: float | None = None) -> TransportResponse:
        """The async twin of :meth:`send`."""


def _check_request(request: Any) -> None:
    """The transport refuses a request that is not the documented shape, so a model
    that builds it wrongly fails loudly here instead of deep in a test."""
    assert isinstance(request, dict), f"the request must be a dict, got {type(request).__name__}"
    messages = request.get("messages")
    assert isinstance(messages, list) and messages, "the request needs a non-empty 'messages' list"
    for m in messages:
        assert isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(
            m.get("content"), str), f"each message is {{'role': str, 'content': str}}, got {m!r}"
    fmt = request.get("response_format")
    if fmt is not None:
        assert isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"), (
            f"response_format must be json_schema or json_object, got {fmt!r}")
    json.dumps(request)  # the request must be plain JSON data


class ScriptedTransport:
    """A :class:`ChatTransport` answering from a FIFO of scripted replies; also a
    :class:`~memplane_conformance.endpoint.ScriptedEndpoint` and a
    :class:`~memplane_conformance.malformed.MalformedWire` for the suite."""

    def __init__(self) -> None:
        self._queue: list[TransportResponse | Fault] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    # ScriptedEndpoint ---------------------------------------------------------------
    def enqueue_text(self, text: str) -> None:
        self.enqueue_raw(200, json.dumps(self.well_formed_body(text)).encode(), dict(_JSON))

    def enqueue_structured(self, obj: dict[str, Any]) -> None:
        self.enqueue_text(json.dumps(obj))

    def enqueue_fault(self, fault: Fault, *, retry_after: float | None = None) -> None:
        if fault in _FAULTS:
            status, kind = _FAULTS[fault]
            headers = dict(_JSON)
            if retry_after is not None:
                headers["retry-after"] = f"{retry_after:g}"
            body = {"error": {"message": f"scripted {fault}", "type": kind}}
            self.enqueue_raw(status, json.dumps(body).encode(), headers)
        elif fault == "malformed":
            self.enqueue_raw(200, b"<html><body>502 Bad Gateway</body></html>",
                             {"content-type": "text/html"})
        else:  # timeout
            with self._lock:
                self._queue.append(fault)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def json_schema_of(self, request: RecordedRequest) -> dict[str, Any] | None:
        fmt = request.body.get("response_format") if isinstance(request.body, dict) else None
        schema = ((fmt or {}).get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else None

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._requests.clear()

    # MalformedWire ------------------------------------------------------------------
    def enqueue_raw(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._queue.append(TransportResponse(status, body, {k.lower(): v for k, v in
                                                                (headers or {}).items()}))

    def well_formed_body(self, text: str) -> dict[str, Any]:
        return {"choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 12, "completion_tokens": max(1, len(text.split()))},
                "model": "scripted"}

    def malformed_body(self, case: str, text: str) -> Any:
        return reshape(self.well_formed_body(text), SHAPES.get(case))

    # ChatTransport ------------------------------------------------------------------
    def send(self, request: dict[str, Any], *, timeout: float | None = None) -> TransportResponse:
        _check_request(request)
        with self._lock:
            self._requests.append(RecordedRequest("POST", "chat/completions", {},
                                                  copy.deepcopy(request)))
            reply = self._queue.pop(0) if self._queue else None
        if reply is None:
            return TransportResponse(200, json.dumps(self.well_formed_body("")).encode(), _JSON)
        if reply == "timeout":
            raise TimeoutError(f"scripted: no answer within {timeout} s")
        assert isinstance(reply, TransportResponse)
        return reply

    async def asend(self, request: dict[str, Any], *,
                    timeout: float | None = None) -> TransportResponse:
        return self.send(request, timeout=timeout)


class TransportLLMContract(LLMContract):
    """:class:`~memplane_conformance.LLMContract` for a model class taking a
    ``transport=`` keyword. Needs the fixtures ``llm_class`` and ``llm_params``."""

    _memplane_suite_class: ClassVar[bool] = True

    @pytest.fixture
    def scripted_endpoint(self) -> ScriptedTransport:
        return ScriptedTransport()

    @pytest.fixture
    def llm_factory(self, llm_class: type[LLM], llm_params: dict[str, Any],
                    scripted_endpoint: ScriptedTransport) -> Callable[..., LLM]:
        def make(**overrides: Any) -> LLM:
            return llm_class({**llm_params, **overrides},  # type: ignore[call-arg]
                             transport=scripted_endpoint)

        return make
