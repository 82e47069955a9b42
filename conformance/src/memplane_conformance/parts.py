"""Assembling a real ``Memory`` around the provider under test.

The kind under test comes from the author's fixtures; every other kind is a
deterministic built-in: the ``scripted`` LLM (decisions queued by the test), the
``hashing`` embedder and the ``memory`` store. Decisions always travel through a
:class:`~memplane_conformance.endpoint.ScriptedEndpoint`, so the same scenario code
drives the built-in scripted LLM and a cloud plugin's loopback server.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from memplane.providers.base import LLM, Embedder, VectorStore
from memplane_conformance.endpoint import ScriptedEndpoint

#: vector size of the default hashing embedder (small keeps remote stores fast).
DEFAULT_DIMENSION = 64


def optional_fixture(request: pytest.FixtureRequest, name: str) -> Any | None:
    """The value of fixture ``name`` if the test class or conftest defines it."""
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError as exc:
        if getattr(exc, "argname", name) != name:
            raise  # the fixture exists but needs one that does not: say so, do not fall back
        return None


@dataclass
class Parts:
    """The four providers of one Memory, and where decisions are scripted."""

    llm: LLM
    endpoint: ScriptedEndpoint
    embedder: Embedder
    store: VectorStore
    under_test: set[str] = field(default_factory=set)

    def decide(self, *decisions: dict[str, Any]) -> None:
        """Queue one model reply holding ``decisions``, in the channel the LLM uses."""
        reply = {"decisions": list(decisions)}
        if self.llm.has("json_schema"):
            self.endpoint.enqueue_structured(reply)
        else:
            self.endpoint.enqueue_text(json.dumps(reply))

    def memory(self) -> Any:
        from memplane.memory import Memory

        return Memory(llm=self.llm, embedder=self.embedder, vector_store=self.store)


ALL_KINDS = frozenset({"llms", "embedders", "vector_stores"})


def parts_from_fixtures(
    request: pytest.FixtureRequest, kinds: frozenset[str] = ALL_KINDS
) -> Iterator[Parts]:
    """Build :class:`Parts` from whichever provider fixtures (of ``kinds``) the test
    class has; built-ins for the rest."""
    from memplane.embedders.hashing import HashingEmbedder
    from memplane.stores.inmemory import InMemoryStore
    from memplane_conformance.builtins import ScriptedLLMEndpoint

    under_test: set[str] = set()
    llm_factory = optional_fixture(request, "llm_factory") if "llms" in kinds else None
    if llm_factory is not None:
        endpoint = request.getfixturevalue("scripted_endpoint")
        endpoint.reset()
        llm = llm_factory()
        under_test.add("llms")
    else:
        from memplane.llms.scripted import ScriptedLLM

        endpoint = ScriptedLLMEndpoint(ScriptedLLM())
        llm = endpoint.llm
    embedder = optional_fixture(request, "embedder") if "embedders" in kinds else None
    if embedder is None:
        embedder = HashingEmbedder({"dimension": DEFAULT_DIMENSION})
    else:
        under_test.add("embedders")
    store_factory = (
        optional_fixture(request, "store_factory") if "vector_stores" in kinds else None
    )
    if store_factory is None:
        store = InMemoryStore()
    else:
        from memplane_conformance.store_common import new_store

        store = new_store(store_factory, embedder.dimension)
        under_test.add("vector_stores")
    yield Parts(llm=llm, endpoint=endpoint, embedder=embedder, store=store, under_test=under_test)
    if store_factory is not None:
        with contextlib.suppress(Exception):  # close is safe twice (Memory may have closed it)
            store.close()
