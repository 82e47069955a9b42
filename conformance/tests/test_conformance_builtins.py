"""Core's built-in providers pass the suite, in both modes."""

from __future__ import annotations

import pytest
from suite_outcomes import failed_tests, run, summary


@pytest.mark.parametrize(
    ("target", "at_least"),
    [
        ("vector_stores:sqlite", 60),
        ("vector_stores:memory", 60),
        ("llms:scripted", 35),
        ("embedders:hashing", 20),
    ],
)
def test_builtin_passes_zero_code(suite: pytest.Pytester, target: str, at_least: int) -> None:
    result, outcomes = run(suite, "--pyargs", "memplane_conformance", "--memplane-provider", target)
    assert failed_tests(outcomes) == set(), summary(result)
    assert len(outcomes.get("PASSED", [])) >= at_least
    assert result.ret == 0


def test_reference_store_passes_subclass_mode(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_reference="""
        import uuid
        import pytest
        from memplane_conformance import MemoryContract, VectorStoreContract
        from reference_providers import DictStore



        @pytest.fixture
        def store_factory():
            return lambda: DictStore({"name": uuid.uuid4().hex})

        class TestDictStore(VectorStoreContract):
            pass

        class TestDictMemory(MemoryContract):
            pass
    """)
    result, outcomes = run(suite)
    assert failed_tests(outcomes) == set(), summary(result)
    # atomic_apply and vector_read are declared: they ran, not skipped (persistent and
    # concurrent_writers are not: the reference's data lives in one process; sqlite runs
    # those in `tox -e core`). The v2 thread race runs for every store.
    passed = outcomes["PASSED"]
    for name in ("test_atomic_apply_survives_a_failure_mid_batch",
                 "test_vector_read_returns_stored_vectors_in_scope",
                 "test_v2_racing_update_delete_restore_threads"):
        assert f"TestDictStore::{name}" in passed
    assert "'keyword_search' capability" in result.stdout.str()


def test_reference_reranker_passes(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_reranker="""
        import pytest
        from memplane_conformance import RerankerContract
        from reference_providers import OverlapReranker

        class TestOverlap(RerankerContract):
            @pytest.fixture
            def reranker(self):
                return OverlapReranker()
    """)
    result, outcomes = run(suite)
    assert failed_tests(outcomes) == set(), summary(result)
    assert len(outcomes["PASSED"]) == 8


def test_rules_llm_passes_the_behavioural_scenarios(suite: pytest.Pytester) -> None:
    """The rule-based LLM cannot be scripted, so it runs the scenarios live tests run."""
    suite.makepyfile(test_rules="""
        import pytest
        from memplane.llms.rules import RulesLLM
        from memplane_conformance.llm import LLMBehaviourContract

        class TestRules(LLMBehaviourContract):
            @pytest.fixture
            def live_llm_factory(self):
                return lambda **overrides: RulesLLM(overrides)
    """)
    result, outcomes = run(suite)
    assert failed_tests(outcomes) == set(), summary(result)
    assert len(outcomes["PASSED"]) == 6


def test_rules_llm_in_zero_code_mode_runs_the_live_scenarios(suite: pytest.Pytester) -> None:
    """The rules harness has no scripted endpoint (those tests skip, saying why) and is
    its own "live" service, supplied by a module-level fixture of the zero-code suite."""
    result, outcomes = run(suite, "--pyargs", "memplane_conformance",
                           "--memplane-provider", "llms:rules")
    assert failed_tests(outcomes) == set(), summary(result)
    live = [n for n in outcomes["PASSED"] if "test_live_" in n]
    assert len(live) == 5
    assert "cannot be scripted" in result.stdout.str()
