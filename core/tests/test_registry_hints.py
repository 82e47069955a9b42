"""Install hints name the distribution that actually ships a provider."""

from __future__ import annotations

from memplane.plugins.registry import install_hint


def test_builtin_providers_point_at_the_core_distribution() -> None:
    assert install_hint("rules", "llms") == "memplane"
    assert install_hint("sqlite", "vector_stores") == "memplane"


def test_first_party_and_conventional_names() -> None:
    assert install_hint("azure_openai") == "memplane-openai"
    assert install_hint("some_store", "vector_stores") == "memplane-some-store"
