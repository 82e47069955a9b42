"""Which embedder made a store's vectors: recorded in the store, checked on use.

Two embedders with the same vector size make vectors that cannot be compared;
a store that records the :class:`EmbedderIdentity` of its first vectors lets
memplane refuse the other one (:class:`~memplane.errors.EmbedderMismatch`)
instead of returning meaningless scores and writing a mix.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

#: the store-info key (``VectorStore.get_info``) the identity is recorded under.
EMBEDDER_KEY = "embedder"


class EmbedderIdentity(BaseModel):
    """Provider, model and vector size: equal identities make comparable vectors."""

    model_config = ConfigDict(frozen=True)

    provider: str
    model: str | None = None
    dimension: int

    def describe(self) -> str:
        """``provider:model (N dimensions)``, as messages and `memplane doctor` show it."""
        name = f"{self.provider}:{self.model}" if self.model else self.provider
        return f"{name} ({self.dimension} dimensions)"

    def encode(self) -> str:
        """The value recorded in a store (compact JSON, keys sorted)."""
        return json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def decode(cls, value: str) -> EmbedderIdentity | None:
        """The identity a store recorded; None if the value is not one (a damaged
        or hand-edited entry is then reported as unreadable, never trusted)."""
        try:
            return cls.model_validate_json(value)
        except (PydanticValidationError, ValueError):
            return None
