"""Broken vector stores for the holes conformance v2 closes. Each differs from an
honest reference (``DictStore``, ``KeywordDictStore``, SQLite) in one way."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from typing import Any, ClassVar

from reference_providers import DictStore

from memplane.errors import UnsupportedFilter
from memplane.filters import And, Cmp, Filter, Not, Or, evaluate, require_supported
from memplane.models import Change, HistoryEntry, MemoryRecord, Page, Scope, SearchHit, utcnow
from memplane.stores.sqlite import SQLiteStore
from memplane_conformance.filter_semantics import refusable_leaf


class KeywordDictStore(DictStore):
    """Honest: ``DictStore`` plus keyword search scored by the share of query words held."""

    name: ClassVar[str] = "keyword_dict"
    capabilities: ClassVar[frozenset[str]] = DictStore.capabilities | {"keyword_search"}

    def _keyword_search(self, query: str, scope: Scope, limit: int, filters: Filter | None,
                        include_deleted: bool, include_expired: bool) -> list[SearchHit]:
        words = set(re.findall(r"\w+", query.lower()))
        hits = []
        for rec, _ in self._visible(scope, filters, include_deleted, include_expired):
            held = words & set(re.findall(r"\w+", rec.text.lower()))
            if held:
                hits.append(SearchHit(record=rec, score=len(held) / len(words)))
        return self._rank(hits)[:limit]

    def _rank(self, hits: list[SearchHit]) -> list[SearchHit]:
        return sorted(hits, key=lambda h: -h.score)


class AscendingKeywordStore(KeywordDictStore):
    """Returns keyword hits worst first."""

    name: ClassVar[str] = "ascending_keyword"

    def _rank(self, hits: list[SearchHit]) -> list[SearchHit]:
        return sorted(hits, key=lambda h: h.score)


class ConstantScoreKeywordStore(KeywordDictStore):
    """A fake keyword search: lists the scope with one constant score."""

    name: ClassVar[str] = "constant_keyword"

    def _keyword_search(self, query: str, scope: Scope, limit: int, filters: Filter | None,
                        include_deleted: bool, include_expired: bool) -> list[SearchHit]:
        rows = self._visible(scope, filters, include_deleted, include_expired)
        return [SearchHit(record=r, score=0.5) for r, _ in rows][:limit]


def _loose(node: Filter | None, rec: MemoryRecord, depth: int = 0) -> bool:
    """``evaluate``, except that ``ne``/``nin`` below the top level always match."""
    if isinstance(node, And):
        return all(_loose(c, rec, depth + 1) for c in node.all)
    if isinstance(node, Or):
        return any(_loose(c, rec, depth + 1) for c in node.any)
    if isinstance(node, Not):
        return not _loose(node.not_, rec, depth + 1)
    if isinstance(node, Cmp) and node.op in ("ne", "nin") and depth > 0:
        return True
    return evaluate(node, rec)


class NestedNegationStore(DictStore):
    """Drops ``ne``/``nin`` when they sit inside AND/OR/NOT."""

    name: ClassVar[str] = "nested_negation"

    def _visible(self, scope: Scope, filters: Filter | None, include_deleted: bool,
                 include_expired: bool) -> list[tuple[MemoryRecord, list[float]]]:
        require_supported(filters, self.filter_operators, self.name)
        rows = super()._visible(scope, None, include_deleted, include_expired)
        return [(r, v) for r, v in rows if _loose(filters, r)]


class QuoteStrippingScopeStore(DictStore):
    """Strips quotes from scope values before comparing (``u'`` sees ``u``)."""

    name: ClassVar[str] = "quote_stripping"

    def _in_scope(self, scope: Scope, rec: MemoryRecord) -> bool:
        def bare(value: str | None) -> str | None:
            return None if value is None else value.replace("'", "").replace('"', "")

        return all(bare(getattr(rec.scope, f)) == bare(v) for f, v in scope.items())


class HistoryLeakStore(DictStore):
    """``history`` compares the scope case-insensitively; every other read is exact."""

    name: ClassVar[str] = "history_leak"

    def _history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        def folded(s: Scope) -> Scope:
            return Scope(**{f: v.lower() for f, v in s.items()})

        return [h for s, h in self._data["history"]
                if h.memory_id == memory_id and folded(scope).matches(folded(s))]


class IncludeFlagsLeakStore(DictStore):
    """Forgets the scope on reads with ``include_deleted`` or ``include_expired``."""

    name: ClassVar[str] = "include_flags_leak"

    def _visible(self, scope: Scope, filters: Filter | None, include_deleted: bool,
                 include_expired: bool) -> list[tuple[MemoryRecord, list[float]]]:
        if include_deleted and include_expired:
            return super()._visible(scope, filters, include_deleted, include_expired)  # get()
        if include_deleted or include_expired:
            require_supported(filters, self.filter_operators, self.name)
            now = utcnow()
            rows = sorted(self._data["rows"].values(), key=lambda rv: (rv[0].created_at, rv[0].id))
            return [(r, v) for r, v in rows if evaluate(filters, r) and r.is_visible(
                now, include_deleted=include_deleted, include_expired=include_expired)]
        return super()._visible(scope, filters, include_deleted, include_expired)


class DeleteAllScopeStore(DictStore):
    """Ignores the scope on exactly the listing ``Memory.delete_all`` makes."""

    name: ClassVar[str] = "delete_all_scope"

    def _list_records(self, scope: Scope, filters: Filter | None, limit: int,
                      cursor: str | None, include_deleted: bool, include_expired: bool) -> Page:
        if include_expired and not include_deleted and limit >= 500:
            rows = [r for r, _ in sorted(self._data["rows"].values(),
                                         key=lambda rv: (rv[0].created_at, rv[0].id))]
            return Page(records=rows[:limit], next_cursor=None)
        return super()._list_records(scope, filters, limit, cursor, include_deleted,
                                     include_expired)


class VectorReadLeakStore(DictStore):
    """``get_vectors`` ignores the scope."""

    name: ClassVar[str] = "vector_read_leak"

    def _get_vectors(self, ids: list[str], scope: Scope) -> dict[str, list[float]]:
        return {i: list(self._data["rows"][i][1]) for i in ids if i in self._data["rows"]}


class FilteredListingEndsEarlyStore(DictStore):
    """Pages over unfiltered rows, filters each page, and stops at the first short one."""

    name: ClassVar[str] = "filtered_listing_ends_early"

    def _list_records(self, scope: Scope, filters: Filter | None, limit: int,
                      cursor: str | None, include_deleted: bool, include_expired: bool) -> Page:
        if filters is None:
            return super()._list_records(scope, None, limit, cursor, include_deleted,
                                         include_expired)
        page = super()._list_records(scope, None, limit, cursor, include_deleted,
                                     include_expired)
        kept = [r for r in page.records if evaluate(filters, r)]
        return Page(records=kept, next_cursor=page.next_cursor if len(kept) == limit else None)


class NonAtomicStore(DictStore):
    """Declares ``atomic_apply`` but writes change by change, checking each as it goes
    (versions and owners included, so a refused last change leaves the first ones)."""

    name: ClassVar[str] = "non_atomic"

    def _apply(self, changes: list[Change]) -> None:
        for change in changes:
            super()._apply([change])


class FakePersistentStore(DictStore):
    """Declares ``persistent`` and ``concurrent_writers`` but keeps data in the
    process: a new process sees nothing."""

    name: ClassVar[str] = "fake_persistent"
    capabilities: ClassVar[frozenset[str]] = DictStore.capabilities | {"persistent",
                                                                       "concurrent_writers"}


class LockingSQLiteStore(SQLiteStore):
    """SQLite in exclusive locking mode: the first writer keeps the file, so a second
    process gets "database is locked", while it still declares ``concurrent_writers``."""

    name: ClassVar[str] = "locking_sqlite"

    def _setup(self, conn: sqlite3.Connection) -> None:
        super()._setup(conn)
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")



class ThreadWrappedAsyncStore(DictStore):
    """Declares ``async_native`` but its async hooks hand the sync hooks to a thread
    (the base class's default, spelled out so a class-identity check cannot see it)."""

    name: ClassVar[str] = "thread_wrapped_async"
    capabilities: ClassVar[frozenset[str]] = DictStore.capabilities | {"async_native"}

    async def _aapply(self, changes: list[Change]) -> None:
        await asyncio.to_thread(self._apply, changes)

    async def _aget(self, ids: list[str], scope: Scope, include_deleted: bool) -> list[MemoryRecord]:
        return await asyncio.to_thread(self._get, ids, scope, include_deleted)

    async def _asearch(self, vector: Any, scope: Scope, limit: int, filters: Filter | None,
                       include_deleted: bool, include_expired: bool) -> list[SearchHit]:
        return await asyncio.to_thread(self._search, vector, scope, limit, filters,
                                       include_deleted, include_expired)

    async def _acount(self, scope: Scope, filters: Filter | None, include_deleted: bool,
                      include_expired: bool) -> int:
        return await asyncio.to_thread(self._count, scope, filters, include_deleted,
                                       include_expired)

    async def _alist_records(self, scope: Scope, filters: Filter | None, limit: int,
                             cursor: str | None, include_deleted: bool,
                             include_expired: bool) -> Page:
        return await asyncio.to_thread(self._list_records, scope, filters, limit, cursor,
                                       include_deleted, include_expired)


def _leaves(node: Filter | None) -> list[Cmp]:
    if node is None:
        return []
    if isinstance(node, And | Or):
        return [leaf for c in (node.all if isinstance(node, And) else node.any) for leaf in _leaves(c)]
    if isinstance(node, Not):
        return _leaves(node.not_)
    return [node]


class RefusesRefusableStore(DictStore):
    """Honest: refuses, with ``UnsupportedFilter``, exactly the operand shapes the
    contract lets a store refuse (datetime ordering of a non-datetime field, list or
    object operands), as SQL- and expression-translating stores do."""

    name: ClassVar[str] = "refuses_refusable"

    def _visible(self, scope: Scope, filters: Filter | None, include_deleted: bool,
                 include_expired: bool) -> list[tuple[MemoryRecord, list[float]]]:
        for leaf in _leaves(filters):
            if refusable_leaf(leaf):
                raise UnsupportedFilter(f"cannot evaluate {leaf.op!r} on {leaf.field!r}: "
                                        f"{refusable_leaf(leaf)}")
        return super()._visible(scope, filters, include_deleted, include_expired)


class RefusesNestedNegationStore(RefusesRefusableStore):
    """Refuses ``ne``/``nin`` inside AND/OR/NOT although it declares them (a typed
    refusal, but not of a shape the contract allows refusing)."""

    name: ClassVar[str] = "refuses_nested_negation"

    def _visible(self, scope: Scope, filters: Filter | None, include_deleted: bool,
                 include_expired: bool) -> list[tuple[MemoryRecord, list[float]]]:
        if not isinstance(filters, Cmp) and any(leaf.op in ("ne", "nin") for leaf in _leaves(filters)):
            raise UnsupportedFilter("nested negations are not supported")
        return super()._visible(scope, filters, include_deleted, include_expired)
