"""FilterSemanticsContract passes honest stores and rejects ones that get filters wrong."""

from __future__ import annotations

import pytest
from suite_outcomes import failed_tests, run, summary

from memplane_conformance.contract import suite_tests
from memplane_conformance.filter_semantics import FilterSemanticsContract

TEMPLATE = """
import uuid
import pytest
from memplane_conformance import FilterSemanticsContract
{imports}

class TestFilters(FilterSemanticsContract):
    @pytest.fixture(scope="class")
    @classmethod
    def filter_semantics_store(cls, tmp_path_factory):
        yield {make}
"""

HONEST = {
    "memory": ("from memplane.stores.inmemory import InMemoryStore",
               "InMemoryStore({})"),
    "sqlite": ("from memplane.stores.sqlite import SQLiteStore",
               'SQLiteStore({"path": str(tmp_path_factory.mktemp("sem") / "m.db")})'),
    "reference": ("from reference_providers import DictStore",
                  'DictStore({"name": uuid.uuid4().hex})'),
}


def run_filters(suite: pytest.Pytester, imports: str, make: str) -> tuple[pytest.RunResult,
                                                                            dict[str, list[str]]]:
    # a name no real test module has: pytester runs in-process beside them
    suite.makepyfile(test_probe_filter_semantics=TEMPLATE.format(imports=imports, make=make))
    return run(suite)


@pytest.mark.parametrize("store", sorted(HONEST))
def test_honest_stores_pass(suite: pytest.Pytester, store: str) -> None:
    result, outcomes = run_filters(suite, *HONEST[store])
    assert failed_tests(outcomes) == set(), summary(result)
    assert len(outcomes["PASSED"]) >= 70  # 55 hostile + 19 edge cases + random + guard
    assert result.ret == 0


def test_store_that_ignores_filters_is_rejected(suite: pytest.Pytester) -> None:
    result, outcomes = run_filters(suite, "from reference_providers import IgnoresFiltersStore",
                                   'IgnoresFiltersStore({"name": uuid.uuid4().hex})')
    assert result.ret == 1
    assert failed_tests(outcomes) == {"test_random_filters_match_the_reference",
                                      "test_hostile_values_filter_exactly",
                                      "test_edge_cases_match_the_reference"}


def test_store_that_reads_booleans_as_numbers_is_rejected(suite: pytest.Pytester) -> None:
    result, outcomes = run_filters(suite, "from reference_providers import BoolsAsIntsStore",
                                   'BoolsAsIntsStore({"name": uuid.uuid4().hex})')
    assert result.ret == 1
    failed = outcomes["FAILED"]
    # {"k": 1} and {"b": 1} also pick up the True records; hostile strings are unaffected
    assert "TestFilters::test_edge_cases_match_the_reference[spec0]" in failed
    assert "TestFilters::test_edge_cases_match_the_reference[spec2]" in failed
    assert not [n for n in failed if "hostile" in n]


def test_every_test_ends_with_a_troubleshooting_note() -> None:
    for name, func in suite_tests(FilterSemanticsContract).items():
        last = (func.__doc__ or "").strip().split("\n\n")[-1].strip()
        assert last.startswith("Troubleshooting:"), name
