"""Gemini chat models as a memplane LLM (structured output through a response JSON schema)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar

from pydantic import Field

from memplane.errors import ProviderError, ValidationError
from memplane.models import ChatMessage, Usage
from memplane.providers.base import LLM, LLMResponse
from memplane_gemini.errors import PROVIDER, map_error
from memplane_gemini.retry import RetryPolicy, acall, call
from memplane_gemini.settings import GeminiConnection

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

    @property
    def _policy(self) -> RetryPolicy:
        c = self.config
        return RetryPolicy(c.max_retries, c.retry_initial_delay, c.retry_max_delay)

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
        candidates = raw.candidates or []
        if not candidates:
            feedback = getattr(raw, "prompt_feedback", None)
            reason = getattr(feedback, "block_reason", None) or "no candidates"
            raise ProviderError(
                f"gemini returned no answer ({reason}); rephrase the input or review the "
                "safety settings",
                provider=PROVIDER, retryable=False,
            )
        candidate = candidates[0]
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        text = "".join(p.text for p in parts if p.text and not getattr(p, "thought", False))
        structured: dict[str, Any] | None = None
        if json_schema is not None and text:
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None  # e.g. cut off at MAX_TOKENS: core falls back to tolerant parsing
            structured = parsed if isinstance(parsed, dict) else None
        meta = raw.usage_metadata
        usage = Usage(
            llm_calls=1,
            prompt_tokens=(meta.prompt_token_count or 0) if meta else 0,
            # thinking tokens are billed as output
            completion_tokens=((meta.candidates_token_count or 0)
                               + (meta.thoughts_token_count or 0)) if meta else 0,
        )
        finish = candidate.finish_reason
        return LLMResponse(
            text=text,
            structured=structured,
            usage=usage,
            model=raw.model_version or self.config.model,
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
        raw = call(
            lambda: self._client.models.generate_content(
                model=self.config.model, contents=contents, config=config
            ),
            self._policy,
            map_error,
        )
        return self._response(raw, json_schema)

    async def agenerate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        contents, config = self._request(messages, json_schema, max_tokens)
        raw = await acall(
            lambda: self._client.aio.models.generate_content(
                model=self.config.model, contents=contents, config=config
            ),
            self._policy,
            map_error,
        )
        return self._response(raw, json_schema)

    def close(self) -> None:
        client = self.__dict__.pop("_client", None)
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        client = self.__dict__.pop("_client", None)
        if client is not None:
            await client.aio.aclose()
            client.close()
