"""MemoryConfig: files, environment, shorthand, validation, and what Memory does with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from memplane.config import MemoryConfig, ProviderBlock
from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import ConfigurationError, DimensionMismatch
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.pipeline.prompts import DECISIONS_CONTRACT
from memplane.plugins.hooks import PluginManager
from memplane.stores.sqlite import SQLiteStore

QUIET = {"plugins": PluginManager(autoload=False)}


def test_defaults() -> None:
    c = MemoryConfig()
    assert (c.llm.provider, c.embedder.provider, c.vector_store.provider) == ("rules", "minilm_onnx", "sqlite")
    assert c.reranker is None
    assert c.pipeline.mode == "single" and c.pipeline.top_k == 10 and c.pipeline.max_repair_retries == 1
    assert c.search.hybrid and c.search.fusion == "boost"


@pytest.mark.parametrize(
    ("spec", "provider", "config"),
    [("openai", "openai", {}), ("openai:gpt-4o-mini", "openai", {"model": "gpt-4o-mini"}),
     ({"provider": "sqlite", "config": {"path": "/tmp/x.db"}}, "sqlite", {"path": "/tmp/x.db"})],
)
def test_provider_block_shorthand(spec: object, provider: str, config: dict[str, str]) -> None:
    block = MemoryConfig(llm=spec).llm
    assert (block.provider, block.config) == (provider, config)


def test_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "memplane.yaml"
    path.write_text(
        "llm: scripted\n"
        "embedder: {provider: hashing, config: {dimension: 32}}\n"
        "vector_store:\n  provider: sqlite\n  config:\n    path: " + str(tmp_path / "m.db") + "\n"
        "pipeline:\n  mode: two_pass\n  top_k: 5\n"
        "search:\n  fusion: weighted\n  threshold: 0.2\n"
    )
    c = MemoryConfig.from_file(path, env=False)
    assert c.embedder.config == {"dimension": 32}
    assert (c.pipeline.mode, c.pipeline.top_k, c.search.fusion, c.search.threshold) == ("two_pass", 5, "weighted", 0.2)
    with Memory.from_file(path, **QUIET) as m:
        assert m.embedder.dimension == 32 and isinstance(m.llm, ScriptedLLM)
        m.add("hello world", user_id="u", infer=False)
    assert (tmp_path / "m.db").exists()


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "memplane.toml"
    path.write_text(
        'llm = "rules"\n'
        '[embedder]\nprovider = "hashing"\n[embedder.config]\ndimension = 48\n'
        '[vector_store]\nprovider = "memory"\n'
        '[search]\nhybrid = false\nrecency_weight = 0.1\n'
    )
    c = MemoryConfig.from_file(path, env=False)
    assert c.embedder.config == {"dimension": 48} and c.vector_store.provider == "memory"
    assert c.search.hybrid is False and c.search.recency_weight == 0.1


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "memplane.yaml"
    path.write_text("llm: rules\nvector_store: {provider: sqlite, config: {path: a.db}}\n")
    monkeypatch.setenv("MEMPLANE_LLM", "openai:gpt-4o-mini")
    monkeypatch.setenv("MEMPLANE_LLM__TEMPERATURE", "0")
    monkeypatch.setenv("MEMPLANE_VECTOR_STORE__PATH", "/data/b.db")
    monkeypatch.setenv("MEMPLANE_SEARCH__HYBRID", "false")
    monkeypatch.setenv("MEMPLANE_PIPELINE__TOP_K", "3")
    monkeypatch.setenv("MEMPLANE_DISABLE_PLUGIN_AUTOLOAD", "1")  # unrelated: ignored
    c = MemoryConfig.from_file(path)
    assert c.llm == ProviderBlock(provider="openai", config={"model": "gpt-4o-mini", "temperature": 0})
    assert c.vector_store.config == {"path": "/data/b.db"}
    assert c.search.hybrid is False and c.pipeline.top_k == 3
    assert MemoryConfig.from_file(path, env=False).vector_store.config == {"path": "a.db"}


def test_env_key_without_a_block_uses_the_default_provider() -> None:
    c = MemoryConfig.from_env({"MEMPLANE_VECTOR_STORE__PATH": "/x.db", "MEMPLANE_EMBEDDER": "hashing"})
    assert c.vector_store == ProviderBlock(provider="sqlite", config={"path": "/x.db"})
    assert c.embedder.provider == "hashing"


def test_memplane_config_variable_points_memory_at_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "conf.yml"
    path.write_text("llm: scripted\nembedder: hashing\nvector_store: memory\n")
    monkeypatch.setenv("MEMPLANE_CONFIG", str(path))
    with Memory(**QUIET) as m:
        assert m.llm.name == "scripted" and m.vector_store.name == "memory"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"llmm": "rules"}, "llmm"),
        ({"pipeline": {"modee": "single"}}, "pipeline.modee"),
        ({"pipeline": {"mode": "three_pass"}}, "pipeline.mode"),
        ({"pipeline": {"top_k": -1}}, "pipeline.top_k"),
        ({"pipeline": {"max_repair_retries": 3}}, "pipeline.max_repair_retries"),
        ({"search": {"threshold": 1.5}}, "search.threshold"),
        ({"search": {"fusion": "max"}}, "search.fusion"),
        ({"llm": {"provider": "rules", "cofig": {}}}, "llm.cofig"),
        ({"llm": {"config": {}}}, "llm.provider"),
    ],
)
def test_bad_keys_and_values_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        MemoryConfig.from_dict(data)
    assert key in str(info.value)


def test_bad_files_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        MemoryConfig.from_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("llm: [unclosed\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        MemoryConfig.from_file(bad)
    other = tmp_path / "conf.json"
    other.write_text("{}")
    with pytest.raises(ConfigurationError, match="unknown format"):
        MemoryConfig.from_file(other)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigurationError, match="mapping"):
        MemoryConfig.from_file(listing)


def test_provider_blocks_are_validated_by_the_provider() -> None:
    with pytest.raises(ConfigurationError, match="dimensions"):
        Memory({"llm": "rules", "embedder": {"provider": "hashing", "config": {"dimensions": 8}},
                "vector_store": "memory"}, **QUIET)


@pytest.mark.parametrize(
    ("prompt", "problem"),
    [
        ("Update the memories.", "existing_memories"),
        ("{existing_memories} only", "new_messages"),
        ("{existing_memories} {new_messages} {new_messages}", "exactly once"),
        ("{existing_memories} {new_messages} {existing_memory}", "unknown placeholder"),
        ("   ", "empty"),
    ],
)
def test_custom_update_prompt_is_validated_at_configuration_time(prompt: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        MemoryConfig(pipeline={"custom_update_prompt": prompt})


def test_custom_extraction_prompt_needs_messages() -> None:
    with pytest.raises(ConfigurationError, match="messages"):
        MemoryConfig(pipeline={"custom_extraction_prompt": "List facts as {json}."})
    MemoryConfig(pipeline={"custom_extraction_prompt": 'Facts as {"facts": [..]} from {messages} ({today})'})


def test_custom_prompt_is_used_but_the_answer_format_stays_enforced() -> None:
    llm = ScriptedLLM()
    prompt = ('You are terse. Return {"memories": [...]} in YAML.\n'
              "Known: {existing_memories}\nNew: {new_messages}\nDate: {today}")
    m = Memory({"pipeline": {"custom_update_prompt": prompt}}, llm=llm,
               embedder=HashingEmbedder({"dimension": 16}), vector_store=SQLiteStore({"path": ":memory:"}), **QUIET)
    llm.queue({"decisions": [{"event": "ADD", "text": "User likes tea"}]})
    m.add("I like tea", user_id="u")
    request = llm.requests[0]
    assert request.messages[0].role == "system" and request.messages[0].content == DECISIONS_CONTRACT
    assert request.messages[1].content.startswith("You are terse.")
    assert "<new_messages>" in request.messages[1].content
    assert request.json_schema is not None and request.json_schema["title"] == "DecisionList"


def test_dimension_mismatch_is_clear_at_start(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    with Memory(llm=ScriptedLLM(), embedder=HashingEmbedder({"dimension": 64}),
                vector_store=SQLiteStore({"path": path}), **QUIET) as m:
        m.add("a memory", user_id="u", infer=False)
    with pytest.raises(DimensionMismatch, match="64-dimensional"):
        Memory(llm=ScriptedLLM(), embedder=HashingEmbedder({"dimension": 32}),
               vector_store=SQLiteStore({"path": path}), **QUIET)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    from memplane.config import PipelineConfig, SearchConfig

    text = DOCS.read_text(encoding="utf-8")
    for model in (MemoryConfig, PipelineConfig, SearchConfig):
        for key in model.model_fields:
            if model is MemoryConfig and key in ("pipeline", "search"):
                assert f"## `{key}`" in text
                continue
            assert f"| `{key}` |" in text, f"{model.__name__}.{key} is missing from docs/configuration.md"


def test_documented_examples_are_valid(tmp_path: Path) -> None:
    import re

    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```(yaml|toml)\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 3
    for language, body in blocks:
        path = tmp_path / f"example.{language}"
        path.write_text(body)
        config = MemoryConfig.from_file(path, env=False)
        assert config.llm.provider and config.vector_store.provider


def test_model_validate_and_assignment_raise_configuration_error() -> None:
    """No way into MemoryConfig leaks pydantic's ValidationError."""
    from memplane.config import MemoryConfig
    from memplane.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="bogus: unknown key"):
        MemoryConfig.model_validate({"bogus": 1})
    with pytest.raises(ConfigurationError, match=r"pipeline\.top_k"):
        MemoryConfig.model_validate_json('{"pipeline": {"top_k": "many"}}')
    config = MemoryConfig()
    with pytest.raises(ConfigurationError, match="top_k"):
        config.pipeline.top_k = "many"  # type: ignore[assignment]
    with pytest.raises(ConfigurationError, match="llm"):
        config.llm = 5  # type: ignore[assignment]
    assert MemoryConfig.model_validate({"pipeline": {"top_k": 3}}).pipeline.top_k == 3
