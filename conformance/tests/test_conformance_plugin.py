"""The pytest plugin: inert unless asked, clear errors, config files, skip reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
from suite_outcomes import failed_tests, run, summary

from memplane_conformance.harness import make_harness, read_config_file, substitute


def test_plugin_is_inert_in_unrelated_suites(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_plain="def test_one():\n    assert 1 + 1 == 2\n")
    result, outcomes = run(suite)
    assert outcomes == {"PASSED": ["test_one"]} or outcomes["PASSED"] == ["test_plain.py::test_one"]
    assert result.ret == 0
    assert "memplane conformance" not in result.stdout.str()


def test_pyargs_without_a_provider_collects_nothing(suite: pytest.Pytester) -> None:
    result, _ = run(suite, "--pyargs", "memplane_conformance")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


@pytest.mark.parametrize("spec", ["sqlite", "stores:sqlite", "vector_stores:"])
def test_malformed_provider_option_is_a_usage_error(suite: pytest.Pytester, spec: str) -> None:
    result, _ = run(suite, "--pyargs", "memplane_conformance", "--memplane-provider", spec)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*KIND:NAME*"])


def test_unknown_provider_is_a_usage_error_without_a_guessed_package(suite: pytest.Pytester) -> None:
    result, _ = run(suite, "--pyargs", "memplane_conformance",
                    "--memplane-provider", "vector_stores:nosuchstore")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no vector_stores provider named 'nosuchstore' is installed or known*sqlite*"])
    assert "memplane-nosuchstore" not in result.stderr.str()  # a guessed name could be squatted


def test_only_the_requested_kind_is_collected(suite: pytest.Pytester) -> None:
    result, outcomes = run(suite, "--pyargs", "memplane_conformance",
                           "--memplane-provider", "embedders:hashing")
    names = outcomes.get("PASSED", [])
    assert names and all("TestEmbedder" in n or "TestMemoryWithEmbedder" in n for n in names)
    result.stdout.fnmatch_lines(["memplane conformance: embedders:hashing*"])


def test_undeclared_capabilities_skip_with_their_name(suite: pytest.Pytester) -> None:
    result, outcomes = run(suite, "--pyargs", "memplane_conformance",
                           "--memplane-provider", "vector_stores:memory")
    assert failed_tests(outcomes) == set()
    out = result.stdout.str()
    assert "does not declare the 'persistent' capability" in out
    assert "does not declare the 'concurrent_writers' capability" in out
    # the memory store declares keyword_search: that test ran
    assert any(n.endswith("::test_keyword_search") for n in outcomes["PASSED"])


def test_config_file_with_tmp_path(suite: pytest.Pytester) -> None:
    config = suite.makefile(".yaml", store='path: "{tmp_path}/from-config.db"\n')
    result, outcomes = run(suite, "--pyargs", "memplane_conformance",
                           "--memplane-provider", "vector_stores:sqlite",
                           "--memplane-provider-config", str(config), "-k", "persistent")
    assert failed_tests(outcomes) == set(), summary(result)
    assert len(outcomes["PASSED"]) == 2  # in this process and in a child process
    # the file's keys win over the harness defaults, with {tmp_path} filled in
    from memplane.stores.sqlite import SQLiteStore

    harness = make_harness("vector_stores", "sqlite", SQLiteStore, read_config_file(str(config)))
    store = harness.create(suite.path)
    assert store.config.path == f"{suite.path}/from-config.db"


def test_bad_config_key_is_reported(suite: pytest.Pytester) -> None:
    config = suite.makefile(".json", store='{"no_such_key": 1}')
    result, outcomes = run(suite, "--pyargs", "memplane_conformance",
                           "--memplane-provider", "vector_stores:memory",
                           "--memplane-provider-config", str(config), "-k", "empty")
    assert "no_such_key" in result.stdout.str()
    assert failed_tests(outcomes)


def test_read_config_file_formats(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("provider: sqlite\nconfig:\n  path: '{tmp_path}/x.db'\n")
    (tmp_path / "b.toml").write_text('path = "{tmp_path}/y.db"\n')
    (tmp_path / "c.json").write_text('{"path": "z.db", "opts": ["{tmp_path}"]}')
    assert read_config_file(str(tmp_path / "a.yaml")) == {"path": "{tmp_path}/x.db"}
    assert read_config_file(str(tmp_path / "b.toml")) == {"path": "{tmp_path}/y.db"}
    assert substitute(read_config_file(str(tmp_path / "c.json")), Path("/t")) == {
        "path": "z.db", "opts": ["/t"]}
    assert read_config_file(None) == {}
    (tmp_path / "d.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="mapping"):
        read_config_file(str(tmp_path / "d.json"))



def test_persistent_store_without_harness_or_config_is_refused() -> None:
    """The suite resets stores, so it must never run on a default on-disk location."""
    from broken_stores import FakePersistentStore as DictStore

    from memplane.stores.inmemory import InMemoryStore
    from memplane_conformance.harness import ProviderHarness
    from memplane_conformance.plugin import refuse_unsafe_target

    with pytest.raises(pytest.UsageError, match="tmp_path"):
        refuse_unsafe_target("vector_stores", DictStore, ProviderHarness(DictStore, {}), {})
    # a config file, a harness, or a store that keeps nothing make it safe
    refuse_unsafe_target("vector_stores", DictStore, ProviderHarness(DictStore, {"name": "x"}),
                         {"name": "x"})
    refuse_unsafe_target("vector_stores", InMemoryStore, ProviderHarness(InMemoryStore, {}), {})

    class Harness(ProviderHarness):
        pass

    refuse_unsafe_target("vector_stores", DictStore, Harness(DictStore, {}), {})


def test_broken_provider_fixture_is_an_error_not_a_fallback(suite: pytest.Pytester) -> None:
    """A store_factory that cannot be built must not quietly become the built-in store."""
    suite.makepyfile(test_missing="""
        import pytest
        from memplane_conformance import MemoryContract

        @pytest.fixture
        def store_factory(no_such_fixture):
            raise AssertionError("unreachable")

        class TestMemory(MemoryContract):
            pass
    """)
    result, outcomes = run(suite, "-k", "new_fact")
    assert outcomes.get("ERROR") and not outcomes.get("PASSED"), summary(result)
    result.stdout.fnmatch_lines(["*fixture 'no_such_fixture' not found*"])
