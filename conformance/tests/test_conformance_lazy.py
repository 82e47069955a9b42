"""memplane_conformance.lazy sees what loading a provider imports."""

from __future__ import annotations

import pytest

from memplane_conformance.lazy import sdk_modules_after_loading


def test_nothing_listed_is_reported_when_nothing_listed_is_imported() -> None:
    assert sdk_modules_after_loading("memory", {"vector_stores": {}}, ["xml.dom"]) == []


def test_the_check_sees_an_eager_import() -> None:
    # the in-memory store imports numpy when its module loads
    loaded = sdk_modules_after_loading("memory", {"vector_stores": {}}, ["numpy"])
    assert "numpy" in loaded and all(m.split(".")[0] == "numpy" for m in loaded)


def test_a_provider_that_cannot_load_is_a_failure() -> None:
    with pytest.raises(AssertionError, match="no_such_provider"):
        sdk_modules_after_loading("no_such_provider", {"llms": {}}, ["x"])
