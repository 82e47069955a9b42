"""Offline testing helpers: a loopback server speaking the OpenAI wire protocol.

Needs ``memplane-conformance`` (``pip install memplane-openai[test]``).
"""

from memplane_openai.testing.server import OpenAILoopback, embedding_vector

__all__ = ["OpenAILoopback", "embedding_vector"]
