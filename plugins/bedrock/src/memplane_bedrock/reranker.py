"""The Bedrock Rerank API (bedrock-agent-runtime ``rerank``) as a memplane reranker.

Works with amazon.rerank-v1:0 and cohere.rerank-v3-5:0; a bare model id is turned
into the foundation-model ARN of the client's region.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar

from pydantic import Field

from memplane.errors import ProviderError, ValidationError
from memplane.providers import wire
from memplane.providers.base import Reranker, RerankResult
from memplane_bedrock.errors import PROVIDER, with_retries
from memplane_bedrock.settings import BedrockConnection

#: the Rerank API accepts at most this many sources per call.
MAX_SOURCES = 1000


def model_arn(model: str, region: str) -> str:
    if model.startswith("arn:"):
        return model
    partition = "aws-cn" if region.startswith("cn-") else (
        "aws-us-gov" if region.startswith("us-gov-") else "aws")
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model}"


class BedrockRerankerConfig(BedrockConnection):
    model: str = Field("amazon.rerank-v1:0", min_length=1, description="model id or model ARN")


class BedrockReranker(Reranker):
    name: ClassVar[str] = "bedrock"
    Config = BedrockRerankerConfig
    capabilities: ClassVar[frozenset[str]] = frozenset()
    config: BedrockRerankerConfig

    @cached_property
    def _client(self) -> Any:
        from memplane_bedrock.client import build_client

        return build_client(self.config, "bedrock-agent-runtime")

    def request(self, query: str, documents: Sequence[str], top_n: int) -> dict[str, Any]:
        return {
            "queries": [{"type": "TEXT", "textQuery": {"text": query}}],
            "sources": [
                {"type": "INLINE",
                 "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": d}}}
                for d in documents
            ],
            "rerankingConfiguration": {
                "type": "BEDROCK_RERANKING_MODEL",
                "bedrockRerankingConfiguration": {
                    "numberOfResults": top_n,
                    "modelConfiguration": {
                        "modelArn": model_arn(self.config.model, self._client.meta.region_name),
                    },
                },
            },
        }

    def _results(self, raw: Any, documents: Sequence[str]) -> list[RerankResult]:
        if not isinstance(raw, dict) or not set(raw) - {"ResponseMetadata"}:
            raise wire.garbled(PROVIDER, "bedrock rerank: an empty or undecodable body")
        if not isinstance(raw.get("results"), list):
            raise ProviderError("bedrock rerank answered without a results list",
                                provider=PROVIDER, retryable=False)
        results: list[RerankResult] = []
        for item in raw["results"]:
            index = wire.field(item, "index")
            if (not isinstance(index, int) or isinstance(index, bool)
                    or not 0 <= index < len(documents)):
                raise ProviderError(f"bedrock rerank returned an unknown document index {index!r}",
                                    provider=PROVIDER, retryable=False)
            score = wire.field(item, "relevanceScore", 0.0)
            if isinstance(score, bool) or not isinstance(score, int | float) or math.isnan(score):
                raise wire.wrong_shape(PROVIDER, f"relevanceScore {score!r} is not a number")
            results.append(RerankResult(index=index, score=min(1.0, max(0.0, float(score)))))
        return results

    def rerank(self, query: str, documents: Sequence[str], *, top_n: int | None = None) -> list[RerankResult]:
        if top_n is not None and top_n < 1:
            raise ValidationError(f"top_n must be at least 1, got {top_n}")
        if not query.strip():
            raise ValidationError("the rerank query must not be blank")
        if len(documents) > MAX_SOURCES:
            raise ValidationError(f"bedrock rerank takes at most {MAX_SOURCES} documents per call")
        if not documents:
            return []
        wanted = min(top_n or len(documents), len(documents))
        request = self.request(query, documents, wanted)
        results = with_retries(lambda: self._results(self._client.rerank(**request), documents),
                               self.config, what="bedrock rerank")
        results.sort(key=lambda r: (-r.score, r.index))  # best first, ties in input order
        return results[:wanted]

    def close(self) -> None:
        client = self.__dict__.pop("_client", None)
        if client is not None:
            client.close()
