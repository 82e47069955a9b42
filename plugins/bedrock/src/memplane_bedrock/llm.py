"""Any Bedrock chat model through the Converse API, as a memplane LLM.

Structured output is a forced tool call: the JSON schema becomes the input schema
of one tool and ``toolChoice`` names it, so the model must answer with arguments
that follow the schema. Models without tool use can set ``structured_output: none``
and the core parses their text instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar, Literal

from pydantic import Field

from memplane.errors import ValidationError
from memplane.models import ChatMessage, Usage
from memplane.providers import wire
from memplane.providers.base import LLM, LLMResponse
from memplane_bedrock.errors import PROVIDER, with_retries
from memplane_bedrock.settings import BedrockConnection

_TOOL_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_ROLES = {"user": "user", "assistant": "assistant", "tool": "user"}
WRAPPED = "value"


def tool_name(schema_name: str) -> str:
    """Bedrock tool names must match ``[a-zA-Z0-9_-]{1,64}``."""
    return (_TOOL_NAME_CHARS.sub("_", schema_name)[:64]) or "response"


def tool_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Tool inputs must be objects: any other schema is wrapped as ``{"value": ...}``."""
    if schema.get("type") == "object":
        return schema
    return {"type": "object", "properties": {WRAPPED: schema}, "required": [WRAPPED]}


class BedrockLLMConfig(BedrockConnection):
    model: str = Field("amazon.nova-lite-v1:0", min_length=1,
                       description="model id, inference profile id or ARN")
    temperature: float | None = Field(0.0, ge=0.0, le=1.0)
    max_tokens: int | None = Field(4096, gt=0, description="default cap per answer")
    structured_output: Literal["tool", "none"] = Field(
        "tool", description="'tool' forces a tool call; 'none' for models without tool use"
    )
    additional_model_request_fields: dict[str, Any] | None = Field(
        None, description="model-specific fields passed through unchanged"
    )


class BedrockLLM(LLM):
    name: ClassVar[str] = "bedrock"
    Config = BedrockLLMConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"json_schema"})
    config: BedrockLLMConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        if self.config.structured_output == "none":
            self.capabilities = frozenset()  # type: ignore[misc]

    @cached_property
    def _client(self) -> Any:
        from memplane_bedrock.client import build_client

        return build_client(self.config, "bedrock-runtime")

    def _request(self, messages: Sequence[ChatMessage], json_schema: dict[str, Any] | None,
                 schema_name: str, max_tokens: int | None) -> dict[str, Any]:
        system = [{"text": m.content} for m in messages if m.role == "system" and m.content.strip()]
        turns: list[dict[str, Any]] = []
        for message in messages:
            if message.role == "system":
                continue
            role = _ROLES[message.role]
            text = message.content
            if message.role == "tool":
                text = f"[tool result{' ' + message.name if message.name else ''}]\n{text}"
            if not text.strip():
                continue  # Bedrock rejects blank text blocks
            if turns and turns[-1]["role"] == role:  # Converse wants alternating roles
                turns[-1]["content"].append({"text": text})
            else:
                turns.append({"role": role, "content": [{"text": text}]})
        if not turns or turns[0]["role"] != "user":
            raise ValidationError(
                "bedrock Converse needs the conversation to start with a non-empty user message"
            )
        c = self.config
        request: dict[str, Any] = {"modelId": c.model, "messages": turns}
        if system:
            request["system"] = system
        inference: dict[str, Any] = {}
        if max_tokens or c.max_tokens:
            inference["maxTokens"] = max_tokens or c.max_tokens
        if c.temperature is not None:
            inference["temperature"] = c.temperature
        if inference:
            request["inferenceConfig"] = inference
        if json_schema is not None and c.structured_output == "tool":
            name = tool_name(schema_name)
            request["toolConfig"] = {
                "tools": [{"toolSpec": {
                    "name": name,
                    "description": "Answer by calling this tool with arguments that follow its schema.",
                    "inputSchema": {"json": tool_input_schema(json_schema)},
                }}],
                "toolChoice": {"tool": {"name": name}},
            }
        if c.additional_model_request_fields:
            request["additionalModelRequestFields"] = c.additional_model_request_fields
        return request

    def _response(self, raw: Any, forced_tool: str | None,
                  wrapped: bool = False) -> LLMResponse:
        wire.record(raw, "the converse response", PROVIDER)
        if not set(raw) - {"ResponseMetadata"}:
            # botocore swallows a body it cannot decode as JSON (cut off, HTML, empty)
            # and hands back nothing but the response metadata
            raise wire.garbled(PROVIDER, "bedrock converse: an empty or undecodable body")
        output = wire.record(wire.field(raw, "output"), "output", PROVIDER)
        message = wire.record(wire.field(output, "message"), "output.message", PROVIDER)
        content = wire.records(wire.field(message, "content"), "output.message.content",
                               PROVIDER)
        texts: list[str] = []
        structured: dict[str, Any] | None = None
        for i, block in enumerate(content):
            value = wire.text(wire.field(block, "text"), f"content[{i}].text", PROVIDER)
            if value is not None:
                texts.append(value)
            use = wire.field(block, "toolUse")
            if (structured is None and use and forced_tool
                    and wire.field(use, "name") == forced_tool
                    and isinstance(wire.field(use, "input"), dict)):
                structured = wire.field(use, "input")
        text = "".join(texts)
        if structured is not None and wrapped:
            value = structured.get(WRAPPED)
            structured = value if isinstance(value, dict) else None
            text = text or json.dumps(value)
        elif structured is not None and not text:
            text = json.dumps(structured)
        usage = wire.record(wire.field(raw, "usage"), "usage", PROVIDER, optional=True)
        stop = wire.field(raw, "stopReason")
        return LLMResponse(
            text=text,
            structured=structured,
            usage=Usage(llm_calls=1, prompt_tokens=wire.token_count(usage, "inputTokens", PROVIDER),
                        completion_tokens=wire.token_count(usage, "outputTokens", PROVIDER)),
            model=self.config.model,
            finish_reason=stop if isinstance(stop, str) else None,
        )

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        request = self._request(messages, json_schema, schema_name, max_tokens)
        forced = request.get("toolConfig", {}).get("toolChoice", {}).get("tool", {}).get("name")
        wrapped = forced is not None and json_schema is not None and json_schema.get("type") != "object"
        # the answer is read inside the retry loop: a garbled body is retried too
        return with_retries(
            lambda: self._response(self._client.converse(**request), forced, wrapped),
            self.config, what="bedrock converse",
        )

    def close(self) -> None:
        client = self.__dict__.pop("_client", None)
        if client is not None:
            client.close()
