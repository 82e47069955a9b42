"""memplane-milvus: a memplane vector store on Milvus, Milvus Lite or Zilliz Cloud.

Importing this package (or the entry-point target :mod:`memplane_milvus.store`)
does not import pymilvus; the SDK is loaded when a store is opened.
"""

__all__ = ["MilvusConfig"]

from memplane_milvus.config import MilvusConfig
