"""Hook plugins around Memory, and provider loading through the registry."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from memplane.config import MemoryConfig
from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import ContractVersionMismatch, ProviderNotFound, ProviderUnavailable
from memplane.llms.rules import RulesLLM
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.models import MemoryEvent
from memplane.plugins.hooks import PluginManager, hookimpl
from memplane.plugins.registry import list_providers
from memplane.stores.inmemory import InMemoryStore


class Tracer:
    def __init__(self) -> None:
        self.wrapped: list[tuple[str, str]] = []
        self.calls: list[tuple[str, str]] = []

    @hookimpl
    def memplane_wrap_call(self, kind: str, method: str, provider: Any, call: Callable[..., Any]) -> Any:
        self.wrapped.append((kind, method))

        def traced(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((kind, method))
            return call(*args, **kwargs)

        return traced


class Recorder:
    def __init__(self) -> None:
        self.events: list[MemoryEvent] = []

    @hookimpl
    def memplane_memory_event(self, event: MemoryEvent) -> None:
        self.events.append(event)


class Exploding:
    @hookimpl
    def memplane_memory_event(self, event: MemoryEvent) -> None:
        raise RuntimeError("observer bug")


def memory_with(*plugins: object, llm: Any = None) -> Memory:
    manager = PluginManager(autoload=False)
    for p in plugins:
        manager.register(p)
    return Memory(llm=llm or RulesLLM(), embedder=HashingEmbedder({"dimension": 64}),
                  vector_store=InMemoryStore(), plugins=manager)


def test_wrapper_sees_every_provider_call_and_wraps_once() -> None:
    tracer = Tracer()
    m = memory_with(tracer)
    wrapped_at_start = list(tracer.wrapped)
    m.add("I prefer Python", user_id="u")
    m.search("Python", user_id="u")
    m.delete(m.get_all(user_id="u").records[0].id, user_id="u")
    assert tracer.wrapped == wrapped_at_start  # wrapping happens at construction only
    assert ("llms", "generate") in wrapped_at_start and ("llms", "agenerate") in wrapped_at_start
    assert tracer.calls[0] == ("vector_stores", "open")
    assert {("embedders", "embed"), ("vector_stores", "search"), ("llms", "generate"),
            ("vector_stores", "apply"), ("vector_stores", "search_candidates"),
            ("vector_stores", "get")} <= set(tracer.calls)


def test_a_wrapper_can_change_what_the_provider_receives() -> None:
    class Redactor:
        @hookimpl
        def memplane_wrap_call(self, kind: str, method: str, provider: Any, call: Callable[..., Any]) -> Any:
            if (kind, method) != ("llms", "generate"):
                return None

            def redacted(messages: Any, **kwargs: Any) -> Any:
                clean = [m.model_copy(update={"content": m.content.replace("4111-1111", "[card]")}) for m in messages]
                return call(clean, **kwargs)

            return redacted

    llm = ScriptedLLM()
    m = memory_with(Redactor(), llm=llm)
    m.add("My card is 4111-1111", user_id="u")
    assert "4111-1111" not in llm.requests[0].prompt and "[card]" in llm.requests[0].prompt


def test_memory_events_follow_applied_changes() -> None:
    recorder = Recorder()
    m = memory_with(recorder)
    m.add("I prefer Python", user_id="u")
    m.add("I switched to Rust", user_id="u")
    mid = m.get_all(user_id="u").records[0].id
    m.update(mid, "User prefers Zig", user_id="u")
    m.delete(mid, user_id="u")
    assert [e.event for e in recorder.events] == ["ADD", "UPDATE", "UPDATE", "DELETE"]
    assert recorder.events[1].previous_text == "User prefers Python"


def test_failing_event_hook_neither_fails_nor_undoes_the_add() -> None:
    recorder = Recorder()
    m = memory_with(Exploding(), recorder)
    result = m.add("I like tea", user_id="u")
    assert [e.event for e in result.events] == ["ADD"]
    assert [r.text for r in m.get_all(user_id="u").records] == ["User likes tea"]
    assert [e.event for e in recorder.events] == ["ADD"]  # later hooks still run


# --- entry points from a throw-away distribution on sys.path ---------------------------------


def install_fake_distribution(root: Path, entry_points: str, modules: dict[str, str]) -> None:
    info = root / "memplane_fake_plugins-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: memplane-fake-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_distribution(
        tmp_path,
        """
        [memplane.plugins]
        broken_hooks = memplane_fake_missing_module
        good_hooks = memplane_fake_good_hooks

        [memplane.llms]
        old_contract = memplane_fake_old:OldLLM
        broken_llm = memplane_fake_missing_module:Nothing
        """,
        {
            "memplane_fake_good_hooks": """
                from memplane.plugins.hooks import hookimpl
                EVENTS = []
                @hookimpl
                def memplane_memory_event(event):
                    EVENTS.append(event.event)
            """,
            "memplane_fake_old": """
                from memplane.llms.rules import RulesLLM
                class OldLLM(RulesLLM):
                    name = "old_contract"
                    contract_version = 0
            """,
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    # stevedore keeps each group's entry points for the life of the process
    # (ExtensionManager.ENTRY_POINT_CACHE); start this test with an empty one so the
    # distribution created above is seen, and put the old one back afterwards.
    from stevedore.extension import ExtensionManager

    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})


@pytest.mark.usefixtures("fake_plugins")
def test_a_broken_hook_plugin_is_isolated() -> None:
    manager = PluginManager(autoload=True)
    assert "broken_hooks" in manager.failures
    assert "good_hooks" in manager.plugin_names
    m = Memory(llm=RulesLLM(), embedder=HashingEmbedder({"dimension": 32}), vector_store=InMemoryStore(),
               plugins=manager)
    m.add("I like tea", user_id="u")
    import memplane_fake_good_hooks  # type: ignore[import-not-found]

    assert memplane_fake_good_hooks.EVENTS == ["ADD"]


@pytest.mark.usefixtures("fake_plugins")
def test_contract_version_mismatch_and_broken_provider_are_clear() -> None:
    base = {"embedder": "hashing", "vector_store": "memory"}
    with pytest.raises(ContractVersionMismatch, match="contract version 0"):
        Memory({**base, "llm": "old_contract"}, plugins=PluginManager(autoload=False))
    with pytest.raises(ProviderUnavailable, match=r"broken_llm.*failed to load"):
        Memory({**base, "llm": "broken_llm"}, plugins=PluginManager(autoload=False))
    # the broken one does not take the others down
    with Memory({**base, "llm": "rules"}, plugins=PluginManager(autoload=False)) as m:
        assert m.add("I like tea", user_id="u").events


def test_missing_provider_names_the_package_and_lists_installed_ones() -> None:
    with pytest.raises(ProviderNotFound) as info:
        Memory({"llm": "nonexistent_model_x", "embedder": "hashing", "vector_store": "memory"},
               plugins=PluginManager(autoload=False))
    message = str(info.value)
    # no guessed package name: memplane-nonexistent-model-x could be squatted
    assert "memplane-nonexistent" not in message and "pip install" not in message
    assert "rules" in message and "scripted" in message


def test_missing_default_embedder_names_its_distribution() -> None:
    if any(p.name == "minilm_onnx" for p in list_providers("embedders")):
        pytest.skip("memplane-minilm-onnx is installed here; the tox core env runs this")
    with pytest.raises(ProviderNotFound, match="memplane-minilm-onnx"):
        Memory(MemoryConfig(vector_store="memory"), plugins=PluginManager(autoload=False))


class TrackedStore(InMemoryStore):
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_memory_closes_only_the_providers_it_created(monkeypatch: pytest.MonkeyPatch) -> None:
    given = TrackedStore()
    m = Memory({"llm": "rules", "embedder": "hashing", "vector_store": "memory"}, vector_store=given,
               plugins=PluginManager(autoload=False))
    assert m.vector_store is given and isinstance(m.llm, RulesLLM)
    closed_llms: list[str] = []
    monkeypatch.setattr(m.llm, "close", lambda: closed_llms.append("rules"))
    m.close()
    m.close()  # twice is fine
    assert given.closed == 0
    assert closed_llms == ["rules"]
