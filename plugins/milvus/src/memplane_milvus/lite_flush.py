"""Keeps Milvus Lite's write buffer small, so reads stay fast as a collection grows.

Milvus Lite (the pure-Python engine behind a local ``.db`` file) keeps every written
row in an in-memory table until 128 MB of them have piled up. Searches, keyword
searches and filtered queries walk that table row by row in Python (converting each
vector and evaluating the filter per row), while flushed rows live in columnar
segments with an HNSW index and cached BM25 postings. Left alone, 10,000 memories
all stay in the buffer and one search takes about a second. Flushing after every
``every`` written rows bounds the buffer (each flush costs ~10-30 ms, once per
``every`` rows); Milvus Lite merges the small segments and indexes them in the
background. Servers seal segments themselves, so this runs for Lite files only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from memplane.errors import ProviderError

_log = logging.getLogger(__name__)


class WriteBufferFlusher:
    """Counts written rows and flushes the collection once ``every`` have piled up."""

    def __init__(self, every: int, flush: Callable[[], None]) -> None:
        self.every = every
        self._flush = flush
        self.pending = 0

    def written(self, rows: int) -> None:
        if self.every <= 0:
            return
        self.pending += rows
        if self.pending >= self.every:
            self.flush_now()

    def flush_now(self) -> None:
        try:
            self._flush()
        except ProviderError as exc:
            # The rows are already written (write-ahead log and buffer); a failed
            # flush only leaves them where reads are slower, and the next one retries.
            _log.warning("Milvus Lite flush failed, will retry after the next write: %s", exc)
            return
        self.pending = 0
