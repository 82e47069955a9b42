"""An approximate (HNSW) index for large scopes, built with usearch when installed.

The index only proposes candidates: every candidate is re-scored exactly against
the scope's cached float32 unit vectors, and visibility and filters are checked as
for exact search. It reflects the scope as of one write ``generation``; rows written
since then (by any thread or process: the cache's ``gens`` say which) are scored
exactly beside it, hard-deleted rows are no longer in the cache and are dropped, so
results never miss a newer write. When that delta grows past a share of the index,
or the epoch moves (a reset), the index is rebuilt.

Files live beside the database, ``<db>.ann/<scope hash>.e<epoch>.g<generation>.usearch``
with a checksummed sidecar, written atomically (:mod:`.ann_files`), so another process
(or the next start) loads the newest whole one instead of rebuilding. A file is used
only if its checksum holds and a sample of its vectors equals the scope's own (a file
of another database, scope or dimension is rejected, logged, and rebuilt). Without
usearch, search stays exact.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from memplane.stores.sqlite import ann_files
from memplane.stores.sqlite.vector_cache import ScopeKey, ScopeMatrix

log = logging.getLogger(__name__)

#: rows of a loaded index compared with the scope's cached vectors
_SAMPLE = 64
#: cosine a stored (quantised) vector keeps with its source: i8 kept at least 0.997 at
#: 384 dims and 0.979 at 3072 (random unit vectors, usearch 2.26)
_SAME_VECTOR = 0.9


def available() -> bool:
    # Look the package up without importing it: usearch is imported only when a scope
    # is big enough for an index. Importing it early also breaks a later onnxruntime
    # import (the default embedder's) with a segmentation fault (usearch 2.x, numkong).
    try:
        return importlib.util.find_spec("usearch") is not None
    except (ImportError, ValueError):
        return False


def _usearch_index(dimension: int, dtype: str, connectivity: int, expansion_add: int,
                   expansion_search: int) -> Any:
    from usearch.index import Index  # lazy: an optional extra, heavy to import

    return Index(ndim=dimension, metric="ip", dtype=dtype, connectivity=connectivity,
                 expansion_add=expansion_add, expansion_search=expansion_search)


class AnnSettings:
    """The store's ANN configuration (see ``SQLiteStoreConfig``)."""

    def __init__(self, *, enabled: bool, min_rows: int, dtype: str, connectivity: int,
                 expansion_add: int, expansion_search: int, background: bool,
                 directory: Path | None, build_threads: int = 1,
                 rebuild_share: float = 0.1) -> None:
        self.enabled = enabled and available()
        self.min_rows = min_rows
        self.dtype = dtype
        self.connectivity = connectivity
        self.expansion_add = expansion_add
        self.expansion_search = expansion_search
        self.background = background
        self.directory = directory
        self.build_threads = build_threads
        self.rebuild_share = rebuild_share


class ScopeIndex:
    """One scope's HNSW graph over unit vectors (inner product = cosine); label = seq."""

    def __init__(self, index: Any, generation: int, epoch: int) -> None:
        self.index = index
        self.generation = generation
        self.epoch = epoch
        self.count = len(index)
        # fixed once built; usearch's memory_usage walks the graph (~9 ms at 100k rows),
        # and the cache sums every entry's size after each search
        self.nbytes = int(index.memory_usage)

    def candidates(self, query: np.ndarray, k: int) -> np.ndarray:
        """Seqs of about the ``k`` nearest indexed vectors (threads=1: the caller's thread)."""
        matches = self.index.search(query, min(k, self.count), threads=1)
        return np.asarray(matches.keys, dtype=np.int64)


def _file_stem(key: ScopeKey) -> str:
    return hashlib.sha256(repr(key).encode("utf-8")).hexdigest()[:32]


def _foreign(index: Any, entry: ScopeMatrix, generation: int) -> str | None:
    """Why ``index`` was not built from this scope's vectors (None: a sample of the rows
    unchanged since ``generation`` is in it with the same vectors). Catches a file of
    another database at the same path, scope and generation, which its sidecar cannot."""
    n = entry.size
    rows = np.flatnonzero(entry.alive[:n] & (entry.gens[:n] <= generation))
    if len(index) < rows.size:
        return f"it holds {len(index)} rows, the scope {rows.size} unchanged since it was built"
    if rows.size == 0:
        return None
    pick = np.random.default_rng().choice(rows, size=min(_SAMPLE, rows.size), replace=False)
    keys = entry.seqs[pick].astype(np.uint64)
    if not bool(np.all(index.contains(keys))):
        return "rows of the scope are missing from it (another scope's or database's index?)"
    stored = np.asarray(index.get(keys, dtype=np.float32), dtype=np.float32).reshape(pick.size, -1)
    source = entry.matrix[pick]  # unit rows, or all zeros for a zero vector
    norms = np.linalg.norm(stored, axis=1)
    cosines = np.einsum("ij,ij->i", stored, source) / np.maximum(norms, 1e-12)
    zero = np.linalg.norm(source, axis=1) < 0.5
    same = np.where(zero, norms < 0.05, cosines >= _SAME_VECTOR)
    if not bool(np.all(same)):
        return "its vectors differ from the scope's (another database's index?)"
    return None


class AnnManager:
    """Builds, loads, persists and refreshes the scope indexes of one store."""

    def __init__(self, settings: AnnSettings) -> None:
        self.settings = settings
        self._building: set[ScopeKey] = set()
        self._guard = threading.Lock()
        self._threads: list[threading.Thread] = []
        #: files already rejected, by name, inode, size, mtime and the sidecar's mtime:
        #: checked and logged once
        self._rejected: set[tuple[str, int, int, int, int]] = set()

    def wanted(self, entry: ScopeMatrix) -> bool:
        return self.settings.enabled and len(entry.position) >= self.settings.min_rows

    def usable(self, key: ScopeKey, entry: ScopeMatrix) -> ScopeIndex | None:
        """The entry's index if it is current enough to use (hold ``entry.lock``);
        starts a load or (re)build when there is none or it is too far behind."""
        if not self.wanted(entry):
            entry.ann = None
            return None
        ann: ScopeIndex | None = entry.ann
        if ann is not None and ann.epoch != entry.epoch:
            ann = entry.ann = None
        if ann is None:
            ann = entry.ann = self._load(key, entry)
        if ann is None or self._stale(entry, ann):
            self._start_build(key, entry)
            ann = entry.ann  # an inline build has just replaced it
        return ann

    def _stale(self, entry: ScopeMatrix, ann: ScopeIndex) -> bool:
        n = entry.size
        newer = int(np.count_nonzero(entry.gens[:n] > ann.generation))
        gone = max(ann.count - (len(entry.position) - newer), 0)  # hard-deleted since
        return newer + gone > max(1000, self.settings.rebuild_share * ann.count)

    # --- persistence ---------------------------------------------------------------------
    def _load(self, key: ScopeKey, entry: ScopeMatrix) -> ScopeIndex | None:
        """The newest saved index of this epoch that is not ahead of the entry, whole,
        and built from this scope's vectors."""
        directory = self.settings.directory
        if directory is None:
            return None
        usable = [(gen, path) for epoch, gen, path in ann_files.listing(directory, _file_stem(key))
                  if epoch == entry.epoch and gen <= entry.generation]
        for gen, path in sorted(usable, reverse=True):
            try:
                seen = path.lstat()
            except OSError:
                continue  # replaced meanwhile
            # the sidecar too: one another process is about to rename beside its index
            # must not leave that index rejected for good
            try:
                sidecar_mtime = Path(str(path) + ann_files.SIDECAR).lstat().st_mtime_ns
            except OSError:
                sidecar_mtime = -1
            mark = (path.name, seen.st_ino, seen.st_size, seen.st_mtime_ns, sidecar_mtime)
            if mark in self._rejected:
                continue  # said once; searches while the rebuild runs stay quiet
            index, problem = self._verified(path, key, entry, gen)
            if index is not None:
                return ScopeIndex(index, gen, entry.epoch)
            self._rejected.add(mark)
            log.warning("memplane: not using the approximate index file %s: %s; search stays "
                        "exact while the index is rebuilt", path, problem)
        return None

    def _verified(self, path: Path, key: ScopeKey, entry: ScopeMatrix,
                  generation: int) -> tuple[Any, str]:
        """(the loaded index, "") or (None, why not)."""
        expected = {"scope": repr(key), "epoch": entry.epoch, "generation": generation,
                    "dimension": entry.dimension, "dtype": self.settings.dtype}
        problem = ann_files.check(path, expected)
        if problem is not None:
            return None, problem
        index = self._new_index(entry.dimension)
        try:
            index.load(str(path))
        except (OSError, RuntimeError, ValueError) as exc:
            return None, f"usearch cannot read it ({exc})"
        if int(index.ndim) != entry.dimension:
            return None, f"it has {int(index.ndim)} dimensions, the scope {entry.dimension}"
        problem = _foreign(index, entry, generation)
        return (index, "") if problem is None else (None, problem)

    def _save(self, key: ScopeKey, ann: ScopeIndex, dimension: int) -> None:
        directory = self.settings.directory
        if directory is None:
            return
        stem = _file_stem(key)
        name = f"{stem}.e{ann.epoch}.g{ann.generation}{ann_files.SUFFIX}"
        meta = {"scope": repr(key), "epoch": ann.epoch, "generation": ann.generation,
                "dimension": dimension, "dtype": self.settings.dtype, "count": ann.count}
        try:
            ann_files.write(directory, stem, name, ann.index.save, meta)
        except (OSError, RuntimeError) as exc:  # usearch reports a failed write as RuntimeError
            # persistence is an optimisation: the index is still used in memory
            log.warning("memplane: could not save the approximate index in %s (%s); it is "
                        "rebuilt after a restart", directory, exc)
            return
        ann_files.remove_older(directory, stem, ann.epoch, ann.generation)

    # --- building --------------------------------------------------------------------------
    def _new_index(self, dimension: int) -> Any:
        s = self.settings
        return _usearch_index(dimension, s.dtype, s.connectivity, s.expansion_add,
                              s.expansion_search)

    def _start_build(self, key: ScopeKey, entry: ScopeMatrix) -> None:
        with self._guard:
            if key in self._building:
                return
            self._building.add(key)
        n = entry.size
        live = np.flatnonzero(entry.alive[:n])
        # a snapshot: the build runs without the entry's lock while searches go on
        seqs = entry.seqs[live].copy()
        vectors = entry.matrix[live].copy()
        generation, epoch = entry.generation, entry.epoch

        def build() -> None:
            try:
                index = self._new_index(entry.dimension)
                if seqs.size:
                    index.add(seqs.astype(np.uint64), vectors, threads=self.settings.build_threads)
                ann = ScopeIndex(index, generation, epoch)
                self._save(key, ann, entry.dimension)
                if self.settings.background:
                    with entry.lock:
                        if entry.epoch == epoch:
                            entry.ann = ann
                else:
                    entry.ann = ann  # the caller holds the lock
            finally:
                with self._guard:
                    self._building.discard(key)

        if not self.settings.background:
            build()
            return
        thread = threading.Thread(target=build, name="memplane-ann-build", daemon=True)
        self._threads.append(thread)
        thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for background builds (tests, benchmarks, close)."""
        for thread in list(self._threads):
            thread.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]
