"""The no-silent-override guard: a suite test may be replaced only by a visible,
strict xfail."""

from __future__ import annotations

import pytest
from suite_outcomes import failed_tests, run, summary

from memplane_conformance.contract import silent_overrides
from memplane_conformance.vector_store import VectorStoreContract

HEADER = """
import uuid
import pytest
from memplane_conformance import VectorStoreContract
from reference_providers import DictStore, RepeatingPagesStore

@pytest.fixture
def store_factory():
    return lambda: {cls}({{"name": uuid.uuid4().hex}})
"""


def _file(suite: pytest.Pytester, body: str, cls: str = "DictStore") -> None:
    suite.makepyfile(test_guarded=HEADER.format(cls=cls) + body)


def test_silent_override_fails_the_guard(suite: pytest.Pytester) -> None:
    _file(suite, """
class TestStore(VectorStoreContract):
    def test_count_matches_listing(self, store):
        pass  # "fixed" by doing nothing
""")
    result, outcomes = run(suite)
    assert failed_tests(outcomes) == {"test_suite_tests_are_not_silently_overridden"}
    result.stdout.fnmatch_lines(["*without a strict xfail*test_count_matches_listing*"])


def test_shadowing_a_test_with_a_non_test_fails_the_guard(suite: pytest.Pytester) -> None:
    _file(suite, """
class TestStore(VectorStoreContract):
    test_hostile_scope_values_never_cross_scopes = None
""")
    _, outcomes = run(suite)
    assert failed_tests(outcomes) == {"test_suite_tests_are_not_silently_overridden"}


def test_non_strict_xfail_is_not_enough(suite: pytest.Pytester) -> None:
    _file(suite, """
class TestStore(VectorStoreContract):
    @pytest.mark.xfail(reason="flaky on our backend")
    def test_count_matches_listing(self, store):
        super().test_count_matches_listing(store)
""")
    _, outcomes = run(suite)
    assert failed_tests(outcomes) == {"test_suite_tests_are_not_silently_overridden"}


def test_strict_xfail_marks_a_known_gap(suite: pytest.Pytester) -> None:
    _file(suite, """
class TestStore(VectorStoreContract):
    @pytest.mark.xfail(strict=True, reason="offset pagination: known gap")
    @pytest.mark.parametrize("page_size", [4, 7])
    def test_list_records_pages_return_every_record_exactly_once(self, store, page_size):
        super().test_list_records_pages_return_every_record_exactly_once(store, page_size)

    @pytest.mark.xfail(strict=True, reason="offset pagination: known gap")
    def test_list_records_survives_inserts_between_pages(self, store):
        super().test_list_records_survives_inserts_between_pages(store)

    @pytest.mark.xfail(strict=True, reason="offset pagination: known gap")
    def test_filtered_listing_pages_through_every_match(self, store):
        super().test_filtered_listing_pages_through_every_match(store)
""", cls="RepeatingPagesStore")
    result, outcomes = run(suite)
    assert failed_tests(outcomes) == set(), summary(result)
    assert len(outcomes.get("XFAIL", [])) == 4
    assert result.ret == 0


def test_strict_xfail_on_a_passing_test_fails(suite: pytest.Pytester) -> None:
    _file(suite, """
class TestStore(VectorStoreContract):
    @pytest.mark.xfail(strict=True, reason="we thought this was broken")
    def test_count_matches_listing(self, store):
        super().test_count_matches_listing(store)
""")
    _, outcomes = run(suite)
    assert failed_tests(outcomes) == {"test_count_matches_listing"}


def test_replacing_the_guard_itself_is_refused(suite: pytest.Pytester) -> None:
    _file(suite, """
class TestStore(VectorStoreContract):
    def test_suite_tests_are_not_silently_overridden(self):
        pass
""")
    result, _ = run(suite)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*replaces the conformance guard*"])


def test_silent_overrides_sees_through_intermediate_classes() -> None:
    class Base(VectorStoreContract):
        def test_reset_empties_every_scope(self, store: object) -> None:
            pass

    class Leaf(Base):
        pass

    assert silent_overrides(Leaf) == ["test_reset_empties_every_scope"]
    assert silent_overrides(VectorStoreContract) == []


# --- ways to weaken the suite that only the run guard sees ------------------------------

WEAKENED = {
    "class_level_non_strict_xfail": """
class TestStore(VectorStoreContract):
    pytestmark = pytest.mark.xfail(reason="flaky")
""",
    "skip_plus_strict_xfail": """
class TestStore(VectorStoreContract):
    @pytest.mark.skip(reason="later")
    @pytest.mark.xfail(strict=True, reason="known gap")
    def test_count_matches_listing(self, store):
        super().test_count_matches_listing(store)
""",
    "strict_xfail_run_false": """
class TestStore(VectorStoreContract):
    @pytest.mark.xfail(strict=True, run=False, reason="known gap")
    def test_count_matches_listing(self, store):
        super().test_count_matches_listing(store)
""",
    "strict_xfail_without_super": """
class TestStore(VectorStoreContract):
    @pytest.mark.xfail(strict=True, reason="known gap")
    def test_count_matches_listing(self, store):
        raise AssertionError("never runs the suite's checks")
""",
    "helper_override": """
class TestStore(VectorStoreContract):
    def _fill(self, store, scope, n, *, prefix="fact"):
        return []
""",
    "store_fixture_override": """
class TestStore(VectorStoreContract):
    @pytest.fixture
    def store(self, memplane_new_store):
        return memplane_new_store()
""",
    "dunder_test_false": """
class TestStore(VectorStoreContract):
    __test__ = False
""",
}
DESELECTING_CONFTEST = """
def pytest_collection_modifyitems(config, items):
    gone = [i for i in items if i.name in ("test_count_matches_listing", "test_unicode_input")]
    items[:] = [i for i in items if i not in gone]
    config.hook.pytest_deselected(items=gone)
"""


@pytest.mark.parametrize("case", sorted(WEAKENED))
def test_weakened_suite_fails_the_run(suite: pytest.Pytester, case: str) -> None:
    _file(suite, WEAKENED[case])
    result, outcomes = run(suite)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, summary(result)
    out = result.stdout.str()
    guard_failed = "test_suite_tests_are_not_silently_overridden" in failed_tests(outcomes)
    assert guard_failed or "NOT RUN AS WRITTEN" in out, out[-3000:]


def test_conftest_deselecting_suite_tests_fails_the_run(suite: pytest.Pytester) -> None:
    suite.makeconftest(DESELECTING_CONFTEST)
    _file(suite, "class TestStore(VectorStoreContract):\n    pass\n")
    result, outcomes = run(suite)
    assert failed_tests(outcomes) == set()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["NOT RUN AS WRITTEN *TestStore::test_count_matches_listing: never*"])


def test_conftest_deselecting_suite_tests_fails_zero_code(suite: pytest.Pytester) -> None:
    suite.makeconftest(DESELECTING_CONFTEST)
    result, _ = run(suite, "--pyargs", "memplane_conformance", "--memplane-provider",
                           "embedders:hashing")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, summary(result)
    assert "NOT RUN AS WRITTEN" in result.stdout.str()


def test_declared_gaps_and_capabilities_are_summarised(suite: pytest.Pytester) -> None:
    _file(suite, """
class TestStore(VectorStoreContract):
    @pytest.mark.xfail(strict=True, reason="offset pagination: known gap")
    def test_list_records_survives_inserts_between_pages(self, store):
        super().test_list_records_survives_inserts_between_pages(store)
""", cls="RepeatingPagesStore")
    result, _ = run(suite, "-k", "survives_inserts or atomic or keyword")
    out = result.stdout.str()
    assert "run narrowed by -k" in out
    result.stdout.fnmatch_lines([
        "DECLARED GAP (strict xfail) *survives_inserts_between_pages: offset pagination: known gap",
        "capability atomic_apply: declared, tested by test_atomic_apply_*",
        "capability keyword_search: not declared (2 test(s) checked for it)",
    ])


# --- declared extension points: accepted, and named in the summary ----------------------

def test_store_factory_taking_the_dimension_is_a_declared_extension(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_extension="""
import uuid
import pytest
from memplane_conformance import VectorStoreContract
from memplane_conformance.store_v2 import RACE_DIM
from reference_providers import DictStore

SIZES = []

class TestStore(VectorStoreContract):
    @pytest.fixture
    def store_factory(self):
        def make(dimension=8):
            SIZES.append(dimension)
            return DictStore({"name": uuid.uuid4().hex})
        return make

def test_zz_factory_was_told_each_size():
    assert RACE_DIM in SIZES and len(set(SIZES)) >= 2, SIZES
""")
    result, outcomes = run(suite)
    assert failed_tests(outcomes) == set(), summary(result)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["EXTENSION POINT store_factory(dimension): *make (* test(s))"])


def test_memory_factory_is_a_declared_extension(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_extension="""
import pytest
from memplane_conformance import MemoryContract

BUILT = []

class TestMemory(MemoryContract):
    @pytest.fixture
    def memory_factory(self):
        def make(parts):
            BUILT.append(parts)
            return parts.memory()
        return make

def test_zz_factory_built_every_memory():
    assert len(BUILT) >= 10
""")
    result, outcomes = run(suite)
    assert failed_tests(outcomes) == set(), summary(result)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["EXTENSION POINT memory_factory: *make (* test(s))"])


def test_overriding_the_memory_fixture_is_still_refused(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_extension="""
import pytest
from memplane_conformance import MemoryContract

class TestMemory(MemoryContract):
    @pytest.fixture
    def memory(self, parts):
        return parts.memory()
""")
    result, outcomes = run(suite)
    assert "test_suite_tests_are_not_silently_overridden" in failed_tests(outcomes)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
