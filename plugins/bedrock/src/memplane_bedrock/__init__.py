"""memplane-bedrock: Amazon Bedrock LLM, embedder and reranker for memplane (boto3).

Importing this package (or the entry-point targets ``memplane_bedrock.llm``,
``.embedder``, ``.reranker``) does not import boto3; it is imported on first use.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
