"""Offline testing helpers: a loopback server speaking the Anthropic Messages API.

Needs ``memplane-conformance`` (``pip install memplane-anthropic[test]``).
"""

from memplane_anthropic.testing.server import AnthropicLoopback

__all__ = ["AnthropicLoopback"]
