"""`delete_all` in a process killed with SIGKILL part-way: the SQLite scope is
either untouched or wholly deleted, and every deleted memory has its DELETE history.

test_delete_all_atomic.py injects failures into a store; this kills a real process
at several points of a real delete_all on a real file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from memplane.embedders.hashing import HashingEmbedder
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.models import Scope
from memplane.stores.sqlite import SQLiteStore

N = 3000
DIM = 32

DELETER = textwrap.dedent(f"""
    import sys
    from memplane.embedders.hashing import HashingEmbedder
    from memplane.llms.scripted import ScriptedLLM
    from memplane.memory import Memory
    from memplane.stores.sqlite import SQLiteStore
    store = SQLiteStore({{"path": sys.argv[1]}})
    with Memory(llm=ScriptedLLM(), embedder=HashingEmbedder({{"dimension": {DIM}}}),
                vector_store=store) as m:
        print("ready", flush=True)
        m.delete_all(user_id="u")
        print("done", flush=True)
""")


def _seed(path: Path) -> None:
    store = SQLiteStore({"path": str(path)})
    with Memory(llm=ScriptedLLM(), embedder=HashingEmbedder({"dimension": DIM}), vector_store=store) as m:
        m.add([f"note {i}" for i in range(N)], user_id="u", infer=False)
        m.add("someone else's", user_id="v", infer=False)
    store.close()


def _state(path: Path) -> tuple[int, int, int]:
    """(live memories of u, deleted memories of u, DELETE history entries of u)."""
    with SQLiteStore({"path": str(path)}) as store:
        store.open(DIM)
        scope = Scope(user_id="u")
        live = store.count(scope)
        deleted = store.count(scope, include_deleted=True) - live
        assert store.count(Scope(user_id="v")) == 1  # another scope is never touched
        deletes = 0
        cursor = None
        while True:
            page = store.list_records(scope, include_deleted=True, limit=500, cursor=cursor)
            for record in page.records:
                events = [h.event.value for h in store.history(record.id, scope)]
                deletes += events.count("DELETE")
                assert (record.deleted_at is not None) == (events[-1] == "DELETE")
            cursor = page.next_cursor
            if cursor is None:
                return live, deleted, deletes


def _start(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", DELETER, str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


@pytest.fixture(scope="module")
def duration(tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long one uninterrupted delete_all of the seeded scope takes on this machine."""
    path = tmp_path_factory.mktemp("timing") / "m.db"
    _seed(path)
    proc = _start(path)
    started = time.perf_counter()
    assert proc.stdout is not None and proc.stdout.readline().strip() == "done"
    took = time.perf_counter() - started
    proc.wait(timeout=60)
    return took


@pytest.mark.parametrize("share", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_killed_delete_all_leaves_all_or_nothing(tmp_path: Path, duration: float, share: float) -> None:
    """Killed at this share of a delete_all's duration (the kills spread over the
    reading, the write transaction and the commit)."""
    path = tmp_path / "m.db"
    _seed(path)
    proc = _start(path)
    time.sleep(duration * share)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    live, deleted, deletes = _state(path)
    assert (live, deleted) in [(N, 0), (0, N)], (live, deleted)
    assert deletes == deleted
