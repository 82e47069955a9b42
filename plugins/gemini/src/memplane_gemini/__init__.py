"""memplane-gemini: Google Gemini LLM and embedder for memplane (google-genai SDK).

Importing this package (or the entry-point targets ``memplane_gemini.llm`` and
``memplane_gemini.embedder``) does not import the SDK; it is imported on first use.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
