"""Broken embedders and LLMs for the holes conformance v2 closes. Each differs from
an honest built-in (``hashing``, ``scripted``) in one way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import ProviderError, RateLimitError
from memplane.llms.scripted import ScriptedLLM
from memplane.models import Usage
from memplane.providers.base import LLMResponse


class ShuffledChunksEmbedder(HashingEmbedder):
    """Embeds in chunks of 16 and returns the chunks last first."""

    name: ClassVar[str] = "shuffled_chunks"

    def embed(self, texts: Sequence[str], *, purpose: str = "document") -> Any:
        chunks = [list(texts[i:i + 16]) for i in range(0, len(texts), 16)]
        out: list[list[float]] = []
        for chunk in reversed(chunks):
            out.extend(list(v) for v in super().embed(chunk, purpose=purpose))  # type: ignore[arg-type]
        return out


class NinthTextWrongDimensionEmbedder(HashingEmbedder):
    """From the 9th text of a batch on, returns vectors one element short."""

    name: ClassVar[str] = "ninth_text_wrong_dimension"

    def embed(self, texts: Sequence[str], *, purpose: str = "document") -> Any:
        vectors = [list(v) for v in super().embed(texts, purpose=purpose)]  # type: ignore[arg-type]
        return [v[:-1] if i >= 8 else v for i, v in enumerate(vectors)]


class AsyncUsageDroppedLLM(ScriptedLLM):
    """``agenerate`` loses the token usage."""

    name: ClassVar[str] = "async_usage_dropped"

    async def agenerate(self, messages: Any, **kwargs: Any) -> LLMResponse:
        response = await super().agenerate(messages, **kwargs)
        return response.model_copy(update={"usage": Usage()})


class AsyncMismappedRateLimitLLM(ScriptedLLM):
    """``agenerate`` turns a 429 into a plain ``ProviderError``."""

    name: ClassVar[str] = "async_mismapped_429"

    async def agenerate(self, messages: Any, **kwargs: Any) -> LLMResponse:
        try:
            return await super().agenerate(messages, **kwargs)
        except RateLimitError as exc:
            raise ProviderError(str(exc), provider=self.name, retryable=True) from None


class NoRetryAfterLLM(ScriptedLLM):
    """Raises ``RateLimitError`` without the server's Retry-After."""

    name: ClassVar[str] = "no_retry_after"

    def generate(self, messages: Any, **kwargs: Any) -> LLMResponse:
        try:
            return super().generate(messages, **kwargs)
        except RateLimitError as exc:
            raise RateLimitError(str(exc), provider=self.name) from None


class ZeroUsageStructuredLLM(ScriptedLLM):
    """Reports no token usage for structured (schema) replies, the pipeline's path."""

    name: ClassVar[str] = "zero_usage_structured"

    def generate(self, messages: Any, **kwargs: Any) -> LLMResponse:
        response = super().generate(messages, **kwargs)
        if kwargs.get("json_schema") is not None:
            return response.model_copy(update={"usage": Usage()})
        return response


class FakeAsyncNativeLLM(ScriptedLLM):
    """Declares ``async_native`` while ``agenerate`` is the base class's thread wrapper."""

    name: ClassVar[str] = "fake_async_native"

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        setattr(self, "capabilities", self.capabilities | {"async_native"})  # noqa: B010


class InlineSyncAsyncLLM(ScriptedLLM):
    """Declares ``async_native`` with an ``agenerate`` of its own that calls the sync
    ``generate`` inside the coroutine (blocking the event loop)."""

    name: ClassVar[str] = "inline_sync_async"

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        setattr(self, "capabilities", self.capabilities | {"async_native"})  # noqa: B010

    async def agenerate(self, messages: Any, **kwargs: Any) -> LLMResponse:
        return self.generate(messages, **kwargs)
