"""A small dict-based reference vector store (entry point ``memory``).

Not persistent: everything lives in this process and is gone on close. It exists for
fast tests and as the simplest complete example of the store contract: filters use
the reference :func:`memplane.filters.evaluate`, similarity is exact numpy cosine,
and keyword search is a naive idf-weighted term match (see :func:`keyword_terms`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from memplane.errors import DimensionMismatch, ValidationError
from memplane.filters import OPERATORS, Filter, evaluate
from memplane.models import Change, HistoryEntry, MemoryRecord, Page, Scope, SearchHit, utcnow
from memplane.providers.base import Candidates, LightHit, ProviderConfig, VectorStore
from memplane.providers.store_checks import check_versions, scope_key
from memplane.terms import keyword_terms


class InMemoryStore(VectorStore):
    """Reference store kept in Python dicts (not persistent, one process)."""

    name: ClassVar[str] = "memory"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"keyword_search", "atomic_apply", "vector_read", "store_info", "candidate_search"})
    filter_operators: ClassVar[frozenset[str]] = OPERATORS | {"AND", "OR", "NOT"}

    class Config(ProviderConfig):
        pass

    def __init__(self, config: ProviderConfig | dict[str, object] | None = None, **overrides: object):
        super().__init__(config, **overrides)
        self._lock = threading.RLock()
        self._dimension: int | None = None
        self._records: dict[str, MemoryRecord] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._order: dict[str, int] = {}  # insertion sequence, for stable cursors
        self._next_seq = 0
        self._histories: dict[str, list[HistoryEntry]] = {}
        self._info: dict[str, str] = {}

    # --- lifecycle ---------------------------------------------------------------
    def _open(self, dimension: int) -> None:
        with self._lock:
            if self._dimension is not None and self._dimension != dimension:
                raise DimensionMismatch(
                    store=self.name, store_dimension=self._dimension, embedder_dimension=dimension
                )
            self._dimension = dimension

    def _reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._vectors.clear()
            self._order.clear()
            self._histories.clear()
            self._info.clear()

    def _get_info(self, key: str) -> str | None:
        with self._lock:
            return self._info.get(key)

    def _claim_info(self, key: str, value: str) -> str:
        with self._lock:
            return self._info.setdefault(key, value)

    # --- writes ------------------------------------------------------------------
    def _apply(self, changes: list[Change]) -> None:
        with self._lock:
            # Validate the whole batch before touching anything: all or nothing.
            check_versions(changes, self._records, self._live_hash_owner)
            prepared: list[tuple[Change, np.ndarray | None]] = []
            for change in changes:
                rid = change.record.id
                vector = None
                if change.vector is not None:
                    vector = self._unit(change.vector)
                elif rid not in self._vectors:
                    raise ValidationError(f"new memory {rid!r} needs a vector")
                prepared.append((change, vector))
            for change, vector in prepared:
                rid = change.record.id
                if rid not in self._order:
                    self._order[rid] = self._next_seq
                    self._next_seq += 1
                self._records[rid] = change.record.model_copy(deep=True)
                if vector is not None:
                    self._vectors[rid] = vector
                if change.history is not None:
                    self._histories.setdefault(rid, []).append(change.history.model_copy())

    def _live_hash_owner(self, scope: Scope, hash_: str) -> str | None:
        key = scope_key(scope)
        return next((r.id for r in self._records.values() if r.hash == hash_
                     and r.deleted_at is None and scope_key(r.scope) == key), None)

    def _delete(self, ids: list[str], scope: Scope) -> int:
        with self._lock:
            removed = 0
            for rid in ids:
                record = self._records.get(rid)
                if record is None or not scope.matches(record.scope):
                    continue
                del self._records[rid]
                self._vectors.pop(rid, None)
                self._order.pop(rid, None)
                self._histories.pop(rid, None)
                removed += 1
            return removed

    # --- reads -------------------------------------------------------------------
    def _get(self, ids: list[str], scope: Scope, include_deleted: bool) -> list[MemoryRecord]:
        with self._lock:
            out = []
            for rid in ids:
                record = self._records.get(rid)
                if record is None or not scope.matches(record.scope):
                    continue
                if record.deleted_at is not None and not include_deleted:
                    continue
                out.append(record.model_copy(deep=True))
            return out

    def _visible(
        self, scope: Scope, filters: Filter | None, include_deleted: bool, include_expired: bool
    ) -> list[MemoryRecord]:
        now = utcnow()
        ordered = sorted(self._records.values(), key=lambda r: self._order[r.id])
        return [
            r
            for r in ordered
            if scope.matches(r.scope)
            and r.is_visible(now, include_deleted=include_deleted, include_expired=include_expired)
            and evaluate(filters, r)
        ]

    def _list_records(
        self,
        scope: Scope,
        filters: Filter | None,
        limit: int,
        cursor: str | None,
        include_deleted: bool,
        include_expired: bool,
    ) -> Page:
        with self._lock:
            after = -1
            if cursor:  # the base class checked it is a str
                try:
                    after = int(cursor)
                except ValueError:
                    raise ValidationError(f"invalid cursor {cursor!r}; pass a next_cursor") from None
            rows = [
                r
                for r in self._visible(scope, filters, include_deleted, include_expired)
                if self._order[r.id] > after
            ]
            page = rows[:limit]
            more = len(rows) > limit
            next_cursor = str(self._order[page[-1].id]) if more and page else None
            return Page(records=[r.model_copy(deep=True) for r in page], next_cursor=next_cursor)

    def _count(
        self,
        scope: Scope,
        filters: Filter | None,
        include_deleted: bool,
        include_expired: bool,
    ) -> int:
        with self._lock:
            return len(self._visible(scope, filters, include_deleted, include_expired))

    def _search(
        self,
        vector: Sequence[float],
        scope: Scope,
        limit: int,
        filters: Filter | None,
        include_deleted: bool,
        include_expired: bool,
    ) -> list[SearchHit]:
        with self._lock:
            return [SearchHit(record=r.model_copy(deep=True), score=s) for r, s in
                    self._vector_ranked(vector, scope, limit, filters, include_deleted, include_expired)]

    def _keyword_search(
        self,
        query: str,
        scope: Scope,
        limit: int,
        filters: Filter | None,
        include_deleted: bool,
        include_expired: bool,
    ) -> list[SearchHit]:
        with self._lock:
            return [SearchHit(record=r.model_copy(deep=True), score=s) for r, s in
                    self._keyword_ranked(query, scope, limit, filters, include_deleted, include_expired)]

    def _search_candidates(
        self, vector: Sequence[float], query: str, scope: Scope, limit: int,
        filters: Filter | None, keyword: bool, include_deleted: bool, include_expired: bool,
    ) -> Candidates:
        """Both signals under one hold of the lock (one state), without copying records."""
        with self._lock:
            found = self._vector_ranked(vector, scope, limit, filters, include_deleted, include_expired)
            words = (self._keyword_ranked(query, scope, limit, filters, include_deleted, include_expired)
                     if keyword else None)
            return Candidates([_light(r, s) for r, s in found],
                              None if words is None else [_light(r, s) for r, s in words])

    def _vector_ranked(
        self, vector: Sequence[float], scope: Scope, limit: int, filters: Filter | None,
        include_deleted: bool, include_expired: bool,
    ) -> list[tuple[MemoryRecord, float]]:
        """The stored records (not copies) and scores of the best ``limit`` (hold the lock)."""
        rows = self._visible(scope, filters, include_deleted, include_expired)
        if not rows or limit <= 0:
            return []
        query = self._unit(vector)
        matrix = np.stack([self._vectors[r.id] for r in rows])
        scores = np.clip((1.0 + matrix @ query) / 2.0, 0.0, 1.0)
        best = np.argsort(-scores, kind="stable")[:limit]
        return [(rows[i], float(scores[i])) for i in best]

    def _keyword_ranked(
        self, query: str, scope: Scope, limit: int, filters: Filter | None,
        include_deleted: bool, include_expired: bool,
    ) -> list[tuple[MemoryRecord, float]]:
        """Score = idf-weighted share of the query's distinct terms found in the text
        (stored records, not copies; hold the lock)."""
        query_terms = set(keyword_terms(query))
        rows = self._visible(scope, filters, include_deleted, include_expired)
        if not query_terms or not rows or limit <= 0:
            return []
        docs = [set(keyword_terms(r.text)) for r in rows]
        idf = {
            t: math.log(1.0 + (len(docs) + 1) / (1 + sum(t in d for d in docs)))
            for t in query_terms
        }
        total = sum(idf.values())
        scored = []
        for i, terms in enumerate(docs):
            matched = sum(idf[t] for t in query_terms & terms)
            if matched > 0:
                scored.append((matched / total, i))
        scored.sort(key=lambda pair: -pair[0])
        return [(rows[i], min(1.0, s)) for s, i in scored[:limit]]

    def _get_vectors(self, ids: Sequence[str], scope: Scope) -> dict[str, list[float]]:
        """Stored vectors (unit length: the store normalises on write)."""
        with self._lock:
            return {
                rid: self._vectors[rid].tolist()
                for rid in ids
                if rid in self._records and scope.matches(self._records[rid].scope)
            }

    def _history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        with self._lock:
            record = self._records.get(memory_id)
            if record is None or not scope.matches(record.scope):
                return []
            return [h.model_copy() for h in self._histories.get(memory_id, [])]

    # --- helpers -----------------------------------------------------------------
    def _unit(self, vector: Sequence[float]) -> np.ndarray:
        array = np.asarray(vector, dtype=np.float32)
        if self._dimension is None:
            raise ValidationError("the store is not open: call open(dimension) first")
        if array.shape != (self._dimension,):
            raise DimensionMismatch(
                store=self.name, store_dimension=self._dimension, embedder_dimension=array.size
            )
        norm = float(np.linalg.norm(array))
        return array / norm if norm > 0 else array


def _light(record: MemoryRecord, score: float) -> LightHit:
    return LightHit(record.id, score, record.text, record.scope, record.created_at, record.observed_at)
