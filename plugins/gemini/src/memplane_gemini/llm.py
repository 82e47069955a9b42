"""Gemini chat models as a memplane LLM (structured output through a response JSON schema)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar

from pydantic import Field

from memplane.errors import ProviderError, ValidationError
from memplane.models import ChatMessage, Usage
from memplane.providers import wire
from memplane.providers.base import LLM, LLMResponse
from memplane.providers.retry import acall_with_retries, call_with_retries
from memplane_gemini.errors import PROVIDER, body_length, map_error
from memplane_gemini.settings import GeminiConnection, retry_policy

#: memplane roles -> Gemini content roles ("system" goes to the system instruction).
_ROLES = {"user": "user", "assistant": "model", "tool": "user"}


class GeminiLLMConfig(GeminiConnection):
    model: str = Field("gemini-2.5-flash", min_length=1)
    temperature: float | None = Field(0.0, ge=0.0, le=2.0)
    max_output_tokens: int | None = Field(None, gt=0, description="default cap per answer")
    thinking_budget: int | None = Field(
        None, ge=-1, description="tokens the model may spend thinking (0 disables, -1 dynamic)"
    )


class GeminiLLM(LLM):
    """Gemini through google-genai, on the Gemini API or Vertex AI."""

    name: ClassVar[str] = "gemini"
    Config = GeminiLLMConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"json_schema", "json_mode", "async_native"})
    config: GeminiLLMConfig

    @cached_property
    def _client(self) -> Any:
        from memplane_gemini.client import build_client

        return build_client(self.config)

    # --- request --------------------------------------------------------------
    def _request(
        self, messages: Sequence[ChatMessage], json_schema: dict[str, Any] | None,
        max_tokens: int | None,
    ) -> tuple[list[Any], Any]:
        from google.genai import types

        system = [m.content for m in messages if m.role == "system"]
        contents: list[Any] = []
        for message in messages:
            if message.role == "system":
                continue
            role = _ROLES[message.role]
            text = message.content
            if message.role == "tool":
                text = f"[tool result{' ' + message.name if message.name else ''}]\n{text}"
            if contents and contents[-1].role == role:  # Gemini wants alternating turns
                contents[-1].parts.append(types.Part(text=text))
            else:
                contents.append(types.Content(role=role, parts=[types.Part(text=text)]))
        if not contents:
            raise ValidationError(
                "gemini needs at least one user or assistant message besides system messages"
            )
        c = self.config
        options: dict[str, Any] = {
            "system_instruction": "\n\n".join(system) if system else None,
            "temperature": c.temperature,
            "max_output_tokens": max_tokens or c.max_output_tokens,
        }
        if c.thinking_budget is not None:
            options["thinking_config"] = types.ThinkingConfig(thinking_budget=c.thinking_budget)
        if json_schema is not None:
            options["response_mime_type"] = "application/json"
            options["response_json_schema"] = json_schema
        return contents, types.GenerateContentConfig(**options)

    # --- response -------------------------------------------------------------
    def _response(self, raw: Any, json_schema: dict[str, Any] | None) -> LLMResponse:
        wire.record(raw, "the response", PROVIDER)
        candidates = wire.records(wire.field(raw, "candidates"), "candidates", PROVIDER,
                                  optional=True)
        feedback = wire.field(raw, "prompt_feedback")
        if not candidates and feedback is None:
            # neither an answer nor the reason there is none. The SDK makes the same empty
            # response of an empty body (garbled) and of JSON it does not know (wrong shape)
            if body_length(raw) == 0:
                raise wire.garbled(PROVIDER, "an empty body")
            raise wire.wrong_shape(PROVIDER, "no candidates and no prompt feedback")
        if not candidates:
            reason = wire.field(feedback, "block_reason") or "no candidates"
            raise ProviderError(
                f"gemini returned no answer ({reason}); rephrase the input or review the "
                "safety settings",
                provider=PROVIDER, retryable=False,
            )
        candidate = candidates[0]
        if wire.field(candidate, "content") is None and wire.field(candidate, "finish_reason") is None:
            # a blocked candidate says why (finish_reason); this one says nothing. The SDK
            # builds such a Candidate() from a null entry or from a non-list `candidates`
            raise wire.wrong_shape(PROVIDER, "candidates[0] has neither content nor finishReason")
        content = wire.record(wire.field(candidate, "content"), "candidates[0].content",
                              PROVIDER, optional=True)
        parts = wire.records(wire.field(content, "parts"), "candidates[0].content.parts",
                             PROVIDER, optional=True)
        texts = []
        for i, part in enumerate(parts):
            value = wire.text(wire.field(part, "text"), f"parts[{i}].text", PROVIDER)
            if value and not wire.field(part, "thought", False):
                texts.append(wire.undamaged(value, f"parts[{i}].text", PROVIDER))
        text = "".join(texts)
        structured: dict[str, Any] | None = None
        if json_schema is not None and text:
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None  # e.g. cut off at MAX_TOKENS: core falls back to tolerant parsing
            structured = parsed if isinstance(parsed, dict) else None
        meta = wire.record(wire.field(raw, "usage_metadata"), "usage_metadata", PROVIDER,
                           optional=True)
        usage = Usage(
            llm_calls=1,
            prompt_tokens=wire.token_count(meta, "prompt_token_count", PROVIDER),
            # thinking tokens are billed as output
            completion_tokens=wire.token_count(meta, "candidates_token_count", PROVIDER)
            + wire.token_count(meta, "thoughts_token_count", PROVIDER),
        )
        finish = wire.field(candidate, "finish_reason")
        model = wire.field(raw, "model_version")
        return LLMResponse(
            text=text,
            structured=structured,
            usage=usage,
            model=model if isinstance(model, str) and model else self.config.model,
            finish_reason=str(getattr(finish, "value", finish)) if finish is not None else None,
        )

    # --- the contract -----------------------------------------------------------
    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        contents, config = self._request(messages, json_schema, max_tokens)
        # the answer is read inside the retry loop: a garbled body is retried too
        return call_with_retries(
            lambda: self._response(self._client.models.generate_content(
                model=self.config.model, contents=contents, config=config
            ), json_schema),
            retry_policy(self.config),
            map_error,
        )

    async def agenerate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        contents, config = self._request(messages, json_schema, max_tokens)

        async def attempt() -> LLMResponse:
            raw = await self._client.aio.models.generate_content(
                model=self.config.model, contents=contents, config=config
            )
            return self._response(raw, json_schema)

        return await acall_with_retries(attempt, retry_policy(self.config), map_error)

    def close(self) -> None:
        client = self.__dict__.pop("_client", None)
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        client = self.__dict__.pop("_client", None)
        if client is not None:
            await client.aio.aclose()
            client.close()
