"""The sqlite store's SQL translation of filters agrees with the reference evaluate()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from memplane.errors import UnsupportedFilter, ValidationError
from memplane.filters import And, Cmp, Filter, Not, Or, evaluate, parse_filter
from memplane.models import Change, MemoryRecord, Scope, new_id
from memplane.stores.sqlite import SQLiteStore

SCOPE = Scope(user_id="filters")
DIM = 4

KEYS = ["a", "b", 'quo"te', "back\\slash", "dot.ted", "brack[0]", "ünï", "$.a", "created_at"]
FIELDS = [*KEYS[:-1], "metadata.created_at", "created_at", "updated_at", "observed_at",
          "expires_at", "attributed_to"]
DATETIME_FIELDS = {"created_at", "updated_at", "observed_at", "expires_at"}

aware = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)
texts = st.one_of(
    st.sampled_from(["", "x", "X", "user", "assistant", "a'b", 'a"b', "\\", "%", "_", "OR 1=1",
                     "2024-05-01T00:00:00+00:00", "2024-05-01", "ünï", "日本"]),
    st.text(max_size=8),
)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
small_ints = st.integers(min_value=-3, max_value=3)
floats = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64),
                   st.sampled_from([0.0, -0.0, 1.0, 2.5, -1.5]))
json_scalars = st.one_of(st.none(), st.booleans(), small_ints, small_ints.map(float), ints, floats, texts)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=2)),
    max_leaves=6,
)
operands = st.one_of(
    json_scalars, aware, aware.map(lambda d: d.isoformat()),
    st.lists(json_scalars, max_size=3), st.dictionaries(st.sampled_from(["a", "b"]), json_scalars, max_size=2),
    st.integers(min_value=2**63, max_value=2**70),  # beyond SQLite's integers: Python fallback
)


@st.composite
def comparisons(draw: st.DrawFn) -> Cmp:
    op = draw(st.sampled_from(["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists"]))
    # mostly the two common keys, so that filters and records meet often
    field = draw(st.sampled_from(["a", "b"]) | st.sampled_from(FIELDS))
    if op == "exists":
        return Cmp(op=op, field=field, value=draw(st.booleans()))
    if op in ("in", "nin"):
        return Cmp(op=op, field=field, value=draw(st.lists(operands, max_size=4)))
    value = draw(operands)
    if op in ("gt", "gte", "lt", "lte") and field in DATETIME_FIELDS and isinstance(value, str):
        value = draw(aware).isoformat()  # the store refuses non-ISO strings there (tested below)
    return Cmp(op=op, field=field, value=value)


filters: st.SearchStrategy[Filter] = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: And(all=xs)),
        st.lists(inner, max_size=3).map(lambda xs: Or(any=xs)),
        inner.map(lambda x: Not.model_validate({"not": x})),
    ),
    max_leaves=6,
)


@st.composite
def records(draw: st.DrawFn) -> MemoryRecord:
    metadata = draw(st.dictionaries(st.sampled_from(["a", "b"]) | st.sampled_from(KEYS),
                                    json_values, max_size=5))
    rid = new_id()
    return MemoryRecord(
        id=rid,
        text=f"memory {rid}",  # distinct texts: a scope holds one live memory per text
        scope=SCOPE,
        metadata=metadata,
        created_at=draw(aware),
        updated_at=draw(aware),
        observed_at=draw(st.none() | aware),
        expires_at=draw(st.none() | aware),
        attributed_to=draw(st.none() | texts),
    )


# CI runs the same examples every time (derandomize): a failure is reproducible from the
# test alone, and no seed or example database makes it come and go. To explore further,
# raise max_examples or set derandomize=False locally and loop over --hypothesis-seed.
PROPERTY = settings(derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def reference(node: Filter, record: MemoryRecord) -> bool:
    """The reference semantics; it never raises on stored data, so neither may we."""
    return evaluate(node, record)


def _store_with(recs: list[MemoryRecord]) -> tuple[SQLiteStore, list[MemoryRecord]]:
    store = SQLiteStore(path=":memory:")
    store.open(DIM)
    store.apply([Change(record=r, vector=[1.0, float(i), 0.0, 0.5]) for i, r in enumerate(recs)])
    stored = store.list_records(SCOPE, include_deleted=True, include_expired=True, limit=1000).records
    return store, stored


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_NOT_AFTER_EPOCH = Not.model_validate({"not": Cmp(op="gt", field="a", value=_EPOCH)})


@settings(PROPERTY, max_examples=400)
@given(recs=st.lists(records(), min_size=1, max_size=8), node=filters)
# once found by a random seed: a metadata string that is no datetime, ordered against a
# datetime under NOT (the reference used to raise there; now the leaf is false, NOT true)
@example(recs=[MemoryRecord(text="memory 0", scope=SCOPE, metadata={}),
               MemoryRecord(text="memory 1", scope=SCOPE, metadata={"a": ""})],
         node=_NOT_AFTER_EPOCH)
def test_sql_translation_matches_reference_evaluate(recs: list[MemoryRecord], node: Filter) -> None:
    store, stored = _store_with(recs)
    try:
        # compare with the records as stored (metadata round-trips through JSON)
        expected = {r.id for r in stored if reference(node, r)}
        listed = store.list_records(SCOPE, filters=node, include_deleted=True,
                                    include_expired=True, limit=1000).records
        assert {r.id for r in listed} == expected
        assert store.count(SCOPE, filters=node, include_deleted=True, include_expired=True) == len(expected)
        hits = store.search([1.0, 0.0, 0.0, 0.0], SCOPE, filters=node, limit=1000,
                            include_deleted=True, include_expired=True)
        assert {h.id for h in hits} == expected
    finally:
        store.close()


# a dense domain where type confusions (true vs 1, 1 vs 1.0 vs "1", null, nesting) meet often
TRICKY = [True, False, 1, 0, 1.0, 0.0, -1, "1", "", "a", None, [1], [True], [1.0], ["1"], [None],
          [[1]], {"a": 1}, {"a": True}, [], {}]
tricky_metadata = st.dictionaries(st.sampled_from(["a", "b"]), st.sampled_from(TRICKY), max_size=2)


@st.composite
def tricky_comparisons(draw: st.DrawFn) -> Cmp:
    op = draw(st.sampled_from(["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists"]))
    field = draw(st.sampled_from(["a", "b"]))
    if op == "exists":
        return Cmp(op=op, field=field, value=draw(st.booleans()))
    if op in ("in", "nin"):
        return Cmp(op=op, field=field, value=draw(st.lists(st.sampled_from(TRICKY), max_size=3)))
    return Cmp(op=op, field=field, value=draw(st.sampled_from(TRICKY)))


tricky_filters: st.SearchStrategy[Filter] = st.recursive(
    tricky_comparisons(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=2).map(lambda xs: And(all=xs)),
        st.lists(inner, max_size=2).map(lambda xs: Or(any=xs)),
        inner.map(lambda x: Not.model_validate({"not": x})),
    ),
    max_leaves=3,
)


@settings(PROPERTY, max_examples=400)
@given(metas=st.lists(tricky_metadata, min_size=1, max_size=10), node=tricky_filters)
def test_sql_translation_matches_reference_on_type_confusions(
    metas: list[dict[str, Any]], node: Filter
) -> None:
    store, stored = _store_with([MemoryRecord(text=f"m{i}", scope=SCOPE, metadata=m)
                                 for i, m in enumerate(metas)])
    try:
        expected = {r.id for r in stored if reference(node, r)}
        listed = store.list_records(SCOPE, filters=node, limit=1000).records
        assert {r.id for r in listed} == expected
    finally:
        store.close()


@settings(PROPERTY, max_examples=150)
@given(value=json_values)
def test_metadata_round_trips_exactly(value: Any) -> None:
    store, stored = _store_with([MemoryRecord(text="m", scope=SCOPE, metadata={"k": value})])
    try:
        assert stored[0].metadata == {"k": value}
        assert store.count(SCOPE, filters=Cmp(op="exists", field="k", value=True),
                           include_expired=True) == (0 if value is None else 1)
    finally:
        store.close()


@pytest.mark.parametrize("value, after_epoch", [
    ("", False),                           # not a datetime at all
    ("yesterday", False),
    ("2024-05-01", False),                 # naive, against an aware operand
    ("2024-05-01T00:00:00+00:00", True),
    ("1999-12-31T23:59:59+00:00", False),
])
def test_metadata_string_ordered_against_a_datetime(value: str, after_epoch: bool) -> None:
    """The falsifying example of the property test above, spelled out: a string that is
    not comparable with the datetime makes the comparison false (never an error), so
    NOT of it is true -- in SQL, in the reference, and in search."""
    target = MemoryRecord(text="t", scope=SCOPE, metadata={"a": value})
    bare = MemoryRecord(text="b", scope=SCOPE, metadata={})
    store, stored = _store_with([target, bare])
    try:
        after = Cmp(op="gt", field="a", value=_EPOCH)
        assert evaluate(after, stored[0]) is after_epoch
        assert evaluate(_NOT_AFTER_EPOCH, stored[0]) is not after_epoch
        assert store.count(SCOPE, filters=after) == int(after_epoch)
        expected_not = {bare.id} if after_epoch else {target.id, bare.id}
        listed = store.list_records(SCOPE, filters=_NOT_AFTER_EPOCH).records
        assert {r.id for r in listed} == expected_not
        hits = store.search([1.0, 0.0, 0.0, 0.0], SCOPE, filters=_NOT_AFTER_EPOCH)
        assert {h.id for h in hits} == expected_not
    finally:
        store.close()


def test_in_without_a_list_is_refused_not_guessed() -> None:
    store, _ = _store_with([MemoryRecord(text="a", scope=SCOPE, metadata={"a": 1})])
    try:
        for field in ("a", "attributed_to", "created_at"):
            for op in ("in", "nin"):
                with pytest.raises(ValidationError, match="takes a list"):
                    store.count(SCOPE, filters=Cmp(op=op, field=field, value=1))  # type: ignore[arg-type]
    finally:
        store.close()


HOSTILE = ["' OR 1=1 --", '"); DROP TABLE records; --', "\\", "%", "_", "$.a", "\x00", "{\"eq\": 1}",
           "a' || '", "ünï日本🙂", "*", "NEAR(a b)", "a" * 5000]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_and_keys_are_data(value: str) -> None:
    target = MemoryRecord(text="t", scope=SCOPE, metadata={value: value, "tag": [value]})
    other = MemoryRecord(text="o", scope=SCOPE, metadata={"x": "y"})
    store, _ = _store_with([target, other])
    try:
        assert [r.id for r in store.list_records(SCOPE, filters={value: value}).records] == [target.id]
        assert store.count(SCOPE, filters={"tag": {"contains": value}}) == 1
        assert store.count(SCOPE, filters={value: {"ne": value}}) == 1
        assert store.count(SCOPE, filters={"metadata." + value: {"in": [value, 1]}}) == 1
        assert store.count(SCOPE) == 2  # nothing was dropped
    finally:
        store.close()


def test_dict_spelling_is_accepted() -> None:
    a = MemoryRecord(text="a", scope=SCOPE, metadata={"topic": "food", "stars": 4})
    b = MemoryRecord(text="b", scope=SCOPE, metadata={"topic": "food", "stars": 2})
    store, _ = _store_with([a, b])
    try:
        got = store.list_records(SCOPE, filters=parse_filter({"topic": "food", "stars": {"gte": 3}}))
        assert [r.id for r in got.records] == [a.id]
        assert store.count(SCOPE, filters={"OR": [{"stars": 2}, {"NOT": {"topic": "food"}}]}) == 1
    finally:
        store.close()


def test_datetime_field_ordering_refuses_unparseable_operands() -> None:
    store, _ = _store_with([MemoryRecord(text="a", scope=SCOPE)])
    try:
        with pytest.raises(ValidationError, match="ISO 8601"):
            store.count(SCOPE, filters=Cmp(op="gt", field="created_at", value="yesterday"))
        with pytest.raises(ValidationError, match="timezone"):
            store.count(SCOPE, filters=Cmp(op="lt", field="created_at", value=datetime(2020, 1, 1)))
    finally:
        store.close()


def test_unknown_operator_is_refused_not_dropped() -> None:
    store, _ = _store_with([MemoryRecord(text="a", scope=SCOPE)])
    try:
        with pytest.raises(ValidationError, match="unknown filter operator"):
            store.count(SCOPE, filters={"a": {"regex": ".*"}})
    finally:
        store.close()


def test_store_refuses_operators_it_does_not_declare(monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = _store_with([MemoryRecord(text="a", scope=SCOPE)])
    try:
        monkeypatch.setattr(SQLiteStore, "filter_operators", frozenset(["eq"]))
        with pytest.raises(UnsupportedFilter, match="'gt'"):
            store.count(SCOPE, filters={"a": {"gt": 1}})
    finally:
        store.close()
