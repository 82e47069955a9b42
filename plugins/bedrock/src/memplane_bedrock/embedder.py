"""Bedrock text embeddings: Amazon Titan Text Embeddings (v2, v1) and Cohere Embed.

The two families take different InvokeModel bodies: Titan embeds one text per call
(``inputText``, ``dimensions``, ``normalize``), Cohere embeds up to 96 texts per call
and distinguishes documents from queries (``input_type`` search_document /
search_query). The family is recognised from the model id, so inference profile
ids (``us.cohere.embed-v4:0``) and ARNs work too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from memplane.errors import ProviderError, ValidationError
from memplane.providers import wire
from memplane.providers.base import Embedder, Purpose, Vectors
from memplane_bedrock.errors import PROVIDER, with_retries
from memplane_bedrock.settings import BedrockConnection

Family = Literal["titan-v2", "titan-v1", "cohere-v3", "cohere-v4"]
#: allowed sizes and the default size of each family
DIMENSIONS: dict[Family, tuple[tuple[int, ...], int]] = {
    "titan-v2": ((256, 512, 1024), 1024),
    "titan-v1": ((1536,), 1536),
    "cohere-v3": ((1024,), 1024),
    "cohere-v4": ((256, 512, 1024, 1536), 1536),
}
COHERE_MAX_BATCH = 96


def family_of(model: str) -> Family | None:
    if "titan-embed-text-v2" in model:
        return "titan-v2"
    if "titan-embed-text-v1" in model:
        return "titan-v1"
    if "cohere.embed-v4" in model:
        return "cohere-v4"
    if "cohere.embed-english-v3" in model or "cohere.embed-multilingual-v3" in model:
        return "cohere-v3"
    return None


class BedrockEmbedderConfig(BedrockConnection):
    model: str = Field("amazon.titan-embed-text-v2:0", min_length=1)
    dimensions: int | None = Field(None, description="vector size; None is the model's default")
    normalize: bool = Field(True, description="unit-length vectors")
    truncate: Literal["NONE", "START", "END"] = Field("END", description="Cohere: over-long input")
    batch_size: int = Field(COHERE_MAX_BATCH, ge=1, le=COHERE_MAX_BATCH, description="Cohere texts per call")
    max_concurrency: int = Field(4, ge=1, le=32, description="Titan: parallel single-text calls")

    @model_validator(mode="after")
    def _check_model(self) -> BedrockEmbedderConfig:
        family = family_of(self.model)
        if family is None:
            raise ValueError(
                f"unsupported embedding model {self.model!r}: use amazon.titan-embed-text-v2:0, "
                "amazon.titan-embed-text-v1, cohere.embed-english-v3, "
                "cohere.embed-multilingual-v3 or cohere.embed-v4:0"
            )
        allowed, _ = DIMENSIONS[family]
        if self.dimensions is not None and self.dimensions not in allowed:
            raise ValueError(f"{self.model} supports dimensions {list(allowed)}, not {self.dimensions}")
        return self


def _normalised(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values] if norm > 0 else values


class BedrockEmbedder(Embedder):
    name: ClassVar[str] = "bedrock"
    Config = BedrockEmbedderConfig
    capabilities: ClassVar[frozenset[str]] = frozenset()
    config: BedrockEmbedderConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.family: Family = family_of(self.config.model)  # type: ignore[assignment]
        if self.family.startswith("cohere"):
            self.capabilities = frozenset({"query_document"})  # type: ignore[misc]

    @property
    def dimension(self) -> int:
        return self.config.dimensions or DIMENSIONS[self.family][1]

    @cached_property
    def _client(self) -> Any:
        from memplane_bedrock.client import build_client

        return build_client(self.config, "bedrock-runtime")

    # --- request bodies ---------------------------------------------------------
    def titan_body(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {"inputText": text}
        if self.family == "titan-v2":
            body["dimensions"] = self.dimension
            body["normalize"] = self.config.normalize
        return body

    def cohere_body(self, texts: Sequence[str], purpose: Purpose) -> dict[str, Any]:
        body: dict[str, Any] = {
            "texts": list(texts),
            "input_type": "search_query" if purpose == "query" else "search_document",
            "truncate": self.config.truncate,
            "embedding_types": ["float"],
        }
        if self.family == "cohere-v4":
            body["output_dimension"] = self.dimension
        return body

    # --- calls --------------------------------------------------------------------
    def _invoke(self, body: dict[str, Any]) -> dict[str, Any]:
        return with_retries(lambda: self._attempt(body), self.config, what="bedrock invoke_model")

    def _attempt(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self._client.invoke_model(
            modelId=self.config.model, body=json.dumps(body),
            contentType="application/json", accept="application/json",
        )
        data = response["body"].read()
        try:
            payload = json.loads(data)
        except ValueError as exc:  # incl. invalid UTF-8
            raise wire.garbled(PROVIDER, f"bedrock returned an embedding body that is not JSON: "
                                         f"{exc}") from exc
        if not isinstance(payload, dict):
            raise wire.wrong_shape(PROVIDER, "the embedding body is not a JSON object")
        return payload

    def _checked(self, vector: Any) -> list[float]:
        if isinstance(vector, list) and not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in vector
        ):
            raise wire.wrong_shape(PROVIDER, "an embedding holds something other than finite numbers")
        if not isinstance(vector, list) or len(vector) != self.dimension:
            size = len(vector) if isinstance(vector, list) else "no"
            raise ProviderError(
                f"bedrock returned a vector of {size} dimensions, expected {self.dimension}; "
                "check `model` and `dimensions`", provider=PROVIDER, retryable=False,
            )
        values = [float(v) for v in vector]
        return _normalised(values) if self.config.normalize else values

    def _embed_titan(self, text: str) -> list[float]:
        return self._checked(self._invoke(self.titan_body(text)).get("embedding"))

    def _embed_cohere(self, texts: Sequence[str], purpose: Purpose) -> list[list[float]]:
        payload = self._invoke(self.cohere_body(texts, purpose))
        embeddings = payload.get("embeddings")
        if isinstance(embeddings, dict):  # response_type embeddings_by_type
            embeddings = embeddings.get("float")
        if not isinstance(embeddings, list) or len(embeddings) != len(texts):
            raise ProviderError(
                f"bedrock returned {len(embeddings) if isinstance(embeddings, list) else 'no'} "
                f"embeddings for {len(texts)} texts", provider=PROVIDER, retryable=False,
            )
        return [self._checked(v) for v in embeddings]

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        if purpose not in ("document", "query"):
            raise ValidationError(f"purpose must be 'document' or 'query', got {purpose!r}")
        if any(not isinstance(t, str) or not t for t in texts):
            raise ValidationError("bedrock embedders need non-empty texts; drop empty strings first")
        if not texts:
            return []
        if self.family.startswith("titan"):
            if len(texts) == 1 or self.config.max_concurrency == 1:
                return [self._embed_titan(t) for t in texts]
            with ThreadPoolExecutor(min(self.config.max_concurrency, len(texts))) as pool:
                return list(pool.map(self._embed_titan, texts))
        size = self.config.batch_size
        vectors: list[list[float]] = []
        for start in range(0, len(texts), size):
            vectors.extend(self._embed_cohere(texts[start : start + size], purpose))
        return vectors

    def close(self) -> None:
        client = self.__dict__.pop("_client", None)
        if client is not None:
            client.close()
