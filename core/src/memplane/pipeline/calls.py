"""Typed sub-flows, one per provider method: ``hits = yield from calls.search(...)``.

Each yields one :class:`~memplane.pipeline.effects.Call` and returns the provider's
result with its type, so flows never handle ``Any`` from a provider call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memplane.filters import Filter
from memplane.models import (
    Change,
    ChatMessage,
    HistoryEntry,
    MemoryRecord,
    Page,
    Scope,
    SearchHit,
    Usage,
)
from memplane.pipeline.effects import Call, Flow
from memplane.providers.base import (
    Candidates,
    Embedded,
    LLMResponse,
    Purpose,
    Reranked,
    RerankResult,
)


def embed(texts: Sequence[str], purpose: Purpose) -> Flow[Embedded]:
    """The vectors, with the embedder's usage (one call when it does not say)."""
    vectors = yield Call("embedders", "embed", (list(texts),), {"purpose": purpose})
    usage = vectors.usage if isinstance(vectors, Embedded) else Usage(embedding_calls=1)
    return Embedded([_floats(v) for v in vectors], usage=usage)


def _floats(vector: Sequence[float]) -> list[float]:
    """``[float(x) for x in vector]``, in one numpy conversion for the usual list or
    array of numbers (the per-element loop cost ~25 us a 384-dim query)."""
    import numpy as np  # lazily: importing memplane stays light

    if type(vector) is list or isinstance(vector, np.ndarray):
        try:
            array = np.asarray(vector, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is not None and array.ndim == 1:
            return array.tolist()  # type: ignore[no-any-return]
    return [float(x) for x in vector]


def generate(messages: Sequence[ChatMessage], *, json_schema: dict[str, Any] | None,
             schema_name: str, max_tokens: int | None) -> Flow[LLMResponse]:
    response: LLMResponse = yield Call(
        "llms", "generate", (list(messages),),
        {"json_schema": json_schema, "schema_name": schema_name, "max_tokens": max_tokens})
    return response


def rerank(query: str, documents: Sequence[str], *,
           top_n: int | None = None) -> Flow[tuple[list[RerankResult], Usage]]:
    """The results and what they cost (empty usage for rerankers that do not say)."""
    results: list[RerankResult] = yield Call(
        "rerankers", "rerank", (query, list(documents)), {"top_n": top_n})
    usage = results.usage if isinstance(results, Reranked) else Usage()
    return list(results), usage


def open_store(dimension: int) -> Flow[None]:
    yield Call("vector_stores", "open", (dimension,))


def apply(changes: Sequence[Change]) -> Flow[None]:
    yield Call("vector_stores", "apply", (list(changes),))


def get(ids: Sequence[str], scope: Scope, *, include_deleted: bool = True) -> Flow[list[MemoryRecord]]:
    records: list[MemoryRecord] = yield Call(
        "vector_stores", "get", (list(ids), scope), {"include_deleted": include_deleted})
    return records


def search(vector: Sequence[float], scope: Scope, *, limit: int, filters: Filter | None = None,
           include_expired: bool = False) -> Flow[list[SearchHit]]:
    hits: list[SearchHit] = yield Call(
        "vector_stores", "search", (list(vector), scope),
        {"limit": limit, "filters": filters, "include_expired": include_expired})
    return hits


def keyword_search(query: str, scope: Scope, *, limit: int, filters: Filter | None = None,
                   include_expired: bool = False) -> Flow[list[SearchHit]]:
    hits: list[SearchHit] = yield Call(
        "vector_stores", "keyword_search", (query, scope),
        {"limit": limit, "filters": filters, "include_expired": include_expired})
    return hits


def search_candidates(vector: Sequence[float], query: str, scope: Scope, *, limit: int,
                      filters: Filter | None = None, keyword: bool = True,
                      include_expired: bool = False) -> Flow[Candidates]:
    """Both signals of a hybrid search as light hits (no records), one snapshot where
    the store declares ``candidate_search``."""
    found: Candidates = yield Call(
        "vector_stores", "search_candidates", (list(vector), query, scope),
        {"limit": limit, "filters": filters, "keyword": keyword, "include_expired": include_expired})
    return found


def list_records(scope: Scope, *, filters: Filter | None = None, limit: int = 100,
                 cursor: str | None = None, include_deleted: bool = False,
                 include_expired: bool = False) -> Flow[Page]:
    page: Page = yield Call(
        "vector_stores", "list_records", (scope,),
        {"filters": filters, "limit": limit, "cursor": cursor,
         "include_deleted": include_deleted, "include_expired": include_expired})
    return page


def history(memory_id: str, scope: Scope) -> Flow[list[HistoryEntry]]:
    entries: list[HistoryEntry] = yield Call("vector_stores", "history", (memory_id, scope))
    return entries


def reset() -> Flow[None]:
    yield Call("vector_stores", "reset")
