"""Traces from a real Memory on the embedded stack (sqlite file, hashing embedder,
scripted LLM), collected with the OTel SDK's InMemorySpanExporter."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from memplane.async_memory import AsyncMemory
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.plugins.hooks import PluginManager
from memplane_opentelemetry import MemplaneInstrumentor, plugin

SECRET = "my badge PIN is 80417"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    MemplaneInstrumentor().instrument(tracer_provider=provider)
    yield exporter
    MemplaneInstrumentor().uninstrument()


def config(tmp_path: Path) -> dict[str, Any]:
    return {"embedder": "hashing", "llm": "scripted",
            "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}}}


def plugins() -> PluginManager:
    pm = PluginManager(autoload=False)
    pm.register(plugin, name="opentelemetry")
    return pm


def add_reply(text: str) -> dict[str, Any]:
    return {"decisions": [{"event": "ADD", "text": text, "reason": "stated"}]}


def named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def test_add_and_search_are_one_span_each_with_a_child_per_provider_call(
    exporter: InMemorySpanExporter, tmp_path: Path,
) -> None:
    llm = ScriptedLLM().queue(add_reply("User's badge PIN is 80417"))
    with Memory(config(tmp_path), llm=llm, plugins=plugins()) as memory:
        exporter.clear()  # drop the store's open() at construction
        result = memory.add(SECRET, user_id="alice")
        spans = exporter.get_finished_spans()
        [add] = named(spans, "memplane.add")
        assert add.parent is None
        kids = children(spans, add)
        assert {s.name for s in kids} >= {"memplane.embedders.embed", "memplane.vector_stores.search",
                                          "memplane.llms.generate", "memplane.vector_stores.apply"}
        assert len(kids) == len(spans) - 1  # every provider call hangs under the add
        assert all(s.context is not None and add.context is not None
                   and s.context.trace_id == add.context.trace_id for s in kids)
        [generate] = named(spans, "memplane.llms.generate")
        assert generate.attributes is not None and add.attributes is not None
        assert generate.attributes["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens > 0
        assert generate.attributes["gen_ai.usage.output_tokens"] == result.usage.completion_tokens > 0
        assert generate.attributes["memplane.provider.name"] == "scripted"
        assert add.attributes["memplane.events.add"] == 1
        assert add.attributes["memplane.scope.fields"] == ("user_id",)
        assert "memplane.scope.user_id" not in add.attributes  # ids are opt-in

        exporter.clear()
        hits = memory.search("badge PIN", user_id="alice")
        spans = exporter.get_finished_spans()
        [search] = named(spans, "memplane.search")
        assert search.attributes is not None and search.attributes["memplane.results"] == len(hits) == 1
        names = sorted(s.name for s in children(spans, search))
        # both signals in one store call, then the records of the results
        assert {"memplane.embedders.embed", "memplane.vector_stores.search_candidates",
                "memplane.vector_stores.get"} <= set(names)
        assert len(names) == len(spans) - 1
        assert all(s.status.status_code != StatusCode.ERROR for s in spans)


def test_no_memory_text_query_or_message_reaches_a_span(exporter: InMemorySpanExporter, tmp_path: Path) -> None:
    llm = ScriptedLLM().queue(add_reply(SECRET))
    with Memory(config(tmp_path), llm=llm, plugins=plugins()) as memory:
        memory.add(SECRET, user_id="alice")
        memory.search(SECRET, user_id="alice")
    for span in exporter.get_finished_spans():
        for value in (span.attributes or {}).values():
            assert "80417" not in str(value), (span.name, value)
        assert all("80417" not in str(e.attributes) for e in span.events)


def test_a_failing_provider_call_marks_both_spans_and_still_raises(
    exporter: InMemorySpanExporter, tmp_path: Path,
) -> None:
    llm = ScriptedLLM().queue(RuntimeError("model down"))
    with Memory(config(tmp_path), llm=llm, plugins=plugins()) as memory, \
            pytest.raises(RuntimeError, match="model down"):
        memory.add("I like tea", user_id="alice")
    spans = exporter.get_finished_spans()
    [add] = named(spans, "memplane.add")
    [generate] = named(spans, "memplane.llms.generate")
    assert generate.parent is not None and add.context is not None
    assert generate.parent.span_id == add.context.span_id
    for span in (add, generate):
        assert span.status.status_code == StatusCode.ERROR
        assert any(e.name == "exception" for e in span.events)


async def test_async_memory_nests_provider_spans_across_threads(
    exporter: InMemorySpanExporter, tmp_path: Path,
) -> None:
    """The hashing embedder and sqlite store are sync: AsyncMemory runs them in worker
    threads, and the spans must still be children of the operation span."""
    llm = ScriptedLLM().queue(add_reply("User likes tea"), add_reply("User likes rain"))
    memory = AsyncMemory(config(tmp_path), llm=llm, plugins=plugins())
    try:
        await asyncio.gather(memory.add("I like tea", user_id="a"), memory.add("I like rain", user_id="b"))
    finally:
        await memory.close()
    spans = exporter.get_finished_spans()
    adds = named(spans, "memplane.add")
    assert len(adds) == 2
    for add in adds:
        kids = children(spans, add)
        assert "memplane.llms.generate" in {s.name for s in kids}
        assert "memplane.vector_stores.apply" in {s.name for s in kids}
    provider_spans = [s for s in spans if s.name.startswith("memplane.") and s.name.count(".") == 2
                      and s.name != "memplane.vector_stores.open"]
    assert all(s.parent is not None for s in provider_spans)


def test_uninstrument_stops_all_spans(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = MemplaneInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    with Memory(config(tmp_path), llm=ScriptedLLM(), plugins=plugins()) as memory:
        memory.search("x", user_id="u")
        assert named(exporter.get_finished_spans(), "memplane.search")
        instrumentor.uninstrument()
        exporter.clear()
        memory.add("I like tea", user_id="u")
        memory.search("tea", user_id="u")
    assert exporter.get_finished_spans() == ()
    assert not hasattr(Memory.add, "__memplane_otel_original__")


def test_the_entry_point_registers_the_plugin_for_a_default_memory(
    exporter: InMemorySpanExporter, tmp_path: Path,
) -> None:
    """Installing the distribution is enough: Memory's default PluginManager loads it."""
    manager = PluginManager()
    assert "opentelemetry" in manager.plugin_names, manager.failures
    with Memory(config(tmp_path), llm=ScriptedLLM()) as memory:
        exporter.clear()
        memory.search("tea", user_id="u")
    [search] = named(exporter.get_finished_spans(), "memplane.search")
    assert children(exporter.get_finished_spans(), search)


def test_server_requests_are_traced_through_the_same_hooks(
    exporter: InMemorySpanExporter, tmp_path: Path,
) -> None:
    """memplane-server builds its Memory with the default PluginManager, so a REST add
    is one memplane.add span with its provider calls below it."""
    uvicorn = pytest.importorskip("uvicorn")
    app_module = pytest.importorskip("memplane_server.app")
    from memplane_server.keys import create_key
    from memplane_server.settings import ServerSettings

    settings = ServerSettings(
        memory_config={"embedder": "hashing", "llm": "rules",
                       "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "s.db")}}},
        keys_db=tmp_path / "keys.db")
    key = create_key(settings.keys_db, user_id="alice")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app_module.create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        exporter.clear()
        response = httpx.post(f"http://127.0.0.1:{sock.getsockname()[1]}/v1/memories",
                              headers={"Authorization": f"Bearer {key}"},
                              json={"messages": "I like green tea"})
        assert response.status_code == 200, response.text
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
    spans = exporter.get_finished_spans()
    [add] = named(spans, "memplane.add")
    assert {"memplane.llms.generate", "memplane.vector_stores.apply"} <= {s.name for s in children(spans, add)}
