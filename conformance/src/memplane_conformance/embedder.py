"""``EmbedderContract``: the behaviour every ``memplane.embedders`` provider owes.

Subclass it and supply one fixture, ``embedder``: a ready instance (a loopback
server's config for remote APIs)::

    class TestMyEmbedder(EmbedderContract):
        @pytest.fixture
        def embedder(self):
            return MyEmbedder({"model": "small"})

Capability ``query_document``: query and document vectors differ for the same text;
without it they must be identical.
"""

from __future__ import annotations

import asyncio
import math
from typing import ClassVar

from memplane.errors import MemplaneError
from memplane.providers.base import Embedder
from memplane_conformance.contract import ContractBase, async_native_probe
from memplane_conformance.guard import note_capability
from memplane_conformance.store_identity import EmbedderIdentityContract

TEXTS = [
    "The user prefers green tea in the morning.",
    "Alice moved to Lisbon in 2021.",
    "I'm allergic to peanuts",
    "Bob's favourite programming language is Rust.",
]
#: 70 distinct texts of very different lengths: more than any batch size providers
#: split at (8, 16, 32, 64), so chunking, chunk order and per-chunk checks show.
LARGE_BATCH = [
    " ".join(f"{w}{i}" for w in ("note", "about", "topic", "detail", "memory")[: 1 + i % 5])
    + (" and more" * (i * 7 % 40))
    for i in range(70)
]
UNICODE_TEXTS = ["Zoë aime le café ☕", "東京に住んでいます", "مرحبا بالعالم", "🙂🚀", "e\u0301"]


def _close(a: list[float], b: list[float], tol: float = 1e-4) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=tol, abs_tol=tol)
                                    for x, y in zip(a, b, strict=True))


def _check_vectors(embedder: Embedder, vectors: object, texts: list[str]) -> list[list[float]]:
    """Shape and sanity of a batch: one finite vector of ``dimension`` per text, and
    never all zeros for a text with letters or digits (cosine would be undefined)."""
    out = [list(map(float, v)) for v in vectors]  # type: ignore[attr-defined]
    assert len(out) == len(texts), f"{len(texts)} texts gave {len(out)} vectors"
    for text, v in zip(texts, out, strict=True):
        assert len(v) == embedder.dimension, f"vector of {len(v)} != dimension {embedder.dimension}"
        assert all(math.isfinite(x) for x in v), f"vector for {text[:30]!r} holds NaN or infinity"
        if any(ch.isalnum() for ch in text):
            assert any(x != 0.0 for x in v), f"all-zero vector for {text[:30]!r}"
    return out


class EmbedderContract(EmbedderIdentityContract, ContractBase):
    """The embedder contract. Needs the ``embedder`` fixture."""

    _memplane_suite_class: ClassVar[bool] = True

    def test_dimension_is_declared_and_honoured(self, embedder: Embedder) -> None:
        """``dimension`` is a positive int and every vector has exactly that length.

        Troubleshooting: report the size the configured model really returns (e.g. the
        ``dimensions`` option), not the model family's default.
        """
        assert isinstance(embedder.dimension, int) and embedder.dimension > 0
        _check_vectors(embedder, embedder.embed(TEXTS), TEXTS)

    def test_batch_equals_one_by_one(self, embedder: Embedder) -> None:
        """Embedding a batch gives the same vectors, in the same order, as one call each.

        Troubleshooting: keep input order when you split batches or the API returns
        results out of order (sort by the response's index).
        """
        batch = _check_vectors(embedder, embedder.embed(TEXTS), TEXTS)
        for text, vector in zip(TEXTS, batch, strict=True):
            [single] = _check_vectors(embedder, embedder.embed([text]), [text])
            assert _close(single, vector, 1e-3), f"batch and single vectors differ for {text!r}"

    def test_embedding_is_deterministic(self, embedder: Embedder) -> None:
        """The same text gives the same vector on every call.

        Troubleshooting: disable dropout/sampling (eval mode) and do not add noise.
        """
        first = _check_vectors(embedder, embedder.embed(TEXTS), TEXTS)
        second = _check_vectors(embedder, embedder.embed(TEXTS), TEXTS)
        assert all(_close(a, b) for a, b in zip(first, second, strict=True))

    def test_different_texts_give_different_vectors(self, embedder: Embedder) -> None:
        """Distinct texts do not collapse onto one vector.

        Troubleshooting: make sure the text actually reaches the model (not an empty or
        truncated-to-nothing input).
        """
        vectors = _check_vectors(embedder, embedder.embed(TEXTS), TEXTS)
        for i in range(len(vectors)):
            for j in range(i + 1, len(vectors)):
                assert not _close(vectors[i], vectors[j], 1e-6)

    def test_unicode_input(self, embedder: Embedder) -> None:
        """Accented, CJK, RTL, emoji and combining-character text embeds without error.

        Troubleshooting: send UTF-8 and do not strip non-ASCII characters.
        """
        _check_vectors(embedder, embedder.embed(UNICODE_TEXTS), UNICODE_TEXTS)

    def test_empty_batch_and_empty_text(self, embedder: Embedder) -> None:
        """An empty batch gives ``[]`` without a call; an empty string gives a vector or
        a memplane ``ValidationError``-style error, never a crash from the SDK.

        Troubleshooting: return early on ``[]``; for ``""`` either embed it or raise a
        :mod:`memplane.errors` error that says what to do.
        """
        assert list(embedder.embed([])) == []
        try:
            vectors = embedder.embed([""])
        except MemplaneError:
            return
        assert len(vectors) == 1 and len(vectors[0]) == embedder.dimension

    def test_query_and_document_purpose(self, embedder: Embedder) -> None:
        """With ``query_document`` the purpose changes the vector; without it, it does not.

        Troubleshooting: declare ``query_document`` only if the model really embeds
        queries and documents differently (an instruction prefix, an input_type).
        """
        note_capability("query_document", embedder.has("query_document"))
        docs = _check_vectors(embedder, embedder.embed(TEXTS, purpose="document"), TEXTS)
        queries = _check_vectors(embedder, embedder.embed(TEXTS, purpose="query"), TEXTS)
        same = all(_close(d, q) for d, q in zip(docs, queries, strict=True))
        if embedder.has("query_document"):
            assert not same, "declares query_document but query and document vectors are equal"
        else:
            assert same, "purpose changed the vectors: declare the query_document capability"

    def test_long_input_is_handled(self, embedder: Embedder) -> None:
        """A very long text is truncated to a valid vector or refused with a memplane error.

        Troubleshooting: truncate to the model's context (and document it) or raise
        ``memplane.errors.ValidationError`` naming the limit; never pass the SDK's raw
        exception through.
        """
        long_text = " ".join(f"word{i}" for i in range(20000))
        try:
            vectors = embedder.embed([long_text, "short"])
        except MemplaneError:
            return
        _check_vectors(embedder, vectors, [long_text, "short"])

    def test_async_embed_mirrors_sync(self, embedder: Embedder) -> None:
        """``aembed`` returns the vectors ``embed`` returns.

        Troubleshooting: if you override ``aembed`` (and declare ``async_native``), use
        the same request building and ordering as ``embed``.
        """
        sync = _check_vectors(embedder, embedder.embed(TEXTS, purpose="query"), TEXTS)
        with async_native_probe(embedder, Embedder, {"aembed": "embed"}):
            vectors = asyncio.run(embedder.aembed(TEXTS, purpose="query"))
        asy = _check_vectors(embedder, vectors, TEXTS)
        assert all(_close(a, b, 1e-3) for a, b in zip(sync, asy, strict=True))

    def test_large_batch_matches_one_by_one(self, embedder: Embedder) -> None:
        """A batch of 70 texts of varied lengths gives 70 vectors of ``dimension``, in
        input order, each equal to embedding that text alone (sync and async).

        Troubleshooting: when you split a batch into chunks, keep the chunks in order
        (sort responses by their index) and check the size of every vector of every
        chunk, not only the first.
        """
        batch = _check_vectors(embedder, embedder.embed(LARGE_BATCH), LARGE_BATCH)
        for i, text in enumerate(LARGE_BATCH):
            [single] = _check_vectors(embedder, embedder.embed([text]), [text])
            assert _close(single, batch[i], 1e-3), f"text {i} of the batch got another vector"
        asy = _check_vectors(embedder, asyncio.run(embedder.aembed(LARGE_BATCH)), LARGE_BATCH)
        for i, (a, b) in enumerate(zip(batch, asy, strict=True)):
            assert _close(a, b, 1e-3), f"aembed: text {i} of the batch got another vector"
