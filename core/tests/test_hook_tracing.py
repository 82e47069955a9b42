"""A tracing plugin written as a pluggy wrapper sees every provider call: of an add,
of a reranked search (the LLM reranker's own LLM calls included), and of export and
import, from Memory and from AsyncMemory."""

from __future__ import annotations

import io
import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

from memplane import AsyncMemory, Memory, hookimpl
from memplane.cli.transfer import export_scope, import_entries, read_export
from memplane.embedders.hashing import HashingEmbedder
from memplane.llms.scripted import ScriptedLLM
from memplane.models import Scope
from memplane.plugins.hooks import PluginManager, ProviderCall
from memplane.rerankers.llm import LLMReranker
from memplane.stores.sqlite import SQLiteStore

DECISION = {"decisions": [{"event": "ADD", "text": "Likes green tea"}]}
GRADES = {"scores": [{"index": 0, "score": 9}]}


class Tracer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bool]] = []
        self.results: list[Any] = []

    @hookimpl(wrapper=True)
    def memplane_provider_call(self, call: ProviderCall) -> Generator[None, Any, Any]:
        self.calls.append((call.kind, call.method, call.is_async))
        result = yield  # the provider ran inside
        self.results.append(result)
        return result

    def seen(self) -> set[tuple[str, str]]:
        return {(kind, method) for kind, method, _ in self.calls}


def _parts(tmp_path: Path) -> tuple[ScriptedLLM, dict[str, Any], Tracer]:
    llm = ScriptedLLM().queue(json.dumps(DECISION), json.dumps(GRADES))
    tracer = Tracer()
    plugins = PluginManager(autoload=False)
    plugins.register(tracer, name="tracer")
    parts = {"llm": llm, "embedder": HashingEmbedder(dimension=64),
             "vector_store": SQLiteStore(path=str(tmp_path / "m.db")),
             "reranker": LLMReranker(), "plugins": plugins}
    return llm, parts, tracer


def test_a_wrapper_sees_every_call_of_add_search_export_and_import(tmp_path: Path) -> None:
    _llm, parts, tracer = _parts(tmp_path)
    with Memory(**parts) as memory:
        assert tracer.calls == [("vector_stores", "open", False)]
        memory.add("I like green tea", user_id="u")
        assert {("embedders", "embed"), ("vector_stores", "search"), ("llms", "generate"),
                ("vector_stores", "apply")} <= tracer.seen()
        tracer.calls.clear()
        hits = memory.search("tea", user_id="u", rerank=True, hybrid=True)
        assert [h.text for h in hits] == ["Likes green tea"]
        assert hits.usage.embedding_calls == 1 and hits.usage.llm_calls == 1  # the rerank
        assert [c for c in tracer.calls if c[0] != "vector_stores"] == [
            ("embedders", "embed", False), ("rerankers", "rerank", False),
            ("llms", "generate", False)]  # the reranker's LLM call is seen too
        # both signals in one store call, then the returned records: all seen by hooks
        assert {("vector_stores", "search_candidates"), ("vector_stores", "get")} <= tracer.seen()

        tracer.calls.clear()
        out = io.StringIO()
        store, embedder = memory.routed("vector_stores"), memory.routed("embedders")
        assert export_scope(store, embedder, Scope(user_id="u"), out, vectors=True,
                            show_progress=False) == 1
        assert {("vector_stores", "list_records"), ("vector_stores", "history"),
                ("vector_stores", "get_vectors")} <= tracer.seen()
        tracer.calls.clear()
        header, entries = read_export(iter(out.getvalue().splitlines()))
        memory.reset()
        report = import_entries(store, embedder, header, entries, force_reembed=True,
                                show_progress=False)
        assert report.imported == 1
        assert {("vector_stores", "count"), ("embedders", "embed"),
                ("vector_stores", "apply")} <= tracer.seen()


async def test_the_same_wrapper_sees_async_calls(tmp_path: Path) -> None:
    _llm, parts, tracer = _parts(tmp_path)
    memory = AsyncMemory(**parts)
    try:
        await memory.add("I like green tea", user_id="u")
        [hit] = await memory.search("tea", user_id="u", rerank=True)
        assert hit.text == "Likes green tea"
    finally:
        await memory.close()
    assert all(is_async for _, _, is_async in tracer.calls)
    assert {("vector_stores", "open"), ("embedders", "embed"), ("vector_stores", "apply"),
            ("rerankers", "rerank"), ("llms", "generate")} <= tracer.seen()
    assert sum(1 for kind, method, _ in tracer.calls if (kind, method) == ("llms", "generate")) == 2
