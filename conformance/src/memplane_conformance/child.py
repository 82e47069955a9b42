"""Run a store operation in a separate process (``python -m memplane_conformance.child``).

``persistent`` and ``concurrent_writers`` are promises about processes, so the suite
checks them with a second interpreter. The child rebuilds the store from what the
parent used: the class (imported by module and qualified name, which works for
classes from an entry point and for classes in the author's test modules) and the
pickled config. The parent's ``sys.path`` is passed on so both see the same modules.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import subprocess
import sys
import traceback
from typing import Any

from memplane.providers.base import VectorStore


def spec_of(store: VectorStore) -> dict[str, Any]:
    """What a child needs to build another instance on the same data."""
    cls = type(store)
    return {"module": cls.__module__, "qualname": cls.__qualname__, "config": store.config}


def run_child(spec: dict[str, Any], action: str, **args: Any) -> subprocess.Popen[bytes]:
    """Start a child doing ``action``; read its answer with :func:`result_of`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, "-m", "memplane_conformance.child"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdin is not None
    proc.stdin.write(pickle.dumps({**spec, "action": action, "args": args}))
    proc.stdin.close()
    return proc


def result_of(proc: subprocess.Popen[bytes], timeout: float = 120.0) -> dict[str, Any]:
    """The child's JSON answer; a crash raises with its stderr."""
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    proc.wait(timeout)
    if proc.returncode != 0:
        raise AssertionError(f"the child process failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    return json.loads(out.decode())  # type: ignore[no-any-return]


def _build(spec: dict[str, Any]) -> VectorStore:
    obj: Any = importlib.import_module(spec["module"])
    for part in spec["qualname"].split("."):
        obj = getattr(obj, part)
    return obj(spec["config"])  # type: ignore[no-any-return]


def _read(store: VectorStore, args: dict[str, Any]) -> dict[str, Any]:
    from memplane.models import Scope

    scope = Scope(**args["scope"])
    return {
        "get": [r.model_dump(mode="json") for r in store.get(args["ids"], scope)],
        "history": [[e.memory_id, e.event.value] for e in store.history(args["ids"][0], scope)],
        "search": [h.id for h in store.search(args["vector"], scope, limit=10)],
        "count": store.count(scope),
    }


def _write(store: VectorStore, args: dict[str, Any]) -> dict[str, Any]:
    from memplane.models import Scope
    from memplane_conformance.data import add_change, random_unit, record

    scope = Scope(**args["scope"])
    errors, ids = [], []
    for j in range(args["n"]):
        rec = record(f"{args['prefix']} {j}", scope, minutes=j)
        ids.append(rec.id)
        try:
            store.apply([add_change(rec, random_unit(args["seed"] + j))])
        except Exception as exc:  # reported to the parent, which asserts
            errors.append(f"{type(exc).__name__}: {exc}")
    return {"errors": errors, "ids": ids}


def main() -> None:
    request = pickle.loads(sys.stdin.buffer.read())
    store = _build(request)
    try:
        store.open(request["args"]["dimension"])
        action = {"read": _read, "write": _write}[request["action"]]
        answer = action(store, request["args"])
    except Exception:  # the parent shows this traceback
        traceback.print_exc()
        sys.exit(3)
    finally:
        store.close()
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
