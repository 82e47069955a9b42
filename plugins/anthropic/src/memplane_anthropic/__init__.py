"""memplane-anthropic: an LLM provider on the Anthropic Messages API.

Entry point: ``memplane.llms`` ``anthropic``. Nothing here imports the
``anthropic`` SDK until a request is made.
"""

__version__ = "0.1.0"
