"""Every reference broken provider is rejected in subclass mode and in zero-code mode,
by the suite test that targets its defect; the honest references pass both ways."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from suite_outcomes import LLM_SUBCLASS_TEMPLATE, failed_tests, run, summary

#: class -> (module, kind, entry-point name, the suite test that must reject it)
BROKEN: dict[str, tuple[str, str, str, str]] = {
    # stores: rejected before conformance v2 already
    "IgnoresFiltersStore": ("reference_providers", "vector_stores", "ignores_filters",
                            "test_filter_matches_reference_semantics_or_is_refused"),
    "BoolsAsIntsStore": ("reference_providers", "vector_stores", "bools_as_ints",
                         "test_hostile_values_and_edge_cases_match_the_reference"),
    "LeaksScopesStore": ("reference_providers", "vector_stores", "leaks_scopes",
                         "test_hostile_scope_values_never_cross_scopes"),
    "RepeatingPagesStore": ("reference_providers", "vector_stores", "repeating_pages",
                            "test_list_records_pages_return_every_record_exactly_once"),
    # stores: contract v1 behaviour (no compare-and-set, no owner check)
    "LastWriterWinsStore": ("reference_providers", "vector_stores", "last_writer_wins",
                            "test_v2_stale_version_is_refused_and_writes_nothing"),
    # stores: the holes of issue #13
    "NestedNegationStore": ("broken_stores", "vector_stores", "nested_negation",
                            "test_nested_negations_match_the_reference"),
    "QuoteStrippingScopeStore": ("broken_stores", "vector_stores", "quote_stripping",
                                 "test_near_miss_scopes_stay_apart_on_every_read"),
    "HistoryLeakStore": ("broken_stores", "vector_stores", "history_leak",
                         "test_near_miss_scopes_stay_apart_on_every_read"),
    "IncludeFlagsLeakStore": ("broken_stores", "vector_stores", "include_flags_leak",
                              "test_near_miss_scopes_stay_apart_on_every_read"),
    "VectorReadLeakStore": ("broken_stores", "vector_stores", "vector_read_leak",
                            "test_vector_read_returns_stored_vectors_in_scope"),
    "FilteredListingEndsEarlyStore": ("broken_stores", "vector_stores",
                                      "filtered_listing_ends_early",
                                      "test_filtered_listing_pages_through_every_match"),
    "DeleteAllScopeStore": ("broken_stores", "vector_stores", "delete_all_scope",
                            "test_listing_a_scope_behind_many_other_records"),
    "AscendingKeywordStore": ("broken_stores", "vector_stores", "ascending_keyword",
                              "test_keyword_search_ranks_by_relevance"),
    "ConstantScoreKeywordStore": ("broken_stores", "vector_stores", "constant_keyword",
                                  "test_keyword_search_ranks_by_relevance"),
    "FakePersistentStore": ("broken_stores", "vector_stores", "fake_persistent",
                            "test_persistent_data_is_seen_by_another_process"),
    "NonAtomicStore": ("broken_stores", "vector_stores", "non_atomic",
                       "test_atomic_apply_survives_a_failure_mid_batch"),
    "LockingSQLiteStore": ("broken_stores", "vector_stores", "locking_sqlite",
                           "test_concurrent_writers_in_several_processes"),
    "RefusesNestedNegationStore": ("broken_stores", "vector_stores", "refuses_nested_negation",
                                   "test_nested_negations_match_the_reference"),
    "ThreadWrappedAsyncStore": ("broken_stores", "vector_stores", "thread_wrapped_async",
                                "test_async_methods_mirror_sync"),
    # embedders
    "BatchDependentEmbedder": ("reference_providers", "embedders", "batch_dependent",
                               "test_batch_equals_one_by_one"),
    "ShuffledChunksEmbedder": ("broken_models", "embedders", "shuffled_chunks",
                               "test_large_batch_matches_one_by_one"),
    "NinthTextWrongDimensionEmbedder": ("broken_models", "embedders", "ninth_text_wrong_dimension",
                                        "test_large_batch_matches_one_by_one"),
    # LLMs
    "SchemaDroppingLLM": ("reference_providers", "llms", "drops_schema",
                          "test_request_carries_the_json_schema"),
    "RetriesForeverLLM": ("reference_providers", "llms", "retries_forever",
                          "test_rate_limit_is_typed_and_retries_are_bounded"),
    "UntypedErrorsLLM": ("reference_providers", "llms", "untyped_errors",
                         "test_auth_failure_is_typed_and_not_retried"),
    "AsyncUsageDroppedLLM": ("broken_models", "llms", "async_usage_dropped",
                             "test_async_generate_mirrors_sync"),
    "AsyncMismappedRateLimitLLM": ("broken_models", "llms", "async_mismapped_429",
                                   "test_async_errors_are_typed_like_sync"),
    "NoRetryAfterLLM": ("broken_models", "llms", "no_retry_after",
                        "test_rate_limit_carries_retry_after"),
    "ZeroUsageStructuredLLM": ("broken_models", "llms", "zero_usage_structured",
                               "test_structured_reply_reports_usage"),
    "FakeAsyncNativeLLM": ("broken_models", "llms", "fake_async_native",
                           "test_async_generate_mirrors_sync"),
    "InlineSyncAsyncLLM": ("broken_models", "llms", "inline_sync_async",
                           "test_async_generate_mirrors_sync"),
    # rerankers
    "UnstableTiesReranker": ("reference_providers", "rerankers", "unstable_ties",
                             "test_ties_keep_input_order"),
}
HONEST: dict[str, tuple[str, str, str]] = {
    "DictStore": ("reference_providers", "vector_stores", "dict_reference"),
    "KeywordDictStore": ("broken_stores", "vector_stores", "keyword_dict"),
    "RefusesRefusableStore": ("broken_stores", "vector_stores", "refuses_refusable"),
}
_ALL = {**{c: v[:3] for c, v in BROKEN.items()}, **HONEST}

#: zero-code config of each kind ({tmp_path}: a fresh directory per instance)
_ZERO_CODE_CONFIG = {"vector_stores": 'name: "{tmp_path}"\n', "embedders": "", "llms": "",
                     "rerankers": ""}
_SQLITE_CONFIG = 'path: "{tmp_path}/db.sqlite"\nbusy_timeout_ms: 300\n'

_SUBCLASS = {
    "vector_stores": """
import uuid
import pytest
from memplane_conformance import MemoryContract, VectorStoreContract
from {module} import {cls}

@pytest.fixture
def store_factory(tmp_path_factory):
    def make():
        where = str(tmp_path_factory.mktemp("s")) + uuid.uuid4().hex
        return {cls}({{"path": where + "/db.sqlite", "busy_timeout_ms": 300}}
                     if "{cls}" == "LockingSQLiteStore" else {{"name": where}})
    return make

class TestStore(VectorStoreContract):
    pass

class TestMemory(MemoryContract):
    pass
""",
    "embedders": """
import pytest
from memplane_conformance import EmbedderContract
from {module} import {cls}

class TestEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self):
        return {cls}({{"dimension": 64}})
""",
    "llms": LLM_SUBCLASS_TEMPLATE,
    "rerankers": """
import pytest
from memplane_conformance import RerankerContract
from {module} import {cls}

class TestReranker(RerankerContract):
    @pytest.fixture
    def reranker(self):
        return {cls}()
""",
}


def register(suite: pytest.Pytester) -> None:
    """Install entry points for every reference provider (a dist-info on sys.path), as
    a plugin package would, with the scripted harness for the LLMs."""
    eps = suite.mkdir("eps")
    info = eps / "memplane_reference_providers-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: memplane-reference-providers\n"
                                   "Version: 0.0.0\n")
    groups: dict[str, list[str]] = {}
    for cls, (module, kind, name) in _ALL.items():
        groups.setdefault(f"memplane.{kind}", []).append(f"{name} = {module}:{cls}")
        if kind == "llms":
            groups.setdefault("memplane.conformance", []).append(
                f"llms.{name} = memplane_conformance.builtins:ScriptedHarness")
    (info / "entry_points.txt").write_text(
        "".join(f"[{g}]\n" + "\n".join(lines) + "\n\n" for g, lines in groups.items()))
    suite.syspathinsert(eps)
    # stevedore keeps each group's entry points for the life of the process
    from stevedore import ExtensionManager

    ExtensionManager.ENTRY_POINT_CACHE.clear()


def zero_code(suite: pytest.Pytester, cls: str, *args: str) -> tuple[pytest.RunResult,
                                                                       dict[str, list[str]]]:
    _, kind, name = _ALL[cls]
    register(suite)
    options = ["--pyargs", "memplane_conformance", "--memplane-provider", f"{kind}:{name}"]
    text = _SQLITE_CONFIG if cls == "LockingSQLiteStore" else _ZERO_CODE_CONFIG[kind]
    # DictStore's "disk" is process-wide and pytester sessions share the process
    text = text.replace("{tmp_path}", "{tmp_path}" + uuid.uuid4().hex)
    if text:
        options += ["--memplane-provider-config", str(suite.makefile(".yaml", provider=text))]
    return run(suite, *options, *args)


def subclass(suite: pytest.Pytester, cls: str, *args: str) -> tuple[pytest.RunResult,
                                                                      dict[str, list[str]]]:
    module, kind, _ = _ALL[cls]
    suite.makepyfile(test_reference_probe=_SUBCLASS[kind].format(module=module, cls=cls))
    return run(suite, *args)


MODES = {"subclass": subclass, "zero_code": zero_code}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("cls", sorted(BROKEN))
def test_broken_provider_is_rejected(suite: pytest.Pytester, cls: str, mode: str) -> None:
    rejecting = BROKEN[cls][3]
    result, outcomes = MODES[mode](suite, cls, "-k", rejecting)
    assert rejecting in failed_tests(outcomes), f"{cls} ({mode}) passed {rejecting}: " + summary(
        result)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("cls", sorted(HONEST))
def test_honest_reference_passes(suite: pytest.Pytester, cls: str, mode: str) -> None:
    result, outcomes = MODES[mode](suite, cls)
    assert failed_tests(outcomes) == set(), summary(result)
    assert result.ret == pytest.ExitCode.OK
    assert "memplane conformance" in result.stdout.str()


def test_every_broken_module_class_is_listed() -> None:
    import broken_models
    import broken_stores

    for module in (broken_stores, broken_models):
        defined = {n for n, v in vars(module).items()
                   if isinstance(v, type) and v.__module__ == module.__name__}
        assert defined - set(_ALL) == set(), f"{module.__name__}: unlisted broken providers"


def test_register_writes_entry_points(suite: pytest.Pytester) -> None:
    register(suite)
    text = (Path(suite.path) / "eps" / "memplane_reference_providers-0.0.0.dist-info"
            / "entry_points.txt").read_text()
    assert "nested_negation = broken_stores:NestedNegationStore" in text
