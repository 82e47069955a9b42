"""Loading the providers through their entry points must not import boto3 or botocore."""

from __future__ import annotations

from memplane.plugins.registry import load_provider_class
from memplane_conformance.lazy import sdk_modules_after_loading

KINDS = {"llms": "llm", "embedders": "embedder", "rerankers": "reranker"}


def test_entry_points_do_not_import_the_sdk() -> None:
    configs = {kind: {"region": "us-east-1"} for kind in KINDS}  # constructing too
    assert sdk_modules_after_loading("bedrock", configs, ["boto3", "botocore"]) == []


def test_entry_points_name_the_plugin_classes() -> None:
    for kind, module in KINDS.items():
        assert load_provider_class(kind, "bedrock").__module__ == f"memplane_bedrock.{module}"
