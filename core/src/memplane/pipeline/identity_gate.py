"""The embedder check on the call path: a store that records another embedder's
identity refuses our vector searches and vector writes.

Every provider call of Memory, AsyncMemory and the CLI (import included) passes
:class:`~memplane.pipeline.runner.CallRunner`, which asks the gate first. Calls that
embed nothing (get, list, history, export, delete, restore) never ask, so a store
built with another embedder can still be read out and moved (export, then import
with the new embedder).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from memplane.errors import EmbedderMismatch
from memplane.models import Change
from memplane.pipeline.effects import Call
from memplane.providers.base import Capability, Embedder, VectorStore
from memplane.providers.identity import EMBEDDER_KEY, EmbedderIdentity

Need = Literal["search", "write"]


def describe_store(store: VectorStore) -> str:
    where = store.location
    return f"{store.name!r} at {where}" if where else repr(store.name)


class EmbedderGate:
    """Checks the store's recorded embedder before embedding, vector searches and
    vector writes.

    Embedding and searching need a match only once per gate (the recorded identity never changes
    short of a reset); a vector write reads the record every time and, if the store
    has none yet, claims it for our embedder first, so the identity is in place
    before the first vector lands and of two racing writers exactly one wins.
    Stores without ``store_info`` cannot record it: the gate lets every call pass
    (`memplane doctor` says so).
    """

    def __init__(self, store: VectorStore, embedder: Embedder) -> None:
        self._store = store
        self._embedder = embedder
        self._mine: EmbedderIdentity | None = None
        self._matched = False
        self.enabled = store.has(Capability.STORE_INFO)

    @property
    def mine(self) -> EmbedderIdentity:
        if self._mine is None:  # lazily: an API embedder may probe its dimension
            self._mine = self._embedder.identity()
        return self._mine

    def _need(self, call: Call) -> Need | None:
        if not self.enabled:
            return None
        if call.kind == "embedders":
            # embedding for a refused store is wasted (a re-embedding import, an add's
            # LLM call after it): refuse at the first embed
            return "search" if call.method == "embed" and not self._matched else None
        if call.kind != "vector_stores":
            return None
        if call.method == "reset":
            self._matched = False  # an empty store takes any embedder again
        elif call.method in ("search", "search_candidates") and not self._matched:
            return "search"
        elif call.method == "apply":
            changes: Sequence[Change] = call.args[0] if call.args else call.kwargs.get("changes", ())
            if any(change.vector is not None for change in changes):
                return "write"
        return None

    def before(self, call: Call) -> None:
        need = self._need(call)
        if need is None:
            return
        recorded = self._store.get_info(EMBEDDER_KEY)
        if recorded is None and need == "write":
            recorded = self._store.claim_info(EMBEDDER_KEY, self.mine.encode())
        self._judge(recorded)

    async def abefore(self, call: Call) -> None:
        need = self._need(call)
        if need is None:
            return
        recorded = await self._store.aget_info(EMBEDDER_KEY)
        if recorded is None and need == "write":
            recorded = await self._store.aclaim_info(EMBEDDER_KEY, self.mine.encode())
        self._judge(recorded)

    def _judge(self, recorded: str | None) -> None:
        if recorded is None:
            return  # nothing recorded: a search before the first write
        theirs = EmbedderIdentity.decode(recorded)
        if theirs == self.mine:
            self._matched = True
            return
        self._matched = False
        raise EmbedderMismatch(
            store=describe_store(self._store),
            recorded=theirs.describe() if theirs else repr(recorded[:80]),
            configured=self.mine.describe(),
            unreadable=theirs is None,
        )
