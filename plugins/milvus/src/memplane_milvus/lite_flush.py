"""Keeps Milvus Lite's write buffer small when it is read, so reads stay fast as a
collection grows.

Milvus Lite (the pure-Python engine behind a local ``.db`` file) keeps written rows in
an in-memory buffer until 128 MB of them have piled up. Searches, keyword searches
and filtered queries walk that buffer row by row in Python (converting each vector,
evaluating the filter per row), while flushed rows sit in columnar segments with an
HNSW index and cached BM25 postings. Left alone, 10,000 memories all stay in the
buffer and one search takes over a second.

So the store flushes before a scanning read once ``before_read`` rows are buffered
(bounding what a read walks), and after a write once ``max_buffered`` are (bounding
the buffer during a long ingest without reads). A flush costs ~10 ms plus ~0.1 ms per
row; flushing on reads rather than after every few writes keeps bulk ingest fast,
since Milvus Lite merges and indexes segments in a background thread that competes
with the writer. Servers seal segments themselves: this runs for Lite files only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from memplane.errors import ProviderError

_log = logging.getLogger(__name__)


class WriteBufferFlusher:
    """Counts rows written since the last flush and flushes at the two thresholds
    (0 switches a threshold off)."""

    def __init__(self, before_read: int, max_buffered: int, flush: Callable[[], None]) -> None:
        self.before_read = before_read
        self.max_buffered = max_buffered
        self._flush = flush
        self.pending = 0

    @property
    def active(self) -> bool:
        return self.before_read > 0 or self.max_buffered > 0

    def written(self, rows: int) -> None:
        self.pending += rows
        if 0 < self.max_buffered <= self.pending:
            self.flush_now()

    def reading(self) -> None:
        """Called before a read that scans the collection."""
        if 0 < self.before_read <= self.pending:
            self.flush_now()

    def flush_now(self) -> None:
        try:
            self._flush()
        except ProviderError as exc:
            # The rows are already written (write-ahead log and buffer); a failed
            # flush only leaves them where reads are slower, and the next one retries.
            _log.warning("Milvus Lite flush failed, will retry later: %s", exc)
            return
        self.pending = 0
