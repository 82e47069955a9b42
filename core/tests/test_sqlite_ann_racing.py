"""One process writes to a large scope while another searches it with the
approximate index.

The writer (a child process) adds, re-embeds, edits metadata, soft-deletes,
restores and hard-deletes in steps, one transaction each, and one step adds enough
rows to force a rebuild; after each commit it reports the ids it deleted. The
searcher (this process) keeps one store open with its index and cache across all
steps, so it sees every write only through the generation catch-up. After each
commit its results, plain, filtered and with deleted rows included, must equal
those of an exact store on the same file, and deleted ids must never come back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import ann_processes
import numpy as np
import pytest

from memplane.models import Change, MemoryRecord, Scope
from memplane.stores.sqlite import SQLiteStore

pytest.importorskip("usearch")

DIM = 16
START_ROWS = 5_000
STEPS = 8
ALICE = Scope(user_id="alice")

WRITER = r"""
import json, sys
import numpy as np
from memplane.models import Change, MemoryRecord, Scope, utcnow
from memplane.stores.sqlite import SQLiteStore

path, dim, start_rows, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
scope = Scope(user_id="alice")
rng = np.random.default_rng(7)
store = SQLiteStore(path=path, ann=False)
store.open(dim)
live = {}  # id -> record (soft-deleted ones too)
serial = 0

def new(count):
    global serial
    changes = []
    for _ in range(count):
        serial += 1
        r = MemoryRecord(text=f"m{serial}", scope=scope,
                         metadata={"i": serial, "odd": serial % 2, "tag": "ab"[serial % 3 == 0]})
        live[r.id] = r
        changes.append(Change(record=r, vector=rng.standard_normal(dim).tolist()))
    return changes

def revise(r, vector=None, **update):
    nxt = r.model_copy(update={**update, "version": r.version + 1})
    live[r.id] = nxt
    return Change(record=nxt, vector=vector, expected_version=r.version)

store.apply(new(start_rows))
print(json.dumps({"step": 0, "hard": [], "soft": []}), flush=True)
for step in range(1, steps + 1):
    assert sys.stdin.readline().strip() == "next"
    ids = sorted(live)
    picks = [ids[i] for i in rng.choice(len(ids), 120, replace=False)]
    moved, edited, soft, back, hard = picks[:30], picks[30:50], picks[50:75], picks[75:85], picks[85:]
    changes = new(1_500 if step == 4 else 50)  # step 4: past the rebuild threshold
    changes += [revise(live[i], rng.standard_normal(dim).tolist()) for i in moved]
    changes += [revise(live[i], metadata={**live[i].metadata, "odd": 1 - live[i].metadata["odd"]})
                for i in edited]
    changes += [revise(live[i], deleted_at=utcnow()) for i in soft
                if live[i].deleted_at is None]
    chosen = set(picks)
    was_soft = [i for i in ids if live[i].deleted_at is not None and i not in chosen][:10]
    changes += [revise(live[i], deleted_at=None) for i in was_soft]
    store.apply(changes)
    store.delete(hard, scope)
    for i in hard:
        del live[i]
    print(json.dumps({"step": step, "hard": hard,
                      "soft": [i for i, r in live.items() if r.deleted_at is not None]}), flush=True)
store.close()
"""


def hits(store: SQLiteStore, q: list[float], **kwargs: Any) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 6)) for h in store.search(q, ALICE, limit=10, **kwargs)]


@pytest.mark.parametrize("background", [False, True], ids=["inline-build", "background-build"])
def test_searches_equal_exact_search_after_every_commit_of_another_process(
        tmp_path: Path, background: bool) -> None:
    path = tmp_path / "race.db"
    SQLiteStore(path=str(path), ann=False).open(DIM)  # the schema, before two processes race
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(DIM), str(START_ROWS), str(STEPS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stdin is not None and writer.stdout is not None
    searcher = SQLiteStore(path=str(path), ann_min_rows=1, ann_dtype="i8",
                           ann_background_build=background)
    searcher.open(DIM)
    exact = SQLiteStore(path=str(path), ann=False)
    exact.open(DIM)
    queries = np.random.default_rng(99).standard_normal((12, DIM)).tolist()
    gone: set[str] = set()
    built_at: list[int] = []  # the generation of the index in use after each step
    try:
        for step in range(STEPS + 1):
            line = writer.stdout.readline()
            assert line, writer.stderr.read() if writer.stderr else "the writer died"
            report = json.loads(line)
            assert report["step"] == step
            gone.update(report["hard"])
            soft = set(report["soft"])
            for q in queries:
                for kwargs in ({}, {"filters": {"odd": 1}}, {"filters": {"tag": "b"}},
                               {"include_deleted": True},
                               {"include_deleted": True, "filters": {"odd": 0}}):
                    got = hits(searcher, q, **kwargs)
                    assert got == hits(exact, q, **kwargs), (step, kwargs)
                    found = {i for i, _ in got}
                    assert not found & gone, (step, kwargs, "a hard-deleted id came back")
                    if not kwargs.get("include_deleted"):
                        assert not found & soft, (step, kwargs, "a soft-deleted id came back")
            if background:
                searcher._ann.wait()
            entry = searcher._cache.entry(tuple(ALICE.items()), DIM)
            if entry.ann is not None:
                built_at.append(entry.ann.generation)
            if step < STEPS:
                writer.stdin.write("next\n")
                writer.stdin.flush()
        writer.stdin.close()
        assert writer.wait(timeout=60) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
        searcher.close()
        exact.close()
    # the index did answer (not a vacuous pass on exact search), and was rebuilt after
    # the big step rather than left behind
    assert len(built_at) >= STEPS, built_at
    assert built_at[-1] > built_at[0], built_at
    assert list(Path(str(path) + ".ann").glob("*.usearch"))


def test_two_processes_building_and_saving_the_same_index_at_once(tmp_path: Path) -> None:
    # both find no index, build the same one and rename it and its sidecar into the same
    # names: whichever pairing the renames leave, a third process answers exactly and
    # ends with a whole index that loads
    path = tmp_path / "twice.db"
    store = SQLiteStore(path=str(path), ann=False)
    store.open(DIM)
    vectors = np.random.default_rng(3).standard_normal((START_ROWS, DIM)).astype(np.float32)
    store.apply([Change(record=MemoryRecord(text=f"m{i}", scope=ALICE), vector=v.tolist())
                 for i, v in enumerate(vectors)])
    store.close()
    expected = ann_processes.exact_hits(path, ALICE, DIM)
    for _ in range(3):
        for leftover in Path(str(path) + ".ann").glob("*"):
            leftover.unlink()
        children = [subprocess.Popen(ann_processes.child_command(path, ALICE, DIM),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for _ in range(2)]
        for child in children:
            out, err = child.communicate(timeout=300)
            assert child.returncode == 0, err[-2000:]
            report = json.loads(out.strip().splitlines()[-1])
            assert report["hits"] == expected and report["indexed"]
        report, log = ann_processes.search_in_child(path, ALICE, DIM)
        assert report["hits"] == expected and report["indexed"]
        report, log = ann_processes.search_in_child(path, ALICE, DIM)
        assert "not using" not in log  # whatever the race left was made whole by then
