"""memplane-openai: LLM and embedder providers on the OpenAI API.

Entry points: ``memplane.llms`` ``openai`` / ``azure_openai`` and
``memplane.embedders`` ``openai`` / ``azure_openai``. Nothing here imports the
``openai`` SDK until a request is made.
"""

__version__ = "0.1.0"
