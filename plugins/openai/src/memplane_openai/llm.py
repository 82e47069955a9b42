"""The LLM provider on Chat Completions: OpenAI, Azure OpenAI, OpenAI-compatible servers.

With a schema it asks for strict structured outputs (``structured_output:
json_schema``); servers without them use JSON mode with the schema in the prompt
(``json_object``) or plain text (``text``), and the core parses tolerantly.
Retries are memplane's shared policy (:mod:`memplane.providers.retry`), with the SDK's
own retries off; the answer is read defensively (:mod:`memplane.providers.wire`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from memplane.models import ChatMessage, Usage
from memplane.providers import wire
from memplane.providers.base import LLM, LLMResponse, ProviderConfig
from memplane.providers.retry import acall_with_retries, call_with_retries
from memplane_openai.clients import ClientHolder, check_credentials, retry_policy
from memplane_openai.config import AzureOpenAILLMConfig, OpenAILLMConfig
from memplane_openai.errors import map_openai_error
from memplane_openai.schema import NotStrictable, strict_schema, strip_introduced_nulls

_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")

_CAPABILITIES = {
    "json_schema": frozenset({"json_schema", "json_mode", "async_native"}),
    "json_object": frozenset({"json_mode", "async_native"}),
    "text": frozenset({"async_native"}),
}


def safe_name(name: str) -> str:
    """The API only accepts ``[a-zA-Z0-9_-]{1,64}`` for schema and participant names."""
    return (_NAME_UNSAFE.sub("_", name) or "response")[:64]


def schema_instruction(schema: dict[str, Any]) -> str:
    return (
        "Answer with one JSON object, and nothing else, that validates against this "
        f"JSON schema:\n{json.dumps(schema, separators=(',', ':'))}"
    )


@dataclass
class _Request:
    kwargs: dict[str, Any]
    schema: dict[str, Any] | None  # the caller's schema, to undo strict-mode nulls


class OpenAILLM(LLM):
    """Chat Completions on api.openai.com or any OpenAI-compatible ``base_url``."""

    name: ClassVar[str] = "openai"
    Config: ClassVar[type[ProviderConfig]] = OpenAILLMConfig
    capabilities: ClassVar[frozenset[str]] = _CAPABILITIES["json_schema"]
    config: Any

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        check_credentials(self.config, self.name)
        # the capabilities follow the configured output mode, not just the class
        self.capabilities = _CAPABILITIES[self.config.structured_output]  # type: ignore[misc]
        self._clients = ClientHolder(self.config)

    # --- request -----------------------------------------------------------------

    @property
    def model(self) -> str:
        return str(self.config.model)

    def _messages(self, messages: Sequence[ChatMessage], instruction: str | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for message in messages:
            if message.role == "tool":
                # a bare tool result has no tool_call_id to pair with: pass it as user text
                item: dict[str, Any] = {"role": "user", "content": f"Tool output:\n{message.content}"}
            else:
                item = {"role": message.role, "content": message.content}
            if message.name:
                item["name"] = safe_name(message.name)
            out.append(item)
        if instruction:
            out.insert(0, {"role": "system", "content": instruction})
        return out

    def _request(
        self,
        messages: Sequence[ChatMessage],
        json_schema: dict[str, Any] | None,
        schema_name: str,
        max_tokens: int | None,
    ) -> _Request:
        cfg = self.config
        kwargs: dict[str, Any] = {"model": self.model}
        instruction = None
        if json_schema is not None:
            if cfg.structured_output == "json_schema":
                kwargs["response_format"] = self._schema_format(json_schema, schema_name)
            else:
                instruction = schema_instruction(json_schema)
                if cfg.structured_output == "json_object":
                    kwargs["response_format"] = {"type": "json_object"}
        kwargs["messages"] = self._messages(messages, instruction)
        limit = max_tokens or cfg.max_tokens
        if limit is not None:
            kwargs[cfg.max_tokens_param] = limit
        if cfg.temperature is not None:
            kwargs["temperature"] = cfg.temperature
        return _Request(kwargs=kwargs, schema=json_schema)

    def _schema_format(self, schema: dict[str, Any], schema_name: str) -> dict[str, Any]:
        strict = self.config.strict
        sent = schema
        if strict:
            try:
                sent = strict_schema(schema)
            except NotStrictable:
                strict = False  # send it as given; the server then guides but does not enforce
        return {
            "type": "json_schema",
            "json_schema": {"name": safe_name(schema_name), "schema": sent, "strict": strict},
        }

    # --- response ----------------------------------------------------------------

    def _response(self, completion: Any, request: _Request) -> LLMResponse:
        name = self.name
        if isinstance(completion, str | bytes):
            # the SDK hands back the raw text of a body that is not JSON
            raise wire.garbled(name, f"a non-JSON body: {completion[:60]!r}")
        wire.record(completion, "the completion", name)
        choices = wire.records(wire.field(completion, "choices"), "choices", name)
        if not choices:
            raise wire.wrong_shape(name, "no choices in the completion")
        choice = choices[0]
        message = wire.record(wire.field(choice, "message"), "choices[0].message", name)
        text = wire.text(wire.field(message, "content"), "choices[0].message.content", name) or ""
        refusal = wire.text(wire.field(message, "refusal"), "choices[0].message.refusal", name)
        finish = wire.text(wire.field(choice, "finish_reason"), "choices[0].finish_reason", name)
        usage = wire.record(wire.field(completion, "usage"), "usage", name, optional=True)
        prompt_tokens = wire.token_count(usage, "prompt_tokens", name)
        completion_tokens = wire.token_count(usage, "completion_tokens", name)
        structured = None
        if request.schema is not None and text and not refusal:
            structured = _parse_object(text)
            if structured is not None and self.config.structured_output == "json_schema":
                structured = strip_introduced_nulls(structured, request.schema)
        model = wire.field(completion, "model")
        return LLMResponse(
            text=text or (refusal or ""),
            structured=structured,
            usage=Usage(llm_calls=1, prompt_tokens=prompt_tokens,
                        completion_tokens=completion_tokens),
            model=model if isinstance(model, str) else None,
            finish_reason="refusal" if refusal else finish,
        )

    def _translate(self, exc: Exception) -> BaseException:
        mapped = map_openai_error(exc, self.name)
        return mapped if mapped is not None else exc

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
        # the answer is parsed inside the retry loop: a garbled body is retried too
        return call_with_retries(
            lambda: self._response(
                self._clients.sync().chat.completions.create(**request.kwargs), request
            ),
            retry_policy(self.config),
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

        async def attempt() -> LLMResponse:
            completion = await self._clients.async_().chat.completions.create(**request.kwargs)
            return self._response(completion, request)

        return await acall_with_retries(attempt, retry_policy(self.config), self._translate)

    def close(self) -> None:
        self._clients.close()

    async def aclose(self) -> None:
        await self._clients.aclose()


class AzureOpenAILLM(OpenAILLM):
    """The same provider against an Azure OpenAI deployment."""

    name: ClassVar[str] = "azure_openai"
    Config: ClassVar[type[ProviderConfig]] = AzureOpenAILLMConfig


def _parse_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None  # e.g. cut off by max_tokens: the core's tolerant parser takes over
    return value if isinstance(value, dict) else None
