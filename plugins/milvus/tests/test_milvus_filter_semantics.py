"""Every translated filter selects on Milvus Lite exactly what the reference
evaluator (memplane.filters.evaluate) selects, hostile values included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memplane_conformance import FilterSemanticsContract
from memplane_milvus.store import MilvusVectorStore


class TestMilvusFilterSemantics(FilterSemanticsContract):
    @pytest.fixture(scope="class")
    @classmethod
    def filter_semantics_store(
        cls, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[MilvusVectorStore]:
        # its own database file: the session's shared one holds other tests' collections
        yield MilvusVectorStore({"uri": str(tmp_path_factory.mktemp("sem") / "sem.db"),
                                 "collection": "semantics"})
