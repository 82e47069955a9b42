"""`memplane import` in a process killed with SIGKILL part-way, then run again.

Import creates every record in one apply and then appends each later history entry
in one more apply per round (a store takes one change per id and apply), so a kill
can land between rounds. Whatever is on disk then must be consistent (a record's
version counts its history entries), and running the same import again must finish
the job: every memory with its whole history, as in the file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from memplane.embedders.hashing import HashingEmbedder
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.models import Scope
from memplane.stores.sqlite import SQLiteStore

N = 400
DIM = 32
UPDATES = 4


def _export(tmp_path: Path) -> Path:
    """N memories of alice, each updated UPDATES times (history of 1 + UPDATES)."""
    source = tmp_path / "source.db"
    store = SQLiteStore({"path": str(source)})
    with Memory(llm=ScriptedLLM(), embedder=HashingEmbedder({"dimension": DIM}), vector_store=store) as m:
        events = m.add([f"note {i}" for i in range(N)], user_id="alice", infer=False).events
        for round_ in range(UPDATES):
            for event in events:
                m.update(event.id, f"{event.text} v{round_ + 1}", user_id="alice")
    store.close()
    dump = tmp_path / "alice.jsonl"
    _cli(tmp_path, "source", "--user", "alice", "export", "--no-progress", "--output", str(dump))
    return dump


def _config(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "llm": "scripted", "embedder": {"provider": "hashing", "config": {"dimension": DIM}},
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / f"{name}.db")}},
    }))
    return path


def _command(tmp_path: Path, name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "memplane.cli.main", "--config", str(_config(tmp_path, name)), *args]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MEMPLANE_")}


def _cli(tmp_path: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(_command(tmp_path, name, *args), capture_output=True, text=True,
                          env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def _check(path: Path, *, complete: bool) -> int:
    """Every stored record's version counts its history, whose last text is the
    record's; returns how many records are stored."""
    with SQLiteStore({"path": str(path)}) as store:
        store.open(DIM)
        scope = Scope(user_id="alice")
        records = store.list_records(scope, include_deleted=True, limit=N + 1).records
        for record in records:
            history = store.history(record.id, scope)
            assert record.version == len(history), (record.id, record.version, len(history))
            if complete:
                assert len(history) == 1 + UPDATES and history[-1].new_text == record.text
        return len(records)


@pytest.fixture(scope="module")
def dump_and_duration(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    folder = tmp_path_factory.mktemp("import")
    dump = _export(folder)
    started = time.perf_counter()
    report = _cli(folder, "timing", "--json", "import", "--no-progress", str(dump))
    assert json.loads(report.stdout)["imported"] == N
    return dump, time.perf_counter() - started


@pytest.mark.parametrize("share", [0.5, 0.7, 0.8, 0.9, 0.95])
def test_killed_import_is_consistent_and_a_rerun_completes_it(
    tmp_path: Path, dump_and_duration: tuple[Path, float], share: float,
) -> None:
    dump, duration = dump_and_duration
    proc = subprocess.Popen(_command(tmp_path, "target", "import", "--no-progress", str(dump)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    time.sleep(duration * share)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    target = tmp_path / "target.db"
    if target.exists():
        _check(target, complete=False)
    _cli(tmp_path, "target", "import", "--no-progress", str(dump))
    assert _check(target, complete=True) == N
