"""Every translated filter selects, through weaviate-client and the loopback
server, exactly what the reference evaluator (memplane.filters.evaluate) selects,
hostile values included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memplane_conformance import FilterSemanticsContract
from memplane_weaviate.store import WeaviateVectorStore
from memplane_weaviate.testing import WeaviateLoopback


class TestWeaviateFilterSemantics(FilterSemanticsContract):
    @pytest.fixture(scope="class")
    @classmethod
    def filter_semantics_store(cls, server: WeaviateLoopback) -> Iterator[WeaviateVectorStore]:
        yield WeaviateVectorStore(server.store_config(collection="Semantics"))
        with server.db.lock:
            server.db.delete_collection("Semantics")
