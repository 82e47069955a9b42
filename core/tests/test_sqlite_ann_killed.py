"""A process SIGKILLed while it builds or saves the approximate index.

A child process opens a large scope with the index forced on and builds it inline;
the parent kills it with SIGKILL at several points: early and late in the build,
the moment its private work directory appears (usearch writing, fsync, hashing,
renames), and the same while a whole older index is already on disk. Then a fresh
process opens the database: it must not load a half-written file, must answer
exactly what exact search answers, must leave a whole index behind, and the next
save must remove the killed writer's leftovers.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import ann_processes
import numpy as np
import pytest

from memplane.models import Change, MemoryRecord, Scope
from memplane.stores.sqlite import SQLiteStore

pytest.importorskip("usearch")

DIM = 16
ROWS = 20_000
ALICE = Scope(user_id="alice")

def add_rows(path: Path, count: int, seed: int) -> None:
    store = SQLiteStore(path=str(path), ann=False)
    store.open(DIM)
    vectors = np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)
    store.apply([Change(record=MemoryRecord(text=f"m {seed}-{i}", scope=ALICE), vector=v.tolist())
                 for i, v in enumerate(vectors)])
    store.close()


def exact_hits(path: Path) -> list[list[str]]:
    return ann_processes.exact_hits(path, ALICE, DIM)


def start(path: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(ann_processes.child_command(path, ALICE, DIM),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "go"  # opened; the search (and build) starts
    return child


def work_dirs(path: Path) -> list[Path]:
    directory = Path(str(path) + ".ann")
    return [p for p in directory.glob(".*") if ".tmp-" in p.name] if directory.is_dir() else []


def kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, "the child finished before it was killed"


def kill_while_saving(path: Path) -> None:
    """Kill the moment the writer's work directory appears (its save has begun)."""
    child = start(path)
    deadline = time.monotonic() + 300
    while not work_dirs(path):
        assert child.poll() is None, "the child finished without being caught saving"
        assert time.monotonic() < deadline
        time.sleep(0.0005)
    kill(child)


def recover(path: Path) -> tuple[dict[str, object], str]:
    return ann_processes.search_in_child(path, ALICE, DIM)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("killed") / "base.db"
    add_rows(path, ROWS, seed=1)
    return path


@pytest.fixture()
def db(base: Path, tmp_path: Path) -> Path:
    path = tmp_path / "k.db"
    shutil.copyfile(base, path)  # closed cleanly: no WAL beside it
    return path


def assert_recovers(path: Path) -> None:
    report, log = recover(path)
    assert report["hits"] == exact_hits(path)
    assert report["indexed"]
    assert not work_dirs(path), "the killed writer's work directory was not removed"
    report, log = recover(path)  # what was left behind is whole and loads
    assert report["indexed"] and "not using" not in log and "could not save" not in log


@pytest.mark.parametrize("share", [0.05, 0.5])
def test_killed_while_building(db: Path, share: float) -> None:
    # how long a build takes here, then kill at that share of it in another child
    report, _ = recover(db)
    took = float(report["seconds"])  # type: ignore[arg-type]
    for path in Path(str(db) + ".ann").iterdir():  # forget that index: build afresh
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    child = start(db)
    time.sleep(took * share)
    kill(child)
    assert_recovers(db)


def test_killed_while_saving(db: Path) -> None:
    kill_while_saving(db)
    leftovers = work_dirs(db)
    assert leftovers  # the kill did land inside the save
    assert not list(Path(str(db) + ".ann").glob("*.usearch.json")), "a sidecar of a killed save"
    assert_recovers(db)
    assert not any(p.exists() for p in leftovers)


def test_killed_while_saving_a_newer_index_keeps_the_older_one_usable(db: Path) -> None:
    report, _ = recover(db)  # a whole index on disk
    assert report["indexed"]
    (older,) = Path(str(db) + ".ann").glob("*.usearch")
    add_rows(db, 3_000, seed=2)  # past the rebuild threshold: the next search rebuilds
    kill_while_saving(db)
    assert older.is_file()  # not superseded: its replacement never finished
    report, log = recover(db)
    assert report["hits"] == exact_hits(db) and report["indexed"]
    assert "not using" not in log  # the older file was whole: loaded, then rebuilt
    assert not work_dirs(db)
    assert not older.exists()  # superseded by the finished save
