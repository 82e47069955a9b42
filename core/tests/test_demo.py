"""`memplane demo` end to end on the hashing embedder (no torch needed), the real
sqlite store and the real `rules` LLM."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from memplane.cli.main import main
from memplane.demo import Session, run_demo


@pytest.fixture(scope="module")
def demo_output() -> str:
    result = subprocess.run(
        [sys.executable, "-m", "memplane.cli.main", "demo", "--embedder", "hashing"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_demo_says_the_rules_llm_is_a_stand_in(demo_output: str) -> None:
    head = demo_output[:1200]
    assert "approximate, offline stand-in" in head
    assert "Real use takes a real" in head and "LLM provider" in head


def test_the_demo_shows_all_four_events(demo_output: str) -> None:
    for kind in ("ADD", "UPDATE", "DELETE", "NONE"):
        assert re.search(rf"^  {kind}\s+\S", demo_output, re.MULTILINE), kind
    assert "OK: the conversation produced ADD, UPDATE, DELETE, NONE events." in demo_output


def test_updates_show_the_previous_text(demo_output: str) -> None:
    match = re.search(r"^  UPDATE  (.+)\n          \(was: (.+)\)$", demo_output, re.MULTILINE)
    assert match is not None
    new, old = match.groups()
    assert "TypeScript" in new and "Python" in old


def test_sessions_searches_and_history_are_printed(demo_output: str) -> None:
    assert demo_output.count("\n== session ") == 3
    searches = demo_output.split("== searches")[1].split("history of memory")[0]
    rows = re.findall(r"^  (\d\.\d{3})  .+  \(similarity (\d\.\d{3})\)$", searches, re.MULTILINE)
    assert len(rows) == 9  # three hits for each of the three searches
    assert all(0.0 <= float(a) <= 1.0 and 0.0 <= float(b) <= 1.0 for a, b in rows)
    history = demo_output.split("history of memory")[1]
    events = re.findall(r"^  \S+ \S+  (ADD|UPDATE)\s", history, re.MULTILINE)
    assert events == ["ADD", "UPDATE"]


def test_the_demo_fails_when_an_event_kind_is_missing() -> None:
    out = io.StringIO()
    only_new_facts = (Session("only statements", ("I live in Oslo.", "I have a cat.")),)
    status = run_demo(out, embedder="hashing", script=only_new_facts, searches=())
    assert status == 1
    assert "missing: UPDATE, DELETE, NONE" in out.getvalue()


def test_the_demo_keeps_its_store_with_path(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo" / "store.db"
    assert main(["demo", "--embedder", "hashing", "--path", str(db)]) == 0
    first = capsys.readouterr().out
    assert db.is_file() and f"The store is kept at {db}" in first
    assert "--user alice list" in first
    # a second run on the same file uses a fresh user, so it still sees every event kind
    assert main(["demo", "--embedder", "hashing", "--path", str(db)]) == 0
    second = capsys.readouterr().out
    assert re.search(r"--user alice-[0-9a-f]{8} list", second)


def test_an_unknown_embedder_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--embedder", "no_such_embedder"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: no embedders provider named 'no_such_embedder'")


def test_another_llm_is_named_and_labelled_and_not_held_to_all_four_events() -> None:
    out = io.StringIO()
    status = run_demo(out, embedder="hashing", llm="scripted", searches=())
    text = out.getvalue()
    assert "  llm:      scripted\n" in text
    assert "a real model decides every event" in text and "approximate" not in text
    assert "The model produced no events (not: ADD, UPDATE, DELETE, NONE)." in text
    assert status == 0
