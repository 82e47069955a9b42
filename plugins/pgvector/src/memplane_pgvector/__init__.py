"""memplane-pgvector: a memplane vector store on PostgreSQL with pgvector.

Importing this package (or the entry-point target :mod:`memplane_pgvector.store`)
does not import psycopg; the driver is loaded when a store is opened, so listing
providers stays fast.
"""

__all__ = ["PgVectorConfig"]

from memplane_pgvector.config import PgVectorConfig
