"""memplane LLM provider for GGUF models run in-process by llama.cpp (xllamacpp).

Importing this package is cheap: xllamacpp is imported when the first request is
made, so ``memplane providers`` and ``memplane --help`` stay fast.
"""

from memplane_llamacpp.llm import LlamaCppConfig, LlamaCppLLM

__all__ = ["LlamaCppConfig", "LlamaCppLLM"]
