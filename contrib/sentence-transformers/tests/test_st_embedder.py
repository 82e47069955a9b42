"""The sentence_transformers embedder against the real all-MiniLM-L6-v2 weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memplane.errors import ConfigurationError, ValidationError
from memplane.plugins.registry import create_provider, list_providers, load_provider_class
from memplane_sentence_transformers.embedder import (
    SentenceTransformerEmbedder,
    dimension_from_files,
    packaged_model_path,
)


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


def cos(a: object, b: object) -> float:
    va, vb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def test_entry_point_is_registered_with_its_distribution() -> None:
    infos = [p for p in list_providers("embedders") if p.name == "sentence_transformers"]
    assert len(infos) == 1
    assert infos[0].distribution == "memplane-sentence-transformers"
    assert infos[0].target == "memplane_sentence_transformers.embedder:SentenceTransformerEmbedder"
    assert load_provider_class("embedders", "sentence_transformers") is SentenceTransformerEmbedder


def test_importing_the_entry_point_module_does_not_import_torch() -> None:
    code = (
        "import sys, json\n"
        "from memplane.plugins.registry import load_provider_class\n"
        "cls = load_provider_class('embedders', 'sentence_transformers')\n"
        "e = cls()\n"
        "print(json.dumps({'dim': e.dimension, 'mods': sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('torch', 'sentence_transformers', 'transformers'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"dim": 384, "mods": []}


def test_default_model_is_the_packaged_weights(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.model_source == str(packaged_model_path())
    assert (packaged_model_path() / "model.safetensors").is_file()


def test_dimension_matches_the_vectors(embedder: SentenceTransformerEmbedder) -> None:
    vectors = embedder.embed(["The cat sat on the mat."])
    assert embedder.dimension == 384
    assert len(vectors) == 1 and len(vectors[0]) == 384
    assert all(isinstance(x, float) for x in vectors[0])


def test_vectors_are_unit_length_by_default(embedder: SentenceTransformerEmbedder) -> None:
    (vector,) = embedder.embed(["normalised by default"])
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_packaged_model_normalises_even_with_normalize_false() -> None:
    # all-MiniLM-L6-v2 ends in a Normalize module, so the flag cannot un-normalise it;
    # the README says so.
    text = ["the model's own pipeline normalises"]
    (raw,) = SentenceTransformerEmbedder(normalize=False).embed(text)
    (unit,) = SentenceTransformerEmbedder().embed(text)
    assert np.linalg.norm(raw) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(raw, unit, atol=1e-6)


def test_batch_equals_one_by_one(embedder: SentenceTransformerEmbedder) -> None:
    texts = [
        "short",
        "A somewhat longer sentence about hiking in the Alps during the summer.",
        "Je préfère le thé au café.",
        "",
        "Numbers 12345 and symbols #@!",
    ]
    batched = np.asarray(embedder.embed(texts))
    single = np.asarray([embedder.embed([t])[0] for t in texts])
    assert batched.shape == (5, 384)
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_small_batch_size_gives_the_same_vectors(embedder: SentenceTransformerEmbedder) -> None:
    texts = [f"sentence number {i} about topic {i % 3}" for i in range(7)]
    small = SentenceTransformerEmbedder(batch_size=2)
    np.testing.assert_allclose(
        np.asarray(small.embed(texts)), np.asarray(embedder.embed(texts)), atol=1e-5
    )


def test_deterministic_across_calls_and_instances(embedder: SentenceTransformerEmbedder) -> None:
    text = ["Alice moved to Berlin last spring."]
    first = embedder.embed(text)
    again = embedder.embed(text)
    other = SentenceTransformerEmbedder().embed(text)
    assert first == again
    np.testing.assert_allclose(first, other, atol=1e-6)


def test_unicode_and_empty_strings(embedder: SentenceTransformerEmbedder) -> None:
    texts = ["東京に住んでいます", "emoji 🎉🚀 party", "Ünïcödé façade", ""]
    vectors = embedder.embed(texts)
    assert len(vectors) == 4
    for v in vectors:
        assert len(v) == 384
        assert np.all(np.isfinite(v))
        assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)


def test_empty_batch_returns_no_vectors(embedder: SentenceTransformerEmbedder) -> None:
    assert list(embedder.embed([])) == []


def test_long_input_is_truncated_at_max_seq_length(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.max_seq_length == 256
    head = "The quick brown fox jumps over the lazy dog. " * 60  # far past 256 word pieces
    tail_a = head + "The user loves sushi and Japanese food."
    tail_b = head + "Quantum chromodynamics describes the strong force."
    va, vb = embedder.embed([tail_a, tail_b])
    # only the first 256 word pieces count, so different endings give the same vector
    np.testing.assert_allclose(va, vb, atol=1e-6)


def test_truncation_is_reported_by_add(embedder: SentenceTransformerEmbedder) -> None:
    from memplane.llms.scripted import ScriptedLLM
    from memplane.memory import Memory
    from memplane.plugins.hooks import PluginManager
    from memplane.stores.inmemory import InMemoryStore

    assert embedder.max_input_tokens == embedder.max_seq_length
    with Memory(llm=ScriptedLLM(), embedder=embedder, vector_store=InMemoryStore(),
                plugins=PluginManager(autoload=False)) as memory:
        long = memory.add("The quick brown fox jumps over the lazy dog. " * 60, user_id="u", infer=False)
        short = memory.add("The user loves sushi.", user_id="u", infer=False)
    assert [d.code for d in long.diagnostics] == ["embedder_truncated"]
    assert short.diagnostics == []


def test_max_seq_length_setting_changes_truncation() -> None:
    short = SentenceTransformerEmbedder(max_seq_length=8)
    assert short.max_seq_length == 8
    a, b = short.embed(
        [
            "one two three four five six seven eight nine ten cats",
            "one two three four five six seven eight nine ten dogs",
        ]
    )
    np.testing.assert_allclose(a, b, atol=1e-6)
    full_a, full_b = SentenceTransformerEmbedder().embed(
        [
            "one two three four five six seven eight nine ten cats",
            "one two three four five six seven eight nine ten dogs",
        ]
    )
    assert cos(full_a, full_b) < 0.999


def test_similar_sentences_score_higher_than_unrelated(
    embedder: SentenceTransformerEmbedder,
) -> None:
    query, close, far = embedder.embed(
        [
            "What food does the user like?",
            "The user loves eating sushi.",
            "The train to Munich leaves at 9 am.",
        ],
        purpose="document",
    )
    assert cos(query, close) > cos(query, far) + 0.1


def test_query_purpose_gives_the_same_vector(embedder: SentenceTransformerEmbedder) -> None:
    doc = embedder.embed(["I like green tea"], purpose="document")
    query = embedder.embed(["I like green tea"], purpose="query")
    np.testing.assert_allclose(doc, query, atol=1e-6)


def test_a_single_string_is_rejected(embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(ValidationError, match="list of texts"):
        embedder.embed("not a list")  # type: ignore[arg-type]


def test_non_string_items_are_rejected(embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(ValidationError, match="text #1"):
        embedder.embed(["ok", 3])  # type: ignore[list-item]


def test_unknown_config_keys_are_errors() -> None:
    with pytest.raises(ConfigurationError, match="sentence_transformers"):
        SentenceTransformerEmbedder({"modle": "x"})
    with pytest.raises(ConfigurationError, match="batch_size"):
        SentenceTransformerEmbedder(batch_size=0)


def test_missing_model_directory_is_a_clear_error(tmp_path: object) -> None:
    broken = SentenceTransformerEmbedder(model=str(tmp_path) + "/no-such-model", dimension=384)
    assert broken.dimension == 384  # declared, so no load needed
    with pytest.raises(ConfigurationError, match="could not load model"):
        broken.embed(["x"])


def test_declared_dimension_is_checked_at_load() -> None:
    wrong = SentenceTransformerEmbedder(model=str(packaged_model_path()), dimension=512)
    with pytest.raises(ConfigurationError, match="384-dimensional vectors, not 512"):
        wrong.embed(["x"])


def test_a_local_model_directory_gives_its_dimension_without_torch() -> None:
    code = (
        "import sys\n"
        "from memplane_sentence_transformers.embedder import SentenceTransformerEmbedder as E\n"
        "from memplane_sentence_transformers.embedder import packaged_model_path\n"
        "print(E(model=str(packaged_model_path())).dimension, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["384", "False"]


def test_dense_layer_size_wins_over_pooling(tmp_path: Path) -> None:
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "2_Dense").mkdir()
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]))
    (tmp_path / "1_Pooling" / "config.json").write_text('{"word_embedding_dimension": 768}')
    (tmp_path / "2_Dense" / "config.json").write_text('{"in_features": 768, "out_features": 256}')
    assert dimension_from_files(tmp_path) == 256
    (tmp_path / "modules.json").write_text("not json")
    assert dimension_from_files(tmp_path) is None
    assert dimension_from_files(tmp_path / "missing") is None


def test_created_through_the_registry_with_a_config_block() -> None:
    e = create_provider(
        "embedders", {"provider": "sentence_transformers", "config": {"batch_size": 4}}
    )
    assert isinstance(e, SentenceTransformerEmbedder)
    assert e.config.batch_size == 4
    assert len(e.embed(["x"])[0]) == 384


async def test_async_embed_matches_sync(embedder: SentenceTransformerEmbedder) -> None:
    texts = ["async works too", "second"]
    np.testing.assert_allclose(await embedder.aembed(texts), embedder.embed(texts), atol=1e-6)
