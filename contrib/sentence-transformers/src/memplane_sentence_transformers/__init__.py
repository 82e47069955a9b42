"""memplane embedder for local sentence-transformers models.

Importing this package is cheap: torch and sentence-transformers are imported on
the first call to ``embed`` (or ``dimension`` for a model whose size is unknown).
"""

from memplane_sentence_transformers.embedder import SentenceTransformerEmbedder

__all__ = ["SentenceTransformerEmbedder"]
