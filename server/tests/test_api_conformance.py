"""memplane-conformance's Memory scenarios, run through MemoryClient against a live
uvicorn with two worker processes on one SQLite file (hashing embedder, scripted LLM
whose replies the test queues over loopback): Memory and MemoryClient cannot drift."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from live_app import RemoteScriptedLLM
from support import Live, ScriptServer

from memplane.client import AsyncMemoryClient, MemoryClient
from memplane.embedders.hashing import HashingEmbedder
from memplane.models import HistoryEvent
from memplane.stores.sqlite import SQLiteStore
from memplane_conformance.memory_contract import MemoryContract
from memplane_conformance.parts import Parts


class TestMemoryClientConformance(MemoryContract):
    """The server holds the real providers; the local ones below (same classes, same
    config) serve the scenario that builds its own AsyncMemory and the capability
    checks. The scenarios drive a MemoryClient through the suite's declared
    ``memory_factory`` extension point."""

    @pytest.fixture
    def scripted_endpoint(self, script: ScriptServer) -> ScriptServer:
        return script

    @pytest.fixture
    def llm_factory(self, script: ScriptServer) -> Callable[..., RemoteScriptedLLM]:
        return lambda **overrides: RemoteScriptedLLM(script_url=script.url, **overrides)

    @pytest.fixture
    def embedder(self) -> HashingEmbedder:
        return HashingEmbedder({"dimension": 64})

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Callable[[], SQLiteStore]:
        return lambda: SQLiteStore({"path": str(tmp_path / "local.db")})

    @pytest.fixture
    def memory_factory(self, live: Live, admin_key: str) -> Callable[[Parts], MemoryClient]:
        def make(parts: Parts) -> MemoryClient:
            client = MemoryClient(live.url, api_key=admin_key)
            client.reset()  # scenarios reuse user ids: each starts from an empty server
            return client

        return make


def test_async_client_mirrors_sync(live: Live, admin_key: str, script: ScriptServer) -> None:
    """The async client runs the scenario AsyncMemory runs in the suite."""

    async def scenario() -> None:
        async with AsyncMemoryClient(live.url, api_key=admin_key) as memory:
            await memory.delete_all(user_id="async-client")
            script.reset()
            script.enqueue_structured({"decisions": [{"event": "ADD", "text": "User plays padel"}]})
            [added] = (await memory.add("I play padel", user_id="async-client")).events
            hits = await memory.search("padel", user_id="async-client")
            assert [h.id for h in hits] == [added.id]
            script.enqueue_structured(
                {"decisions": [{"event": "UPDATE", "id": 0, "text": "User plays padel weekly"}]})
            [updated] = (await memory.add("every week", user_id="async-client")).events
            assert updated.id == added.id and updated.event == "UPDATE"
            history = await memory.history(added.id, user_id="async-client")
            assert [h.event for h in history] == [HistoryEvent.ADD, HistoryEvent.UPDATE]
            lines = [line async for line in memory.export_lines(user_id="async-client")]
            assert len(lines) == 2 and added.id in lines[1]

    asyncio.run(scenario())
