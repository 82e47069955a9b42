"""An in-process cache of each query scope's unit vectors.

An entry holds, for one query scope, every record with a vector: its ``seq``,
id, unit float32 vector, deletion flag and expiry. It remembers the database
``generation`` and ``epoch`` it reflects. Every write transaction (from any
thread or process) bumps the generation and stamps the rows it writes with it,
so an entry catches up by reading only rows with a newer ``gen``, and drops the
rows whose tombstones (hard deletes) are newer; a reset bumps the epoch, which
makes entries rebuild from scratch. The check
happens inside the search's read transaction, so a search never sees a state
older than the snapshot it reads records from.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from memplane.errors import ConfigurationError

ScopeKey = tuple[tuple[str, str], ...]

#: one row as the cache reads it: seq, id, vector blob, deleted_at, expires_at, gen
CacheRow = tuple[int, str, bytes, str | None, str | None, int]

#: bytes one row costs beyond its arrays: its ``position`` dict slot and two int objects
#: (tracemalloc on CPython 3.11: 106-116 bytes per entry at 1M and 100k entries)
ROW_OVERHEAD_BYTES = 116


def unit_rows(blobs: list[bytes], dimension: int) -> np.ndarray:
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimension).copy()
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix


def _check_widths(batch: list[CacheRow], dimension: int) -> None:
    """Refuse a vector of the wrong byte length (the file edited by hand or damaged)
    with a typed error naming the row and the repair, instead of numpy's reshape error
    on every search of the scope."""
    width = 4 * dimension
    blobs = [row[2] for row in batch]
    if set(map(type, blobs)) == {bytes} and set(map(len, blobs)) == {width}:
        return  # the usual case, at C speed (a 1M-row scope is loaded in one batch)
    for seq, record_id, blob, *_ in batch:
        if not isinstance(blob, bytes) or len(blob) != width:
            size = len(blob) if isinstance(blob, (bytes, str)) else 0
            raise ConfigurationError(
                f"memory {record_id!r} has a stored vector of {size} bytes, not {width} "
                f"({dimension} float32 values): the sqlite file was edited or damaged. Drop "
                f"that vector with `sqlite3 FILE \"DELETE FROM vectors WHERE seq = {seq}\"` "
                f"(the memory stays; updating its text, e.g. `memplane update`, embeds it "
                f"again), "
                f"or restore the file from a backup"
            )


def _expiry(value: str | None) -> float:
    return math.inf if value is None else datetime.fromisoformat(value).timestamp()


@dataclass
class ScopeMatrix:
    """The vectors of one query scope, grown in place with doubling capacity."""

    dimension: int
    generation: int = -1
    epoch: int = -1
    size: int = 0
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    seqs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    deleted: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    expires: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    gens: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    position: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _dead: int = 0
    #: an approximate index of this scope (``ann.ScopeIndex``), when the scope is large
    ann: Any = None

    @property
    def nbytes(self) -> int:
        """What the entry holds in memory: arrays at capacity, the seq map, the index."""
        arrays = (self.matrix, self.seqs, self.deleted, self.alive, self.expires, self.gens)
        total = sum(a.nbytes for a in arrays) + ROW_OVERHEAD_BYTES * len(self.position)
        if self.ann is not None:
            total += self.ann.nbytes
        return int(total)

    def clear(self) -> None:
        self.size = 0
        self.position = {}
        self._dead = 0
        self._reserve(0)
        self.ann = None

    def _reserve(self, needed: int) -> None:
        capacity = self.matrix.shape[0]
        if needed <= capacity and self.matrix.shape[1] == self.dimension:
            return
        new_capacity = max(needed + needed // 4, 2 * capacity, 16)  # headroom for appends
        matrix = np.zeros((new_capacity, self.dimension), dtype=np.float32)
        seqs = np.zeros(new_capacity, dtype=np.int64)
        deleted = np.zeros(new_capacity, dtype=bool)
        alive = np.zeros(new_capacity, dtype=bool)
        expires = np.full(new_capacity, math.inf, dtype=np.float64)
        gens = np.zeros(new_capacity, dtype=np.int64)
        n = self.size
        if n:
            matrix[:n] = self.matrix[:n]
            seqs[:n] = self.seqs[:n]
            deleted[:n] = self.deleted[:n]
            alive[:n] = self.alive[:n]
            expires[:n] = self.expires[:n]
            gens[:n] = self.gens[:n]
        self.matrix, self.seqs, self.deleted, self.alive, self.expires, self.gens = (
            matrix, seqs, deleted, alive, expires, gens)

    def upsert(self, rows: Iterable[CacheRow]) -> None:
        """Insert new rows, overwrite known ones (matched by seq)."""
        batch = list(rows)
        if not batch:
            return
        _check_widths(batch, self.dimension)  # before any change: the entry stays whole
        vectors = unit_rows([row[2] for row in batch], self.dimension)
        self._reserve(self.size + len(batch))
        if not self.position:  # a (re)build: fill the arrays in bulk
            n = len(batch)
            seqs = [row[0] for row in batch]
            self.matrix[:n] = vectors
            self.seqs[:n] = seqs
            self.deleted[:n] = [row[3] is not None for row in batch]
            self.alive[:n] = True
            self.expires[:n] = [_expiry(row[4]) for row in batch]
            self.gens[:n] = [row[5] for row in batch]
            self.position = {seq: i for i, seq in enumerate(seqs)}
            self.size = n
            return
        for i, (seq, _id, _blob, deleted_at, expires_at, gen) in enumerate(batch):
            at = self.position.get(seq)
            if at is None:
                at = self.size
                self.size += 1
                self.position[seq] = at
                self.seqs[at] = seq
            self.matrix[at] = vectors[i]
            self.deleted[at] = deleted_at is not None
            self.alive[at] = True
            self.expires[at] = _expiry(expires_at)
            self.gens[at] = gen

    def remove(self, seqs: Iterable[int]) -> None:
        """Forget hard-deleted rows; compact once a quarter of the rows are dead."""
        for seq in seqs:
            at = self.position.pop(seq, None)
            if at is not None:
                self.alive[at] = False
                self._dead += 1
        if self._dead and self._dead * 4 >= self.size:
            self._compact()

    def _compact(self) -> None:
        n = self.size
        keep = np.flatnonzero(self.alive[:n])
        self.matrix[: keep.size] = self.matrix[keep]
        self.seqs[: keep.size] = self.seqs[keep]
        self.deleted[: keep.size] = self.deleted[keep]
        self.expires[: keep.size] = self.expires[keep]
        self.gens[: keep.size] = self.gens[keep]
        self.alive[: keep.size] = True
        self.alive[keep.size : n] = False
        self.size = int(keep.size)
        self._dead = 0
        self.position = {int(seq): i for i, seq in enumerate(self.seqs[: self.size])}


class VectorCache:
    """Scope matrices, least recently used dropped first beyond ``max_bytes``.

    The budget covers everything an entry holds (:attr:`ScopeMatrix.nbytes`). An entry
    bigger than the whole budget is dropped too once its search is done: memory stays
    within the budget plus the one scope being searched.
    """

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._entries: OrderedDict[ScopeKey, ScopeMatrix] = OrderedDict()
        self._lock = threading.Lock()
        # each entry's size when last measured, and their sum: summing every entry after
        # each search cost ~5 ms with a few thousand small scopes cached
        self._sizes: dict[ScopeKey, int] = {}
        self._total = 0

    def entry(self, key: ScopeKey, dimension: int) -> ScopeMatrix:
        with self._lock:
            found = self._entries.get(key)
            if found is None or found.dimension != dimension:
                found = ScopeMatrix(dimension=dimension)
                self._entries[key] = found
                self._total -= self._sizes.pop(key, 0)
            self._entries.move_to_end(key)
            return found

    @property
    def nbytes(self) -> int:
        """The accounted size: every entry as measured by its last :meth:`trim`."""
        with self._lock:
            return self._total

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: ScopeKey) -> bool:
        return key in self._entries

    def trim(self, key: ScopeKey | None = None) -> None:
        """Measure ``key``'s entry again (the one a search just used; None: every entry),
        then drop the least recently used entries while over budget."""
        with self._lock:
            for k in list(self._entries) if key is None else [key]:
                entry = self._entries.get(k)
                if entry is not None:
                    size = entry.nbytes
                    self._total += size - self._sizes.get(k, 0)
                    self._sizes[k] = size
            while self._total > self._max_bytes and self._entries:
                dropped, _ = self._entries.popitem(last=False)
                self._total -= self._sizes.pop(dropped, 0)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._sizes.clear()
            self._total = 0
