"""The embedded ``sqlite`` vector store (entry point ``memplane.stores.sqlite:SQLiteStore``)."""

from memplane.stores.sqlite.store import SQLiteStore, SQLiteStoreConfig

__all__ = ["SQLiteStore", "SQLiteStoreConfig"]
