"""A tier-1 LLM as an author would write it from docs/provider-authors.md (a model
class whose one exchange goes through a transport), and broken variants of it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field

from memplane.errors import ProviderError, ProviderTimeout
from memplane.models import ChatMessage, Usage
from memplane.providers import wire
from memplane.providers.base import CONTRACT_VERSION, LLM, LLMResponse, ProviderConfig
from memplane.providers.retry import (
    RetryPolicy,
    acall_with_retries,
    call_with_retries,
    error_for_status,
)
from memplane_conformance.transport import TransportResponse


class ChatConfig(ProviderConfig):
    model: str = "tiny-chat"
    timeout: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    max_retry_wait: float = Field(default=60.0, ge=0)


class TransportChatLLM(LLM[ChatConfig]):
    """Honest: builds the request, maps statuses, parses defensively, retries."""

    name: ClassVar[str] = "transport_chat"
    Config = ChatConfig
    contract_version: ClassVar[int] = CONTRACT_VERSION
    capabilities: ClassVar[frozenset[str]] = frozenset({"json_schema", "async_native"})

    def __init__(self, config: Any = None, *, transport: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.transport = transport  # production builds an HTTP transport here

    def _request(self, messages: Sequence[ChatMessage], json_schema: dict[str, Any] | None,
                 schema_name: str, max_tokens: int | None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.config.model, "max_tokens": max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in messages]}
        if json_schema is not None:
            request["response_format"] = {"type": "json_schema", "json_schema": {
                "name": schema_name, "schema": json_schema}}
        return request

    def _parse(self, reply: TransportResponse, structured: bool) -> LLMResponse:
        if reply.status != 200:
            try:
                detail = str(reply.json()["error"]["message"])
            except (ValueError, KeyError, TypeError):
                detail = reply.body[:200].decode("utf-8", "replace")
            raise error_for_status(reply.status, provider=self.name, detail=detail,
                                   headers=reply.headers)
        try:
            body = reply.json()
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            raise wire.garbled(self.name, exc) from None
        body = wire.record(body, "the body", self.name)
        [choice, *_] = wire.records(wire.field(body, "choices"), "choices", self.name) or [None]
        choice = wire.record(choice, "choices[0]", self.name)
        message = wire.record(wire.field(choice, "message"), "the message", self.name)
        text = wire.text(wire.field(message, "content"), "the content", self.name) or ""
        usage = wire.record(wire.field(body, "usage"), "usage", self.name, optional=True)
        parsed = None
        if structured:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        return LLMResponse(
            text=text, structured=parsed if isinstance(parsed, dict) else None,
            usage=Usage(prompt_tokens=wire.token_count(usage, "prompt_tokens", self.name),
                        completion_tokens=wire.token_count(usage, "completion_tokens", self.name)),
            model=wire.text(wire.field(body, "model"), "model", self.name),
            finish_reason=wire.text(wire.field(choice, "finish_reason"), "finish_reason", self.name))

    def _translate(self, exc: Exception) -> BaseException:
        if isinstance(exc, TimeoutError):
            return ProviderTimeout(f"{self.name}: no answer within {self.config.timeout} s",
                                   provider=self.name)
        return ProviderError(f"{self.name}: {exc}", provider=self.name, retryable=False)

    def _policy(self) -> RetryPolicy:
        return RetryPolicy(max_retries=self.config.max_retries, max_wait=self.config.max_retry_wait)

    def generate(self, messages: Sequence[ChatMessage], *, json_schema: dict[str, Any] | None = None,
                 schema_name: str = "response", max_tokens: int | None = None) -> LLMResponse:
        request = self._request(messages, json_schema, schema_name, max_tokens)
        return call_with_retries(
            lambda: self._parse(self.transport.send(request, timeout=self.config.timeout),
                                json_schema is not None),
            self._policy(), self._translate)

    async def agenerate(self, messages: Sequence[ChatMessage], *,
                        json_schema: dict[str, Any] | None = None, schema_name: str = "response",
                        max_tokens: int | None = None) -> LLMResponse:
        request = self._request(messages, json_schema, schema_name, max_tokens)

        async def once() -> LLMResponse:
            reply = await self.transport.asend(request, timeout=self.config.timeout)
            return self._parse(reply, json_schema is not None)

        return await acall_with_retries(once, self._policy(), self._translate)


class SchemaInTextLLM(TransportChatLLM):
    """Declares ``json_schema`` but pastes the schema into the prompt instead of
    sending it as ``response_format``."""

    def _request(self, messages: Sequence[ChatMessage], json_schema: dict[str, Any] | None,
                 schema_name: str, max_tokens: int | None) -> dict[str, Any]:
        request = super()._request(messages, None, schema_name, max_tokens)
        if json_schema is not None:
            request["messages"][-1]["content"] += "\nAnswer with: " + json.dumps(json_schema)
        return request


class StatusBlindLLM(TransportChatLLM):
    """Reads every reply as a 200 (error bodies become empty answers)."""

    def _parse(self, reply: TransportResponse, structured: bool) -> LLMResponse:
        if reply.status != 200:
            return LLMResponse(text="", usage=Usage(prompt_tokens=1, completion_tokens=1))
        return super()._parse(reply, structured)
