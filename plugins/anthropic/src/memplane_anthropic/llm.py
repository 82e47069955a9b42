"""The LLM provider on the Anthropic Messages API.

With a schema it forces a tool call whose ``input_schema`` is that schema
(``tool_choice: {"type": "tool", "name": ...}``) and returns the tool input as the
structured answer. System messages become the ``system`` parameter; roles are merged
so user and assistant turns alternate as the API requires.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from memplane.errors import ConfigurationError, ValidationError
from memplane.models import ChatMessage, Usage
from memplane.providers import wire
from memplane.providers.base import LLM, LLMResponse, ProviderConfig
from memplane.providers.retry import RetryPolicy, acall_with_retries, call_with_retries
from memplane_anthropic.config import AnthropicConfig
from memplane_anthropic.errors import map_anthropic_error

_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
#: key under which a non-object schema is wrapped (tool inputs must be objects)
WRAPPED = "value"
TOOL_DESCRIPTION = (
    "Give your answer by calling this tool. Its input must follow the input schema exactly."
)


def tool_name(schema_name: str) -> str:
    """Tool names must match ``[a-zA-Z0-9_-]{1,64}``."""
    return (_NAME_UNSAFE.sub("_", schema_name) or "response")[:64]


def schema_instruction(schema: dict[str, Any]) -> str:
    return (
        "Answer with one JSON object, and nothing else, that validates against this "
        f"JSON schema:\n{json.dumps(schema, separators=(',', ':'))}"
    )


@dataclass
class _Request:
    kwargs: dict[str, Any]
    tool: str | None = None
    wrapped: bool = False


def conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """(system prompt, alternating user/assistant turns starting with user)."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system.append(message.content)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        content = message.content
        if message.role == "tool":
            content = f"Tool output:\n{content}"
        if message.name:
            content = f"{message.name}: {content}"  # the API has no participant names
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += f"\n\n{content}"
        else:
            turns.append({"role": role, "content": content})
    if not turns:
        raise ValidationError(
            "the Messages API needs at least one user or assistant message besides the system prompt"
        )
    if turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": "(the conversation so far)"})
    return "\n\n".join(system), turns


class AnthropicLLM(LLM):
    """Claude through the Messages API, with the native async client for ``agenerate``."""

    name: ClassVar[str] = "anthropic"
    Config: ClassVar[type[ProviderConfig]] = AnthropicConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"json_schema", "async_native"})
    config: Any

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        if not (self.config.api_key or os.environ.get("ANTHROPIC_API_KEY")):
            raise ConfigurationError(
                f"{self.name}: no API key; set `api_key` in the provider config or ANTHROPIC_API_KEY"
            )
        if self.config.structured_output == "text":
            self.capabilities = frozenset({"async_native"})  # type: ignore[misc]
        self._sync: Any = None
        self._async: tuple[asyncio.AbstractEventLoop, Any] | None = None

    # --- clients -----------------------------------------------------------------

    def _client(self, *, asynchronous: bool) -> Any:
        import anthropic  # lazy: loading the provider must not import the SDK

        cfg = self.config
        cls = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
        return cls(
            api_key=cfg.api_key.get_secret_value() if cfg.api_key else None,
            base_url=cfg.base_url,
            timeout=cfg.timeout,
            max_retries=0,  # retries are memplane's: see memplane.providers.retry
            default_headers=cfg.default_headers or None,
        )

    def _sync_client(self) -> Any:
        if self._sync is None:
            self._sync = self._client(asynchronous=False)
        return self._sync

    def _async_client(self) -> Any:
        # an async HTTP pool belongs to the loop that made it; callers may run several
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            self._async = (loop, self._client(asynchronous=True))
        return self._async[1]

    # --- request and response ------------------------------------------------------

    def _request(
        self,
        messages: Sequence[ChatMessage],
        json_schema: dict[str, Any] | None,
        schema_name: str,
        max_tokens: int | None,
    ) -> _Request:
        cfg = self.config
        system, turns = conversation(messages)
        request = _Request(kwargs={
            "model": cfg.model,
            "max_tokens": max_tokens or cfg.max_tokens,
            "messages": turns,
        })
        if json_schema is not None and cfg.structured_output == "tool":
            schema = json_schema
            if json_schema.get("type") != "object":
                schema = {"type": "object", "properties": {WRAPPED: json_schema}, "required": [WRAPPED]}
                request.wrapped = True
            request.tool = tool_name(schema_name)
            request.kwargs["tools"] = [
                {"name": request.tool, "description": TOOL_DESCRIPTION, "input_schema": schema}
            ]
            request.kwargs["tool_choice"] = {"type": "tool", "name": request.tool}
        elif json_schema is not None:
            system = "\n\n".join(part for part in (system, schema_instruction(json_schema)) if part)
        if system:
            request.kwargs["system"] = system
        if cfg.temperature is not None:
            # recent SDK releases dropped the keyword; the API field still works
            request.kwargs["extra_body"] = {"temperature": cfg.temperature}
        return request

    def _response(self, message: Any, request: _Request) -> LLMResponse:
        name = self.name
        if isinstance(message, str | bytes):
            # the SDK hands back the raw text of a body that is not JSON
            raise wire.garbled(name, f"a non-JSON body: {message[:60]!r}")
        wire.record(message, "the message", name)
        blocks = wire.records(wire.field(message, "content"), "content", name)
        texts: list[str] = []
        structured = None
        tool_text: str | None = None
        for i, block in enumerate(blocks):
            kind = wire.field(block, "type")
            if kind == "text":
                texts.append(wire.text(wire.field(block, "text"), f"content[{i}].text", name) or "")
            elif kind == "tool_use" and wire.field(block, "name") == request.tool and tool_text is None:
                value = wire.field(block, "input")
                if request.wrapped and isinstance(value, dict):
                    value = value.get(WRAPPED)
                structured = value if isinstance(value, dict) else None
                tool_text = json.dumps(value)
        usage = wire.record(wire.field(message, "usage"), "usage", name, optional=True)
        prompt = sum(
            wire.token_count(usage, key, name)
            for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        )
        model = wire.field(message, "model")
        stop = wire.text(wire.field(message, "stop_reason"), "stop_reason", name)
        return LLMResponse(
            text="".join(texts) if texts else (tool_text or ""),
            structured=structured,
            usage=Usage(
                llm_calls=1,
                prompt_tokens=prompt,
                completion_tokens=wire.token_count(usage, "output_tokens", name),
            ),
            model=model if isinstance(model, str) else None,
            finish_reason=stop,
        )

    def _translate(self, exc: Exception) -> BaseException:
        mapped = map_anthropic_error(exc, self.name)
        return mapped if mapped is not None else exc

    def _policy(self) -> RetryPolicy:
        return RetryPolicy(max_retries=self.config.max_retries, max_wait=self.config.max_retry_wait)

    # --- the contract ------------------------------------------------------------

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        request = self._request(messages, json_schema, schema_name, max_tokens)
        # the answer is read inside the retry loop: a garbled body is retried too
        return call_with_retries(
            lambda: self._response(self._sync_client().messages.create(**request.kwargs), request),
            self._policy(),
            self._translate,
        )

    async def agenerate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        request = self._request(messages, json_schema, schema_name, max_tokens)
        client = self._async_client()

        async def attempt() -> LLMResponse:
            return self._response(await client.messages.create(**request.kwargs), request)

        return await acall_with_retries(attempt, self._policy(), self._translate)

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        self.close()
        if self._async is not None:
            loop, client = self._async
            self._async = None
            if loop is asyncio.get_running_loop():
                await client.close()
