"""memplane-weaviate: a memplane vector store on Weaviate (self-hosted or Weaviate Cloud).

Importing this package or the entry-point target (:mod:`memplane_weaviate.store`)
does not import weaviate-client; the SDK is loaded when a store opens.
"""
