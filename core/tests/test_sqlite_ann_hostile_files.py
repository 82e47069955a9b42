"""The approximate index against hostile files beside the database.

A store saves its index in ``<db>.ann``; then that file is damaged or replaced
(truncated, emptied, garbage, overwritten past an intact header, taken from another
database, scope or dimension, with or without a forged sidecar, a FIFO, a symlink).
A fresh process opens the store and searches: it must exit normally, answer exactly
what exact search answers (so it never returns another scope's ids), and log what it
did. The search runs in a child process because usearch crashes (SIGSEGV) or hangs
on some damaged files, which would take pytest down with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ann_processes
import numpy as np
import pytest

from memplane.models import Change, MemoryRecord, Scope
from memplane.stores.sqlite import SQLiteStore

pytest.importorskip("usearch")

DIM = 16
ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")
ROWS = 400

def fill(path: Path, scope: Scope, seed: int, dim: int = DIM, rows: int = ROWS) -> None:
    store = SQLiteStore(path=str(path), ann=False)
    store.open(dim)
    vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    store.apply([Change(record=MemoryRecord(text=f"{scope.user_id} {seed}-{i}", scope=scope),
                        vector=v.tolist()) for i, v in enumerate(vectors)])
    store.close()


def index_once(path: Path, scope: Scope, dim: int = DIM) -> None:
    """One search with the index forced on: builds and saves it."""
    store = SQLiteStore(path=str(path), ann_min_rows=1, ann_background_build=False, ann_dtype="i8")
    store.open(dim)
    store.search([1.0] * dim, scope)
    assert store._cache.entry(tuple(scope.items()), dim).ann is not None
    store.close()


def exact_hits(path: Path, scope: Scope) -> list[list[str]]:
    return ann_processes.exact_hits(path, scope, DIM)


def saved(path: Path) -> Path:
    """The one index file of the database (with a sidecar beside it)."""
    files = sorted(Path(str(path) + ".ann").glob("*.usearch"))
    assert len(files) == 1, files
    return files[0]


def sidecar(index: Path) -> Path:
    return Path(str(index) + ".json")


def search_in_child(path: Path, scope: Scope = ALICE, dim: int = DIM) -> tuple[dict[str, Any], str]:
    return ann_processes.search_in_child(path, scope, dim)


def forge_sidecar(index: Path, **changes: Any) -> None:
    """Rewrite the sidecar so its checksum (and any given field) matches the file now
    there: what someone who knows the format would do."""
    meta = json.loads(sidecar(index).read_text())
    data = index.read_bytes()
    meta.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), **changes)
    sidecar(index).write_text(json.dumps(meta))


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "a.db"
    fill(path, ALICE, seed=1)
    fill(path, BOB, seed=2)
    index_once(path, ALICE)
    return path


def test_an_intact_file_is_loaded_not_rebuilt(db: Path) -> None:
    # the control: the harness below would pass vacuously if nothing were ever loaded
    index = saved(db)
    stamp = index.stat().st_mtime_ns
    report, log = search_in_child(db)
    assert report["indexed"] and report["hits"] == exact_hits(db, ALICE)
    assert "not using the approximate index" not in log
    assert saved(db).stat().st_mtime_ns == stamp  # loaded, not rebuilt and saved again


def _truncate(index: Path) -> None:
    data = index.read_bytes()
    index.write_bytes(data[: len(data) // 2])


def _empty(index: Path) -> None:
    index.write_bytes(b"")


def _garbage(index: Path) -> None:
    index.write_bytes(np.random.default_rng(5).bytes(index.stat().st_size))


def _tail_overwritten(index: Path) -> None:
    # the header and vectors intact, the graph garbage: usearch 2.26 loads this and then
    # crashes (SIGSEGV) or loops forever in search
    data = index.read_bytes()
    cut = len(data) // 2
    index.write_bytes(data[:cut] + np.random.default_rng(6).bytes(len(data) - cut))


def _no_sidecar(index: Path) -> None:
    sidecar(index).unlink()  # a kill between the two renames, or an older memplane's file


def _garbage_sidecar(index: Path) -> None:
    sidecar(index).write_bytes(b"\x00{not json" * 10)


def _huge_sidecar(index: Path) -> None:
    sidecar(index).write_text(json.dumps({"format": 1, "pad": "x" * 200_000}))


def _fifo_index(index: Path) -> None:
    index.unlink()
    os.mkfifo(index)  # opening it for reading would block forever


@pytest.mark.parametrize("damage", [_truncate, _empty, _garbage, _tail_overwritten, _no_sidecar,
                                    _garbage_sidecar, _huge_sidecar, _fifo_index],
                         ids=lambda f: f.__name__.strip("_"))
def test_a_damaged_file_is_rebuilt_not_loaded(db: Path, damage: Callable[[Path], None]) -> None:
    index = saved(db)
    damage(index)
    report, log = search_in_child(db)
    assert report["hits"] == exact_hits(db, ALICE)
    assert report["indexed"]  # rebuilt inline
    assert "not using the approximate index file" in log and index.name in log
    again = saved(db)  # the rebuild replaced it with a whole file that loads
    assert again.is_file() and not again.is_symlink()
    report, log = search_in_child(db)
    assert report["indexed"] and "not using" not in log


@pytest.mark.parametrize("forged", [False, True], ids=["own-sidecar", "forged-sidecar"])
def test_another_databases_index_at_the_same_name_is_rejected(tmp_path: Path, db: Path,
                                                             forged: bool) -> None:
    # the same scope, epoch and generation in another file: what a database deleted and
    # created again at the same path meets in the index directory it left behind
    other = tmp_path / "other.db"
    fill(other, ALICE, seed=7)
    fill(other, BOB, seed=8)
    index_once(other, ALICE)
    theirs, mine = saved(other), saved(db)
    assert theirs.name == mine.name  # same scope, epoch and generation
    shutil.copyfile(theirs, mine)
    if not forged:
        shutil.copyfile(sidecar(theirs), sidecar(mine))
    else:
        forge_sidecar(mine)
    report, log = search_in_child(db)
    assert report["hits"] == exact_hits(db, ALICE)
    assert "differ from the scope's" in log


def file_of(path: Path, scope: Scope) -> Path:
    (found,) = [p for p in Path(str(path) + ".ann").glob("*.usearch")
                if json.loads(sidecar(p).read_text())["scope"] == repr(tuple(scope.items()))]
    return found


def test_another_scopes_index_is_rejected_and_its_ids_never_returned(db: Path) -> None:
    index_once(db, BOB)
    bob_file = file_of(db, BOB)
    bob_ids = {i for hits in exact_hits(db, BOB) for i in hits}
    # bob's file under alice's name: its own sidecar says whose it is
    alice_file = file_of(db, ALICE)
    shutil.copyfile(bob_file, alice_file)
    shutil.copyfile(sidecar(bob_file), sidecar(alice_file))
    report, log = search_in_child(db)
    assert "written for scope" in log
    assert report["hits"] == exact_hits(db, ALICE)
    assert not bob_ids & {i for hits in report["hits"] for i in hits}
    # again with the sidecar forged to claim alice's scope: the sampled rows are missing
    alice_file = file_of(db, ALICE)  # the whole file the child rebuilt
    shutil.copyfile(bob_file, alice_file)
    forge_sidecar(alice_file, scope=repr(tuple(ALICE.items())))
    report, log = search_in_child(db)
    assert "missing from it" in log
    assert report["hits"] == exact_hits(db, ALICE)
    assert not bob_ids & {i for hits in report["hits"] for i in hits}


def test_an_index_of_another_dimension_is_rejected(tmp_path: Path, db: Path) -> None:
    other = tmp_path / "wide.db"
    fill(other, ALICE, seed=1, dim=DIM * 2)
    fill(other, BOB, seed=2, dim=DIM * 2)
    index_once(other, ALICE, dim=DIM * 2)
    mine = saved(db)
    shutil.copyfile(saved(other), mine)
    forge_sidecar(mine, dimension=DIM)  # even when the sidecar claims the right size
    report, log = search_in_child(db)
    assert report["hits"] == exact_hits(db, ALICE)
    assert "dimensions" in log or "usearch cannot read it" in log


def test_a_symlink_at_the_index_name_is_replaced_not_written_through(tmp_path: Path,
                                                                     db: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    index = saved(db)
    # the next save's name: the child's open is one write transaction, one generation on
    with sqlite3.connect(db) as conn:
        (generation,) = conn.execute("SELECT generation FROM state WHERE id = 1").fetchone()
    stem = index.name.split(".")[0]
    upcoming = index.with_name(f"{stem}.e0.g{generation + 1}.usearch")
    for path in (index, sidecar(index)):
        path.unlink()
    for path in (index, sidecar(index), upcoming, sidecar(upcoming)):
        path.symlink_to(victim)
    report, log = search_in_child(db)
    assert report["hits"] == exact_hits(db, ALICE)
    assert "not using the approximate index file" in log
    assert victim.read_text() == "precious"
    assert saved(db) == upcoming  # saved at the planted name: the links were replaced
    for path in (upcoming, sidecar(upcoming)):
        assert not path.is_symlink() and path.is_file()
    assert not index.is_symlink() and not sidecar(index).is_symlink()  # superseded: unlinked
    assert victim.read_text() == "precious"


def test_a_symlinked_index_directory_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    fill(path, ALICE, seed=1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    Path(str(path) + ".ann").symlink_to(elsewhere, target_is_directory=True)
    report, log = search_in_child(path)
    assert report["indexed"] and report["hits"] == exact_hits(path, ALICE)
    assert "is a symbolic link" in log
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_an_index_directory_of_another_user_is_not_used(db: Path) -> None:
    # planted beside a database in a shared directory, or handed over by mistake
    directory = Path(str(db) + ".ann")
    stamp = saved(db).stat().st_mtime_ns
    os.chown(directory, 65534, -1)
    report, log = search_in_child(db)
    assert report["indexed"] and report["hits"] == exact_hits(db, ALICE)
    assert "belongs to uid 65534" in log
    assert saved(db).stat().st_mtime_ns == stamp  # neither loaded nor written over


def test_a_world_writable_index_file_or_directory_is_not_trusted(db: Path) -> None:
    index = saved(db)
    index.chmod(0o666)
    report, log = search_in_child(db)
    assert report["hits"] == exact_hits(db, ALICE) and "writable by every user" in log
    assert not saved(db).stat().st_mode & 0o002  # the rebuilt file is not
    directory = Path(str(db) + ".ann")
    directory.chmod(0o777)
    report, log = search_in_child(db)
    assert report["hits"] == exact_hits(db, ALICE) and "writable by every user" in log


def test_files_are_saved_without_world_write_even_under_umask_0(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    fill(path, ALICE, seed=1)
    old = os.umask(0)
    try:
        index_once(path, ALICE)
    finally:
        os.umask(old)
    directory = Path(str(path) + ".ann")
    assert not directory.stat().st_mode & 0o002 and not saved(path).stat().st_mode & 0o002
    report, log = search_in_child(path)
    assert report["indexed"] and "not using" not in log  # loaded, not rejected


def test_an_intact_index_over_zero_vectors_is_still_loaded(tmp_path: Path) -> None:
    # the vector sample must not mistake a zero vector (no direction) for a foreign one
    path = tmp_path / "z.db"
    fill(path, ALICE, seed=1)
    store = SQLiteStore(path=str(path), ann=False)
    store.open(DIM)
    store.apply([Change(record=MemoryRecord(text=f"zero {i}", scope=ALICE), vector=[0.0] * DIM)
                 for i in range(ROWS)])  # half the scope: a 64-row sample meets them
    store.close()
    index_once(path, ALICE)
    stamp = saved(path).stat().st_mtime_ns
    report, log = search_in_child(path)
    assert report["indexed"] and report["hits"] == exact_hits(path, ALICE)
    assert "not using" not in log and saved(path).stat().st_mtime_ns == stamp


def test_a_file_at_the_index_directory_path_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    fill(path, ALICE, seed=1)
    Path(str(path) + ".ann").write_text("someone's notes")
    report, log = search_in_child(path)
    assert report["indexed"] and report["hits"] == exact_hits(path, ALICE)
    assert "is not a directory" in log
    assert Path(str(path) + ".ann").read_text() == "someone's notes"
