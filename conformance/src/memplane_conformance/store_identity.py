"""Store info and the embedder's identity: a store remembers which embedder wrote it.

:class:`StoreIdentityContract` is mixed into
:class:`~memplane_conformance.vector_store.VectorStoreContract` and uses its
``store`` / ``memplane_new_store`` / ``memplane_reopen`` fixtures. A store that
declares ``store_info`` keeps a small key/value record (``get_info`` /
``claim_info``): the first claim of a key wins, for threads and, on persistent
stores with concurrent writers, for processes; ``reset`` clears it. Through a real
:class:`~memplane.Memory` the record makes a second embedder of the same vector
size fail with ``EmbedderMismatch`` on the calls that embed, while reads work.
A store without ``store_info`` must refuse the calls with ``UnsupportedCapability``.
"""

from __future__ import annotations

import importlib
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pytest

from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import EmbedderMismatch, UnsupportedCapability, ValidationError
from memplane.llms.rules import RulesLLM
from memplane.memory import Memory
from memplane.providers.base import Embedder, Purpose, Vectors, VectorStore
from memplane.providers.identity import EMBEDDER_KEY, EmbedderIdentity
from memplane_conformance.contract import skip_unless_capable
from memplane_conformance.data import DIM

#: vector size of the identity tests (both embedders make vectors of this size).
IDENTITY_DIM = 64
USER = "identity-user"


class OtherHashingEmbedder(HashingEmbedder):
    """Same vector size as ``hashing``, another identity (and other vectors): what a
    user gets by switching models without re-embedding."""

    name: ClassVar[str] = "conformance_other_hashing"

    @property
    def model_name(self) -> str:
        return "salted-feature-hashing"

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        return super().embed(["salt " + text for text in texts], purpose=purpose)


def embedder_of(variant: int) -> HashingEmbedder:
    config = {"dimension": IDENTITY_DIM}
    return HashingEmbedder(config) if variant == 0 else OtherHashingEmbedder(config)


class StoreIdentityContract:
    """Store-info tests; include by inheritance (VectorStoreContract does)."""

    def test_identity_info_needs_the_capability(self, store: VectorStore) -> None:
        """Without ``store_info`` both calls refuse with UnsupportedCapability.

        Troubleshooting: declare ``store_info`` only when ``_get_info`` and
        ``_claim_info`` are implemented; the base class checks the declaration.
        """
        if store.has("store_info"):
            assert store.get_info("conformance.absent") is None
            return
        with pytest.raises(UnsupportedCapability):
            store.get_info(EMBEDDER_KEY)
        with pytest.raises(UnsupportedCapability):
            store.claim_info(EMBEDDER_KEY, "x")

    def test_identity_first_claim_wins_and_reads_back(self, store: VectorStore,
                                                      memplane_reopen: Callable[[VectorStore], VectorStore]) -> None:
        """The first value claimed for a key stays; later claims get it back unchanged,
        values round-trip exactly, and a persistent store keeps them across instances.

        Troubleshooting: insert only when the key is absent (INSERT ... ON CONFLICT DO
        NOTHING, or a check under the write lock), then read the stored value back.
        """
        skip_unless_capable(store, "store_info")
        first = '{"model":"m\u00e9\u4e2d \\"q\\"","provider":"p","dimension":3}'
        assert store.claim_info("conformance.key", first) == first
        assert store.claim_info("conformance.key", "second") == first
        assert store.get_info("conformance.key") == first
        assert store.get_info("conformance.other") is None
        if store.has("persistent"):
            again = _reopened(store, memplane_reopen)
            try:
                assert again.get_info("conformance.key") == first
            finally:
                again.close()

    def test_identity_bad_keys_and_values_are_refused(self, store: VectorStore) -> None:
        """Keys are short ASCII names, values strings of valid Unicode; nothing is written
        for a refused claim.

        Troubleshooting: the base class checks arguments; do not override the public
        ``get_info`` / ``claim_info``.
        """
        skip_unless_capable(store, "store_info")
        for key in ["", "a b", "k" * 65, "cl\u00e9", None]:
            with pytest.raises(ValidationError):
                store.claim_info(key, "v")  # type: ignore[arg-type]
        for value in ["\ud800", "v" * 4097, 3]:
            with pytest.raises(ValidationError):
                store.claim_info("conformance.key", value)  # type: ignore[arg-type]
        assert store.get_info("conformance.key") is None

    def test_identity_reset_clears_the_info(self, store: VectorStore) -> None:
        """``reset`` empties the store, its info included: an empty store takes any
        embedder.

        Troubleshooting: delete the info entries in the same reset (same transaction
        where the store has them).
        """
        skip_unless_capable(store, "store_info")
        store.claim_info(EMBEDDER_KEY, "old")
        store.reset()
        assert store.get_info(EMBEDDER_KEY) is None
        assert store.claim_info(EMBEDDER_KEY, "new") == "new"

    def test_identity_racing_claims_agree_on_one_winner(
        self, store: VectorStore, memplane_reopen: Callable[[VectorStore], VectorStore],
    ) -> None:
        """Claims from several threads (each on its own instance where the store is
        persistent) return one and the same value, which is one of the claimed ones.

        Troubleshooting: the insert-if-absent and the read back must see the same
        winner: do both inside one transaction or under the store's write lock.
        """
        skip_unless_capable(store, "store_info")
        stores = [_reopened(store, memplane_reopen) if store.has("persistent") else store
                  for _ in range(6)]
        results: list[str] = []
        errors: list[BaseException] = []
        start = threading.Barrier(len(stores))

        def claim(n: int, target: VectorStore) -> None:
            try:
                start.wait(timeout=60)
                results.append(target.claim_info("conformance.race", f"value {n}"))
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=claim, args=(n, s)) for n, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        for s in stores:
            if s is not store:
                s.close()
        assert not errors, f"claims failed: {errors[:2]}"
        assert len(set(results)) == 1 and results[0].startswith("value "), results
        assert store.get_info("conformance.race") == results[0]

    def test_identity_racing_processes_record_one_embedder(
        self, memplane_new_store: Callable[..., VectorStore],
    ) -> None:
        """Two processes with different embedders (same vector size) write to a fresh
        store at once: exactly one succeeds, the other gets EmbedderMismatch, and the
        store records the winner's identity.

        Troubleshooting: ``_claim_info`` must be atomic across processes (a unique key
        in the database, not a check in Python memory).
        """
        store = memplane_new_store(IDENTITY_DIM)
        skip_unless_capable(store, "store_info")
        skip_unless_capable(store, "persistent")
        skip_unless_capable(store, "concurrent_writers")
        ctx = multiprocessing.get_context("spawn")
        start, results = ctx.Event(), ctx.Queue()
        where = (type(store).__module__, type(store).__qualname__)
        config = store.config.model_dump(mode="json")
        procs = [ctx.Process(target=_claiming_worker, args=(where, config, n, start, results))
                 for n in (0, 1)]
        for p in procs:
            p.start()
        start.set()
        outcomes = dict(results.get(timeout=300) for _ in procs)
        for p in procs:
            p.join(timeout=60)
        assert sorted(outcomes.values()) == ["mismatch", "ok"], outcomes
        winner = next(n for n, outcome in outcomes.items() if outcome == "ok")
        recorded = store.get_info(EMBEDDER_KEY)
        assert recorded is not None
        assert EmbedderIdentity.decode(recorded) == embedder_of(winner).identity()

    def test_identity_other_embedder_is_refused_where_it_embeds(
        self, memplane_new_store: Callable[..., VectorStore],
    ) -> None:
        """Through Memory: the first write records the embedder; another embedder of the
        same size then fails with EmbedderMismatch on search, add and update, and writes
        nothing, while get_all, get and history still work (so export works).

        Troubleshooting: implement ``store_info`` so the record survives; a store
        without it cannot protect its users from a switched embedder.
        """
        fresh = memplane_new_store(IDENTITY_DIM)
        skip_unless_capable(fresh, "store_info")
        with Memory(llm=RulesLLM(), embedder=embedder_of(0), vector_store=fresh) as first:
            added = first.add("I live in Lisbon", user_id=USER, infer=False).events[0]
        recorded = fresh.get_info(EMBEDDER_KEY)
        assert recorded is not None and EmbedderIdentity.decode(recorded) == embedder_of(0).identity()
        with Memory(llm=RulesLLM(), embedder=embedder_of(1), vector_store=fresh) as other:
            for call in (lambda: other.search("Lisbon", user_id=USER),
                         lambda: other.add("I like tea", user_id=USER, infer=False),
                         lambda: other.update(added.id, "I live in Porto", user_id=USER)):
                with pytest.raises(EmbedderMismatch) as caught:
                    call()
                message = str(caught.value)
                assert "conformance_other_hashing" in message and "hashing:" in message
                assert "memplane export" in message and "memplane import" in message
            assert [r.text for r in other.get_all(user_id=USER).records] == [added.text]
            assert other.get(added.id, user_id=USER).text == added.text
            assert len(other.history(added.id, user_id=USER)) == 1


class EmbedderIdentityContract:
    """The identity a store records for an embedder; include by inheritance
    (EmbedderContract does). Uses the ``embedder`` fixture."""

    def test_identity_names_provider_model_and_dimension(self, embedder: Embedder) -> None:
        """``identity()`` is the registered name, the model and ``dimension``, and the
        same for another instance built from the same config (so a store written
        yesterday still accepts today's process).

        Troubleshooting: override ``model_name`` when the model is fixed or chosen by
        something other than a ``model`` config field; never return a value that
        differs between machines or runs (a download path, a timestamp).
        """
        identity = embedder.identity()
        assert identity.provider == (embedder.name or type(embedder).__name__)
        assert identity.dimension == embedder.dimension
        assert identity.model is None or (isinstance(identity.model, str) and identity.model)
        assert type(embedder)(embedder.config).identity() == identity
        assert EmbedderIdentity.decode(identity.encode()) == identity


def _reopened(store: VectorStore, reopen: Callable[[VectorStore], VectorStore]) -> VectorStore:
    """Another instance on the fixture store's data, opened as the fixture's is."""
    again = reopen(store)
    again.open(DIM)
    return again


def _claiming_worker(where: tuple[str, str], config: dict[str, Any], variant: int,
                     start: Any, results: Any) -> None:
    outcome = "error"
    try:
        store = getattr(importlib.import_module(where[0]), where[1])(config)
        try:
            with Memory(llm=RulesLLM(), embedder=embedder_of(variant), vector_store=store) as memory:
                start.wait(timeout=120)
                try:
                    memory.add(f"process {variant} was here", user_id=USER, infer=False)
                    outcome = "ok"
                except EmbedderMismatch:
                    outcome = "mismatch"
        finally:
            store.close()
    except BaseException as exc:
        outcome = f"error: {type(exc).__name__}: {exc}"
    results.put((variant, outcome))
