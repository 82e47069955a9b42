"""The hashing embedder: deterministic, offline, normalised, lexical (not semantic)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import ConfigurationError
from memplane.plugins.registry import load_provider_class


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_entry_point_and_default_dimension() -> None:
    assert load_provider_class("embedders", "hashing") is HashingEmbedder
    embedder = HashingEmbedder()
    assert embedder.dimension == 384
    [vector] = embedder.embed(["hello world"])
    assert len(vector) == 384


def test_dimension_is_configurable_and_validated() -> None:
    assert len(HashingEmbedder(dimension=32).embed(["x"])[0]) == 32
    with pytest.raises(ConfigurationError, match="dimension"):
        HashingEmbedder(dimension=0)


def test_vectors_are_unit_length_and_batch_order_is_kept() -> None:
    embedder = HashingEmbedder(dimension=64)
    texts = ["I like tea", "Ich mag Tee", "我喜欢茶", "a"]
    batch = embedder.embed(texts)
    assert [list(v) for v in batch] == [list(embedder.embed([t])[0]) for t in texts]
    assert all(np.linalg.norm(v) == pytest.approx(1.0) for v in batch)


def test_empty_text_gives_the_zero_vector() -> None:
    assert not any(HashingEmbedder(dimension=16).embed([""])[0])
    assert not any(HashingEmbedder(dimension=16).embed(["  ?! "])[0])


def test_case_and_unicode_width_do_not_matter() -> None:
    embedder = HashingEmbedder()
    a, b = embedder.embed(["Coffee TIME", "coffee time"])
    assert list(a) == list(b)
    c, d = embedder.embed(["ＡＢＣ", "abc"])  # full-width folds to ASCII (NFKC)
    assert list(c) == list(d)


def test_shared_words_score_higher_than_unrelated_text() -> None:
    embedder = HashingEmbedder()
    base, near, far = embedder.embed(["my dog is called Rex", "Rex is my dog's name", "quarterly tax filing"])
    assert cosine(base, near) > cosine(base, far) + 0.2


def test_same_vectors_in_a_fresh_interpreter() -> None:
    """No dependence on Python's per-process hash salt."""
    code = (
        "import json; from memplane.embedders.hashing import HashingEmbedder;"
        "print(json.dumps(list(HashingEmbedder(dimension=24).embed(['déjà vu 東京'])[0])))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert json.loads(out) == list(HashingEmbedder(dimension=24).embed(["déjà vu 東京"])[0])
