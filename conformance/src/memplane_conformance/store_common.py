"""Scopes and helpers the vector-store contract modules share."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from memplane.models import MemoryRecord, Scope
from memplane.providers.base import VectorStore
from memplane_conformance.data import add_change, random_unit, record

ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")


def new_store(factory: Callable[..., Any], dimension: int) -> Any:
    """One store from the author's ``store_factory``, unopened. A factory that takes a
    ``dimension`` argument (a declared extension point) is told the size the store
    will be opened with, e.g. to migrate it as another role first."""
    from memplane_conformance.guard import note_extension

    try:
        takes = "dimension" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        takes = False
    if not takes:
        return factory()
    note_extension("store_factory(dimension)", getattr(factory, "__qualname__", repr(factory)))
    return factory(dimension=dimension)


def ids_of(records: Any) -> list[str]:
    """Record ids of records or search hits, in order."""
    return [getattr(r, "record", r).id for r in records]


def fill(store: VectorStore, scope: Scope, n: int, *, prefix: str = "fact",
         start: int = 0, **fields: Any) -> list[MemoryRecord]:
    """Write ``n`` records of ``scope`` one minute apart (from minute ``start``)."""
    records = [record(f"{prefix} {i}", scope, minutes=start + i, **fields) for i in range(n)]
    store.apply([add_change(r, random_unit(start + i)) for i, r in enumerate(records)])
    return records


def page_through(store: VectorStore, scope: Scope, limit: int, **kwargs: Any) -> list[str]:
    """Every id ``list_records`` yields following ``next_cursor`` to the end."""
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        page = store.list_records(scope, limit=limit, cursor=cursor, **kwargs)
        assert len(page.records) <= limit, f"a page of {len(page.records)} > limit {limit}"
        seen.extend(ids_of(page.records))
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pagination never ended")
