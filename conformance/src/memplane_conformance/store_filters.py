"""Filter semantics in the default store contract: a fixed, broad set of nested
negations (``ne``/``nin``/``NOT`` inside ``AND``/``OR``/``NOT``), the hostile values
and edge cases of :mod:`memplane_conformance.filter_semantics`, and a seeded random
part. Every filter must select exactly what :func:`memplane.filters.evaluate` selects;
a filter using an undeclared operator must raise ``UnsupportedFilter``; a declared
one may not be refused, except for the two operand shapes of
:func:`~memplane_conformance.filter_semantics.refusable_leaf`."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pytest

from memplane.errors import UnsupportedFilter, ValidationError
from memplane.filters import operators_used, parse_filter
from memplane.models import MemoryRecord
from memplane.providers.base import VectorStore
from memplane_conformance.filter_semantics import (
    EDGE_CASES,
    FIELDS,
    HOSTILE_VALUES,
    SEMANTICS_DIM,
    SEMANTICS_SCOPE,
    T0,
    load_semantics_records,
    may_refuse,
    reference_ids,
)

#: seed of the random part; set MEMPLANE_CONFORMANCE_SEED to explore others.
DEFAULT_SEED = 20261205
RANDOM_CASES = 120

#: negations that broke translators when nested (a missing field matches ne / nin).
NEGATIONS: tuple[dict[str, Any], ...] = (
    {"k": {"ne": "a"}}, {"k": {"nin": ["a", 1]}}, {"n": {"ne": 1}}, {"missing": {"ne": "x"}},
    {"b": {"nin": [True]}}, {"k": {"nin": []}}, {"attributed_to": {"ne": "user"}},
    {"NOT": {"k": "a"}},
)
_WRAPPERS: tuple[Callable[[dict[str, Any]], dict[str, Any]], ...] = (
    lambda x: {"AND": [x, {"n": {"exists": True}}]},
    lambda x: {"AND": [{"k": {"exists": True}}, x]},
    lambda x: {"OR": [x, {"k": "no such value"}]},
    lambda x: {"OR": [{"n": {"gt": 100}}, x]},
    lambda x: {"NOT": x},
    lambda x: {"NOT": {"NOT": x}},
    lambda x: {"OR": [{"AND": [x, {"b": True}]}, {"NOT": x}]},
    lambda x: {"AND": [{"NOT": {"AND": [x, {"n": {"lt": 5}}]}}, {"k": {"exists": True}}]},
    lambda x: {"OR": [{"AND": [{"NOT": x}, {"tags": {"contains": "a"}}]}, {"AND": [x, {"n": 0}]}]},
)
NESTED_CASES: tuple[dict[str, Any], ...] = tuple(w(x) for x in NEGATIONS for w in _WRAPPERS)

_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains")
_VALUES: tuple[Any, ...] = (*HOSTILE_VALUES, -3, 0, 1, 2, 5, 0.0, 1.0, 2.5, True, False, None,
                            T0, "2024-01-01T05:00:00+00:00", "a", "b")


def random_spec(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    """A random filter spec over the semantics records' fields."""
    if depth < 3 and rng.random() < 0.55:
        node = rng.choice(("AND", "OR", "NOT"))
        if node == "NOT":
            return {"NOT": random_spec(rng, depth + 1)}
        return {node: [random_spec(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    field = rng.choice(FIELDS)
    kind = rng.random()
    if kind < 0.2:
        return {field: {rng.choice(("in", "nin")): rng.sample(_VALUES, rng.randint(0, 3))}}
    if kind < 0.3:
        return {field: {"exists": rng.random() < 0.5}}
    return {field: {rng.choice(_OPS): rng.choice(_VALUES)}}


def check_filter(store: VectorStore, records: Sequence[MemoryRecord], spec: dict[str, Any]) -> None:
    """``list_records``, ``count`` and ``search`` select what the reference selects;
    undeclared operators are refused and declared ones are not."""
    tree = parse_filter(spec)
    expected = reference_ids(tree, records)
    if expected is None:
        return  # the reference itself cannot decide (e.g. a non-date string vs a datetime)
    declared = set(operators_used(tree)) <= set(store.filter_operators)
    try:
        listed = {r.id for r in store.list_records(SEMANTICS_SCOPE, filters=tree, limit=1000).records}
    except UnsupportedFilter:
        assert not declared or may_refuse(tree), (
            f"refused a filter of declared operators (only datetime ordering of a "
            f"non-datetime field and list/object operands may be refused): {spec}")
        return
    except ValidationError as exc:
        assert "ISO 8601" in str(exc), exc  # a malformed date string is bad input
        return
    assert declared, f"accepted undeclared operators {set(operators_used(tree))}: {spec}"
    assert listed == expected, f"list_records with {spec}"
    assert store.count(SEMANTICS_SCOPE, filters=tree) == len(expected), f"count with {spec}"
    vector = [1.0] + [0.0] * (SEMANTICS_DIM - 1)
    hits = store.search(vector, SEMANTICS_SCOPE, filters=tree, limit=len(records) + 1)
    assert {h.record.id for h in hits} == expected, f"search with {spec}"


class StoreFilterTests:
    """Mixed into :class:`~memplane_conformance.VectorStoreContract`."""

    _memplane_suite_class: ClassVar[bool] = True

    @pytest.fixture
    def memplane_semantics(
        self, memplane_new_store: Callable[..., VectorStore]
    ) -> tuple[VectorStore, list[MemoryRecord]]:
        store = memplane_new_store(SEMANTICS_DIM)
        return store, load_semantics_records(store)

    def test_nested_negations_match_the_reference(
        self, memplane_semantics: tuple[VectorStore, list[MemoryRecord]]
    ) -> None:
        """``ne``, ``nin`` and ``NOT`` nested inside ``AND``/``OR``/``NOT`` (72 fixed
        cases) select what ``memplane.filters.evaluate`` selects.

        Troubleshooting: translate every node recursively with the same rules as at the
        top level; a missing field matches ``ne``/``nin``, and ``NOT`` of a comparison
        on a missing field is true. The failing spec is in the message.
        """
        for spec in NESTED_CASES:
            check_filter(*memplane_semantics, spec)

    def test_hostile_values_and_edge_cases_match_the_reference(
        self, memplane_semantics: tuple[VectorStore, list[MemoryRecord]]
    ) -> None:
        """Values that look like query syntax, type confusions (``1``/``1.0``/``True``/
        ``"1"``), record fields and negative numbers select what the reference selects.

        Troubleshooting: bind values as parameters or escape them fully; keep JSON
        types apart (``True`` is not ``1``, except ``1 == 1.0``).
        """
        store, records = memplane_semantics
        for value in HOSTILE_VALUES:
            for op in ("eq", "ne", "gt", "lte", "contains"):
                check_filter(store, records, {"tags" if op == "contains" else "k": {op: value}})
        for spec in EDGE_CASES:
            check_filter(store, records, spec)

    def test_random_filters_match_the_reference(
        self, memplane_semantics: tuple[VectorStore, list[MemoryRecord]]
    ) -> None:
        """Random filter trees (seeded; MEMPLANE_CONFORMANCE_SEED picks another seed)
        select what the reference selects.

        Troubleshooting: the failing spec and the seed are in the message; reproduce
        with ``MEMPLANE_CONFORMANCE_SEED=<seed>``.
        """
        seed = int(os.environ.get("MEMPLANE_CONFORMANCE_SEED", DEFAULT_SEED))
        rng = random.Random(seed)
        for n in range(RANDOM_CASES):
            spec = random_spec(rng)
            try:
                check_filter(*memplane_semantics, spec)
            except AssertionError as exc:
                raise AssertionError(f"seed {seed}, case {n}: {exc}") from exc
