"""The same scenarios through Memory and AsyncMemory give the same results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from memplane.async_memory import AsyncMemory
from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import MemoryClosed, MemoryNotFound
from memplane.llms.rules import RulesLLM
from memplane.memory import Memory
from memplane.plugins.hooks import PluginManager, hookimpl
from memplane.providers.base import VectorStore
from memplane.stores.inmemory import InMemoryStore

SCENARIO = [
    "I prefer Python",
    "My sister is Anna",
    "I switched to TypeScript",
    "I like sushi",
    "I like sushi",
    "Please forget that I like sushi",
    "Actually, my sister is Maria, not Anna",
]


def shape(result: Any) -> list[tuple[str, str | None, str | None]]:
    return [(e.event, e.text, e.previous_text) for e in result.events]


def run_sync(m: Memory) -> dict[str, Any]:
    out: dict[str, Any] = {"adds": [shape(m.add(msg, user_id="u")) for msg in SCENARIO]}
    out["search"] = [(h.text, round(h.score, 6)) for h in m.search("TypeScript", user_id="u", explain=True)]
    records = m.get_all(user_id="u", include_deleted=True).records
    out["records"] = sorted((r.text, r.deleted_at is not None) for r in records)
    out["history"] = sorted([(h.event.value, h.old_text, h.new_text) for h in m.history(r.id, user_id="u")] for r in records)
    first = records[0].id
    out["update"] = m.update(first, "User prefers Rust", user_id="u").event
    out["delete"] = m.delete(first, user_id="u").event
    out["restore"] = m.restore(first, user_id="u").deleted_at is None
    with pytest.raises(MemoryNotFound):
        m.get(first, user_id="other")
    out["delete_all"] = m.delete_all(user_id="u")
    return out


async def run_async(m: AsyncMemory) -> dict[str, Any]:
    out: dict[str, Any] = {"adds": [shape(await m.add(msg, user_id="u")) for msg in SCENARIO]}
    out["search"] = [(h.text, round(h.score, 6)) for h in await m.search("TypeScript", user_id="u", explain=True)]
    records = (await m.get_all(user_id="u", include_deleted=True)).records
    out["records"] = sorted((r.text, r.deleted_at is not None) for r in records)
    out["history"] = sorted([[(h.event.value, h.old_text, h.new_text) for h in await m.history(r.id, user_id="u")] for r in records])
    first = records[0].id
    out["update"] = (await m.update(first, "User prefers Rust", user_id="u")).event
    out["delete"] = (await m.delete(first, user_id="u")).event
    out["restore"] = (await m.restore(first, user_id="u")).deleted_at is None
    with pytest.raises(MemoryNotFound):
        await m.get(first, user_id="other")
    out["delete_all"] = await m.delete_all(user_id="u")
    return out


@pytest.mark.parametrize("mode", ["single", "two_pass"])
async def test_sync_and_async_agree(new_store: Callable[[str], VectorStore], mode: str) -> None:
    def parts(sub: str) -> dict[str, Any]:
        return {"llm": RulesLLM(), "embedder": HashingEmbedder({"dimension": 128}),
                "vector_store": new_store(sub),
                "plugins": PluginManager(autoload=False)}

    config = {"pipeline": {"mode": mode}}
    with Memory(config, **parts("sync")) as m:
        expected = run_sync(m)
    async with AsyncMemory(config, **parts("async")) as am:
        actual = await run_async(am)
    assert actual == expected
    # the scenario really exercised every event kind
    events = {e for add in expected["adds"] for e, _, _ in add}
    assert events == {"ADD", "UPDATE", "DELETE", "NONE"}


async def test_async_memory_uses_the_async_provider_methods() -> None:
    seen: list[str] = []

    class Tracer:
        @hookimpl
        def memplane_wrap_call(self, kind: str, method: str, provider: Any, call: Any) -> Any:
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                seen.append(method)
                return call(*args, **kwargs)
            return wrapped

    plugins = PluginManager(autoload=False)
    plugins.register(Tracer())
    async with AsyncMemory(llm=RulesLLM(), embedder=HashingEmbedder({"dimension": 32}),
                           vector_store=InMemoryStore(), plugins=plugins) as am:
        await am.add("I like tea", user_id="u")
    assert seen and all(name.startswith("a") for name in seen)
    assert {"aopen", "aembed", "asearch", "agenerate", "aapply"} <= set(seen)


async def test_async_memory_closes_and_refuses_calls_afterwards() -> None:

    am = AsyncMemory(llm=RulesLLM(), embedder=HashingEmbedder({"dimension": 32}), vector_store=InMemoryStore(),
                     plugins=PluginManager(autoload=False))
    result = await am.add("I like tea", user_id="u")  # opens the store on first use
    assert [e.event for e in result.events] == ["ADD"]
    await am.close()
    await am.close()
    with pytest.raises(MemoryClosed, match="closed"):
        await am.search("tea", user_id="u")
