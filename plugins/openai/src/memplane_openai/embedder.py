"""The embedder on the embeddings API (OpenAI, Azure OpenAI, compatible servers).

Inputs are split into requests that stay within the API's limits (input count and
an estimated token budget); vectors come back in input order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any, ClassVar

from memplane.errors import ProviderError, ValidationError
from memplane.models import Usage
from memplane.providers import wire
from memplane.providers.base import Embedded, Embedder, ProviderConfig, Purpose, Vectors
from memplane.providers.retry import acall_with_retries, call_with_retries
from memplane_openai.clients import ClientHolder, check_credentials, retry_policy
from memplane_openai.config import AzureOpenAIEmbedderConfig, OpenAIEmbedderConfig
from memplane_openai.errors import map_openai_error

#: Native sizes of OpenAI's embedding models; other models are probed once.
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


def estimated_tokens(text: str) -> int:
    # ~4 characters per token in English; 3 keeps the estimate on the safe side
    return len(text) // 3 + 1


def batches(texts: Sequence[str], max_inputs: int, max_tokens: int) -> Iterator[list[str]]:
    """Consecutive slices of ``texts`` within both limits (a lone oversized text
    still gets its own request, and the API's answer decides)."""
    batch: list[str] = []
    budget = 0
    for text in texts:
        cost = estimated_tokens(text)
        if batch and (len(batch) >= max_inputs or budget + cost > max_tokens):
            yield batch
            batch, budget = [], 0
        batch.append(text)
        budget += cost
    if batch:
        yield batch


def _floats(value: Any, what: str, provider: str) -> list[float]:
    if not isinstance(value, list) or not value:
        raise wire.wrong_shape(provider, f"{what} is not a non-empty list of numbers")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
               for x in value):
        raise wire.wrong_shape(provider, f"{what} holds something other than finite numbers")
    return [float(x) for x in value]


class OpenAIEmbedder(Embedder):
    """Embeddings from api.openai.com or any OpenAI-compatible ``base_url``."""

    name: ClassVar[str] = "openai"
    Config: ClassVar[type[ProviderConfig]] = OpenAIEmbedderConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"async_native"})
    config: Any

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        check_credentials(self.config, self.name)
        self._clients = ClientHolder(self.config)
        self._dimension: int | None = self.config.dimensions or KNOWN_DIMENSIONS.get(
            str(self.config.model)
        )

    @property
    def model(self) -> str:
        return str(self.config.model)

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            # an unknown model (e.g. on a local server): ask it once
            self._dimension = len(self.embed(["dimension probe"])[0])
        return self._dimension

    def _kwargs(self, batch: list[str]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.model, "input": batch, "encoding_format": "float"}
        if self.config.dimensions is not None:
            kwargs["dimensions"] = self.config.dimensions
        return kwargs

    def _batches(self, texts: Sequence[str]) -> list[list[str]]:
        if isinstance(texts, str):
            raise ValidationError("embed() takes a list of texts, not one string: wrap it in [...]")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValidationError(
                    f"text {i} is empty or not a string: the embeddings API refuses it; "
                    f"drop empty texts before embedding"
                )
        return list(batches(texts, self.config.batch_size, self.config.max_batch_tokens))

    def _vectors(self, response: Any, batch: list[str]) -> tuple[list[list[float]], Usage]:
        name = self.name
        if isinstance(response, str | bytes):
            raise wire.garbled(name, f"a non-JSON body: {response[:60]!r}")
        wire.record(response, "the embeddings response", name)
        items = wire.records(wire.field(response, "data"), "data", name)
        if len(items) != len(batch):
            raise wire.wrong_shape(name, f"{len(items)} embeddings returned for {len(batch)} inputs")
        indexed = []
        for i, item in enumerate(items):
            index = wire.field(item, "index")
            if isinstance(index, bool) or not isinstance(index, int):
                raise wire.wrong_shape(name, f"data[{i}].index is {index!r}, expected an integer")
            indexed.append((index, _floats(wire.field(item, "embedding"), f"data[{i}].embedding", name)))
        if sorted(index for index, _ in indexed) != list(range(len(batch))):
            raise wire.wrong_shape(name, "the embeddings' indexes do not match the inputs")
        vectors = [vector for _, vector in sorted(indexed, key=lambda pair: pair[0])]
        expected = self._dimension
        for vector in vectors:
            if expected is None:
                expected = len(vector)
            if len(vector) != expected:
                raise ProviderError(
                    f"{self.name}: model {self.model!r} returned {len(vector)}-dimensional "
                    f"vectors, expected {expected}; set `dimensions` to what the model "
                    f"produces (or leave it unset for servers that ignore it)",
                    provider=self.name,
                    retryable=False,
                )
        usage = wire.record(wire.field(response, "usage"), "usage", name, optional=True)
        tokens = wire.token_count(usage, "prompt_tokens", name)
        self._dimension = expected
        return vectors, Usage(embedding_calls=1, embedding_tokens=tokens)

    def _translate(self, exc: Exception) -> BaseException:
        mapped = map_openai_error(exc, self.name)
        return mapped if mapped is not None else exc

    # the answer is read inside the retry loop: a garbled body is retried too
    def _attempt(self, batch: list[str]) -> tuple[list[list[float]], Usage]:
        return self._vectors(self._clients.sync().embeddings.create(**self._kwargs(batch)), batch)

    async def _aattempt(self, batch: list[str]) -> tuple[list[list[float]], Usage]:
        response = await self._clients.async_().embeddings.create(**self._kwargs(batch))
        return self._vectors(response, batch)

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        out = Embedded()  # the vectors, and what they cost
        for batch in self._batches(texts):
            vectors, usage = call_with_retries(partial(self._attempt, batch),
                                               retry_policy(self.config), self._translate)
            out.extend(vectors)
            out.usage.add(usage)
        return out

    async def aembed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        out = Embedded()
        for batch in self._batches(texts):
            vectors, usage = await acall_with_retries(partial(self._aattempt, batch),
                                                      retry_policy(self.config), self._translate)
            out.extend(vectors)
            out.usage.add(usage)
        return out

    def close(self) -> None:
        self._clients.close()

    async def aclose(self) -> None:
        await self._clients.aclose()


class AzureOpenAIEmbedder(OpenAIEmbedder):
    """The same embedder against an Azure OpenAI deployment."""

    name: ClassVar[str] = "azure_openai"
    Config: ClassVar[type[ProviderConfig]] = AzureOpenAIEmbedderConfig
