"""``Memory.add_many`` / ``AsyncMemory.add_many``: batched verbatim ingest with
progress, bad items refused before their batch is written, and what stays written
when a later batch fails."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from memplane.async_memory import AsyncMemory
from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import IncompleteOperation, ProviderError, ValidationError
from memplane.ingest import IngestReport
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.models import AddResult, Change, HistoryEvent, Scope
from memplane.providers.base import Purpose, Vectors
from memplane.stores.sqlite import SQLiteStore

DIM = 16
ALICE = Scope(user_id="alice")


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting its calls; fails on call ``fail_on`` if set."""

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__({"dimension": DIM})
        self.calls: list[int] = []
        self.fail_on = fail_on

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        self.calls.append(len(texts))
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise ProviderError("the embedding service went away", provider="hashing",
                                retryable=False)
        return super().embed(texts, purpose=purpose)


class CountingStore(SQLiteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path=str(path))
        self.applies: list[int] = []

    def apply(self, changes: Sequence[Change]) -> None:
        self.applies.append(len(changes))
        super().apply(changes)

    async def aapply(self, changes: Sequence[Change]) -> None:
        self.applies.append(len(changes))
        await super().aapply(changes)


def _memory(tmp_path: Path, embedder: HashingEmbedder | None = None) -> tuple[Memory, CountingStore]:
    store = CountingStore(tmp_path / "m.db")
    memory = Memory(llm=ScriptedLLM(), embedder=embedder or CountingEmbedder(), vector_store=store)
    return memory, store


def _texts(n: int, start: int = 0) -> Iterator[str]:
    return (f"note number {i}" for i in range(start, start + n))


def test_batches_make_one_embed_and_one_apply_each_and_report_progress(tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    memory, store = _memory(tmp_path, embedder)
    seen: list[tuple[IngestReport, int]] = []
    consumed = {"n": 0}

    def items() -> Iterator[str]:  # a stream: read batch by batch, not all at once
        for text in _texts(250):
            consumed["n"] += 1
            yield text

    def progress(report: IngestReport, batch: AddResult) -> None:
        assert consumed["n"] <= report.done + 1  # nothing read ahead of the next batch
        seen.append((report, len(batch.by_event("ADD"))))

    with memory:
        report = memory.add_many(items(), user_id="alice", batch_size=100, on_progress=progress)
        assert report == IngestReport(done=250, added=250, skipped=0, batches=3)
        assert [(r.done, r.added, r.batches) for r, _ in seen] == [(100, 100, 1), (200, 200, 2),
                                                                   (250, 250, 3)]
        assert [n for _, n in seen] == [100, 100, 50]
        assert store.applies == [100, 100, 50]
        assert embedder.calls[-3:] == [100, 100, 50]
        page = store.list_records(ALICE, limit=1000)
        assert sorted(r.text for r in page.records) == sorted(_texts(250))
        # each memory's history is its ADD entry, as add writes it
        first = page.records[0]
        [entry] = memory.history(first.id, user_id="alice")
        assert (entry.event, entry.new_text, entry.actor) == (HistoryEvent.ADD, first.text, "api")


def test_repeats_and_known_texts_are_skipped_and_counted(tmp_path: Path) -> None:
    memory, store = _memory(tmp_path)
    with memory:
        memory.add("note number 3", user_id="alice", infer=False)
        items: list[Any] = ["note number 1", "note number 1", "note number 3", "",
                            {"role": "system", "content": "be brief"},
                            {"role": "assistant", "content": "noted", "metadata": {"k": 1}}]
        report = memory.add_many(items, user_id="alice", batch_size=4, metadata={"src": "bulk"})
        assert report == IngestReport(done=6, added=2, skipped=4, batches=2)
        texts = {r.text: r.metadata for r in store.list_records(ALICE).records}
        assert texts == {"note number 3": {}, "note number 1": {"src": "bulk"},
                         "noted": {"src": "bulk", "k": 1}}


def test_a_bad_item_in_the_first_batch_writes_nothing(tmp_path: Path) -> None:
    memory, store = _memory(tmp_path)
    with memory:
        items: list[Any] = [*_texts(5), {"role": "boss", "content": "x"}, *_texts(5, 10)]
        with pytest.raises(ValidationError, match=r"add_many item 5: is invalid \(role"):
            memory.add_many(items, user_id="alice", batch_size=100)
        assert store.count(ALICE) == 0
        with pytest.raises(ValidationError, match="add_many item 2: must be a string"):
            memory.add_many(["a", "b", 42], user_id="alice")  # type: ignore[list-item]
        assert store.count(ALICE) == 0


def test_a_bad_item_in_a_later_batch_leaves_the_earlier_batches(tmp_path: Path) -> None:
    memory, store = _memory(tmp_path)
    with memory:
        items: list[Any] = [*_texts(15)]
        items[12] = "x" * (memory.config.pipeline.max_message_chars + 1)
        with pytest.raises(IncompleteOperation, match="add_many item 12") as caught:
            memory.add_many(items, user_id="alice", batch_size=5)
        assert caught.value.done == 10
        assert "pass the items from index 10 on" in str(caught.value)
        assert isinstance(caught.value.__cause__, ValidationError)
        assert store.count(ALICE) == 10  # batches 1 and 2, nothing of batch 3
        # resuming from `done` with the item fixed completes the ingest
        items[12] = "note number 12"
        report = memory.add_many(items[caught.value.done:], user_id="alice", batch_size=5)
        assert report.added == 5 and store.count(ALICE) == 15


def test_a_provider_failure_in_a_later_batch_is_an_incomplete_operation(tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    memory, store = _memory(tmp_path, embedder)
    with memory:
        embedder.fail_on = len(embedder.calls) + 3  # the third batch's embed call
        with pytest.raises(IncompleteOperation) as caught:
            memory.add_many(_texts(30), user_id="alice", batch_size=10)
        assert caught.value.done == 20
        assert isinstance(caught.value.__cause__, ProviderError)
        assert store.count(ALICE) == 20
        embedder.fail_on = len(embedder.calls) + 1  # the first batch: raised as it is
        with pytest.raises(ProviderError):
            memory.add_many(_texts(10, 100), user_id="alice", batch_size=10)
        assert store.count(ALICE) == 20


def test_arguments_are_checked_before_any_item_is_read(tmp_path: Path) -> None:
    memory, store = _memory(tmp_path)
    read = {"n": 0}

    def items() -> Iterator[str]:
        read["n"] += 1
        yield "never read"

    with memory:
        with pytest.raises(ValidationError, match="iterable of messages"):
            memory.add_many("one long string", user_id="alice")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="iterable of messages"):
            memory.add_many({"role": "user", "content": "hi"}, user_id="alice")
        for size in (0, -1, 10_001, 2.5, True):
            with pytest.raises(ValidationError, match="batch_size"):
                memory.add_many(items(), user_id="alice", batch_size=size)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            memory.add_many(items())  # no scope
        # the call's own fields are the call's fault, not an item's
        for bad in ({"metadata": {"score": float("nan")}}, {"observed_at": "yesterday"},
                    {"expires_at": 5}):
            with pytest.raises(ValidationError) as caught:
                memory.add_many(items(), user_id="alice", **bad)  # type: ignore[arg-type]
            assert "item" not in str(caught.value)
        assert read["n"] == 0 and store.count(ALICE) == 0
        assert memory.add_many([], user_id="alice") == IngestReport()


async def test_async_add_many_takes_async_streams_and_matches_sync(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "a.db")
    memory = AsyncMemory(llm=ScriptedLLM(), embedder=CountingEmbedder(), vector_store=store)
    seen: list[int] = []

    async def items() -> AsyncIterator[str]:
        for text in _texts(25):
            yield text

    try:
        report = await memory.add_many(items(), user_id="alice", batch_size=10,
                                       on_progress=lambda r, _b: seen.append(r.done))
        assert report == IngestReport(done=25, added=25, skipped=0, batches=3)
        assert seen == [10, 20, 25] and store.applies == [10, 10, 5]
        again = await memory.add_many(list(_texts(25)), user_id="alice", batch_size=10)
        assert again == IngestReport(done=25, added=0, skipped=25, batches=3)
        bad: list[Any] = [*_texts(10, 50), None]
        with pytest.raises(IncompleteOperation, match="add_many item 10") as caught:
            await memory.add_many(bad, user_id="alice", batch_size=10)
        assert caught.value.done == 10 and store.count(ALICE) == 35
    finally:
        await memory.close()
