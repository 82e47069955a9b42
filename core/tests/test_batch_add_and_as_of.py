"""Per-message metadata and observed_at in a batch add, and searching as of a time
(issue #16). Real stores (in-memory and sqlite), the hashing embedder, the scripted LLM."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from memplane import AsyncMemory, Memory
from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import ValidationError
from memplane.llms.scripted import ScriptedLLM
from memplane.models import Change
from memplane.plugins.hooks import PluginManager
from memplane.providers.base import Purpose, Vectors
from memplane.stores.sqlite import SQLiteStore

T1 = datetime(2023, 5, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2023, 5, 1, 9, 5, tzinfo=UTC)
CALL_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def _conversation() -> list[Any]:
    return [
        {"role": "user", "content": "I am training for the Lisbon marathon",
         "metadata": {"dia_id": "D1:1", "source": "chat"}, "observed_at": T1},
        {"role": "assistant", "content": "Great, let us plan your long runs",
         "metadata": {"dia_id": "D1:2"}, "observed_at": T2},
        "a plain string message",
    ]


def test_verbatim_batch_keeps_each_messages_metadata_and_time(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(ScriptedLLM())
    result = m.add(_conversation(), user_id="u", infer=False,
                   metadata={"source": "import", "batch": 7}, observed_at=CALL_TIME)
    assert [e.event for e in result.events] == ["ADD", "ADD", "ADD"]
    records = {r.text: r for r in m.get_all(user_id="u").records}
    first = records["I am training for the Lisbon marathon"]
    assert first.metadata == {"source": "chat", "batch": 7, "dia_id": "D1:1"}  # the message's keys win
    assert first.observed_at == T1
    second = records["Great, let us plan your long runs"]
    assert second.metadata == {"source": "import", "batch": 7, "dia_id": "D1:2"}
    assert second.observed_at == T2 and second.attributed_to == "assistant"
    plain = records["a plain string message"]
    assert plain.metadata == {"source": "import", "batch": 7} and plain.observed_at == CALL_TIME


def test_inferred_memory_takes_its_sources_fields(memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM().queue({"decisions": [{"event": "ADD", "text": "User trains for the Lisbon marathon"}]})
    m = memory_factory(llm)
    m.add(_conversation()[:2], user_id="u", metadata={"batch": 1, "source": "import"})
    (record,) = m.get_all(user_id="u").records
    # both messages are its sources: their own metadata merged in message order over
    # the call's (the second message does not undo the first's "source"), the newest time
    assert record.metadata == {"batch": 1, "dia_id": "D1:2", "source": "chat"}
    assert record.observed_at == T2


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"role": "user", "content": "x", "metadata": ["not", "a", "dict"]}, "message 1: metadata must be a dict"),
        ({"role": "user", "content": "x", "observed_at": "2023-05-01"}, "message 1 observed_at must be a datetime"),
        ({"role": "user", "content": "x", "observed_at": datetime(1, 1, 1)}, "message 1 observed_at"),
        ({"role": "user", "content": "x", "metadata": {"k": float("nan")}}, "finite"),
        ({"role": "user", "content": "x", "metadata": {1: "non-string key"}}, "keys must be strings"),
    ],
)
def test_bad_per_message_fields_are_typed_errors_and_write_nothing(
    memory_factory: Callable[..., Memory], message: dict[str, Any], error: str,
) -> None:
    m = memory_factory(ScriptedLLM())
    with pytest.raises(ValidationError, match=error):
        m.add([{"role": "user", "content": "fine"}, message], user_id="u", infer=False)
    assert m.get_all(user_id="u").records == []


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__({"dimension": 64})
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        self.calls.append(len(texts))
        return super().embed(texts, purpose=purpose)


class CountingStore(SQLiteStore):
    applies: int = 0

    def apply(self, changes: Sequence[Change]) -> None:
        self.applies += 1
        super().apply(changes)


def test_a_batch_is_one_embedding_call_and_one_store_apply(tmp_path: Path) -> None:
    embedder, store = CountingEmbedder(), CountingStore({"path": str(tmp_path / "m.db")})
    with Memory(llm=ScriptedLLM(), embedder=embedder, vector_store=store,
                plugins=PluginManager(autoload=False)) as m:
        turns = [{"role": "user", "content": f"turn number {i}", "metadata": {"i": i},
                  "observed_at": T1 + timedelta(minutes=i)} for i in range(40)]
        m.add(turns, user_id="u", infer=False)
        assert embedder.calls == [40] and store.applies == 1
        records = m.get_all(user_id="u").records
        assert sorted(r.metadata["i"] for r in records) == list(range(40))
        assert all(r.observed_at == T1 + timedelta(minutes=r.metadata["i"]) for r in records)


# --- as_of and max_age_days ---------------------------------------------------------


def _timeline(m: Memory) -> None:
    for month in (1, 4, 7):
        m.add(f"User lived in city number {month}", user_id="u", infer=False,
              observed_at=datetime(2022, month, 1, tzinfo=UTC))


def test_as_of_hides_later_memories_and_counts_recency_from_it(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(ScriptedLLM(), config={"search": {"recency_weight": 0.2, "recency_half_life_days": 30}})
    _timeline(m)
    hits = m.search("where did the user live", user_id="u", as_of=datetime(2022, 4, 1, tzinfo=UTC),
                    explain=True)
    by_text = {h.text: h for h in hits}
    assert set(by_text) == {"User lived in city number 1", "User lived in city number 4"}
    assert by_text["User lived in city number 4"].signals["recency"] == pytest.approx(0.2)  # age 0 at as_of
    assert by_text["User lived in city number 1"].signals["recency"] == pytest.approx(0.2 * 0.5 ** (90 / 30))
    assert hits[0].text == "User lived in city number 4"
    # a naive as_of means UTC, as for observed_at
    naive = m.search("where did the user live", user_id="u", as_of=datetime(2022, 4, 1))
    assert [h.text for h in naive] == [h.text for h in hits]


def test_max_age_days_keeps_a_window_before_as_of(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(ScriptedLLM())
    _timeline(m)
    hits = m.search("where did the user live", user_id="u", as_of=datetime(2022, 7, 1, tzinfo=UTC),
                    max_age_days=100)
    assert {h.text for h in hits} == {"User lived in city number 4", "User lived in city number 7"}
    # without as_of the window ends now: everything from 2022 is older than 100 days
    assert list(m.search("where did the user live", user_id="u", max_age_days=100)) == []
    # and it combines with the caller's own filters
    m.add("User lived in city number 5", user_id="u", infer=False, metadata={"moved": True},
          observed_at=datetime(2022, 5, 1, tzinfo=UTC))
    both = m.search("where did the user live", user_id="u", as_of=datetime(2022, 7, 1, tzinfo=UTC),
                    max_age_days=100, filters={"moved": True})
    assert [h.text for h in both] == ["User lived in city number 5"]


def test_memories_without_observed_at_use_their_creation_time(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(ScriptedLLM())
    m.add("User likes green tea", user_id="u", infer=False)  # created now, never observed
    assert [h.text for h in m.search("tea", user_id="u", as_of=datetime.now(UTC) + timedelta(minutes=1),
                                     max_age_days=1)] == ["User likes green tea"]
    assert list(m.search("tea", user_id="u", as_of=datetime(2020, 1, 1, tzinfo=UTC))) == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"as_of": "2022-01-01"}, "as_of must be a datetime"),
        ({"max_age_days": 0}, "max_age_days must be a positive"),
        ({"max_age_days": -3}, "max_age_days must be a positive"),
        ({"max_age_days": float("inf")}, "max_age_days must be a positive"),
        ({"max_age_days": "7"}, "max_age_days must be a number"),
        ({"max_age_days": True}, "max_age_days must be a number"),
    ],
)
def test_bad_time_arguments_are_typed_errors(memory_factory: Callable[..., Memory], kwargs: dict[str, Any],
                                             error: str) -> None:
    m = memory_factory(ScriptedLLM())
    with pytest.raises(ValidationError, match=error):
        m.search("tea", user_id="u", **kwargs)


@pytest.mark.parametrize("days", [800_000, 1e12])
def test_a_window_reaching_past_year_one_has_no_lower_bound(memory_factory: Callable[..., Memory],
                                                            days: float) -> None:
    # timedelta and datetime overflow here; the window is simply unbounded below
    m = memory_factory(ScriptedLLM())
    m.add("User likes green tea", user_id="u", infer=False)
    assert [h.text for h in m.search("green tea", user_id="u", max_age_days=days)] == [
        "User likes green tea"]


def test_async_memory_takes_the_same_fields(tmp_path: Path) -> None:
    async def run() -> tuple[list[Any], list[str]]:
        async with AsyncMemory(llm=ScriptedLLM(), embedder=HashingEmbedder({"dimension": 64}),
                               vector_store=SQLiteStore({"path": str(tmp_path / "a.db")}),
                               plugins=PluginManager(autoload=False)) as m:
            await m.add(_conversation(), user_id="u", infer=False)
            records = (await m.get_all(user_id="u")).records
            hits = await m.search("marathon", user_id="u", as_of=T1)
            return [(r.metadata.get("dia_id"), r.observed_at) for r in records], [h.text for h in hits]

    fields, texts = asyncio.run(run())
    assert ("D1:1", T1) in fields and ("D1:2", T2) in fields
    assert texts == ["I am training for the Lisbon marathon"]


# --- the CLI ------------------------------------------------------------------------


def test_cli_file_with_per_message_fields_and_search_as_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    import yaml

    from memplane.cli.main import main

    for name in ("MEMPLANE_CONFIG", "MEMPLANE_LLM", "MEMPLANE_EMBEDDER", "MEMPLANE_VECTOR_STORE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "memplane.yaml"
    config.write_text(yaml.safe_dump({"llm": "scripted", "embedder": "hashing",
                                      "vector_store": {"provider": "sqlite",
                                                       "config": {"path": str(tmp_path / "m.db")}}}))
    turns = tmp_path / "turns.json"
    turns.write_text(json.dumps([
        {"role": "user", "content": "I moved to Porto", "metadata": {"turn": "D1:1"},
         "observed_at": "2023-05-08T13:56:00"},
        {"role": "user", "content": "I moved to Lisbon", "metadata": {"turn": "D2:1"},
         "observed_at": "2023-09-01T10:00:00+00:00"},
    ]))

    def cli(*args: str) -> tuple[int, Any]:
        status = main(["--config", str(config), "--json", "--user", "alice", *args])
        captured = capsys.readouterr()
        return status, json.loads(captured.out) if status == 0 else captured.err

    assert cli("add", "--no-infer", "--file", str(turns), "--meta", "source=import")[0] == 0
    status, page = cli("list")
    got = {r["metadata"]["turn"]: (r["metadata"]["source"], r["observed_at"]) for r in page["records"]}
    assert got == {"D1:1": ("import", "2023-05-08T13:56:00Z"), "D2:1": ("import", "2023-09-01T10:00:00Z")}
    status, hits = cli("search", "where did I move", "--as-of", "2023-06-01")
    assert status == 0 and [h["record"]["text"] for h in hits] == ["I moved to Porto"]
    status, hits = cli("search", "where did I move", "--as-of", "2023-09-02", "--max-age-days", "30")
    assert [h["record"]["text"] for h in hits] == ["I moved to Lisbon"]
    turns.write_text(json.dumps([{"role": "user", "content": "x", "observed_at": "last tuesday"}]))
    status, err = cli("add", "--no-infer", "--file", str(turns))
    assert status != 0 and "message 0 observed_at" in err
