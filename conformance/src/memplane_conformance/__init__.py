"""memplane-conformance: the shared provider contract suite.

Subclass mode (in your provider's tests)::

    from memplane_conformance import VectorStoreContract

    class TestMyStore(VectorStoreContract):
        @pytest.fixture
        def store_factory(self, tmp_path):
            ...  # return a callable: each call -> a fresh, empty, unopened store

Base classes and the fixtures each one needs (all importable from this package):

- ``VectorStoreContract``  -> ``store_factory`` (optional ``reopen_store``)
- ``EmbedderContract``     -> ``embedder``
- ``TransportLLMContract`` -> ``llm_class`` and ``llm_params`` (tier 1 for LLMs: the
  model class takes ``transport=`` and is driven by a scripted transport, no server)
- ``LLMContract``          -> ``llm_factory`` and ``scripted_endpoint`` (optional ``live_llm_factory``)
- ``RerankerContract``     -> ``reranker``
- ``FilterSemanticsContract`` -> ``filter_semantics_store`` (class scope): random and
  hostile filters for stores that translate filters into a query language
- ``MemoryContract``       -> any of the above; kinds you do not supply get deterministic
  built-ins (scripted LLM decisions, ``hashing`` embedder, ``memory`` store)

Zero-code mode::

    pytest --pyargs memplane_conformance --memplane-provider vector_stores:NAME \
        [--memplane-provider-config FILE]

See docs/provider-authors.md in the memplane repository for the whole guide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

# The contract modules hold the suite's asserts; rewrite them for readable failures
# even when the package is installed editable (pytest only auto-rewrites plugin
# modules it can find in the distribution's file list).
pytest.register_assert_rewrite(
    "memplane_conformance.vector_store",
    "memplane_conformance.store_scope",
    "memplane_conformance.store_listing",
    "memplane_conformance.store_filters",
    "memplane_conformance.store_capabilities",
    "memplane_conformance.child",
    "memplane_conformance.embedder",
    "memplane_conformance.llm",
    "memplane_conformance.reranker",
    "memplane_conformance.memory_contract",
    "memplane_conformance.contract",
    "memplane_conformance.filter_semantics",
    "memplane_conformance.faults",
    "memplane_conformance.malformed",
    "memplane_conformance.retries",
    "memplane_conformance.store_identity",
    "memplane_conformance.docs",
    "memplane_conformance.transport",
)

if TYPE_CHECKING:
    from memplane_conformance.embedder import EmbedderContract
    from memplane_conformance.endpoint import RecordedRequest, ScriptedEndpoint
    from memplane_conformance.filter_semantics import FilterSemanticsContract
    from memplane_conformance.harness import ProviderHarness
    from memplane_conformance.llm import LLMContract
    from memplane_conformance.memory_contract import MemoryContract
    from memplane_conformance.reranker import RerankerContract
    from memplane_conformance.transport import ScriptedTransport, TransportLLMContract
    from memplane_conformance.vector_store import VectorStoreContract

# name -> module; imported on first use so loading the pytest plugin stays cheap.
_EXPORTS = {
    "VectorStoreContract": "memplane_conformance.vector_store",
    "EmbedderContract": "memplane_conformance.embedder",
    "LLMContract": "memplane_conformance.llm",
    "RerankerContract": "memplane_conformance.reranker",
    "FilterSemanticsContract": "memplane_conformance.filter_semantics",
    "MemoryContract": "memplane_conformance.memory_contract",
    "ProviderHarness": "memplane_conformance.harness",
    "ScriptedEndpoint": "memplane_conformance.endpoint",
    "RecordedRequest": "memplane_conformance.endpoint",
    "TransportLLMContract": "memplane_conformance.transport",
    "ScriptedTransport": "memplane_conformance.transport",
}

__all__ = [
    "EmbedderContract",
    "FilterSemanticsContract",
    "LLMContract",
    "MemoryContract",
    "ProviderHarness",
    "RecordedRequest",
    "RerankerContract",
    "ScriptedEndpoint",
    "ScriptedTransport",
    "TransportLLMContract",
    "VectorStoreContract",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'memplane_conformance' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
