"""memplane embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, no torch.

Importing this package is cheap: onnxruntime and the model load on the first ``embed``.
"""

from memplane_minilm_onnx.embedder import MiniLMOnnxConfig, MiniLMOnnxEmbedder

__all__ = ["MiniLMOnnxConfig", "MiniLMOnnxEmbedder"]
