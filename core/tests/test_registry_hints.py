"""Install hints name only distributions that exist: installed or first-party.

``MEMPLANE_LLM=gpt4`` used to answer "install memplane-gpt4", a package that does
not exist and that anyone could register with malicious code.
"""

from __future__ import annotations

import pytest

from memplane.plugins.registry import install_hint, not_found_message


def test_builtin_providers_point_at_the_core_distribution() -> None:
    assert install_hint("rules", "llms") == "memplane"
    assert install_hint("sqlite", "vector_stores") == "memplane"


def test_first_party_names_and_nothing_guessed() -> None:
    assert install_hint("azure_openai") == "memplane-openai"
    assert install_hint("some_store", "vector_stores") is None
    assert install_hint("milvus", "llms") is None  # milvus ships no LLM


@pytest.mark.parametrize("name", ["gpt4", "gpt-4o", "some_store"])
def test_unknown_name_suggests_no_invented_package(name: str) -> None:
    message = not_found_message("llms", name)
    assert f"memplane-{name}" not in message and "pip install" not in message
    assert "rules" in message  # the installed ones are listed


def test_close_matches_of_real_names() -> None:
    assert "Did you mean 'openai'?" in not_found_message("llms", "opnai")
    assert "Did you mean 'anthropic'?" in not_found_message("llms", "antropic")
    assert "Did you mean 'sqlite'?" in not_found_message("vector_stores", "sqllite")


def test_first_party_provider_names_the_real_distribution_and_the_source_folder() -> None:
    message = not_found_message("vector_stores", "weaviate")
    if "is installed" in message and "no vector_stores" not in message:
        pytest.skip("memplane-weaviate is installed here")
    assert "`pip install memplane-weaviate`" in message and "pip install ./plugins/weaviate" in message
