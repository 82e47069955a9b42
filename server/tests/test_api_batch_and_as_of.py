"""Per-message fields in a batch add and searching as of a time, over real HTTP: the
memplane client against the live two-worker uvicorn (issue #16)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from support import Live

from memplane.client import AsyncMemoryClient, MemoryClient
from memplane.errors import ValidationError
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
