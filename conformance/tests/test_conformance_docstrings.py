"""Every suite test tells a failing author what to look at."""

from __future__ import annotations

import pytest

from memplane_conformance.contract import suite_tests
from memplane_conformance.embedder import EmbedderContract
from memplane_conformance.llm import LLMContract
from memplane_conformance.memory_contract import MemoryContract
from memplane_conformance.reranker import RerankerContract
from memplane_conformance.vector_store import VectorStoreContract

CONTRACTS = [VectorStoreContract, EmbedderContract, LLMContract, RerankerContract, MemoryContract]


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__name__)
def test_every_suite_test_ends_with_a_troubleshooting_note(contract: type) -> None:
    tests = suite_tests(contract)
    assert len(tests) >= 8
    missing = []
    for name, func in tests.items():
        paragraphs = [p.strip() for p in (func.__doc__ or "").strip().split("\n\n") if p.strip()]
        if len(paragraphs) < 2 or not paragraphs[-1].startswith("Troubleshooting:"):
            missing.append(name)
    assert not missing, f"{contract.__name__}: no closing troubleshooting note in {missing}"


def test_memory_contract_has_at_least_twelve_scenarios() -> None:
    scenarios = [n for n in suite_tests(MemoryContract) if n != "test_suite_tests_are_not_silently_overridden"]
    assert len(scenarios) >= 12
