"""`add --file`, `delete-all`, `reset`, the past --expires-at warning, clipped
output and the store location in `doctor`."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml

from memplane.cli.main import main


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("MEMPLANE_CONFIG", "MEMPLANE_LLM", "MEMPLANE_EMBEDDER", "MEMPLANE_VECTOR_STORE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"llm": "rules", "embedder": "hashing",
                                    "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}}}))
    return path


def run(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    status = main(["--config", str(config), *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def texts(capsys: pytest.CaptureFixture[str], config: Path, user: str = "u") -> list[str]:
    _, out, _ = run(capsys, config, "--json", "list", "--user", user)
    return sorted(r["text"] for r in json.loads(out)["records"])


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_add_a_whole_conversation_from_a_file(config: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    conversation = tmp_path / "chat.json"
    conversation.write_text(json.dumps({"messages": [
        {"role": "user", "content": "I live in Lisbon."},
        {"role": "assistant", "content": "Nice city!"},
        {"role": "user", "content": "I like green tea."},
    ]}), encoding="utf-8")
    status, _, err = run(capsys, config, "add", "--user", "u", "--file", str(conversation))
    assert status == 0, err
    assert texts(capsys, config) == ["User likes green tea", "User lives in Lisbon"]


@pytest.mark.parametrize(("content", "message"), [
    ("{nope", "is not JSON"), ("[]", "non-empty JSON list"),
    ('[{"role": "robot", "content": "x"}]', "message 0 is invalid"),
])
def test_bad_conversation_files(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                content: str, message: str) -> None:
    conversation = tmp_path / "chat.json"
    conversation.write_text(content, encoding="utf-8")
    status, _, err = run(capsys, config, "add", "--user", "u", "--file", str(conversation))
    assert status == 2 and message in err
    assert run(capsys, config, "add", "--user", "u", "--file", str(conversation), "text")[0] == 2


def test_past_expiry_warns(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, config, "add", "--user", "u", "--no-infer", "--expires-at", "2001-01-01", "old")
    assert status == 0 and "warning: --expires-at 2001-01-01 is in the past" in err
    _, _, err = run(capsys, config, "add", "--user", "u", "--no-infer", "--expires-at", "2999-01-01", "new")
    assert "warning" not in err


def test_delete_all_asks_and_yes_skips(config: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    run(capsys, config, "add", "--user", "u", "--no-infer", "one fact")
    run(capsys, config, "add", "--user", "v", "--no-infer", "other fact")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    status, _, err = run(capsys, config, "delete-all", "--user", "u")
    assert status == 2 and "--yes" in err and texts(capsys, config) == ["one fact"]
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert run(capsys, config, "delete-all", "--user", "u")[0] == 2 and texts(capsys, config) == ["one fact"]
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    status, out, err = run(capsys, config, "delete-all", "--user", "u")
    assert status == 0 and "soft-delete all 1 memories of user=u?" in err and "soft-deleted 1" in out
    assert texts(capsys, config) == [] and texts(capsys, config, "v") == ["other fact"]
    assert run(capsys, config, "delete-all")[0] == 2  # a scope is required


def test_reset_needs_confirmation(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    run(capsys, config, "add", "--user", "u", "--no-infer", "one fact")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert run(capsys, config, "reset")[0] == 2 and texts(capsys, config) == ["one fact"]
    status, out, _ = run(capsys, config, "reset", "--yes")
    assert status == 0 and str(tmp_path / "m.db") in out and texts(capsys, config) == []


def test_long_texts_are_clipped_in_text_output(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, config, "add", "--user", "u", "--no-infer", "word " * 2000)
    assert status == 0 and len(out) < 400 and re.search(r"… \([\d,]+ characters\)", out)
    status, out, _ = run(capsys, config, "--json", "list", "--user", "u")
    assert len(json.loads(out)["records"][0]["text"]) > 9000  # --json keeps everything


def test_doctor_shows_where_the_store_is(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, config, "doctor")[1]
    line = next(line for line in out.splitlines() if "configured vector_stores" in line)
    assert str(tmp_path / "m.db") in line


class BinaryStdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def isatty(self) -> bool:
        return False


def test_hostile_cli_input_is_an_error_line(config: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", BinaryStdin(b"I like t\xffa"))
    status, _, err = run(capsys, config, "add", "--user", "u", "-")
    assert status == 2 and "not UTF-8" in err
    deep = '{"NOT": ' * 5000 + '{"a": 1}' + "}" * 5000
    status, _, err = run(capsys, config, "list", "--user", "u", "--filter", deep)
    assert status == 2 and "nests deeper" in err
    status, _, err = run(capsys, config, "add", "--user", "u", "--no-infer", "--metadata", '{"x": NaN}', "tea")
    assert status == 2 and "finite" in err
    status, _, err = run(capsys, config, "add", "--user", "u", "--no-infer", "tea \udcff")
    assert status == 2 and "surrogate" in err
    assert texts(capsys, config) == []
