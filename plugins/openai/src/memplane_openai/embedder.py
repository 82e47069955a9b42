"""The embedder on the embeddings API (OpenAI, Azure OpenAI, compatible servers).

Inputs are split into requests that stay within the API's limits (input count and
an estimated token budget); vectors come back in input order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from memplane.errors import ProviderError, ValidationError
from memplane.models import Usage
from memplane.providers.base import Embedded, Embedder, ProviderConfig, Purpose, Vectors
from memplane_openai.clients import ClientHolder, check_credentials
from memplane_openai.config import AzureOpenAIEmbedderConfig, OpenAIEmbedderConfig
from memplane_openai.errors import malformed_response, map_openai_error

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

    def _vectors(self, response: Any, batch: list[str], usage: Usage) -> list[list[float]]:
        data = sorted(getattr(response, "data", None) or [], key=lambda item: item.index)
        if len(data) != len(batch):
            raise malformed_response(
                self.name, f"{len(data)} embeddings returned for {len(batch)} inputs"
            )
        vectors = [list(item.embedding) for item in data]
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
        self._dimension = expected
        reported = getattr(response, "usage", None)
        usage.add(Usage(embedding_calls=1,
                        embedding_tokens=getattr(reported, "prompt_tokens", 0) or 0))
        return vectors

    def _fail(self, exc: Exception) -> Exception:
        mapped = map_openai_error(exc, self.name)
        return mapped if mapped is not None else exc

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        out = Embedded()  # the vectors, and what they cost
        for batch in self._batches(texts):
            try:
                response = self._clients.sync().embeddings.create(**self._kwargs(batch))
            except Exception as exc:
                raise self._fail(exc) from exc
            out.extend(self._vectors(response, batch, out.usage))
        return out

    async def aembed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        out = Embedded()
        for batch in self._batches(texts):
            try:
                response = await self._clients.async_().embeddings.create(**self._kwargs(batch))
            except Exception as exc:
                raise self._fail(exc) from exc
            out.extend(self._vectors(response, batch, out.usage))
        return out

    def close(self) -> None:
        self._clients.close()

    async def aclose(self) -> None:
        await self._clients.aclose()


class AzureOpenAIEmbedder(OpenAIEmbedder):
    """The same embedder against an Azure OpenAI deployment."""

    name: ClassVar[str] = "azure_openai"
    Config: ClassVar[type[ProviderConfig]] = AzureOpenAIEmbedderConfig
