"""Per-message fields in a batch add, add_many, and searching as of a time, over real
HTTP: the memplane client against the live two-worker uvicorn (issues #16, #17)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from support import Live

from memplane.client import AsyncMemoryClient, MemoryClient
from memplane.client.errors import ScopeForbidden
from memplane.errors import IncompleteOperation, ValidationError
from memplane.ingest import IngestReport
from memplane.models import Scope

T1 = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
T2 = datetime(2023, 9, 1, 10, 0, tzinfo=UTC)


def test_batch_fields_and_as_of_round_trip(live: Live) -> None:
    client = MemoryClient(live.url, api_key=live.key(Scope(user_id="batch-alice")))
    client.add([{"role": "user", "content": "I moved to Porto", "metadata": {"turn": "D1:1"}, "observed_at": T1},
                {"role": "user", "content": "I moved to Lisbon", "metadata": {"turn": "D2:1"}, "observed_at": T2}],
               infer=False, metadata={"source": "import", "turn": "call"})
    records = {r.metadata["turn"]: r for r in client.get_all().records}
    assert set(records) == {"D1:1", "D2:1"}
    assert records["D1:1"].observed_at == T1 and records["D1:1"].metadata["source"] == "import"
    assert records["D2:1"].observed_at == T2
    hits = client.search("where did I move", as_of=datetime(2023, 6, 1, tzinfo=UTC))
    assert [h.text for h in hits] == ["I moved to Porto"]
    hits = client.search("where did I move", as_of=datetime(2023, 9, 2, tzinfo=UTC), max_age_days=30)
    assert [h.text for h in hits] == ["I moved to Lisbon"]

    async def both() -> list[str]:
        async with AsyncMemoryClient(live.url, api_key=live.key(Scope(user_id="batch-alice"))) as a:
            return [h.text for h in await a.search("where did I move", as_of=T1)]

    assert asyncio.run(both()) == ["I moved to Porto"]


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": "x", "metadata": ["no"]}], "infer": False},
    {"messages": [{"role": "user", "content": "x", "observed_at": "not a time"}], "infer": False},
    {"messages": [{"role": "user", "content": "x", "scope": {"user_id": "bob"}}], "infer": False},
])
def test_bad_per_message_fields_are_422(live: Live, body: dict[str, object]) -> None:
    with live.client(live.key(Scope(user_id="batch-carol"))) as http:
        response = http.post("/v1/memories", json=body)
    assert response.status_code == 422, response.text
    client = MemoryClient(live.url, api_key=live.key(Scope(user_id="batch-carol")))
    assert client.get_all().records == []


def test_bad_search_times_are_typed_errors(live: Live) -> None:
    client = MemoryClient(live.url, api_key=live.key(Scope(user_id="batch-dave")))
    with pytest.raises(ValidationError):
        client.search("anything", max_age_days=-1)
    with live.client(live.key(Scope(user_id="batch-dave"))) as http:
        response = http.post("/v1/memories/search", json={"query": "x", "as_of": "yesterday"})
    assert response.status_code == 422


def test_add_many_over_http_writes_batches_reports_progress_and_stops_where_a_batch_fails(
        live: Live) -> None:
    client = MemoryClient(live.url, api_key=live.key(Scope(user_id="many-alice")))
    seen: list[tuple[int, int]] = []
    report = client.add_many([f"fact number {i}" for i in range(23)] + ["fact number 0"],
                             batch_size=10, on_progress=lambda r, res: seen.append((r.done, r.added)))
    assert (report.done, report.added, report.skipped, report.batches) == (24, 23, 1, 3)
    assert seen == [(10, 10), (20, 20), (24, 23)]
    assert len(client.get_all(limit=100).records) == 23

    # a bad item in the second batch: the first batch stays written, the error says where
    items: list[object] = [f"later fact {i}" for i in range(5)]
    items += [{"role": "user", "content": "bad", "metadata": ["not", "a", "mapping"]}]
    with pytest.raises(IncompleteOperation) as caught:
        client.add_many(items, batch_size=5)
    assert caught.value.done == 5 and "items 5 to 5" in str(caught.value)
    assert len(client.get_all(limit=100).records) == 28

    # the key decides the scope: another user is refused before anything is written
    with pytest.raises(ScopeForbidden):
        client.add_many(["not mine"], user_id="many-bob")
    with pytest.raises(ValidationError):
        client.add_many("one string is not a list")

    async def stream() -> AsyncIterator[str]:
        for i in range(7):
            yield f"streamed fact {i}"

    async def async_ingest() -> IngestReport:
        async with AsyncMemoryClient(live.url, api_key=live.key(Scope(user_id="many-carol"))) as a:
            return await a.add_many(stream(), batch_size=3)

    streamed = asyncio.run(async_ingest())
    assert (streamed.done, streamed.added, streamed.batches) == (7, 7, 3)
