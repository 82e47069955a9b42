"""`memplane export` / `memplane import` between real SQLite stores."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from memplane.cli.main import main
from memplane.cli.progress import TextBar
from memplane.embedders.hashing import HashingEmbedder


def config_file(tmp_path: Path, name: str, embedder: Any = "hashing") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "llm": "scripted",
        "embedder": embedder,
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / f"{name}.db")}},
    }))
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MEMPLANE_CONFIG", "MEMPLANE_LLM", "MEMPLANE_EMBEDDER", "MEMPLANE_VECTOR_STORE"):
        monkeypatch.delenv(name, raising=False)


def cli(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    status = main(["--config", str(config), *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def seed(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, str]:
    """Three memories of alice (one updated, one deleted) and one of bob."""
    ids = {}
    for key, text in [("tea", "I like green tea"), ("city", "I live in Lisbon"),
                      ("dog", "I have a dog")]:
        _, out, _ = cli(capsys, config, "--json", "add", "--user", "alice", "--no-infer",
                        "--meta", f"key={key}", text)
        ids[key] = json.loads(out)["events"][0]["id"]
    cli(capsys, config, "update", ids["city"], "I live in Porto", "--user", "alice")
    cli(capsys, config, "delete", ids["dog"], "--user", "alice")
    _, out, _ = cli(capsys, config, "--json", "add", "--user", "alice", "--no-infer",
                    "--expires-at", "2001-01-01", "an expired fact")
    ids["expired"] = json.loads(out)["events"][0]["id"]
    cli(capsys, config, "add", "--user", "bob", "--no-infer", "Bob's fact")
    return ids


def records(capsys: pytest.CaptureFixture[str], config: Path, user: str,
            *extra: str) -> list[dict[str, Any]]:
    status, out, err = cli(capsys, config, "--json", "list", "--user", user, "--all", *extra)
    assert status == 0, err
    return list(json.loads(out)["records"])


def test_export_then_import_keeps_records_and_history(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    source, target = config_file(tmp_path, "source"), config_file(tmp_path, "target")
    ids = seed(capsys, source)
    dump = tmp_path / "alice.jsonl"
    status, out, err = cli(capsys, source, "export", "--user", "alice", "-o", str(dump))
    assert status == 0 and out == ""
    assert "exported 4 memories" in err
    lines = [json.loads(line) for line in dump.read_text().splitlines()]
    assert lines[0]["format"] == "memplane-export" and lines[0]["scope"] == {"user_id": "alice"}
    assert {line["record"]["id"] for line in lines[1:]} == set(ids.values())  # bob's not included

    status, out, err = cli(capsys, target, "import", str(dump))
    assert status == 0, err
    assert out.strip() == "imported 4, skipped 0 already present, embedded 4 again"

    every = ("--include-deleted", "--include-expired")
    before = {r["id"]: r for r in records(capsys, source, "alice", *every)}
    after = {r["id"]: r for r in records(capsys, target, "alice", *every)}
    assert after == before and len(after) == 4
    assert after[ids["dog"]]["deleted_at"] is not None
    assert ids["expired"] not in {r["id"] for r in records(capsys, target, "alice")}
    _, out, _ = cli(capsys, target, "--json", "history", ids["city"], "--user", "alice")
    history = json.loads(out)
    assert [h["event"] for h in history] == ["ADD", "UPDATE"]
    assert (history[1]["old_text"], history[1]["new_text"]) == ("I live in Lisbon", "I live in Porto")

    # the imported deleted memory can be restored, and search works on re-embedded vectors
    assert cli(capsys, target, "restore", ids["dog"], "--user", "alice")[0] == 0
    _, out, _ = cli(capsys, target, "--json", "search", "green tea", "--user", "alice", "--limit", "1")
    assert json.loads(out)[0]["record"]["id"] == ids["tea"]


def test_import_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = config_file(tmp_path, "source"), config_file(tmp_path, "target")
    seed(capsys, source)
    dump = tmp_path / "alice.jsonl"
    cli(capsys, source, "export", "--user", "alice", "-o", str(dump))
    cli(capsys, target, "import", str(dump))
    status, out, _ = cli(capsys, target, "--json", "import", str(dump))
    assert status == 0
    assert json.loads(out) == {"imported": 0, "skipped_existing": 4, "reembedded": 0}
    _, out, _ = cli(capsys, target, "--json", "history", records(capsys, target, "alice")[0]["id"],
                    "--user", "alice")
    assert len([h for h in json.loads(out) if h["event"] == "ADD"]) == 1  # no duplicated history


def test_export_to_stdout_and_import_from_stdin(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = config_file(tmp_path, "source"), config_file(tmp_path, "target")
    seed(capsys, source)
    status, out, _ = cli(capsys, source, "export", "--user", "bob", "--no-progress")
    assert status == 0 and len(out.splitlines()) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO(out))
    status, _, err = cli(capsys, target, "import", "-", "--no-progress")
    assert status == 0 and "importing" not in err
    assert [r["text"] for r in records(capsys, target, "bob")] == ["Bob's fact"]


def test_matching_vectors_in_the_file_are_reused(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    target = config_file(tmp_path, "target")
    embedder = HashingEmbedder()
    identity = {"provider": "hashing", "model": None, "dimension": embedder.dimension}
    vector = [float(x) for x in embedder.embed(["I like green tea"])[0]]
    dump = tmp_path / "crafted.jsonl"
    dump.write_text("\n".join([
        json.dumps({"format": "memplane-export", "version": 1, "embedder": identity,
                    "vectors": True}),
        json.dumps({"record": {"id": "m1", "text": "I like green tea", "scope": {"user_id": "u"}},
                    "vector": vector}),
        json.dumps({"record": {"id": "m2", "text": "wrong size vector", "scope": {"user_id": "u"}},
                    "vector": [1.0, 0.0]}),
    ]) + "\n")
    status, out, err = cli(capsys, target, "--json", "import", str(dump))
    assert status == 0, err
    assert json.loads(out) == {"imported": 2, "skipped_existing": 0, "reembedded": 1}


def test_other_embedder_means_reembedding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = config_file(tmp_path, "target")
    dump = tmp_path / "other.jsonl"
    dump.write_text("\n".join([
        json.dumps({"format": "memplane-export", "version": 1, "vectors": True,
                    "embedder": {"provider": "openai", "model": "text-embedding-3-small",
                                 "dimension": 1536}}),
        json.dumps({"record": {"id": "m1", "text": "I like tea", "scope": {"user_id": "u"}},
                    "vector": [0.1] * 1536}),
    ]) + "\n")
    status, out, err = cli(capsys, target, "--json", "import", "--no-progress", str(dump))
    assert status == 0, err
    assert json.loads(out)["reembedded"] == 1
    _, out, _ = cli(capsys, target, "--json", "search", "tea", "--user", "u")
    assert json.loads(out)[0]["record"]["id"] == "m1"


def test_a_malformed_line_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = config_file(tmp_path, "target")
    dump = tmp_path / "bad.jsonl"
    dump.write_text("\n".join([
        json.dumps({"format": "memplane-export", "version": 1}),
        json.dumps({"record": {"id": "ok", "text": "fine", "scope": {"user_id": "u"}}}),
        json.dumps({"record": {"id": "bad", "scope": {"user_id": "u"}}}),  # no text
    ]) + "\n")
    status, _, err = cli(capsys, target, "import", str(dump))
    assert status == 2
    assert err.startswith("error: import file line 3: record.text: Field required")
    assert records(capsys, target, "u") == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the import file is empty"),
        ('{"format": "something-else", "version": 1}\n', "not a memplane export header"),
        ('{"format": "memplane-export", "version": 99}\n', "upgrade memplane"),
        ("not json at all\n", "import file line 1"),
    ],
)
def test_bad_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               content: str, message: str) -> None:
    dump = tmp_path / "file.jsonl"
    dump.write_text(content)
    status, _, err = cli(capsys, config_file(tmp_path, "t"), "import", str(dump))
    assert status == 2 and message in err and err.count("\n") == 1


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cli(capsys, config_file(tmp_path, "t"), "import", str(tmp_path / "nope.jsonl"))
    assert status == 2 and err.startswith("error: no such file")


def test_export_vectors_needs_a_store_that_reads_them(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    config = config_file(tmp_path, "source")
    seed(capsys, config)
    status, out, err = cli(capsys, config, "export", "--user", "alice", "--vectors")
    from memplane.stores.sqlite import SQLiteStore

    if SQLiteStore.capabilities >= {"vector_read"}:
        assert status == 0
        lines = [json.loads(line) for line in out.splitlines()]
        assert lines[0]["vectors"] is True
        assert all(len(line["vector"]) == lines[0]["embedder"]["dimension"] for line in lines[1:])
    else:
        assert status == 2 and "cannot read vectors back" in err


def test_export_needs_a_scope(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cli(capsys, config_file(tmp_path, "t"), "export")
    assert status == 2 and "needs a scope" in err


def test_text_bar_on_a_pipe_prints_few_lines() -> None:
    stream = io.StringIO()
    bar = TextBar(200, "importing", stream)
    for _ in range(200):
        bar.update()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(r"importing 200/200 \[#{24}\] [0-9.]+/s", lines[-1])
    assert 10 <= len(lines) <= 11
    assert lines[0].startswith("importing 1/200 [")


def test_progress_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = config_file(tmp_path, "source"), config_file(tmp_path, "target")
    seed(capsys, source)
    dump = tmp_path / "alice.jsonl"
    cli(capsys, source, "export", "--user", "alice", "-o", str(dump))
    status, out, err = cli(capsys, target, "import", str(dump))
    assert status == 0 and "importing" in err and "importing" not in out


def test_vectors_round_trip_between_stores_that_read_them() -> None:
    from memplane.cli.transfer import export_scope, import_entries, read_export
    from memplane.llms.scripted import ScriptedLLM
    from memplane.memory import Memory
    from memplane.models import Scope
    from memplane.stores.inmemory import InMemoryStore

    source, target, embedder = InMemoryStore(), InMemoryStore(), HashingEmbedder()
    with Memory(llm=ScriptedLLM(), embedder=embedder, vector_store=source) as memory:
        first = memory.add("I like green tea", user_id="u", infer=False).events[0].id
        memory.add("I live in Lisbon", user_id="u", infer=False)
        memory.update(str(first), "I like black tea", user_id="u")
        memory.delete(str(first), user_id="u")
    scope = Scope(user_id="u")
    dump = io.StringIO()
    assert export_scope(source, embedder, scope, dump, vectors=True, show_progress=False) == 2

    header, entries = read_export(iter(dump.getvalue().splitlines()))
    assert header.vectors is True and all(e.vector is not None for e in entries)
    target.open(embedder.dimension)
    report = import_entries(target, embedder, header, entries, force_reembed=False,
                            show_progress=False)
    assert (report.imported, report.reembedded) == (2, 0)
    ids = [e.record.id for e in entries]
    copied, original = target.get_vectors(ids, scope), source.get_vectors(ids, scope)
    assert set(copied) == set(ids)
    for ident in ids:
        assert copied[ident] == pytest.approx(original[ident], abs=1e-9)
    assert [h.event for h in target.history(str(first), scope)] == ["ADD", "UPDATE", "DELETE"]

    forced = InMemoryStore()
    forced.open(embedder.dimension)
    report = import_entries(forced, embedder, header, entries, force_reembed=True,
                            show_progress=False)
    assert report.reembedded == 2
