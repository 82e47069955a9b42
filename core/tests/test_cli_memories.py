"""The memory subcommands end to end: real SQLite store, hashing embedder, and the
scripted LLM configured from a real config file (no mocks)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from memplane.cli.main import main

Run = Callable[..., tuple[int, Any, str]]


def write_config(path: Path, db: Path, replies: list[Any] | None = None) -> Path:
    config = {
        "llm": {"provider": "scripted", "config": {"replies": replies or []}},
        "embedder": "hashing",
        "vector_store": {"provider": "sqlite", "config": {"path": str(db)}},
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("MEMPLANE_CONFIG", "MEMPLANE_LLM", "MEMPLANE_EMBEDDER", "MEMPLANE_VECTOR_STORE"):
        monkeypatch.delenv(name, raising=False)
    return write_config(tmp_path / "memplane.yaml", tmp_path / "memories.db")


@pytest.fixture
def run(config: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run the CLI in-process; returns (status, parsed stdout, stderr)."""

    def invoke(*args: str, json_out: bool = True, config_file: Path | None = None) -> tuple[int, Any, str]:
        argv = ["--config", str(config_file or config), *(["--json"] if json_out else []), *args]
        status = main(argv)
        captured = capsys.readouterr()
        out: Any = captured.out
        if json_out and status == 0 and out.strip():
            out = json.loads(out)
        return status, out, captured.err

    return invoke


def add_verbatim(run: Run, text: str, *extra: str, user: str = "alice") -> str:
    status, result, err = run("add", "--user", user, "--no-infer", text, *extra)
    assert status == 0, err
    [event] = result["events"]
    assert event["event"] == "ADD"
    return str(event["id"])


def test_add_list_get_search(run: Run) -> None:
    tea = add_verbatim(run, "I like green tea", "--meta", "stars=4", "--meta", "topic=drinks")
    chess = add_verbatim(run, "Bob plays chess on Sundays", "--metadata", '{"topic": "games"}')

    status, page, _ = run("list", "--user", "alice")
    assert status == 0
    assert {r["id"] for r in page["records"]} == {tea, chess}
    assert page["next_cursor"] is None

    status, record, _ = run("get", tea, "--user", "alice")
    assert record["text"] == "I like green tea"
    assert record["metadata"] == {"stars": 4, "topic": "drinks"}  # 4 parsed as JSON

    status, hits, _ = run("search", "green tea", "--user", "alice", "--limit", "1")
    assert [h["record"]["id"] for h in hits] == [tea]
    assert 0.0 <= hits[0]["score"] <= 1.0


def test_text_output_is_readable(run: Run) -> None:
    tea = add_verbatim(run, "I like green tea")
    status, out, _ = run("search", "tea", "--user", "alice", json_out=False)
    assert status == 0
    score, ident, text = out.strip().splitlines()[0].split("  ")
    assert 0.0 <= float(score) <= 1.0 and ident == tea and text == "I like green tea"
    status, out, _ = run("get", tea, "--user", "alice", json_out=False)
    assert "scope:    user=alice" in out


def test_filters_on_search_and_list(run: Run) -> None:
    add_verbatim(run, "I like green tea", "--meta", "stars=2")
    strong = add_verbatim(run, "I like strong black tea", "--meta", "stars=5")
    status, hits, _ = run("search", "tea", "--user", "alice", "--filter", '{"stars": {"gte": 3}}')
    assert [h["record"]["id"] for h in hits] == [strong]
    status, page, _ = run("list", "--user", "alice", "--filter", '{"stars": {"lt": 3}}')
    assert status == 0
    assert [r["text"] for r in page["records"]] == ["I like green tea"]


def test_unknown_filter_operator_is_an_error(run: Run) -> None:
    add_verbatim(run, "I like tea")
    status, _, err = run("search", "tea", "--user", "alice", "--filter", '{"stars": {"like": 3}}')
    assert status == 2
    assert err.startswith("error: unknown filter operator 'like'")


def test_update_delete_restore_and_history(run: Run) -> None:
    ident = add_verbatim(run, "I like green tea")
    status, event, _ = run("update", ident, "I like black tea", "--user", "alice",
                           "--meta", "strength=3")
    assert (event["event"], event["previous_text"], event["text"]) == (
        "UPDATE", "I like green tea", "I like black tea")
    status, record, _ = run("get", ident, "--user", "alice")
    assert record["metadata"] == {"strength": 3}

    status, event, _ = run("delete", ident, "--user", "alice")
    assert event["event"] == "DELETE"
    status, page, _ = run("list", "--user", "alice")
    assert page["records"] == []
    status, page, _ = run("list", "--user", "alice", "--include-deleted")
    assert [r["id"] for r in page["records"]] == [ident]
    status, _, err = run("get", ident, "--user", "alice")
    assert status == 2 and err.startswith("error: ")
    status, record, _ = run("get", ident, "--user", "alice", "--include-deleted")
    assert record["deleted_at"] is not None

    status, record, _ = run("restore", ident, "--user", "alice")
    assert status == 0 and record["deleted_at"] is None
    status, history, _ = run("history", ident, "--user", "alice")
    assert [h["event"] for h in history] == ["ADD", "UPDATE", "DELETE", "RESTORE"]
    assert history[1]["old_text"] == "I like green tea"

    status, out, _ = run("history", ident, "--user", "alice", json_out=False)
    assert "UPDATE  'I like green tea' -> 'I like black tea'" in out


def test_scopes_do_not_leak(run: Run) -> None:
    ident = add_verbatim(run, "Alice's secret: she likes opera", user="alice")
    status, page, _ = run("list", "--user", "bob")
    assert page["records"] == []
    status, hits, _ = run("search", "opera", "--user", "bob")
    assert hits == []
    status, _, err = run("get", ident, "--user", "bob")
    assert status == 2 and "error:" in err
    status, _, err = run("delete", ident, "--user", "bob")
    assert status == 2
    status, page, _ = run("list", "--user", "alice")
    assert [r["id"] for r in page["records"]] == [ident]


def test_agent_and_run_scopes(run: Run) -> None:
    status, result, _ = run("add", "--agent", "planner", "--run", "r1", "--no-infer", "step one done")
    ident = result["events"][0]["id"]
    status, page, _ = run("list", "--agent", "planner")
    assert [r["id"] for r in page["records"]] == [ident]
    status, page, _ = run("list", "--agent", "planner", "--run", "r2")
    assert status == 0
    assert page["records"] == []


def test_pagination(run: Run) -> None:
    ids = {add_verbatim(run, f"fact number {i}") for i in range(5)}
    status, page, _ = run("list", "--user", "alice", "--limit", "2")
    assert len(page["records"]) == 2 and page["next_cursor"]
    seen = {r["id"] for r in page["records"]}
    status, rest, _ = run("list", "--user", "alice", "--limit", "2", "--cursor", page["next_cursor"])
    seen |= {r["id"] for r in rest["records"]}
    assert len(seen) == 4
    status, text, _ = run("list", "--user", "alice", "--limit", "2", json_out=False)
    hint = text.splitlines()[-1]
    assert hint.startswith("more: memplane --user alice list --limit 2 --cursor ")
    status, again, _ = run(*hint.split()[2:])  # the hint is a working command line
    assert status == 0 and [r["id"] for r in again["records"]] == [r["id"] for r in rest["records"]]
    status, every, _ = run("list", "--user", "alice", "--limit", "2", "--all")
    assert status == 0
    assert {r["id"] for r in every["records"]} == ids and every["next_cursor"] is None


def test_add_reads_stdin(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("I was born in Lagos.\n"))
    status, result, _ = run("add", "--user", "alice", "--no-infer", "-")
    assert status == 0
    assert result["events"][0]["text"].strip() == "I was born in Lagos."


def test_expired_memories_are_hidden_unless_asked(run: Run) -> None:
    gone = add_verbatim(run, "temporary door code 1234", "--expires-at", "2001-01-01")
    kept = add_verbatim(run, "permanent fact", "--observed-at", "2020-05-01T08:00:00")
    status, page, _ = run("list", "--user", "alice")
    assert [r["id"] for r in page["records"]] == [kept]
    assert page["records"][0]["observed_at"].startswith("2020-05-01T08:00:00")
    status, page, _ = run("list", "--user", "alice", "--include-expired")
    assert {r["id"] for r in page["records"]} == {gone, kept}
    status, hits, _ = run("search", "door code", "--user", "alice")
    assert gone not in [h["record"]["id"] for h in hits]
    status, hits, _ = run("search", "door code", "--user", "alice", "--include-expired")
    assert status == 0
    assert gone in [h["record"]["id"] for h in hits]


def test_bad_time_is_a_clear_error(run: Run) -> None:
    status, _, err = run("add", "--user", "a", "--no-infer", "x", "--expires-at", "next tuesday")
    assert status == 2
    assert err.startswith("error: --expires-at takes an ISO 8601 date or time")


def test_inferred_add_prints_events_and_diagnostics(tmp_path: Path, run: Run) -> None:
    db = tmp_path / "inferred.db"
    first = write_config(tmp_path / "first.yaml", db, replies=[
        {"decisions": [{"event": "ADD", "text": "User prefers Python"}]},
    ])
    status, out, err = run("add", "--user", "alice", "I prefer Python", json_out=False,
                           config_file=first)
    assert status == 0, err
    event, ident, text = out.split(maxsplit=2)
    assert (event, text.strip()) == ("ADD", "'User prefers Python'")

    # the scripted model updates memory 0 (the one it was shown) and invents id 7
    second = write_config(tmp_path / "second.yaml", db, replies=[
        {"decisions": [
            {"event": "UPDATE", "id": 0, "text": "User switched to TypeScript"},
            {"event": "DELETE", "id": 7},
        ]},
    ])
    status, out, err = run("add", "--user", "alice", "I switched to TypeScript", json_out=False,
                           config_file=second)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"UPDATE  {ident}  'User prefers Python' -> 'User switched to TypeScript'"
    assert any(line.startswith("note: ") and "7" in line for line in lines[1:])


def test_empty_message_is_refused(run: Run) -> None:
    status, _, err = run("add", "--user", "alice", "   ")
    assert status == 2
    assert err == "error: nothing to add: the message text is empty\n"
