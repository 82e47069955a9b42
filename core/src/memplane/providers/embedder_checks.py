"""The argument check every local embedder's ``embed`` starts with."""

from __future__ import annotations

from collections.abc import Sequence

from memplane.errors import ValidationError


def texts_to_embed(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, refusing one bare string (a sequence of characters, which
    would embed each letter) and anything that is not a string."""
    if isinstance(texts, str):
        raise ValidationError("embed takes a list of texts, not one string: wrap it as [text]")
    batch = list(texts)
    for i, text in enumerate(batch):
        if not isinstance(text, str):
            raise ValidationError(f"text #{i} is {type(text).__name__}; embed takes strings")
    return batch
