"""``example_dict``: records, vectors and history in one JSON file.

Small on purpose: everything is held in a dict and written through to the file on
each change (a temporary file, then an atomic rename), so a batch lands all or
nothing and the data survives a restart. Not for large data sets or several
processes; it shows what a provider has to do, not how to scale it.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from memplane.errors import DimensionMismatch, ValidationError
from memplane.filters import LOGICAL, OPERATORS, Filter, evaluate, require_supported
from memplane.models import (
    Change,
    HistoryEntry,
    MemoryRecord,
    Page,
    Scope,
    SearchHit,
    utcnow,
)
from memplane.providers.base import CONTRACT_VERSION, ProviderConfig, VectorStore


class ExampleDictConfig(ProviderConfig):
    path: str = Field(description="the JSON file holding the store (created on first open)")


class ExampleDictStore(VectorStore):
    """A persistent JSON-file vector store with exact search and every filter operator."""

    name: ClassVar[str] = "example_dict"
    Config = ExampleDictConfig
    contract_version: ClassVar[int] = CONTRACT_VERSION
    capabilities: ClassVar[frozenset[str]] = frozenset({"persistent", "atomic_apply"})
    filter_operators: ClassVar[frozenset[str]] = OPERATORS | LOGICAL

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._lock = threading.RLock()
        self._dimension: int | None = None
        self._records: dict[str, MemoryRecord] = {}
        self._vectors: dict[str, list[float]] = {}
        self._history: list[HistoryEntry] = []

    # file I/O ---------------------------------------------------------------------
    @property
    def _path(self) -> Path:
        return Path(self.config.path)

    def _load(self) -> None:
        if not self._path.exists():
            return
        data = json.loads(self._path.read_text(encoding="utf-8"))
        self._dimension = data["dimension"]
        self._records = {r["id"]: MemoryRecord.model_validate(r) for r in data["records"]}
        self._vectors = {k: list(v) for k, v in data["vectors"].items()}
        self._history = [HistoryEntry.model_validate(h) for h in data["history"]]

    def _save(self, records: dict[str, MemoryRecord], vectors: dict[str, list[float]],
              history: list[HistoryEntry]) -> None:
        data = {
            "dimension": self._dimension,
            "records": [r.model_dump(mode="json") for r in records.values()],
            "vectors": vectors,
            "history": [h.model_dump(mode="json") for h in history],
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self._path)  # atomic: readers see the old or the new file

    def _require_open(self) -> int:
        if self._dimension is None:
            raise ValidationError("example_dict store is not open: call open(dimension) first")
        return self._dimension

    # contract ---------------------------------------------------------------------
    def open(self, dimension: int) -> None:
        with self._lock:
            self._load()
            if self._dimension is not None and self._dimension != dimension:
                raise DimensionMismatch(store=self.name, store_dimension=self._dimension,
                                        embedder_dimension=dimension)
            self._dimension = dimension
            if not self._path.exists():
                self._save(self._records, self._vectors, self._history)

    def apply(self, changes: Sequence[Change]) -> None:
        with self._lock:
            dimension = self._require_open()
            records, vectors, history = dict(self._records), dict(self._vectors), list(self._history)
            for change in changes:  # build the new state first: all or nothing
                rid = change.record.id
                owner = records.get(rid)
                if owner is not None and owner.scope != change.record.scope:
                    # a memory never moves to another scope
                    raise ValidationError(f"memory {rid!r} already exists in another scope")
                if change.vector is not None:
                    if len(change.vector) != dimension:
                        raise DimensionMismatch(store=self.name, store_dimension=dimension,
                                                embedder_dimension=len(change.vector))
                    vectors[rid] = [float(x) for x in change.vector]
                elif rid not in vectors:
                    raise ValidationError(f"record {rid!r} is new, so its change needs a vector")
                records[rid] = change.record.model_copy(deep=True)
                if change.history is not None:
                    history.append(change.history)
            self._save(records, vectors, history)
            self._records, self._vectors, self._history = records, vectors, history

    def _visible(self, scope: Scope, filters: Filter | None, include_deleted: bool,
                 include_expired: bool) -> list[MemoryRecord]:
        require_supported(filters, self.filter_operators, self.name)
        now = utcnow()
        return sorted(
            (r for r in self._records.values()
             if scope.matches(r.scope)
             and r.is_visible(now, include_deleted=include_deleted, include_expired=include_expired)
             and evaluate(filters, r)),
            key=_order_key,
        )

    def get(self, ids: Sequence[str], scope: Scope, *,
            include_deleted: bool = True) -> list[MemoryRecord]:
        with self._lock:
            found = (self._records.get(i) for i in dict.fromkeys(ids))
            return [r for r in found if r is not None and scope.matches(r.scope)
                    and (include_deleted or r.deleted_at is None)]

    def list_records(self, scope: Scope, *, filters: Filter | None = None, limit: int = 100,
                     cursor: str | None = None, include_deleted: bool = False,
                     include_expired: bool = False) -> Page:
        with self._lock:
            rows = self._visible(scope, filters, include_deleted, include_expired)
        if cursor is not None:  # keyset: strictly after the last key of the previous page
            after = tuple(json.loads(cursor))
            rows = [r for r in rows if _order_key(r) > after]
        page = rows[:limit]
        more = len(rows) > limit
        return Page(records=page, next_cursor=json.dumps(_order_key(page[-1])) if more else None)

    def count(self, scope: Scope, *, filters: Filter | None = None, include_deleted: bool = False,
              include_expired: bool = False) -> int:
        with self._lock:
            return len(self._visible(scope, filters, include_deleted, include_expired))

    def search(self, vector: Sequence[float], scope: Scope, *, limit: int = 10,
               filters: Filter | None = None, include_deleted: bool = False,
               include_expired: bool = False) -> list[SearchHit]:
        with self._lock:
            rows = self._visible(scope, filters, include_deleted, include_expired)
            hits = [SearchHit(record=r, score=_score(vector, self._vectors[r.id])) for r in rows]
        hits.sort(key=lambda h: -h.score)
        return hits[:limit]

    def delete(self, ids: Sequence[str], scope: Scope) -> int:
        with self._lock:
            gone = {i for i in ids if i in self._records and scope.matches(self._records[i].scope)}
            if not gone:
                return 0
            records = {k: v for k, v in self._records.items() if k not in gone}
            vectors = {k: v for k, v in self._vectors.items() if k not in gone}
            history = [h for h in self._history if h.memory_id not in gone]
            self._save(records, vectors, history)
            self._records, self._vectors, self._history = records, vectors, history
            return len(gone)

    def history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        with self._lock:
            record = self._records.get(memory_id)
            if record is None or not scope.matches(record.scope):
                return []
            return sorted((h for h in self._history if h.memory_id == memory_id),
                          key=lambda h: h.at)

    def reset(self) -> None:
        with self._lock:
            self._save({}, {}, [])
            self._records, self._vectors, self._history = {}, {}, []


def _order_key(record: MemoryRecord) -> tuple[str, str]:
    return (record.created_at.isoformat(), record.id)


def _score(query: Sequence[float], stored: Sequence[float]) -> float:
    dot = sum(a * b for a, b in zip(query, stored, strict=True))
    norm = math.sqrt(sum(a * a for a in query)) * math.sqrt(sum(b * b for b in stored))
    cosine = dot / norm if norm else 0.0
    return min(1.0, max(0.0, (1.0 + cosine) / 2.0))
