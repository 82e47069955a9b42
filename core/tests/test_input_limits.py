"""Bad API input is memplane's ValidationError, raised before any store call.

Each case used to escape as another exception: pydantic's ValidationError (lone
surrogate with infer=False, non-string metadata keys), OverflowError (aware
datetimes near year 1 or 9999 in the SQLite store), RecursionError (a filter
nested 5,000 deep). Sizes beyond the documented limits are InputTooLarge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest

from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import ValidationError
from memplane.filters import Cmp, Filter, Not, parse_filter
from memplane.inputs import MAX_METADATA_BYTES, MAX_NESTING, InputTooLarge, NestingTooDeep
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.providers.base import Vectors

EAST = timezone(timedelta(hours=14))
WEST = timezone(timedelta(hours=-14))


def _deep_filter(depth: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"topic": "food"}
    for _ in range(depth):
        spec = {"NOT": spec}
    return spec


BAD_ADDS: list[tuple[str, dict[str, Any]]] = [
    ("surrogate-verbatim", {"messages": "I like tea \ud800", "infer": False}),
    ("surrogate-inferred", {"messages": [{"role": "user", "content": "x\udfff"}]}),
    ("int-metadata-key", {"messages": "hi", "infer": False, "metadata": {1: "x"}}),
    ("nan-metadata", {"messages": "hi", "infer": False, "metadata": {"x": float("nan")}}),
    ("object-metadata", {"messages": "hi", "infer": False, "metadata": {"x": object()}}),
    ("observed-year-1", {"messages": "hi", "infer": False, "observed_at": datetime(1, 1, 1, tzinfo=EAST)}),
    ("expires-year-9999", {"messages": "hi", "infer": False,
                           "expires_at": datetime(9999, 12, 31, 23, tzinfo=WEST)}),
]


@pytest.mark.parametrize(("name", "kwargs"), BAD_ADDS, ids=[n for n, _ in BAD_ADDS])
def test_bad_add_is_a_memplane_validation_error(
    name: str, kwargs: dict[str, Any], memory_factory: Callable[..., Memory]
) -> None:
    m = memory_factory()
    with pytest.raises(ValidationError):
        m.add(user_id="u", **kwargs)
    assert m.get_all(user_id="u").records == []


@pytest.mark.parametrize("operand", [datetime(1, 1, 1, tzinfo=EAST), datetime(9999, 12, 31, 23, tzinfo=WEST),
                                     "0001-01-01T00:00:00+14:00"])
def test_filter_datetimes_near_the_ends_of_time(operand: object, memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory()
    m.add("hi", user_id="u", infer=False)
    with pytest.raises(ValidationError, match="out of range"):
        m.get_all(user_id="u", filters={"created_at": {"gt": operand}})
    with pytest.raises(ValidationError, match="out of range"):
        m.search("hi", user_id="u", filters={"created_at": {"lt": operand}})


def test_ordinary_extreme_but_valid_datetimes_still_work(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory()
    m.add("hi", user_id="u", infer=False, observed_at=datetime(1900, 1, 1, tzinfo=EAST))
    assert len(m.get_all(user_id="u", filters={"created_at": {"gt": datetime(1000, 1, 1, tzinfo=UTC)}}).records) == 1


def test_filter_nested_5000_deep_is_refused(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory()
    with pytest.raises(NestingTooDeep):
        m.get_all(user_id="u", filters=_deep_filter(5000))
    tree: Filter = Cmp(op="eq", field="a", value=1)
    for _ in range(5000):
        tree = Not.model_validate({"not": tree})
    with pytest.raises(NestingTooDeep):
        m.search("x", user_id="u", filters=tree)
    assert parse_filter(_deep_filter(MAX_NESTING - 1)) is not None  # the limit itself is fine


def test_message_size_limit_is_configurable(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(config={"pipeline": {"max_message_chars": 100}})
    with pytest.raises(InputTooLarge, match="max_message_chars"):
        m.add("x" * 101, user_id="u", infer=False)
    m.add("x" * 100, user_id="u", infer=False)
    default = memory_factory()
    with pytest.raises(InputTooLarge):
        default.add("word " * 200_000, user_id="u")  # 1 MB never reaches the LLM


def test_query_update_and_scope_ids_are_checked_too(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(config={"pipeline": {"max_message_chars": 50}})
    memory_id = m.add("hi", user_id="u", infer=False).events[0].id
    assert memory_id is not None
    with pytest.raises(InputTooLarge):
        m.search("q" * 51, user_id="u")
    with pytest.raises(InputTooLarge):
        m.update(memory_id, "t" * 51, user_id="u")
    with pytest.raises(ValidationError, match="valid Unicode"):
        m.add("hi", user_id="\ud800", infer=False)


def test_metadata_limits(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory()
    with pytest.raises(InputTooLarge):
        m.add("hi", user_id="u", infer=False, metadata={"blob": "x" * (MAX_METADATA_BYTES + 1)})
    nested: dict[str, Any] = {}
    for _ in range(MAX_NESTING + 1):
        nested = {"a": nested}
    with pytest.raises(NestingTooDeep):
        m.add("hi", user_id="u", infer=False, metadata=nested)
    record = m.get_all(user_id="u").records
    assert record == []


def test_update_checks_text_and_metadata(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory()
    memory_id = m.add("hi", user_id="u", infer=False).events[0].id
    assert memory_id is not None
    with pytest.raises(ValidationError):
        m.update(memory_id, "bye \ud800", user_id="u")
    with pytest.raises(ValidationError):
        m.update(memory_id, "bye", user_id="u", metadata={2: "x"})
    with pytest.raises(ValidationError):
        m.search("q \ud800", user_id="u")


class ShortEmbedder(HashingEmbedder):
    """A real embedder that declares it keeps only the first 8 tokens."""

    max_input_tokens: ClassVar[int] = 8

    def embed(self, texts: Sequence[str], *, purpose: str = "document") -> Vectors:  # type: ignore[override]
        return super().embed([" ".join(t.split()[:8]) for t in texts], purpose=purpose)  # type: ignore[arg-type]


def test_embedder_truncation_is_reported(memory_factory: Callable[..., Memory], store: Any,
                                         quiet_plugins: Any) -> None:
    m = Memory(llm=ScriptedLLM(), embedder=ShortEmbedder({"dimension": 64}), vector_store=store,
               plugins=quiet_plugins)
    long = m.add("one two three four five six seven eight nine ten", user_id="u", infer=False)
    short = m.add("one two", user_id="u", infer=False)
    notes = [d for d in long.diagnostics if d.code == "embedder_truncated"]
    assert notes and notes[0].detail["max_input_tokens"] == 8
    assert not [d for d in short.diagnostics if d.code == "embedder_truncated"]


async def test_async_memory_checks_the_same_inputs(store: Any, quiet_plugins: Any) -> None:
    from memplane.async_memory import AsyncMemory

    m = AsyncMemory(llm=ScriptedLLM(), embedder=ShortEmbedder({"dimension": 64}), vector_store=store,
                    plugins=quiet_plugins)
    with pytest.raises(ValidationError):
        await m.add("tea \ud800", user_id="u", infer=False)
    with pytest.raises(ValidationError):
        await m.add("tea", user_id="u", infer=False, expires_at=datetime(9999, 12, 31, 23, tzinfo=WEST))
    result = await m.add("one two three four five six seven eight nine ten", user_id="u", infer=False)
    assert [d.code for d in result.diagnostics] == ["embedder_truncated"]
    memory_id = result.events[0].id
    assert memory_id is not None
    with pytest.raises(ValidationError):
        await m.update(memory_id, "x", user_id="u", metadata={3: "x"})
    await m.close()
