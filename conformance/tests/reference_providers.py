"""Small, honest providers the suite's own tests run it against, and the broken
variants it must reject. Each broken one differs from its honest parent in one way."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

from memplane.models import utcnow
from memplane.providers import (
    LOGICAL,
    OPERATORS,
    Change,
    DimensionMismatch,
    Filter,
    HistoryEntry,
    MemoryRecord,
    Page,
    ProviderConfig,
    Reranker,
    RerankResult,
    Scope,
    SearchHit,
    ValidationError,
    VectorStore,
    check_versions,
    evaluate,
    scope_key,
)


class DictStoreConfig(ProviderConfig):
    name: str = "default"


#: process-wide "disk": instances with the same config name share data, like files.
_SHARED: dict[str, dict[str, Any]] = {}
_LOCK = threading.RLock()


class DictStore(VectorStore):
    """A correct in-process store used to prove the suite passes honest providers."""

    name: ClassVar[str] = "dict_reference"
    Config = DictStoreConfig
    # in-process only: persistent and concurrent_writers are promises about processes
    # (the shared "disk" is a dict, private to this process)
    capabilities: ClassVar[frozenset[str]] = frozenset({"atomic_apply", "vector_read"})
    filter_operators: ClassVar[frozenset[str]] = OPERATORS | LOGICAL

    def _open(self, dimension: int) -> None:
        with _LOCK:
            data = _SHARED.setdefault(self.config.name, {"dim": None, "rows": {}, "history": []})
            if data["dim"] is not None and data["dim"] != dimension and data["rows"]:
                raise DimensionMismatch(store=self.name, store_dimension=data["dim"],
                                        embedder_dimension=dimension)
            data["dim"] = dimension
            self._data = data

    # helpers -------------------------------------------------------------------
    def _visible(self, scope: Scope, filters: Filter | None, include_deleted: bool,
                 include_expired: bool) -> list[tuple[MemoryRecord, list[float]]]:
        now = utcnow()
        rows = sorted(self._data["rows"].values(), key=lambda rv: (rv[0].created_at, rv[0].id))
        return [
            (r, v) for r, v in rows
            if self._in_scope(scope, r)
            and r.is_visible(now, include_deleted=include_deleted, include_expired=include_expired)
            and evaluate(filters, r)
        ]

    def _in_scope(self, scope: Scope, rec: MemoryRecord) -> bool:
        return scope.matches(rec.scope)

    def _check_versions(self, changes: list[Change]) -> None:
        rows = self._data["rows"]

        def live_owner(scope: Scope, hash_: str) -> str | None:
            return next((r.id for r, _ in rows.values() if r.hash == hash_
                         and r.deleted_at is None and scope_key(r.scope) == scope_key(scope)), None)

        check_versions(changes, {i: r for i, (r, _) in rows.items()}, live_owner)

    # contract hooks (the base class checked the arguments) ------------------------
    def _apply(self, changes: list[Change]) -> None:
        with _LOCK:
            self._check_versions(changes)
            for change in changes:
                if change.vector is not None and len(change.vector) != self._data["dim"]:
                    raise ValidationError(
                        f"vector of length {len(change.vector)} for a {self._data['dim']}-d store"
                    )
                if change.vector is None and change.record.id not in self._data["rows"]:
                    raise ValidationError("a new record needs a vector")
            for change in changes:
                old = self._data["rows"].get(change.record.id)
                vector = change.vector if change.vector is not None else old[1]
                self._data["rows"][change.record.id] = (change.record.model_copy(deep=True),
                                                        list(vector))
                if change.history is not None:
                    self._data["history"].append((change.record.scope, change.history))

    def _get(self, ids: list[str], scope: Scope, include_deleted: bool) -> list[MemoryRecord]:
        wanted = set(ids)
        return [r for r, _ in self._visible(scope, None, include_deleted, True) if r.id in wanted]

    def _list_records(self, scope: Scope, filters: Filter | None, limit: int,
                      cursor: str | None, include_deleted: bool, include_expired: bool) -> Page:
        rows = self._visible(scope, filters, include_deleted, include_expired)
        keys = [(r.created_at.isoformat(), r.id) for r, _ in rows]
        start = 0
        if cursor is not None:
            after = tuple(cursor.split("|", 1))
            start = next((i for i, k in enumerate(keys) if k > after), len(keys))
        page = [r for r, _ in rows[start:start + limit]]
        more = start + limit < len(rows)
        next_cursor = f"{keys[start + limit - 1][0]}|{keys[start + limit - 1][1]}" if more else None
        return Page(records=page, next_cursor=next_cursor)

    def _count(self, scope: Scope, filters: Filter | None, include_deleted: bool,
               include_expired: bool) -> int:
        return len(self._visible(scope, filters, include_deleted, include_expired))

    def _search(self, vector: Sequence[float], scope: Scope, limit: int, filters: Filter | None,
                include_deleted: bool, include_expired: bool) -> list[SearchHit]:
        hits = []
        for rec, stored in self._visible(scope, filters, include_deleted, include_expired):
            dot = sum(a * b for a, b in zip(vector, stored, strict=True))
            norm = math.sqrt(sum(a * a for a in vector)) * math.sqrt(sum(b * b for b in stored))
            cos = dot / norm if norm else 0.0
            hits.append(SearchHit(record=rec, score=min(1.0, max(0.0, (1 + cos) / 2))))
        hits.sort(key=lambda h: -h.score)
        return hits[:limit]

    def _get_vectors(self, ids: list[str], scope: Scope) -> dict[str, list[float]]:
        wanted = set(ids)
        return {r.id: list(v) for r, v in self._visible(scope, None, True, True) if r.id in wanted}

    def _delete(self, ids: list[str], scope: Scope) -> int:
        with _LOCK:
            gone = [i for i in ids if i in self._data["rows"]
                    and self._in_scope(scope, self._data["rows"][i][0])]
            for i in gone:
                del self._data["rows"][i]
            self._data["history"] = [(s, h) for s, h in self._data["history"] if h.memory_id not in gone]
            return len(gone)

    def _history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        return [h for s, h in self._data["history"]
                if h.memory_id == memory_id and scope.matches(s)]

    def _reset(self) -> None:
        with _LOCK:
            self._data["rows"].clear()
            self._data["history"].clear()


# --- broken on purpose --------------------------------------------------------------


class IgnoresFiltersStore(DictStore):
    """Declares every operator but silently returns unfiltered results."""

    name: ClassVar[str] = "ignores_filters"

    def _visible(self, scope: Scope, filters: Filter | None, include_deleted: bool,
                 include_expired: bool) -> list[tuple[MemoryRecord, list[float]]]:
        return super()._visible(scope, None, include_deleted, include_expired)


class BoolsAsIntsStore(DictStore):
    """Filters metadata with booleans read as 0/1, as a translator that casts JSON
    booleans to numbers would."""

    name: ClassVar[str] = "bools_as_ints"

    def _visible(self, scope: Scope, filters: Filter | None, include_deleted: bool,
                 include_expired: bool) -> list[tuple[MemoryRecord, list[float]]]:
        rows = super()._visible(scope, None, include_deleted, include_expired)

        def cast(rec: MemoryRecord) -> MemoryRecord:
            meta = {k: int(v) if isinstance(v, bool) else v for k, v in rec.metadata.items()}
            return rec.model_copy(update={"metadata": meta})

        return [(r, v) for r, v in rows if evaluate(filters, cast(r))]


class LeaksScopesStore(DictStore):
    """Matches scopes case-insensitively and by prefix, the way a LIKE query would."""

    name: ClassVar[str] = "leaks_scopes"

    def _in_scope(self, scope: Scope, rec: MemoryRecord) -> bool:
        for field, value in scope.items():
            theirs = getattr(rec.scope, field)
            if theirs is None or not theirs.lower().startswith(value.lower()):
                return False
        return True


class LastWriterWinsStore(DictStore):
    """Contract v1 behaviour: upserts by id without checking versions or owners, so
    stale writes land, ids move between scopes and one text is stored twice."""

    name: ClassVar[str] = "last_writer_wins"

    def _check_versions(self, changes: list[Change]) -> None:
        pass


class RepeatingPagesStore(DictStore):
    """Pages by offset and re-serves the last record of each page on the next one."""

    name: ClassVar[str] = "repeating_pages"

    def _list_records(self, scope: Scope, filters: Filter | None, limit: int,
                      cursor: str | None, include_deleted: bool, include_expired: bool) -> Page:
        rows = [r for r, _ in self._visible(scope, filters, include_deleted, include_expired)]
        start = int(cursor) if cursor else 0
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        return Page(records=page, next_cursor=str(start + limit - 1) if more and limit > 1
                    else (str(start + limit) if more else None))


# --- LLMs ----------------------------------------------------------------------------

def _scripted_llm_class() -> type:
    from memplane.llms.scripted import ScriptedLLM

    return ScriptedLLM


class SchemaDroppingLLM(_scripted_llm_class()):  # type: ignore[misc]
    """Declares ``json_schema`` but never sends the schema with the request."""

    name: ClassVar[str] = "drops_schema"

    def generate(self, messages: Any, *, json_schema: dict[str, Any] | None = None,
                 schema_name: str = "response", max_tokens: int | None = None) -> Any:
        return super().generate(messages, json_schema=None, schema_name=schema_name,
                                max_tokens=max_tokens)


class RetriesForeverLLM(_scripted_llm_class()):  # type: ignore[misc]
    """Retries rate limits far beyond any configured ``max_retries``."""

    name: ClassVar[str] = "retries_forever"

    def generate(self, messages: Any, **kwargs: Any) -> Any:
        from memplane.errors import RateLimitError

        for _ in range(20):
            try:
                return super().generate(messages, **kwargs)
            except RateLimitError:
                continue
        return super().generate(messages, **kwargs)


class UntypedErrorsLLM(_scripted_llm_class()):  # type: ignore[misc]
    """Lets failures escape as the SDK's own exception types."""

    name: ClassVar[str] = "untyped_errors"

    def generate(self, messages: Any, **kwargs: Any) -> Any:
        from memplane.errors import ProviderError

        try:
            return super().generate(messages, **kwargs)
        except ProviderError as exc:
            raise RuntimeError(f"HTTP failure: {exc}") from None


# --- rerankers -------------------------------------------------------------------------


class OverlapReranker(Reranker):
    """Scores by the share of query words a document contains (honest, deterministic)."""

    name: ClassVar[str] = "overlap_reference"

    def rerank(self, query: str, documents: Sequence[str], *,
               top_n: int | None = None) -> list[RerankResult]:
        words = set(re.findall(r"\w+", query.lower()))
        scored = []
        for i, doc in enumerate(documents):
            found = set(re.findall(r"\w+", doc.lower()))
            scored.append(RerankResult(index=i, score=len(words & found) / max(1, len(words))))
        ranked = sorted(scored, key=lambda r: -r.score)
        return ranked if top_n is None else ranked[:top_n]


class UnstableTiesReranker(OverlapReranker):
    """Breaks ties by reversed input order."""

    name: ClassVar[str] = "unstable_ties"

    def rerank(self, query: str, documents: Sequence[str], *,
               top_n: int | None = None) -> list[RerankResult]:
        ranked = sorted(super().rerank(query, documents), key=lambda r: (-r.score, -r.index))
        return ranked if top_n is None else ranked[:top_n]


# --- embedders -------------------------------------------------------------------------


def _hashing_class() -> type:
    from memplane.embedders.hashing import HashingEmbedder

    return HashingEmbedder


class BatchDependentEmbedder(_hashing_class()):  # type: ignore[misc]
    """Centres each batch on its mean, so a text's vector depends on its neighbours,
    and silently treats queries differently without declaring ``query_document``."""

    name: ClassVar[str] = "batch_dependent"

    def embed(self, texts: Sequence[str], *, purpose: str = "document") -> Any:
        vectors = [list(v) for v in super().embed(texts)]
        if len(vectors) > 1:
            mean = [sum(col) / len(vectors) for col in zip(*vectors, strict=True)]
            vectors = [[x - m for x, m in zip(v, mean, strict=True)] for v in vectors]
        if purpose == "query":
            vectors = [[-x for x in v] for v in vectors]
        return vectors
