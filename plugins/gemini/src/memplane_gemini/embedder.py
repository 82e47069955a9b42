"""Gemini embeddings (gemini-embedding-001 by default) as a memplane embedder.

Documents and queries are embedded with different task types, which is what the
retrieval-tuned models expect; vectors are cut to ``output_dimensionality`` by the
service and re-normalised here (the service only normalises full-size vectors).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property, partial
from typing import Any, ClassVar

from pydantic import Field, model_validator

from memplane.errors import ProviderError, ValidationError
from memplane.providers import wire
from memplane.providers.base import Embedder, Purpose, Vectors
from memplane.providers.retry import acall_with_retries, call_with_retries
from memplane_gemini.errors import PROVIDER, body_length, map_error
from memplane_gemini.settings import GeminiConnection, retry_policy

#: full vector size of models we know, used when output_dimensionality is unset.
NATIVE_DIMENSIONS = {
    "gemini-embedding-001": 3072,
    "text-embedding-005": 768,
    "text-embedding-004": 768,
    "text-multilingual-embedding-002": 768,
}
TASK_TYPES = frozenset({
    "RETRIEVAL_DOCUMENT", "RETRIEVAL_QUERY", "SEMANTIC_SIMILARITY", "CLASSIFICATION",
    "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY",
})
#: the Gemini API accepts at most this many texts per batchEmbedContents call.
MAX_BATCH = 100


class GeminiEmbedderConfig(GeminiConnection):
    model: str = Field("gemini-embedding-001", min_length=1)
    output_dimensionality: int | None = Field(
        768, gt=0, description="vector size; None keeps the model's full size"
    )
    document_task_type: str = "RETRIEVAL_DOCUMENT"
    query_task_type: str = "RETRIEVAL_QUERY"
    batch_size: int = Field(MAX_BATCH, ge=1, le=MAX_BATCH)
    normalize: bool = Field(True, description="L2-normalise every vector")

    @model_validator(mode="after")
    def _check(self) -> GeminiEmbedderConfig:
        for task in (self.document_task_type, self.query_task_type):
            if task not in TASK_TYPES:
                raise ValueError(f"unknown task type {task!r}; use one of {sorted(TASK_TYPES)}")
        if self.output_dimensionality is None and _model_id(self.model) not in NATIVE_DIMENSIONS:
            raise ValueError(
                f"the vector size of {self.model!r} is unknown: set output_dimensionality"
            )
        return self


def _model_id(model: str) -> str:
    return model.rsplit("/", 1)[-1]


def _normalised(values: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values] if norm > 0 else list(values)


class GeminiEmbedder(Embedder):
    name: ClassVar[str] = "gemini"
    Config = GeminiEmbedderConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"query_document", "async_native"})
    config: GeminiEmbedderConfig

    @property
    def dimension(self) -> int:
        c = self.config
        return c.output_dimensionality or NATIVE_DIMENSIONS[_model_id(c.model)]

    @cached_property
    def _client(self) -> Any:
        from memplane_gemini.client import build_client

        return build_client(self.config)

    def _embed_config(self, purpose: Purpose) -> Any:
        from google.genai import types

        if purpose not in ("document", "query"):
            raise ValidationError(f"purpose must be 'document' or 'query', got {purpose!r}")
        c = self.config
        return types.EmbedContentConfig(
            task_type=c.query_task_type if purpose == "query" else c.document_task_type,
            output_dimensionality=c.output_dimensionality,
        )

    def _batches(self, texts: Sequence[str]) -> list[list[str]]:
        size = self.config.batch_size
        return [list(texts[i : i + size]) for i in range(0, len(texts), size)]

    def _vectors(self, raw: Any, expected: int) -> list[list[float]]:
        wire.record(raw, "the response", PROVIDER)
        embeddings = wire.records(wire.field(raw, "embeddings"), "embeddings", PROVIDER,
                                  optional=True)
        if not embeddings and body_length(raw) == 0:
            raise wire.garbled(PROVIDER, "an empty body")
        if len(embeddings) != expected:
            raise wire.wrong_shape(PROVIDER, f"{len(embeddings)} embeddings for {expected} texts")
        vectors = []
        for i, embedding in enumerate(embeddings):
            values = wire.field(embedding, "values") or []
            if not isinstance(values, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in values
            ):
                raise wire.wrong_shape(PROVIDER, f"embeddings[{i}].values is not a list of numbers")
            values = [float(v) for v in values]
            if len(values) != self.dimension:
                raise ProviderError(
                    f"gemini returned {len(values)}-dimensional vectors but this embedder is "
                    f"configured for {self.dimension}; check `model` and `output_dimensionality`",
                    provider=PROVIDER, retryable=False,
                )
            vectors.append(_normalised(values) if self.config.normalize else values)
        return vectors

    def _client_call(self, batch: list[str], config: Any, *, asynchronous: bool) -> Any:
        """One embed_content call (a coroutine when ``asynchronous``); the client is
        built on first use, inside the retry loop, so its errors are mapped too."""
        models = self._client.aio.models if asynchronous else self._client.models
        return models.embed_content(model=self.config.model, contents=batch, config=config)

    def _attempt(self, batch: list[str], config: Any) -> list[list[float]]:
        return self._vectors(self._client_call(batch, config, asynchronous=False), len(batch))

    async def _aattempt(self, batch: list[str], config: Any) -> list[list[float]]:
        raw = await self._client_call(batch, config, asynchronous=True)
        return self._vectors(raw, len(batch))

    @staticmethod
    def _check_texts(texts: Sequence[str]) -> None:
        if any(not isinstance(t, str) or not t for t in texts):
            raise ValidationError("gemini cannot embed empty texts; drop empty strings first")

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        self._check_texts(texts)
        config = self._embed_config(purpose)
        vectors: list[list[float]] = []
        for batch in self._batches(texts):
            # the answer is read inside the retry loop: a garbled body is retried too
            vectors.extend(call_with_retries(
                partial(self._attempt, batch, config), retry_policy(self.config), map_error,
            ))
        return vectors

    async def aembed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        self._check_texts(texts)
        config = self._embed_config(purpose)
        vectors: list[list[float]] = []
        for batch in self._batches(texts):
            vectors.extend(await acall_with_retries(
                partial(self._aattempt, batch, config), retry_policy(self.config), map_error,
            ))
        return vectors

    def close(self) -> None:
        client = self.__dict__.pop("_client", None)
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        client = self.__dict__.pop("_client", None)
        if client is not None:
            await client.aio.aclose()
            client.close()
