"""Deliberately broken providers are rejected, by the tests that target their defect."""

from __future__ import annotations

import pytest
from suite_outcomes import LLM_SUBCLASS_TEMPLATE, failed_tests, run, summary

STORE_TEMPLATE = """
import uuid
import pytest
from memplane_conformance import MemoryContract, VectorStoreContract
from reference_providers import {cls}



@pytest.fixture
def store_factory():
    return lambda: {cls}({{"name": uuid.uuid4().hex}})

class TestStore(VectorStoreContract):
    pass

class TestMemory(MemoryContract):
    pass
"""


def run_store(suite: pytest.Pytester, cls: str) -> tuple[set[str], dict[str, list[str]]]:
    suite.makepyfile(test_broken=STORE_TEMPLATE.format(cls=cls))
    result, outcomes = run(suite)
    assert result.ret == 1
    return failed_tests(outcomes), outcomes


def test_store_that_ignores_filters_is_rejected(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_broken=STORE_TEMPLATE.format(cls="IgnoresFiltersStore"))
    result, outcomes = run(suite)
    failed = failed_tests(outcomes)
    assert "test_filter_matches_reference_semantics_or_is_refused" in failed
    assert "test_metadata_filters" in failed
    assert "test_hostile_metadata_values_are_stored_verbatim" in failed
    # the defect is filters only: everything else still passes
    assert failed <= {"test_filter_matches_reference_semantics_or_is_refused", "test_metadata_filters",
                      "test_hostile_metadata_values_are_stored_verbatim",
                      "test_filtered_listing_pages_through_every_match",
                      "test_nested_negations_match_the_reference",
                      "test_hostile_values_and_edge_cases_match_the_reference",
                      "test_random_filters_match_the_reference"}
    # the one filter-case test names every case it failed
    out = result.stdout.str()
    assert "filter cases that failed" in out
    for case in ("eq:", "ne:", "nin:", "nested:", "AND:", "OR:", "NOT:", "contains:"):
        assert f"E         {case}" in out or f"\n{case}" in out or f" {case} " in out, case


def test_store_that_leaks_across_scopes_is_rejected(suite: pytest.Pytester) -> None:
    failed, _ = run_store(suite, "LeaksScopesStore")
    assert "test_hostile_scope_values_never_cross_scopes" in failed
    assert "test_random_scopes_match_reference_semantics" in failed
    assert "test_two_users_never_see_each_other" not in failed  # alice/bob: no shared prefix
    assert "test_list_records_pages_return_every_record_exactly_once" not in failed


def test_store_whose_pages_repeat_records_is_rejected(suite: pytest.Pytester) -> None:
    failed, _ = run_store(suite, "RepeatingPagesStore")
    assert "test_list_records_pages_return_every_record_exactly_once" in failed
    assert "test_list_records_survives_inserts_between_pages" in failed
    assert "test_hostile_scope_values_never_cross_scopes" not in failed
    assert "test_filter_matches_reference_semantics_or_is_refused" not in failed


def run_llm(suite: pytest.Pytester, cls: str) -> tuple[pytest.RunResult, set[str]]:
    source = LLM_SUBCLASS_TEMPLATE.format(module="reference_providers", cls=cls)
    suite.makepyfile(test_broken_llm=source)
    result, outcomes = run(suite)
    assert result.ret == 1
    return result, failed_tests(outcomes)


def test_llm_that_drops_the_schema_is_rejected(suite: pytest.Pytester) -> None:
    result, failed = run_llm(suite, "SchemaDroppingLLM")
    assert failed == {"test_request_carries_the_json_schema",
                      "test_structured_reply_becomes_the_right_decisions"}, summary(result)
    assert "the request did not carry the JSON schema" in result.stdout.str()


def test_reranker_with_unstable_ties_is_rejected(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_broken_reranker="""
        import pytest
        from memplane_conformance import RerankerContract
        from reference_providers import UnstableTiesReranker

        class TestReranker(RerankerContract):
            @pytest.fixture
            def reranker(self):
                return UnstableTiesReranker()
    """)
    _, outcomes = run(suite)
    assert failed_tests(outcomes) == {"test_ties_keep_input_order"}


def test_llm_with_unbounded_retries_is_rejected(suite: pytest.Pytester) -> None:
    result, failed = run_llm(suite, "RetriesForeverLLM")
    # sync and async retry bounds; its Retry-After is lost to the loop as well
    assert failed == {"test_rate_limit_is_typed_and_retries_are_bounded",
                      "test_async_errors_are_typed_like_sync",
                      "test_rate_limit_carries_retry_after"}, summary(result)


def test_llm_with_untyped_errors_is_rejected(suite: pytest.Pytester) -> None:
    result, failed = run_llm(suite, "UntypedErrorsLLM")
    assert {"test_auth_failure_is_typed_and_not_retried", "test_timeout_is_typed",
            "test_no_retry_when_max_retries_is_zero", "test_rate_limit_is_typed_and_retries_are_bounded",
            "test_malformed_body_is_a_provider_error",
            "test_provider_failure_leaves_memories_unchanged",
            "test_rate_limit_carries_retry_after"} <= failed, summary(result)


def test_embedder_whose_vectors_depend_on_the_batch_is_rejected(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_broken_embedder="""
        import pytest
        from memplane_conformance import EmbedderContract
        from reference_providers import BatchDependentEmbedder

        class TestEmbedder(EmbedderContract):
            @pytest.fixture
            def embedder(self):
                return BatchDependentEmbedder({"dimension": 64})
    """)
    result, outcomes = run(suite)
    assert failed_tests(outcomes) == {"test_batch_equals_one_by_one",
                                      "test_query_and_document_purpose",
                                      "test_large_batch_matches_one_by_one"}, summary(result)


def test_store_without_version_checks_is_rejected(suite: pytest.Pytester) -> None:
    failed, _ = run_store(suite, "LastWriterWinsStore")
    assert {"test_v2_stale_version_is_refused_and_writes_nothing",
            "test_v2_create_of_an_existing_id_is_a_conflict",
            "test_v2_id_owned_by_another_scope_is_refused",
            "test_v2_one_live_memory_per_text_and_scope"} <= failed
    assert "test_filter_matches_reference_semantics_or_is_refused" not in failed
