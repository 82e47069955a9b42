"""``FilterSemanticsContract``: random and adversarial filters against the reference.

:class:`~memplane_conformance.VectorStoreContract` checks one filter per operator
over friendly data. This contract goes further for stores that translate filters
into a query language (Milvus expressions, Weaviate where-filters, SQL...): a record
set full of type confusions (``1`` vs ``1.0`` vs ``True`` vs ``"1"``), missing and
null fields, lists, dates, and values that look like query syntax; random filter
trees over it (Hypothesis); and the edge cases that broke translators before. Each
filter must select exactly what :func:`memplane.filters.evaluate` selects, or be
refused with :class:`~memplane.errors.UnsupportedFilter` (an undeclared operator, or a
declared one on an operand shape :func:`refusable_leaf` allows refusing).

Subclass it and supply one fixture, scoped to the class (or wider), because the
records are loaded once and read by every example::

    import pytest
    from memplane_conformance.filter_semantics import FilterSemanticsContract

    class TestMyStoreFilterSemantics(FilterSemanticsContract):
        @pytest.fixture(scope="class")
        @classmethod
        def filter_semantics_store(cls, tmp_path_factory):
            store = MyStore({"path": str(tmp_path_factory.mktemp("sem") / "db")})
            yield store                 # empty, not yet opened; the suite opens it
            ...                         # drop remote collections etc. here

The building blocks (:data:`HOSTILE_VALUES`, :data:`SEMANTICS_METADATA`,
:func:`filter_specs`, :func:`assert_filter_matches_reference`...) are public for
tests of your own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memplane.errors import UnsupportedFilter, ValidationError
from memplane.filters import (
    And,
    Cmp,
    Filter,
    Not,
    Or,
    evaluate,
    field_path,
    operators_used,
    parse_filter,
)
from memplane.models import Change, MemoryRecord, Scope
from memplane.providers.base import VectorStore
from memplane_conformance.contract import ContractBase

#: the vector size the suite opens the store with.
SEMANTICS_DIM = 4
#: records under test live here; one decoy with the first record's metadata lives in OTHER_SCOPE.
SEMANTICS_SCOPE = Scope(user_id="u")
OTHER_SCOPE = Scope(user_id="v")
T0 = datetime(2024, 1, 1, tzinfo=UTC)

#: metadata values aimed at expression builders: quotes, backslashes, newlines,
#: template placeholders, and strings that read as numbers or booleans.
HOSTILE_VALUES: tuple[str, ...] = (
    '" or 1==1 or "', "a\\", '\\"', "it's", "x\ny", "{p0}", "caf\u00e9", "cafe\u0301",
    "1", "true", "",
)

#: one record per entry: every JSON type under the same keys, missing and null
#: fields, lists of mixed types, dates as strings (and one that is not a date).
SEMANTICS_METADATA: tuple[dict[str, Any], ...] = (
    {"k": "a", "n": 1, "b": True, "tags": ["a", "b"], "when": "2024-01-02T00:00:00+00:00"},
    {"k": "b", "n": 2.5, "b": False, "tags": [], "when": "2023-05-01T10:00:00+00:00"},
    {"k": 1, "n": "1", "b": 1, "tags": ["1", 1, True]},
    {"k": True, "n": -3, "tags": "a", "none": None},
    {"k": None, "n": 0, "b": "true", "tags": [False, 2.5]},
    {},
    *({"k": v, "tags": [v]} for v in HOSTILE_VALUES),
    {"k": 1.0, "n": 10**12, "nested": {"k": "a"}, "when": "not a date"},
)

#: filters that broke translators before (type confusion, negation of missing
#: fields, record fields, negative numbers as function arguments).
EDGE_CASES: tuple[dict[str, Any], ...] = (
    {"k": 1}, {"k": True}, {"b": 1}, {"b": True}, {"n": {"gt": 0}}, {"n": {"ne": 1}},
    {"k": {"nin": ["a", 1]}}, {"none": {"exists": False}}, {"tags": {"contains": 1}},
    {"tags": {"contains": True}}, {"when": {"gt": T0}}, {"observed_at": {"exists": True}},
    {"created_at": {"lt": "2024-01-01T03:00:00+00:00"}}, {"attributed_to": {"ne": "user"}},
    {"NOT": {"k": "a"}}, {"NOT": {"n": {"gt": 0}}},
    {"k": {"contains": -3.0}}, {"tags": {"contains": -3}}, {"n": {"lt": -1}},
    # operands a store may refuse (refusable_leaf), but must not approximate
    {"when": {"gte": T0}}, {"attributed_to": {"lt": T0}}, {"tags": {"eq": ["a", "b"]}},
    {"tags": {"eq": [False, 2.5]}}, {"tags": {"ne": [False, 2.5]}},
    {"tags": {"in": [["1", 1, True], "x"]}}, {"nested": {"eq": {"k": "a"}}},
)

#: metadata keys of SEMANTICS_METADATA, a missing one, a dotted path and record fields.
FIELDS: tuple[str, ...] = ("k", "n", "b", "tags", "when", "none", "nested", "missing",
                           "metadata.k", "created_at", "observed_at", "attributed_to")
VALUES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(HOSTILE_VALUES), st.integers(-5, 5), st.sampled_from([0.0, 1.0, 2.5, -3.0]),
    st.booleans(), st.none(),
    st.sampled_from([T0, T0 + timedelta(hours=3), T0 - timedelta(days=400)]),
    st.sampled_from(["2024-01-01T05:00:00+00:00", "2023-01-01T00:00:00+00:00", "a", "b"]),
    st.text(max_size=6),
)


def semantics_records(scope: Scope = SEMANTICS_SCOPE) -> list[MemoryRecord]:
    """One record per :data:`SEMANTICS_METADATA` entry, with varied record fields."""
    return [
        MemoryRecord(
            text=f"record {i}", scope=scope, metadata=meta,
            created_at=T0 + timedelta(hours=i), updated_at=T0 + timedelta(hours=i),
            observed_at=T0 if i % 2 else None,
            attributed_to=["user", "assistant", None, "it's"][i % 4],
        )
        for i, meta in enumerate(SEMANTICS_METADATA)
    ]


def load_semantics_records(store: VectorStore) -> list[MemoryRecord]:
    """Store :func:`semantics_records` (plus a decoy in :data:`OTHER_SCOPE`) in an
    open store of :data:`SEMANTICS_DIM` dimensions; returns the records under test."""
    records = semantics_records()
    decoy = MemoryRecord(text="other scope", scope=OTHER_SCOPE, metadata=SEMANTICS_METADATA[0])
    store.apply([Change(record=r, vector=[1.0, float(i), 0.0, 1.0])
                 for i, r in enumerate([*records, decoy])])
    return records


def filter_specs(
    fields: Sequence[str] = FIELDS, values: st.SearchStrategy[Any] = VALUES, *, max_leaves: int = 5
) -> st.SearchStrategy[dict[str, Any]]:
    """Random filter specs (the dict form :func:`memplane.filters.parse_filter` takes):
    every comparison operator over ``fields`` and ``values``, nested in AND/OR/NOT."""
    scalar_ops = st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "contains"])
    names = st.sampled_from(list(fields))
    comparisons = st.one_of(
        st.builds(lambda f, op, v: {f: {op: v}}, names, scalar_ops, values),
        st.builds(lambda f, op, vs: {f: {op: vs}}, names, st.sampled_from(["in", "nin"]),
                  st.lists(values, max_size=3)),
        st.builds(lambda f, b: {f: {"exists": b}}, names, st.booleans()),
    )
    return st.recursive(
        comparisons,
        lambda inner: st.one_of(
            st.builds(lambda xs: {"AND": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda xs: {"OR": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda x: {"NOT": x}, inner),
        ),
        max_leaves=max_leaves,
    )


#: record fields that hold datetimes; ordering them against a datetime is never refusable.
DATETIME_FIELDS = frozenset(["created_at", "updated_at", "observed_at", "expires_at"])
_ORDERED_OPS = frozenset(["gt", "gte", "lt", "lte"])


def refusable_leaf(node: Cmp) -> str | None:
    """Why a store may refuse this comparison even with its operator declared, or None.

    Two operand shapes have no faithful spelling in JSON-based query languages, so the
    contract lets a store raise ``UnsupportedFilter`` for them (it must never
    approximate them; a store that evaluates them must match the reference):

    - ordering (``gt``/``gte``/``lt``/``lte``) a metadata key or ``attributed_to``
      against a ``datetime``: JSON has no datetime type, and the reference parses each
      stored string with ``datetime.fromisoformat``;
    - a list or object operand (``eq``/``ne``/``contains`` with one, or one inside
      ``in``/``nin``): the reference uses Python equality of the decoded JSON, where
      ``[True] == [1]`` although ``True != 1`` at the top level.
    """
    _, name = field_path(node.field)
    if (node.op in _ORDERED_OPS and isinstance(node.value, datetime)
            and name not in DATETIME_FIELDS):
        return "ordering a non-datetime field against a datetime"
    values = node.value if node.op in ("in", "nin") and isinstance(node.value, list | tuple) \
        else [node.value]
    if any(isinstance(v, list | tuple | dict) for v in values):
        return "a list or object operand"
    return None


def may_refuse(tree: Filter | None) -> bool:
    """Whether ``tree`` holds a comparison :func:`refusable_leaf` allows refusing."""
    if tree is None:
        return False
    if isinstance(tree, And | Or):
        return any(may_refuse(child) for child in (tree.all if isinstance(tree, And) else tree.any))
    if isinstance(tree, Not):
        return may_refuse(tree.not_)
    return refusable_leaf(tree) is not None


def reference_ids(tree: Filter | None, records: Sequence[MemoryRecord]) -> set[str] | None:
    """Ids :func:`memplane.filters.evaluate` selects, or None where the reference
    itself cannot decide (e.g. a non-ISO string compared with a datetime)."""
    try:
        return {r.id for r in records if evaluate(tree, r)}
    except (TypeError, ValueError):
        return None


def assert_filter_matches_reference(
    store: VectorStore, records: Sequence[MemoryRecord], spec: dict[str, Any],
    scope: Scope = SEMANTICS_SCOPE,
) -> None:
    """``list_records``, ``count`` and ``search`` under ``spec`` select exactly the
    records the reference selects, or the store refuses the filter outright."""
    tree = parse_filter(spec)
    expected = reference_ids(tree, records)
    if expected is None:
        return
    try:
        listed = {r.id for r in store.list_records(scope, filters=tree, limit=1000).records}
    except UnsupportedFilter:
        # refusing a declared operator is allowed for the refusable shapes only;
        # silently approximating is never allowed
        declared = set(operators_used(tree)) <= set(store.filter_operators)
        assert not declared or may_refuse(tree), (
            f"refused a filter of declared operators (only datetime ordering of a "
            f"non-datetime field and list/object operands may be refused): {spec}")
        return
    except ValidationError as exc:
        # a malformed datetime string is bad input even where the reference's
        # short-circuit evaluation never reaches it
        assert "ISO 8601" in str(exc), exc
        return
    assert listed == expected, spec
    assert store.count(scope, filters=tree) == len(expected), spec
    vector = [1.0] + [0.0] * (SEMANTICS_DIM - 1)
    hits = store.search(vector, scope, filters=tree, limit=len(records) + 1)
    assert {h.record.id for h in hits} == expected, f"search with {spec}"


class FilterSemanticsContract(ContractBase):
    """Needs the ``filter_semantics_store`` fixture (class scope or wider)."""

    _memplane_suite_class: ClassVar[bool] = True

    # a classmethod: pytest deprecates class-scoped fixtures on instances
    @pytest.fixture(scope="class")
    @classmethod
    def filter_semantics_loaded(
        cls, filter_semantics_store: VectorStore
    ) -> Iterator[tuple[VectorStore, list[MemoryRecord]]]:
        store = filter_semantics_store
        store.open(SEMANTICS_DIM)
        records = load_semantics_records(store)
        yield store, records
        store.close()

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.differing_executors])
    @given(spec=filter_specs())
    def test_random_filters_match_the_reference(
        self, filter_semantics_loaded: tuple[VectorStore, list[MemoryRecord]], spec: dict[str, Any]
    ) -> None:
        """Random filter trees select exactly what ``memplane.filters.evaluate`` selects.

        Troubleshooting: the shrunk failing spec is printed above; compare its translation
        with the reference rules (missing fields, ``ne``/``nin`` on missing, bool vs int,
        ``contains`` on lists and strings, ISO strings vs datetimes).
        """
        assert_filter_matches_reference(*filter_semantics_loaded, spec)

    @pytest.mark.parametrize("value", HOSTILE_VALUES)
    @pytest.mark.parametrize("op", ["eq", "ne", "gt", "lte", "contains"])
    def test_hostile_values_filter_exactly(
        self, filter_semantics_loaded: tuple[VectorStore, list[MemoryRecord]], value: str, op: str
    ) -> None:
        """A value that looks like query syntax is compared as data, never run as syntax.

        Troubleshooting: bind values as parameters, or escape every quote and backslash
        of your query language; never format a value into query text unescaped.
        """
        store, records = filter_semantics_loaded
        field = "tags" if op == "contains" else "k"
        assert_filter_matches_reference(store, records, {field: {op: value}})
        if op == "eq":  # the injection attempt must select its one record, not everything
            got = store.list_records(SEMANTICS_SCOPE, filters=parse_filter({"k": value})).records
            assert [r.metadata["k"] for r in got] == [value]

    @pytest.mark.parametrize("spec", EDGE_CASES)
    def test_edge_cases_match_the_reference(
        self, filter_semantics_loaded: tuple[VectorStore, list[MemoryRecord]], spec: dict[str, Any]
    ) -> None:
        """Known hard cases (type confusion, negated missing fields, negative numbers)
        select what the reference selects.

        Troubleshooting: ``1``, ``1.0``, ``True`` and ``"1"`` are different values
        (except ``1 == 1.0``); a missing field matches ``ne`` and ``NOT``; a negative
        number may need parentheses where your language takes no unary minus.
        """
        assert_filter_matches_reference(*filter_semantics_loaded, spec)
