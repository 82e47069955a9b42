"""Every translated filter selects on Milvus Lite exactly what the reference
evaluator (memplane.filters.evaluate) selects, hostile values included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memplane.errors import UnsupportedFilter, ValidationError
from memplane.filters import evaluate, parse_filter
from memplane.models import Change, MemoryRecord, Scope
from memplane_milvus.store import MilvusVectorStore

SCOPE = Scope(user_id="u")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOSTILE = ['" or 1==1 or "', "a\\", '\\"', "it's", "x\ny", "{p0}", "caf\u00e9", "cafe\u0301",
           "1", "true", ""]

METADATA: list[dict[str, Any]] = [
    {"k": "a", "n": 1, "b": True, "tags": ["a", "b"], "when": "2024-01-02T00:00:00+00:00"},
    {"k": "b", "n": 2.5, "b": False, "tags": [], "when": "2023-05-01T10:00:00+00:00"},
    {"k": 1, "n": "1", "b": 1, "tags": ["1", 1, True]},
    {"k": True, "n": -3, "tags": "a", "none": None},
    {"k": None, "n": 0, "b": "true", "tags": [False, 2.5]},
    {},
    *({"k": v, "tags": [v]} for v in HOSTILE),
    {"k": 1.0, "n": 10**12, "nested": {"k": "a"}, "when": "not a date"},
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[MilvusVectorStore, list[MemoryRecord]]:
    store = MilvusVectorStore({"uri": str(tmp_path_factory.mktemp("sem") / "sem.db"),
                               "collection": "semantics"})
    store.open(4)
    records = [
        MemoryRecord(
            text=f"record {i}", scope=SCOPE, metadata=meta,
            created_at=T0 + timedelta(hours=i), updated_at=T0 + timedelta(hours=i),
            observed_at=T0 if i % 2 else None,
            attributed_to=["user", "assistant", None, "it's"][i % 4],
        )
        for i, meta in enumerate(METADATA)
    ]
    other = MemoryRecord(text="other scope", scope=Scope(user_id="v"), metadata=METADATA[0])
    store.apply([Change(record=r, vector=[1.0, float(i), 0.0, 1.0])
                 for i, r in enumerate([*records, other])])
    yield store, records
    store.close()


def _check(store: MilvusVectorStore, records: list[MemoryRecord], spec: dict[str, Any]) -> None:
    tree = parse_filter(spec)
    try:
        expected = {r.id for r in records if evaluate(tree, r)}
    except (TypeError, ValueError):
        return  # the reference itself cannot decide (e.g. a non-ISO string vs a datetime)
    try:
        got = {r.id for r in store.list_records(SCOPE, filters=tree, limit=1000).records}
    except UnsupportedFilter:
        return  # refusing is allowed; silently approximating is not
    except ValidationError as exc:
        # a malformed datetime string is bad input even where the reference's
        # short-circuit evaluation never reaches it
        assert "ISO 8601" in str(exc), exc
        return
    assert got == expected, spec
    assert store.count(SCOPE, filters=tree) == len(expected), spec


FIELDS = ["k", "n", "b", "tags", "when", "none", "nested", "missing", "metadata.k",
          "created_at", "observed_at", "attributed_to"]
VALUES = st.one_of(
    st.sampled_from(HOSTILE), st.integers(-5, 5), st.sampled_from([0.0, 1.0, 2.5, -3.0]),
    st.booleans(), st.none(),
    st.sampled_from([T0, T0 + timedelta(hours=3), T0 - timedelta(days=400)]),
    st.sampled_from(["2024-01-01T05:00:00+00:00", "2023-01-01T00:00:00+00:00", "a", "b"]),
    st.text(max_size=6),
)


def _cmp() -> st.SearchStrategy[dict[str, Any]]:
    scalar_ops = st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "contains"])
    return st.one_of(
        st.builds(lambda f, op, v: {f: {op: v}}, st.sampled_from(FIELDS), scalar_ops, VALUES),
        st.builds(lambda f, op, vs: {f: {op: vs}}, st.sampled_from(FIELDS),
                  st.sampled_from(["in", "nin"]), st.lists(VALUES, max_size=3)),
        st.builds(lambda f, b: {f: {"exists": b}}, st.sampled_from(FIELDS), st.booleans()),
    )


TREES = st.recursive(
    _cmp(),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"AND": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"OR": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"NOT": x}, inner),
    ),
    max_leaves=5,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=TREES)
def test_random_filters_match_the_reference(loaded: Any, spec: dict[str, Any]) -> None:
    _check(*loaded, spec)


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("op", ["eq", "ne", "gt", "lte", "contains"])
def test_hostile_values_filter_exactly(loaded: Any, value: str, op: str) -> None:
    store, records = loaded
    field = "tags" if op == "contains" else "k"
    _check(store, records, {field: {op: value}})
    if op == "eq":  # the injection attempt must select its one record, not everything
        got = store.list_records(SCOPE, filters=parse_filter({"k": value})).records
        assert [r.metadata["k"] for r in got] == [value]


@pytest.mark.parametrize("spec", [
    {"k": 1}, {"k": True}, {"b": 1}, {"b": True}, {"n": {"gt": 0}}, {"n": {"ne": 1}},
    {"k": {"nin": ["a", 1]}}, {"none": {"exists": False}}, {"tags": {"contains": 1}},
    {"tags": {"contains": True}}, {"when": {"gt": T0}}, {"observed_at": {"exists": True}},
    {"created_at": {"lt": "2024-01-01T03:00:00+00:00"}}, {"attributed_to": {"ne": "user"}},
    {"NOT": {"k": "a"}}, {"NOT": {"n": {"gt": 0}}},
    # Milvus's parser takes no unary minus as a function argument: json_contains(x, -3.0)
    {"k": {"contains": -3.0}}, {"tags": {"contains": -3}}, {"n": {"lt": -1}},
])
def test_edge_cases_match_the_reference(loaded: Any, spec: dict[str, Any]) -> None:
    _check(*loaded, spec)
