"""Loading the providers through their entry points must not import google-genai."""

from __future__ import annotations

from memplane.plugins.registry import load_provider_class
from memplane_conformance.lazy import sdk_modules_after_loading


def test_entry_points_do_not_import_the_sdk() -> None:
    configs = {"llms": {"api_key": "k"}, "embedders": {"api_key": "k"}}  # constructing too
    assert sdk_modules_after_loading("gemini", configs, ["google.genai", "httpx"]) == []


def test_entry_points_name_the_plugin_classes() -> None:
    assert load_provider_class("llms", "gemini").__module__ == "memplane_gemini.llm"
    assert load_provider_class("embedders", "gemini").__module__ == "memplane_gemini.embedder"
