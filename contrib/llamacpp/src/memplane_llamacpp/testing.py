"""Conformance harness: a scripted stand-in for the llama.cpp runtime.

The cloud plugins are checked against loopback servers that speak their wire
protocol; this provider's "wire" is the chat-completion dict it exchanges with the
in-process xllamacpp server, so :class:`ScriptedRuntime` answers that dict the way
llama.cpp does (content, finish_reason, usage, ``{"error": {...}}``) from a queue.
The provider code under test is the real one; only llama.cpp is replaced.

Live behavioural scenarios need a model that can actually do the task: set
``MEMPLANE_LLAMACPP_LIVE_MODEL`` to a GGUF path (a 135M model will not pass them).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from memplane.providers.base import LLM
from memplane_conformance.endpoint import Fault, RecordedRequest, ScriptedEndpoint
from memplane_conformance.harness import ProviderHarness

LIVE_MODEL_ENV = "MEMPLANE_LLAMACPP_LIVE_MODEL"
#: the suite's factory timeout: short, so the timeout fault is quick to provoke.
SCRIPTED_TIMEOUT = 0.3
_ERROR_CODES = {"auth": 401, "rate_limit": 429, "server_error": 500}


class ScriptedRuntime:
    """A runtime (``handle_chat_completions``) and a ``ScriptedEndpoint`` in one."""

    def __init__(self) -> None:
        self._queue: list[tuple[str, Any]] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    # ScriptedEndpoint -------------------------------------------------------------
    def enqueue_text(self, text: str) -> None:
        self._queue.append(("text", text))

    def enqueue_structured(self, obj: dict[str, Any]) -> None:
        # llama.cpp's structured channel is the content itself, constrained by grammar
        self._queue.append(("text", json.dumps(obj)))

    def enqueue_fault(self, fault: Fault, *, retry_after: float | None = None) -> None:
        self._queue.append(("fault", (fault, retry_after)))

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._requests)

    def json_schema_of(self, request: RecordedRequest) -> dict[str, Any] | None:
        fmt = request.body.get("response_format") if isinstance(request.body, dict) else None
        schema = (fmt or {}).get("json_schema", {}).get("schema")
        return schema if isinstance(schema, dict) else None

    def reset(self) -> None:
        self._queue.clear()
        self._requests.clear()

    # Runtime ----------------------------------------------------------------------
    def handle_chat_completions(self, request: dict[str, Any]) -> Any:
        with self._lock:
            self._requests.append(RecordedRequest("CALL", "chat/completions", {}, request))
            kind, value = self._queue.pop(0) if self._queue else ("text", "")
        if kind == "text":
            return _completion(request, value, "stop")
        retry_after = None
        if kind == "fault":
            value, retry_after = value
        if value == "malformed":
            return "<html>502 Bad Gateway</html>"
        if value == "timeout":  # llama.cpp stops at t_max_predict_ms with a cut-off answer
            time.sleep(request.get("t_max_predict_ms", 1000) / 1000 + 0.1)
            return _completion(request, '{"decisions": [', "length")
        code = _ERROR_CODES[value]
        error: dict[str, Any] = {"code": code, "message": f"scripted {value}", "type": value}
        if retry_after is not None:
            error["retry_after"] = retry_after
        return {"error": error}


def _completion(request: dict[str, Any], text: str, finish: str) -> dict[str, Any]:
    prompt = " ".join(str(m.get("content", "")) for m in request.get("messages", []))
    return {
        "choices": [{"index": 0, "finish_reason": finish,
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": max(1, len(prompt.split())),
                  "completion_tokens": max(1, len(text.split()))},
        "model": "scripted.gguf",
    }


class LlamaCppHarness(ProviderHarness):
    """``llms.llamacpp``: the real provider on a :class:`ScriptedRuntime`."""

    @contextlib.contextmanager
    def scripted_endpoint(self) -> Iterator[ScriptedEndpoint]:
        yield ScriptedRuntime()

    def llm_factory(self, endpoint: ScriptedEndpoint, tmp_path: Path) -> Callable[..., LLM]:
        from memplane_llamacpp.llm import LlamaCppLLM

        assert isinstance(endpoint, ScriptedRuntime)

        def make(**overrides: Any) -> LLM:
            config = {**self.provider_config(tmp_path), "timeout": SCRIPTED_TIMEOUT, **overrides}
            return LlamaCppLLM(config, runtime=endpoint)

        return make

    def live_config(self) -> dict[str, Any] | None:
        model = os.environ.get(LIVE_MODEL_ENV)
        return {**self.file_config, "model": model} if model else None
