"""Shared by the ANN tests that need a separate process: a child that opens a store
with the index forced on and searches (usearch may crash or hang on a bad file, so
the search must not run inside pytest), and the exact answer to compare with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from memplane.models import Scope
from memplane.stores.sqlite import SQLiteStore

QUERIES = 10

# prints "go" once opened (a parent may kill it from then on), then one JSON report
CHILD = r"""
import json, logging, sys, time
import numpy as np
from memplane.models import Scope
from memplane.stores.sqlite import SQLiteStore

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
path, user, dim, queries = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
scope = Scope(user_id=user)
store = SQLiteStore(path=path, ann_min_rows=1, ann_background_build=False, ann_dtype="i8")
store.open(dim)
print("go", flush=True)
began = time.monotonic()
qs = np.random.default_rng(99).standard_normal((queries, dim)).tolist()
hits = [[h.id for h in store.search(q, scope, limit=10)] for q in qs]
entry = store._cache.entry(tuple(scope.items()), dim)
print(json.dumps({"hits": hits, "indexed": entry.ann is not None,
                  "seconds": time.monotonic() - began}), flush=True)
store.close()
"""


def child_command(path: Path, scope: Scope, dim: int) -> list[str]:
    return [sys.executable, "-c", CHILD, str(path), str(scope.user_id), str(dim), str(QUERIES)]


def search_in_child(path: Path, scope: Scope, dim: int) -> tuple[dict[str, Any], str]:
    """The child's report and its log (stderr); fails if the child did not exit 0."""
    done = subprocess.run(child_command(path, scope, dim), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"the search process died ({done.returncode}): {done.stderr[-2000:]}"
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report, done.stderr


def exact_hits(path: Path, scope: Scope, dim: int) -> list[list[str]]:
    """What the child's queries find by exact search."""
    store = SQLiteStore(path=str(path), ann=False)
    store.open(dim)
    qs = np.random.default_rng(99).standard_normal((QUERIES, dim)).tolist()
    hits = [[h.id for h in store.search(q, scope, limit=10)] for q in qs]
    store.close()
    return hits
