"""`memplane import` checks the whole file, then writes all of it or nothing.

Before: a bad line 100 failed with 64 memories written; a file cut at a line
boundary imported silently; invalid UTF-8 ended in a traceback and a BOM was
"Invalid JSON at line 1 column 1"; --user was ignored and each memory went into
whatever scope the file named.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from test_cli_transfer import cli, config_file, records

from memplane.cli.import_file import import_entries, read_export, retarget
from memplane.cli.main import main
from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import IncompleteOperation
from memplane.memory import Memory
from memplane.models import Change, Scope
from memplane.stores.inmemory import InMemoryStore

N = 150


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MEMPLANE_CONFIG", "MEMPLANE_LLM", "MEMPLANE_EMBEDDER", "MEMPLANE_VECTOR_STORE"):
        monkeypatch.delenv(name, raising=False)


def exported(tmp_path: Path, capsys: pytest.CaptureFixture[str], user: str = "alice") -> Path:
    source = config_file(tmp_path, "source")
    with Memory(str(source)) as memory:
        memory.add([f"fact number {i}" for i in range(N)], user_id=user, infer=False)
        memory.add("run fact", user_id=user, run_id="r1", infer=False)
    dump = tmp_path / "dump.jsonl"
    assert main(["--config", str(source), "export", "--user", user, "-o", str(dump), "--no-progress"]) == 0
    capsys.readouterr()
    return dump


def lines(dump: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines()]


def write(dump: Path, rows: Sequence[dict[str, Any]]) -> None:
    dump.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], dump: Path, *extra: str) -> str:
    target = config_file(tmp_path, "target")
    status, _, err = cli(capsys, target, "import", "--no-progress", str(dump), *extra)
    assert status == 2, err
    assert records(capsys, target, "alice") == [] and records(capsys, target, "bob") == []
    return err


def test_header_carries_count_and_checksum(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = lines(exported(tmp_path, capsys))[0]
    assert header["version"] == 2 and header["count"] == N + 1 and len(header["sha256"]) == 64


def test_file_cut_at_a_line_boundary_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = exported(tmp_path, capsys)
    cut = dump.read_text(encoding="utf-8").splitlines(keepends=True)[:71]
    dump.write_text("".join(cut), encoding="utf-8")
    assert "promises 151 memories but the file holds 70" in refused(tmp_path, capsys, dump)


def test_edited_line_fails_the_checksum(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = exported(tmp_path, capsys)
    rows = lines(dump)
    rows[5]["record"]["text"] = "tampered"
    write(dump, rows)
    assert "checksum" in refused(tmp_path, capsys, dump)


@pytest.mark.parametrize("damage", ["history_id", "nan_vector", "same_id_two_scopes", "same_id_twice"])
def test_a_bad_line_100_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    dump = exported(tmp_path, capsys)
    rows = lines(dump)
    del rows[0]["count"], rows[0]["sha256"]  # as an older export: the line checks alone must catch it
    bad = rows[100]
    if damage == "history_id":
        bad["history"][0]["memory_id"] = "someone-else"
    elif damage == "nan_vector":
        bad["vector"] = [float("nan")] * 256
    elif damage == "same_id_two_scopes":
        bad["record"]["id"] = rows[1]["record"]["id"]
        bad["record"]["scope"] = {"user_id": "alice", "run_id": "r9"}
    else:
        bad["record"]["id"] = rows[1]["record"]["id"]
    write(dump, rows)
    err = refused(tmp_path, capsys, dump)
    assert "line 101" in err and err.count("\n") <= 2


def test_invalid_utf8_is_reported_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = exported(tmp_path, capsys)
    data = dump.read_bytes().splitlines(keepends=True)
    data[3] = data[3].replace(b"fact", b"f\xffct", 1)
    dump.write_bytes(b"".join(data))
    assert "line 4 is not valid UTF-8" in refused(tmp_path, capsys, dump)


def test_a_utf8_bom_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = exported(tmp_path, capsys)
    dump.write_bytes(b"\xef\xbb\xbf" + dump.read_bytes())
    target = config_file(tmp_path, "target")
    status, out, err = cli(capsys, target, "import", "--no-progress", str(dump))
    assert status == 0, err
    assert out.startswith(f"imported {N + 1},")


def test_user_remaps_into_the_given_scope(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = exported(tmp_path, capsys)
    target = config_file(tmp_path, "target")
    status, _, err = cli(capsys, target, "import", "--no-progress", str(dump), "--user", "bob")
    assert status == 0, err
    assert records(capsys, target, "alice") == []
    bob = records(capsys, target, "bob")
    assert len(bob) == N + 1
    assert {r["scope"].get("run_id") for r in bob} == {None, "r1"}  # other scope ids are kept


def test_records_outside_the_files_scope_need_keep_scopes(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    dump = exported(tmp_path, capsys)
    rows = lines(dump)
    del rows[0]["count"], rows[0]["sha256"]
    rows[50]["record"]["scope"] = {"user_id": "mallory"}
    write(dump, rows)
    assert "--keep-scopes" in refused(tmp_path, capsys, dump, "--user", "bob")
    assert "--keep-scopes writes" in refused(tmp_path, capsys, dump, "--keep-scopes", "--user", "x")
    target = config_file(tmp_path, "target")
    status, _, err = cli(capsys, target, "import", "--no-progress", str(dump), "--keep-scopes")
    assert status == 0, err
    assert len(records(capsys, target, "mallory")) == 1 and len(records(capsys, target, "alice")) == N


def test_id_owned_by_another_scope_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = exported(tmp_path, capsys)
    source = config_file(tmp_path, "source")  # the same store still holds alice's ids
    status, _, err = cli(capsys, source, "import", "--no-progress", str(dump), "--user", "bob")
    assert status == 2 and "outside this scope" in err, err  # IdOwnedByAnotherScope (contract v2)
    assert records(capsys, source, "bob") == []


class FailingStore(InMemoryStore):
    """No atomic_apply; the second apply fails (a crash, a full disk)."""

    capabilities: ClassVar[frozenset[str]] = frozenset({"vector_read"})
    calls = 0
    fail = True

    def apply(self, changes: Sequence[Change]) -> None:
        self.calls += 1
        if self.fail and self.calls == 2:
            raise OSError("disk full")
        super().apply(changes)


def test_non_atomic_store_gets_a_resumable_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = exported(tmp_path, capsys)
    with dump.open("rb") as handle:
        header, entries = read_export(handle)
    entries = retarget(header, entries, Scope(), keep_scopes=False)
    embedder, store = HashingEmbedder(), FailingStore()
    store.open(embedder.dimension)
    with pytest.raises(IncompleteOperation, match="run the same import again") as info:
        import_entries(store, embedder, header, entries, force_reembed=False, show_progress=False)
    assert info.value.done == 64
    store.fail = False
    report = import_entries(store, embedder, header, entries, force_reembed=False, show_progress=False)
    assert (report.imported, report.skipped_existing) == (N + 1 - 64, 64)
    assert store.count(Scope(user_id="alice")) == N + 1


class SlowStartEmbedder(HashingEmbedder):
    """Its first call loads "a model" for two seconds, like sentence-transformers."""

    loaded = False

    def embed(self, texts: Sequence[str], *, purpose: Any = "document") -> Any:
        if not self.loaded:
            time.sleep(2.0)
            self.loaded = True
        return super().embed(texts, purpose=purpose)


def test_progress_rate_leaves_out_model_start_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = exported(tmp_path, capsys)
    with dump.open("rb") as handle:
        header, entries = read_export(handle)
    entries = retarget(header, entries, Scope(), keep_scopes=False)
    store = InMemoryStore()
    embedder = SlowStartEmbedder()
    store.open(embedder.dimension)
    import_entries(store, embedder, header, entries, force_reembed=True, show_progress=True)
    rates = [float(r) for r in re.findall(r"([0-9.]+)/s", capsys.readouterr().err)]
    # 151 texts after a 2 s start-up: counting it would show under 76/s
    assert rates and rates[-1] > 150, rates


@pytest.mark.parametrize("damage", ["nan_metadata", "surrogate_text", "year_1_east"])
def test_what_the_api_refuses_import_refuses_too(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 damage: str) -> None:
    dump = exported(tmp_path, capsys)
    rows = lines(dump)
    del rows[0]["count"], rows[0]["sha256"]
    record = rows[100]["record"]
    if damage == "nan_metadata":
        record["metadata"] = {"x": float("nan")}
    elif damage == "surrogate_text":
        record["text"] = "tea \ud800"
    else:
        record["observed_at"] = "0001-01-01T00:00:00+14:00"
    write(dump, rows)
    assert "line 101" in refused(tmp_path, capsys, dump)
